/*
 * bench.h — what the parts of mlp-bench share: the networks, the
 * implementations, the options, and how a measurement is kept.
 */
#ifndef MLP_BENCH_H
#define MLP_BENCH_H

#include "mlp.h"
#include "torch_proc.h"

#include <stdbool.h>
#include <stddef.h>

enum { MAX_LAYERS = 8, MAX_CASES = 16 };

struct net_case {
	const char *name;
	size_t n_layers;
	size_t sizes[MAX_LAYERS + 1];
	mlp_act acts[MAX_LAYERS];
	bool smoke; /* in the CI smoke run */
};

enum impl { MLP, FLOOR, NAIVE, FANN, TORCH, N_IMPL };
extern const char *const impl_names[N_IMPL];

struct options {
	bool full, smoke, strict, no_fann, no_torch, no_train, keep_coretype;
	int threads, repeats;
	double target_s, budget_s; /* one timed run; all runs of one cell */
	const char *csv, *json, *python, *torch_script;
	bool case_on[MAX_CASES];
	size_t batches[16], n_batches;
};

struct stats {
	bool present; /* this implementation ran the case */
	bool agree;   /* and agreed with mlp */
	bool ran;     /* and was timed */
	double median, p25, p75, min;
	int repeats, inner;
	char why[160]; /* why it is absent, or where it disagrees */
};

/* One network at one batch size, every implementation. */
struct cell {
	const struct net_case *c;
	size_t batch;
	double flops; /* per pass (forward), or per step (training) */
	struct stats s[N_IMPL];
};

/* The pause between two timed runs, so that idle BLAS threads park. */
void bench_pause(void);

/* Median, quartiles and minimum of st->repeats times (sorted in place). */
void stats_finish(struct stats *st, double *times);

/* train_bench.c: mlp's trainer against PyTorch's on one network (Adam,
 * cross-entropy), into cell (MLP and TORCH); torch may be NULL. Agreement:
 * the losses of the first steps from the same parameters. */
void train_bench(const struct options *o, struct torch_proc *torch,
		 const char *tmpdir, struct cell *cell);

#endif
