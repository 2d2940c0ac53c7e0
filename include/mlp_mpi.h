/*
 * mlp_mpi.h — data-parallel training on MPI: an mlp_comm over an MPI
 * communicator, and mlp_train on it.
 *
 * The library itself knows no MPI (mlp_comm, in mlp.h, is three calls);
 * this header holds the few lines that connect it to MPI and is compiled
 * into the program with the program's own MPI, so one libmlp serves Open
 * MPI and MPICH alike. Include it after <mpi.h>:
 *
 *     #include <mpi.h>
 *     #include <mlp_mpi.h>
 *
 *     MPI_Init(&argc, &argv);
 *     ...every rank: the same network shape, options and (all, or its
 *     shard of) the rows...
 *     st = mlp_train_mpi(net, &opts, n, X, Y, MPI_COMM_WORLD);
 *
 * Every rank returns the same status. Sums are MPI_Allreduce(MPI_SUM),
 * which gives every rank the same bits in Open MPI and MPICH; mlp_train
 * checks after each epoch that the ranks' parameters are the same
 * (MLP_EWORKERS otherwise). The communicator's error handler stays the
 * program's (MPI's default ends the job on a failed transfer).
 */
#ifndef MLP_MPI_H
#define MLP_MPI_H

#include <limits.h>
#include <mpi.h>
#include <stddef.h>

#include "mlp.h"

/* Sums of n values of one type across the ranks, in place, in pieces that
 * fit MPI's int counts. */
static inline int mlp_mpi_sum_(void *ctx, void *v, size_t n, MPI_Datatype type,
			       size_t size)
{
	MPI_Comm comm = *(MPI_Comm *)ctx;
	char *at = (char *)v;

	while (n > 0) {
		int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;

		if (MPI_Allreduce(MPI_IN_PLACE, at, k, type, MPI_SUM, comm) !=
		    MPI_SUCCESS)
			return 1;
		at += (size_t)k * size;
		n -= (size_t)k;
	}
	return 0;
}

static inline int mlp_mpi_sum_doubles(void *ctx, double *v, size_t n)
{
	return mlp_mpi_sum_(ctx, v, n, MPI_DOUBLE, sizeof(double));
}

static inline int mlp_mpi_sum_floats(void *ctx, float *v, size_t n)
{
	return mlp_mpi_sum_(ctx, v, n, MPI_FLOAT, sizeof(float));
}

static inline int mlp_mpi_broadcast(void *ctx, float *v, size_t n)
{
	MPI_Comm comm = *(MPI_Comm *)ctx;

	while (n > 0) {
		int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;

		if (MPI_Bcast(v, k, MPI_FLOAT, 0, comm) != MPI_SUCCESS)
			return 1;
		v += k;
		n -= (size_t)k;
	}
	return 0;
}

/* An mlp_comm over *comm, which must outlive it (and stay the same
 * object: the mlp_comm holds its address). MLP_ECOMM if MPI cannot say
 * the rank and size. */
static inline mlp_status mlp_mpi_comm(mlp_comm *out, MPI_Comm *comm)
{
	int rank, size;

	if (out == NULL || comm == NULL)
		return MLP_ENULL;
	if (MPI_Comm_rank(*comm, &rank) != MPI_SUCCESS ||
	    MPI_Comm_size(*comm, &size) != MPI_SUCCESS)
		return MLP_ECOMM;
	out->struct_size = sizeof(mlp_comm);
	out->rank = rank;
	out->size = size;
	out->ctx = comm;
	out->sum_doubles = mlp_mpi_sum_doubles;
	out->sum_floats = mlp_mpi_sum_floats;
	out->broadcast = mlp_mpi_broadcast;
	return MLP_OK;
}

/* mlp_train with every rank of comm as a worker: opts->comm is set for the
 * call, and must be NULL in opts (MLP_EINVAL otherwise: a run has one
 * communicator). See mlp_train for what the ranks share, and
 * opts->sharded for rows spread over the ranks. */
static inline mlp_status mlp_train_mpi(mlp_net *net, const mlp_train_opts *opts,
				       size_t n, const float *X, const float *Y,
				       MPI_Comm comm)
{
	mlp_train_opts o;
	mlp_comm c;
	mlp_status st;

	if (opts == NULL)
		return MLP_ENULL;
	if (opts->comm != NULL)
		return MLP_EINVAL;
	st = mlp_mpi_comm(&c, &comm);
	if (st != MLP_OK)
		return st;
	o = *opts;
	o.comm = &c;
	return mlp_train(net, &o, n, X, Y);
}

#endif /* MLP_MPI_H */
