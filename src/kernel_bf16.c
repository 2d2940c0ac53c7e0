/*
 * kernel_bf16.c — bf16 rows on mlp's own kernel (gemv_bf16.c): each row's
 * input rounded to bf16, then W·x + b from weights packed once in bf16,
 * sums in float, the activation after. A row at a time, in the same order
 * whatever the batch; the blocks of outputs of a large layer shared among
 * threads. It needs AVX512_BF16, not oneDNN.
 *
 * On an AMX Xeon it ran one row of 784-256-256-10 1.3 times as fast as
 * oneDNN's AMX kernels, 784-1024-1024-10 1.4 times, and networks of tiny
 * layers 8 times; oneDNN wins from a few rows on (the planner measures).
 */
#include "bf16.h"
#include "cpu.h"
#include "kernel.h"
#include "openmp.h"

#include <stdlib.h>

/* Layers of fewer weights run on the calling thread alone: waking
 * OpenMP's threads cost more than they saved (256 × 256 did; 784 × 256,
 * 1.3 times faster shared than alone on 2 cores). */
#define SHARED_WEIGHTS ((size_t)1 << 17)

struct bf16_layer {
	size_t n_in, n_out;
	mlp_act act;
	int threads;
	uint16_t *P;
	float *b;
};

struct bf16_context {
	uint16_t *x; /* a row's input in bf16, padded to pairs */
};

static bool bf16_supports(const struct mlp_layer *layer, size_t rows)
{
	(void)layer;
	(void)rows;
	return mlpi_cpu_avx512_bf16() && mlpi_cpu_bf16();
}

/* Two bytes a weight read once a row, about 50 GB/s from the caches; no
 * fixed cost beyond converting the row. */
static double bf16_cost(const struct mlp_layer *layer, size_t rows, int threads)
{
	double bytes = 2.0 * (double)layer->n_in * (double)layer->n_out;
	double t = (double)rows * (0.02 + bytes / 50e3);

	if ((size_t)(layer->n_in * layer->n_out) >= SHARED_WEIGHTS && threads > 1)
		t = (double)rows * (1.0 + t / (double)rows / threads);
	return t;
}

static mlp_status bf16_prepare(const struct mlp_layer *layer,
			       const struct mlpi_rungs *rungs, void **out)
{
	struct bf16_layer *p;

	if (!mlpi_cpu_avx512_bf16() || !mlpi_cpu_bf16())
		return MLP_ENOTSUP;
	p = malloc(sizeof(*p));
	if (p == NULL)
		return MLP_ENOMEM;
	p->P = mlpi_alloc_aligned(mlpi_gemv_bf16_size(layer->n_out, layer->n_in) *
				  sizeof(uint16_t));
	p->b = malloc(layer->n_out * sizeof(float));
	if (p->P == NULL || p->b == NULL) {
		mlpi_free_aligned(p->P);
		free(p->b);
		free(p);
		return MLP_ENOMEM;
	}
	p->n_in = layer->n_in;
	p->n_out = layer->n_out;
	p->act = layer->act;
	p->threads = mlpi_kernel_threads(rungs->threads);
	mlpi_gemv_bf16_pack(layer->n_out, layer->n_in, layer->W, p->P);
	for (size_t o = 0; o < layer->n_out; o++)
		p->b[o] = layer->b[o];
	*out = p;
	return MLP_OK;
}

static mlp_status bf16_context(const void *packed, void **out)
{
	const struct bf16_layer *p = packed;
	struct bf16_context *c = malloc(sizeof(*c));

	if (c == NULL)
		return MLP_ENOMEM;
	c->x = mlpi_alloc_aligned((p->n_in + 1) * sizeof(uint16_t));
	if (c->x == NULL) {
		free(c);
		return MLP_ENOMEM;
	}
	*out = c;
	return MLP_OK;
}

struct row_job {
	const struct bf16_layer *p;
	const uint16_t *x;
	float *y;
};

/* A share of the blocks of 16 outputs, in fours (the kernel's step). */
static void row_part(void *arg, int part, int parts)
{
	const struct row_job *job = arg;
	const struct bf16_layer *p = job->p;
	size_t blocks = mlpi_gemv_bf16_blocks(p->n_out);
	size_t fours = (blocks + 3) / 4;
	size_t lo = fours * (size_t)part / (size_t)parts * 4;
	size_t hi = fours * (size_t)(part + 1) / (size_t)parts * 4;

	hi = hi < blocks ? hi : blocks;
	if (lo < hi)
		mlpi_gemv_bf16(p->n_out, p->n_in, p->P, job->x, p->b, job->y, lo, hi);
}

static mlp_status bf16_run(const void *packed, void *ctx, size_t rung,
			   size_t rows, const float *X, float *Y)
{
	const struct bf16_layer *p = packed;
	struct bf16_context *c = ctx;
	struct row_job job = { p, c->x, NULL };
	bool shared = p->threads > 1 && p->n_in * p->n_out >= SHARED_WEIGHTS;

	(void)rung;
	for (size_t r = 0; r < rows; r++) {
		mlpi_to_bf16(p->n_in, X + r * p->n_in, c->x);
		c->x[p->n_in] = 0;
		job.y = Y + r * p->n_out;
#if defined(MLP_HAVE_ONEDNN)
		if (shared)
			mlpi_openmp_parallel_n(row_part, &job, (unsigned)p->threads);
		else
#endif
			row_part(&job, 0, 1);
	}
	(void)shared;
	if (p->act != MLP_IDENTITY)
		mlpi_bias_act(p->act, rows, p->n_out, NULL, Y);
	return MLP_OK;
}

static const char *bf16_describe(const void *packed)
{
	(void)packed;
	return "avx512_bf16";
}

static void bf16_free_context(void *ctx)
{
	struct bf16_context *c = ctx;

	if (c != NULL)
		mlpi_free_aligned(c->x);
	free(c);
}

static void bf16_free(void *packed)
{
	struct bf16_layer *p = packed;

	if (p != NULL) {
		mlpi_free_aligned(p->P);
		free(p->b);
	}
	free(p);
}

const struct mlpi_kernel mlpi_kernel_bf16_rows = {
	.name = "bf16-rows",
	.precision = MLP_BF16,
	.invariant = true,
	.any_rows = true,
	.supports = bf16_supports,
	.cost = bf16_cost,
	.prepare = bf16_prepare,
	.context = bf16_context,
	.run = bf16_run,
	.describe = bf16_describe,
	.free_context = bf16_free_context,
	.free_packed = bf16_free,
};
