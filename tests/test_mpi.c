/*
 * test_mpi.c — data-parallel training on MPI, run by mpirun on 2 and 3
 * ranks (meson test): the ranks against one process with the same global
 * batch and seed (each rank trains that process itself, alone, as the
 * reference), the same run twice, a checkpoint resumed to the same bits,
 * shards, and errors on one rank (a bad row, a loss that overflows) that
 * every rank returns, with no checkpoint left half-written.
 *
 * Not a Check suite: Check runs each test in a child process, and an MPI
 * rank must not fork. Each case counts its failures; the job fails when
 * any rank's count is not zero.
 */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>

#include "mlp_mpi.h"
#include "support.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N_TRAIN = 1437, N_IN = 64, N_OUT = 10 };
static struct digits d;
static int rank, size, failures;

__attribute__((format(printf, 1, 2)))
static void report_failure(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "rank %d: FAIL: ", rank);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}

static mlp_net *digits_net(uint64_t seed)
{
	static const size_t sizes[] = { N_IN, 32, N_OUT };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	mlp_net *net = NULL;

	if (mlp_net_create(&net, 2, sizes, acts) != MLP_OK ||
	    mlp_net_init(net, seed) != MLP_OK) {
		fprintf(stderr, "rank %d: cannot create a network\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	return net;
}

static int record_eval(void *user, const mlp_train_progress *p)
{
	((double *)user)[p->epoch - 1] = p->eval_accuracy;
	return 0;
}

static mlp_train_opts digits_opts(double *accuracy)
{
	mlp_train_opts o = mlp_train_defaults();

	o.loss = MLP_LOSS_XENT;
	o.batch_size = 60; /* a multiple of 2 and of 3 */
	o.epochs = 3;
	o.lr = 3e-3f;
	o.seed = 5;
	o.eval_n = 1797 - N_TRAIN;
	o.eval_X = d.X + N_TRAIN * N_IN;
	o.eval_Y = d.Y + N_TRAIN * N_OUT;
	o.on_epoch = accuracy != NULL ? record_eval : NULL;
	o.user = accuracy;
	return o;
}

/* The largest |a − b| over the parameters, relative to the largest |a|. */
static double rel_diff(const mlp_net *a, const mlp_net *b)
{
	size_t n = mlp_net_param_count(a);
	float *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float));
	double diff = 0, scale = 0;

	if (pa == NULL || pb == NULL)
		MPI_Abort(MPI_COMM_WORLD, 1);
	mlp_net_get_params(a, pa, n);
	mlp_net_get_params(b, pb, n);
	for (size_t i = 0; i < n; i++) {
		diff = fmax(diff, fabs((double)pa[i] - pb[i]));
		scale = fmax(scale, fabs((double)pa[i]));
	}
	free(pa);
	free(pb);
	return diff / scale;
}

/* Whether every rank holds the same 64-bit value. */
static int everywhere(uint64_t v)
{
	uint64_t lo = v, hi = v;

	MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
	MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
	return lo == hi;
}

/* The ranks against one process with the same global batch and seed:
 * within 1e-5 of the largest weight (tests/test_parallel.c says why), the
 * same held-out accuracy after every epoch, the same bits on every rank
 * and in a second run. */
