/*
 * mpi_train.c — data-parallel training throughput on MPI: run it under
 * mpirun with 1 and 2 ranks (bench/mpi_train.sh does both). Each rank
 * trains 784-256-128-10 (ReLU, ReLU, softmax; cross-entropy; Adam) with
 * mlp_train_mpi on a global batch, one BLAS thread a rank, and rank 0
 * prints the samples/s, and the share of the time spent summing gradients
 * (the communicator's calls, timed around MPI).
 *
 *   mpirun -np P mpi_train [BATCH [EPOCHS]]
 */
#include <mpi.h>

#include "clock.h"
#include "data.h"

#include <mlp_mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { ROWS = 8192 };

/* The communicator of mlp_mpi.h, with the time its sums take. */
static mlp_comm inner;
static double sum_seconds;

static int timed_sum_floats(void *ctx, float *v, size_t n)
{
	double t0 = clock_seconds();
	int rc = inner.sum_floats(ctx, v, n);

	sum_seconds += clock_seconds() - t0;
	return rc;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 784, 256, 128, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_SOFTMAX };
	size_t batch = argc > 1 ? (size_t)atol(argv[1]) : 256;
	size_t epochs = argc > 2 ? (size_t)atol(argv[2]) : 3;
	MPI_Comm world = MPI_COMM_WORLD;
	struct bench_rng g = { 7 };
	mlp_train_opts o = mlp_train_defaults();
	mlp_comm timed;
	mlp_net *net;
	float *X, *Y;
	double t0, secs, slowest, in_sum;
	mlp_status st;
	int rank, size;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(world, &rank);
	MPI_Comm_size(world, &size);
	mlp_set_threads(1);
	X = malloc(ROWS * 784 * sizeof(float));
	Y = calloc(ROWS * 10, sizeof(float));
	if (X == NULL || Y == NULL || mlp_net_create(&net, 3, sizes, acts) != MLP_OK ||
	    mlp_net_init(net, 1) != MLP_OK || mlp_mpi_comm(&inner, &world) != MLP_OK)
		MPI_Abort(world, 1);
	bench_fill(&g, X, ROWS * 784, 0, 1);
	for (size_t r = 0; r < ROWS; r++)
		Y[r * 10 + bench_below(&g, 10)] = 1.0f;
	timed = inner;
	timed.sum_floats = timed_sum_floats;
	o.loss = MLP_LOSS_XENT;
	o.batch_size = batch;
	o.epochs = 1;
	o.comm = &timed;
	/* One epoch to warm up, then the timed ones. */
	st = mlp_train(net, &o, ROWS, X, Y);
	o.epochs = epochs;
	sum_seconds = 0;
	MPI_Barrier(world);
	t0 = clock_seconds();
	if (st == MLP_OK)
		st = mlp_train(net, &o, ROWS, X, Y);
	secs = clock_seconds() - t0;
	MPI_Reduce(&secs, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, world);
	MPI_Reduce(&sum_seconds, &in_sum, 1, MPI_DOUBLE, MPI_MAX, 0, world);
	if (rank == 0) {
		if (st != MLP_OK)
			printf("failed: %s\n", mlp_strerror(st));
		else
			printf("%d rank%s, batch %zu, 1 BLAS thread a rank: %.0f samples/s"
			       ", %.1f%% of the time in summing gradients (%.0f us a "
			       "step)\n", size, size == 1 ? "" : "s", batch,
			       (double)(ROWS * epochs) / slowest, 100 * in_sum / slowest,
			       1e6 * in_sum / (double)(epochs * ((ROWS + batch - 1) / batch)));
	}
	mlp_net_free(net);
	free(X);
	free(Y);
	MPI_Finalize();
	return st != MLP_OK;
}
