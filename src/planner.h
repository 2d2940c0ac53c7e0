/*
 * planner.h — the planner (planner.c): which kernel runs each layer at
 * each rung of a plan, and the kernels prepared for it; and the wisdom it
 * keeps (wisdom.c).
 */
#ifndef MLP_PLANNER_H
#define MLP_PLANNER_H

#include "kernel.h"

/* The planner's answer: pick[k * n_layers + l] is the index in the kernel
 * list of the kernel of layer l at rung k; packed[l * n_kernels + i] the
 * form kernel i prepared of layer l (NULL where none of the rungs picks it). */
struct mlpi_choice {
	struct mlpi_rungs rungs;
	size_t n_layers, n_kernels;
	const struct mlpi_kernel **kernels; /* a copy of the list */
	unsigned char *pick;
	void **packed;
	bool *refused;                   /* [l * n_kernels + i]: cannot pack */
	const struct mlp_layer *layers; /* the network's, while choosing */
};

/* Chooses and prepares, with opts checked (msg names what is wrong). The
 * kernels are the list's (tests pass their own). */
mlp_status mlpi_plan_choose(const struct mlpi_kernel *const *kernels,
			    size_t n_kernels, const mlp_net *net,
			    const mlp_plan_opts *opts, struct mlpi_choice *out,
			    mlp_msg *msg);
/* plan.c: a plan on the kernels given (the tests pass their own). */
mlp_status mlpi_plan_create_with(const struct mlpi_kernel *const *kernels,
				 size_t n_kernels, mlp_plan **out,
				 const mlp_net *net, const mlp_plan_opts *opts,
				 mlp_msg *msg);
/* plan.c: the plan's input and output widths and its largest rung. */
void mlpi_plan_shape(const mlp_plan *plan, size_t *n_in, size_t *n_out,
		     size_t *max_batch);
/* Frees what a choice prepared. */
void mlpi_choice_free(struct mlpi_choice *c);

/* ---- wisdom.c ---------------------------------------------------------- */

struct mlpi_wisdom_key {
	mlp_precision precision;
	size_t n_in, n_out, rows;
	mlp_act act;
	int threads;
	bool invariant;
};

/* The kernel recorded for key on this machine, into name (size bytes):
 * whether there is one. */
bool mlpi_wisdom_lookup(const struct mlpi_wisdom_key *key, char *name,
			size_t size);
/* Records a measured choice (its time in µs); MLP_ENOMEM. */
mlp_status mlpi_wisdom_record(const struct mlpi_wisdom_key *key,
			      const char *kernel, double us);

#endif /* MLP_PLANNER_H */