static void ranks_match_one_process(void)
{
	double acc1[3], accP[3];
	mlp_train_opts o1 = digits_opts(acc1), oP = digits_opts(accP);
	mlp_net *one = digits_net(11), *net = digits_net(11 + (uint64_t)rank);
	mlp_net *again = digits_net(11);
	mlp_status st;
	double rel;

	st = mlp_train(one, &o1, N_TRAIN, d.X, d.Y);
	if (st != MLP_OK)
		report_failure("one process: %s", mlp_strerror(st));
	st = mlp_train_mpi(net, &oP, N_TRAIN, d.X, d.Y, MPI_COMM_WORLD);
	if (st != MLP_OK)
		report_failure("%d ranks: %s", size, mlp_strerror(st));
	rel = rel_diff(net, one);
	if (rank == 0)
		printf("%d ranks: parameters within %.3g (relative to the largest) "
		       "of one process's; accuracy %.4f, one process %.4f\n", size,
		       rel, accP[2], acc1[2]);
	if (!(rel <= 1e-5))
		report_failure("%d ranks: %.3g from one process", size, rel);
	for (int e = 0; e < 3; e++)
		if (accP[e] != acc1[e])
			report_failure("epoch %d: accuracy %.4f, one process %.4f", e + 1,
			     accP[e], acc1[e]);
	if (!everywhere(param_hash(net)))
		report_failure("the ranks' parameters differ");
	oP.on_epoch = NULL;
	st = mlp_train_mpi(again, &oP, N_TRAIN, d.X, d.Y, MPI_COMM_WORLD);
	if (st != MLP_OK || param_hash(again) != param_hash(net))
		report_failure("a second run: %s, %s bits", mlp_strerror(st),
		     param_hash(again) == param_hash(net) ? "the same" : "other");
	/* A communicator already in the options: refused, nothing trained. */
	{
		mlp_comm other = { 0 };
		uint64_t before = param_hash(again);

		oP.comm = &other;
		st = mlp_train_mpi(again, &oP, N_TRAIN, d.X, d.Y, MPI_COMM_WORLD);
		if (st != MLP_EINVAL || param_hash(again) != before)
			report_failure("opts->comm given to mlp_train_mpi: %s",
				       mlp_strerror(st));
		oP.comm = NULL;
	}
	mlp_net_free(one);
	mlp_net_free(net);
	mlp_net_free(again);
}

/* A directory of rank 0's making, its name on every rank. */
static void shared_dir(char *dir, size_t size_of)
{
	if (rank == 0) {
		snprintf(dir, size_of, "/tmp/mlp-mpi-test-XXXXXX");
		if (mkdtemp(dir) == NULL)
			MPI_Abort(MPI_COMM_WORLD, 1);
	}
	MPI_Bcast(dir, (int)size_of, MPI_CHAR, 0, MPI_COMM_WORLD);
}

/* Files in dir; with remove, removed. */
static int files_in(const char *dir, bool remove_them)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char path[600];
	int n = 0;

	if (dp == NULL)
		return -1;
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (remove_them)
			remove(path);
		n++;
	}
	closedir(dp);
	return n;
}

/* 4 epochs straight against 2 epochs, a checkpoint, and 2 more resumed
 * from it on networks that start elsewhere: the same bits. */
static void resume_gives_the_same_bits(void)
{
	char dir[64], path[128];
	mlp_train_opts o = digits_opts(NULL);
	mlp_net *straight = digits_net(11), *part = digits_net(11);
	mlp_net *resumed = digits_net(99 + (uint64_t)rank);
	mlp_status st[3];

	shared_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/run.ckpt", dir);
	o.optim = MLP_OPTIM_SGD;
	o.nesterov = 1;
	o.lr = 0.05f;
	o.epochs = 4;
	st[0] = mlp_train_mpi(straight, &o, N_TRAIN, d.X, d.Y, MPI_COMM_WORLD);
	o.epochs = 2;
	o.checkpoint = path;
	o.checkpoint_every = 2;
	st[1] = mlp_train_mpi(part, &o, N_TRAIN, d.X, d.Y, MPI_COMM_WORLD);
	o.epochs = 4;
	o.checkpoint = NULL;
	o.resume = path;
	st[2] = mlp_train_mpi(resumed, &o, N_TRAIN, d.X, d.Y, MPI_COMM_WORLD);
	for (int i = 0; i < 3; i++)
		if (st[i] != MLP_OK)
			report_failure("resume, run %d: %s", i + 1, mlp_strerror(st[i]));
	if (param_hash(resumed) != param_hash(straight))
		report_failure("resumed: other bits than the run that never stopped");
	else if (rank == 0)
		printf("%d ranks: 2 epochs + checkpoint + 2 resumed = 4 epochs, "
		       "bit for bit\n", size);
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank == 0) {
		files_in(dir, true);
		rmdir(dir);
	}
	mlp_net_free(straight);
	mlp_net_free(part);
	mlp_net_free(resumed);
}

/* Rows i ≡ rank (mod size) on each rank: every rank ends with the same
 * network, and it learns. */
