/*
 * impls.h — the implementations the bench compares mlp with. Each runs the
 * same network, given as plain arrays, on the same layout as mlp: W
 * row-major n_out × n_in, one sample per row.
 */
#ifndef MLP_BENCH_IMPLS_H
#define MLP_BENCH_IMPLS_H

#include "mlp.h"

#include <stdbool.h>
#include <stddef.h>

struct bench_net {
	size_t n_layers;
	const size_t *sizes;   /* n_layers + 1 widths */
	const mlp_act *acts;   /* n_layers */
	const float *const *W; /* per layer, n_out × n_in */
	const float *const *b; /* per layer, n_out */
};

/* naive.c: the math of a neuron as plain loops, y_i = b_i + Σ_j w_ij·x_j,
 * then the activation. No BLAS. tmp[0], tmp[1]: batch × widest floats. */
void naive_forward(const struct bench_net *net, size_t batch, const float *X,
		   float *Y, float *const tmp[2]);

/* floor.c: the raw BLAS floor, the same chain of cblas_sgemv (batch 1) or
 * cblas_sgemm calls with no bias and no activation. */
void floor_forward(const struct bench_net *net, size_t batch, const float *X,
		   float *Y, float *const tmp[2]);

/* fann_net.c: FANN (float build), fann_run once per sample. NULL where FANN
 * is not built in or cannot express an activation of the network. */
struct fann_net;
bool fann_available(void);
struct fann_net *fann_net_create(const struct bench_net *net);
void fann_net_forward(struct fann_net *f, size_t batch, const float *X, float *Y);
void fann_net_free(struct fann_net *f);

/* dnnl_floor.c: the bare oneDNN chain, the floor of mlp's oneDNN plans: one
 * matmul primitive a layer at this batch, weights packed beforehand, no
 * bias, no activation; in bf16 a reorder of the float input X first, and
 * every output but the last bf16. NULL where oneDNN is not built in (or
 * cannot). X must outlive it. */
struct dnnl_floor;
bool dnnl_floor_available(bool bf16);
struct dnnl_floor *dnnl_floor_create(const struct bench_net *net, size_t batch,
				     bool bf16, const float *X);
void dnnl_floor_forward(struct dnnl_floor *f, float *Y);
void dnnl_floor_free(struct dnnl_floor *f);

#endif
