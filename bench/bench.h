/*
 * bench.h — what the forward bench (bench.c) and the training bench
 * (train_bench.c) share: the networks, the implementations and a measured
 * cell. bench.c calls train_bench.c; train_bench.c calls neither back.
 */
#ifndef MLP_BENCH_H
#define MLP_BENCH_H

#include "mlp.h"
#include "timer.h"
#include "torch_proc.h"

#include <stdbool.h>
#include <stddef.h>

enum { MAX_LAYERS = 8 };

struct net_case {
	const char *name;
	size_t n_layers;
	size_t sizes[MAX_LAYERS + 1];
	mlp_act acts[MAX_LAYERS];
	bool smoke; /* in the CI smoke run */
};

/* The implementations: mlp's CBLAS path, the bare BLAS chain, naive loops,
 * FANN; mlp's plans in fp32 and bf16, the bare oneDNN chains beneath them;
 * mlp's bf16 trainer (training cells; MLP is the float trainer there);
 * then PyTorch, in float and under bf16 autocast, which the bench runs in
 * a phase of their own, after all the others (see bench.c). */
enum impl {
	MLP, FLOOR, NAIVE, FANN,
	PLAN32, PLAN16, DNNL32, DNNL16,
	PLANM, PLANI, /* fp32 plans: MLP_MEASURE, and batch-invariant */
	PLAN8,        /* the int8 plan (MLP_MEASURE) of the network quantised */
	MLP16,
	TORCH, TORCH16,
	N_IMPL
};

/* What a cell measures. */
enum cell_kind {
	CELL_FORWARD, /* a forward pass of a batch */
	CELL_TRAIN,   /* a training step on a batch */
};

/* One network at one batch size, every implementation. */
struct cell {
	enum cell_kind kind;
	const struct net_case *c;
	size_t batch;
	double flops; /* a pass or a step */
	struct stats s[N_IMPL];
	/* The kernels of the fp32 plans (estimate, measure, invariant) at
	 * the cell's batch, a name a layer. */
	char kernels[4][96]; /* and the int8 plan's */
};

/* train_bench.c: mlp's trainers, float and bf16, on one network (Adam,
 * cross-entropy) at a batch size into cell (MLP, MLP16); then PyTorch's,
 * float and bf16 autocast, into the same cell (TORCH, TORCH16). Agreement:
 * the losses of the first steps from the same parameters. Files for
 * PyTorch go to tmpdir and are removed. */
void train_bench(const struct round_plan *plan, size_t batch,
		 struct cell *cell);
void train_bench_torch(const struct round_plan *plan, struct torch_proc *torch,
		       const char *tmpdir, struct cell *cell);

#endif
