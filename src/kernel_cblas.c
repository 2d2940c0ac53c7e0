/*
 * kernel_cblas.c — mlp_forward's step as a kernel: one cblas_sgemv for a
 * row, one cblas_sgemm for more, then bias and activation (dense.c). Its
 * packed form is a copy of the layer (a plan is a snapshot); it has no
 * context. Threads are the BLAS's own (mlp_set_threads).
 */
#include "kernel.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct cblas_layer {
	struct mlp_layer layer; /* W and b point into mem */
	void *mem;
};

static bool cblas_supports(const struct mlp_layer *layer, size_t rows)
{
	return rows <= INT_MAX && layer->n_in <= INT_MAX && layer->n_out <= INT_MAX;
}

/* A BLAS call's fixed cost, and its rate once the product is large
 * (OpenBLAS, measured with the bench on an AMD EPYC family 25: about a
 * microsecond a call for sgemm and a quarter of it for sgemv; 40-60 GFLOP/s
 * a thread on the 784-wide layers). */
static double cblas_cost(const struct mlp_layer *layer, size_t rows, int threads)
{
	double flops = 2.0 * (double)rows * (double)layer->n_in * (double)layer->n_out;
	double fixed = rows == 1 ? 0.25 : 1.0;
	double rate = rows == 1 ? 12e3 : rows < 32 ? 20e3 : 45e3; /* flop/µs */

	if (flops > 4e6)
		rate *= threads;
	return fixed + flops / rate + 0.001 * (double)(rows * layer->n_out);
}

static mlp_status cblas_prepare(const struct mlp_layer *layer,
				const struct mlpi_rungs *rungs, void **out)
{
	struct cblas_layer *c = malloc(sizeof(*c));
	size_t w = layer->n_in * layer->n_out;

	(void)rungs;
	if (c == NULL)
		return MLP_ENOMEM;
	c->mem = mlpi_alloc_aligned((w + layer->n_out) * sizeof(float));
	if (c->mem == NULL) {
		free(c);
		return MLP_ENOMEM;
	}
	c->layer = *layer;
	c->layer.W = c->mem;
	c->layer.b = c->layer.W + w;
	memcpy(c->layer.W, layer->W, w * sizeof(float));
	memcpy(c->layer.b, layer->b, layer->n_out * sizeof(float));
	*out = c;
	return MLP_OK;
}

static mlp_status cblas_context(const void *packed, void **ctx)
{
	(void)packed;
	*ctx = NULL;
	return MLP_OK;
}

static mlp_status cblas_run(const void *packed, void *ctx, size_t rung,
			    size_t rows, const float *X, float *Y)
{
	const struct mlp_layer *l = &((const struct cblas_layer *)packed)->layer;

	(void)ctx;
	(void)rung;
	mlpi_dense(rows, l->n_in, l->n_out, l->W, l->b, l->act, X, Y);
	return MLP_OK;
}

static const char *cblas_describe(const void *packed)
{
	(void)packed;
	return mlp_blas_name();
}

static void cblas_free_context(void *ctx)
{
	(void)ctx;
}

static void cblas_free_packed(void *packed)
{
	struct cblas_layer *c = packed;

	if (c != NULL)
		mlpi_free_aligned(c->mem);
	free(c);
}

const struct mlpi_kernel mlpi_kernel_cblas = {
	.name = "cblas",
	.precision = MLP_FP32,
	.invariant = false,
	.any_rows = true,
	.supports = cblas_supports,
	.cost = cblas_cost,
	.prepare = cblas_prepare,
	.context = cblas_context,
	.run = cblas_run,
	.describe = cblas_describe,
	.free_context = cblas_free_context,
	.free_packed = cblas_free_packed,
};
