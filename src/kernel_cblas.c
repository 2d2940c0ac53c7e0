/*
 * kernel_cblas.c — mlp_forward's step as a kernel: one cblas_sgemv for a
 * row, one cblas_sgemm for more, then bias and activation (dense.c). Its
 * packed form is a copy of the layer (a plan is a snapshot); it has no
 * context. Threads are the BLAS's own (mlp_set_threads).
 */
#include "kernel.h"

#include <limits.h>
#include <math.h>
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

/* A BLAS call's fixed cost, then its rate (OpenBLAS on an AMD EPYC family
 * 25, 2 threads, bench_costs): one row is bound by reading the weights
 * (about 40 GB/s); a few rows run far below the rate of many (sgemm's
 * packing for small M), and layers narrower than 32 outputs at a third of
 * it; each row of output costs a few nanoseconds of bias and activation. */
static double cblas_cost(const struct mlp_layer *layer, size_t rows, int threads)
{
	double flops = 2.0 * (double)rows * (double)layer->n_in * (double)layer->n_out;
	double bytes = 4.0 * (double)layer->n_in * (double)layer->n_out;
	double rate, t;

	/* Where OpenBLAS shares a call among its threads (sgemv from 9216
	 * weights on, sgemm from about 2^16 multiply-adds), waking them
	 * after another kernel's OpenMP threads cost tens of microseconds in
	 * a plan's pass, and up to milliseconds where both spin (the bench:
	 * 784-1024-1024-10 at one row, 371 µs against 60 without it). */
	double wake = threads > 1 && (rows == 1 ? bytes / 4 >= 9216 : flops / 2 >= 65536)
			      ? 20.0 : 0.0;

	if (rows == 1)
		return 0.04 + wake + fmax(flops, bytes) / 40e3;
	rate = rows < 64 ? 30e3 : flops > 2e7 ? 150e3 : 60e3; /* flop/µs */
	t = flops / rate * (layer->n_out < 32 && layer->n_in >= 128 ? 3 : 1);
	return 0.12 + wake + t + 0.004 * (double)rows;
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