static void shards(void)
{
	double acc[10];
	mlp_train_opts o = digits_opts(acc);
	size_t n = (N_TRAIN - (size_t)rank + (size_t)size - 1) / (size_t)size;
	float *X = malloc(n * N_IN * sizeof(float));
	float *Y = malloc(n * N_OUT * sizeof(float));
	mlp_net *net = digits_net(11);
	mlp_status st;

	if (X == NULL || Y == NULL)
		MPI_Abort(MPI_COMM_WORLD, 1);
	for (size_t i = 0; i < n; i++) {
		size_t row = i * (size_t)size + (size_t)rank;

		memcpy(X + i * N_IN, d.X + row * N_IN, N_IN * sizeof(float));
		memcpy(Y + i * N_OUT, d.Y + row * N_OUT, N_OUT * sizeof(float));
	}
	o.sharded = 1;
	o.epochs = 10;
	st = mlp_train_mpi(net, &o, n, X, Y, MPI_COMM_WORLD);
	if (st != MLP_OK)
		report_failure("shards: %s", mlp_strerror(st));
	if (!everywhere(param_hash(net)))
		report_failure("shards: the ranks' parameters differ");
	if (!(acc[9] >= 0.9))
		report_failure("shards: accuracy %.4f after 10 epochs", acc[9]);
	if (rank == 0)
		printf("%d shards: accuracy %.4f after 10 epochs\n", size, acc[9]);
	mlp_net_free(net);
	free(X);
	free(Y);
}

/* After an epoch that wrote a checkpoint, a run resumed from it whose last
 * rank gets a NaN in a row (case 0), or rows so large the loss overflows
 * (case 1): every rank returns the same status, in seconds, and the
 * checkpoint, written after every epoch, is the one the first run left,
 * whole (it loads), with no temporary file beside it. */
static void errors_reach_every_rank(int which)
{
	static const mlp_status want[2] = { MLP_ENONFINITE, MLP_EDIVERGED };
	char dir[64], path[128];
	mlp_train_opts o = digits_opts(NULL);
	float *X = d.X;
	mlp_net *net = digits_net(11);
	double t0 = MPI_Wtime();
	mlp_status st;

	shared_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/run.ckpt", dir);
	if (rank == size - 1) {
		X = malloc(sizeof(d.X));
		if (X == NULL)
			MPI_Abort(MPI_COMM_WORLD, 1);
		memcpy(X, d.X, sizeof(d.X));
		if (which == 0)
			X[700 * N_IN + 3] = NAN;
		else
			for (size_t i = 0; i < N_TRAIN * N_IN; i++)
				X[i] *= 3e37f;
	}
	o.checkpoint = path;
	o.checkpoint_every = 1;
	o.epochs = 1;
	st = mlp_train_mpi(net, &o, N_TRAIN, d.X, d.Y, MPI_COMM_WORLD);
	if (st != MLP_OK)
		report_failure("error case %d, first run: %s", which, mlp_strerror(st));
	o.epochs = 3;
	o.resume = path;
	t0 = MPI_Wtime();
	st = mlp_train_mpi(net, &o, N_TRAIN, X, d.Y, MPI_COMM_WORLD);
	if (st != want[which])
		report_failure("error case %d: %s, not %s", which, mlp_strerror(st),
		     mlp_strerror(want[which]));
	if (MPI_Wtime() - t0 > 10)
		report_failure("error case %d took %.1f s", which, MPI_Wtime() - t0);
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank == 0) {
		int n = files_in(dir, false);
		mlp_net *back;

		if (n != 1)
			report_failure("error case %d: %d files where the checkpoint is",
			     which, n);
		if (mlp_net_load(&back, path, NULL, NULL) != MLP_OK)
			report_failure("error case %d: the checkpoint does not load", which);
		else
			mlp_net_free(back);
		files_in(dir, true);
		rmdir(dir);
		printf("error case %d: every rank returned '%s'\n", which,
		       mlp_strerror(want[which]));
	}
	if (X != d.X)
		free(X);
	mlp_net_free(net);
}

int main(int argc, char **argv)
{
	int total;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (!digits_read(&d)) {
		fprintf(stderr, "rank %d: cannot read digits.csv\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	ranks_match_one_process();
	resume_gives_the_same_bits();
	shards();
	errors_reach_every_rank(0);
	errors_reach_every_rank(1);
	MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0)
		printf("%s: %d failure%s on %d ranks\n", total ? "FAILED" : "passed",
		       total, total == 1 ? "" : "s", size);
	MPI_Finalize();
	return total != 0;
}
