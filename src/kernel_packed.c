/*
 * kernel_packed.c — mlp's own fp32 kernels on packed weights
 * (kernel_fp32.c), the weights packed once when the plan is made:
 *
 *   packed       a row at a time in the same order whatever the batch
 *                (batch-invariant), its panels of outputs shared among
 *                threads where the layer is large enough to pay for them;
 *   packed-cols  layers narrower than a panel (under 16 outputs, at most
 *                64 inputs) across blocks of 16 rows, which fills the
 *                vectors a 1-wide layer would leave empty.
 *
 * The activation is one pass over each output after the product.
 */
#include "kernel.h"
#include "kernel_fp32.h"
#include "openmp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Below this many flops a layer runs on the calling thread: waking
 * another cost more than it saved (the bench, 2 threads: 64 × 64 at 64
 * rows, 0.5 MFLOP, ran as fast alone). */
#define PACKED_SHARED_FLOPS 1e6

/* packed-cols: the narrow shapes, and the rows of a block. */
#define COLS_MAX_OUT 15u
#define COLS_MAX_IN 64u
#define COLS_ROWS 16u

struct packed_layer {
	size_t n_in, n_out, panels;
	size_t shared_rows; /* from this many rows on, shared among threads */
	mlp_act act;
	enum mlpi_kfp32_isa isa;
	int threads;
	float *P;
	char describe[24];
};

static bool packed_supports(const struct mlp_layer *layer, size_t rows)
{
	(void)layer;
	(void)rows;
	return true;
}

static bool cols_supports(const struct mlp_layer *layer, size_t rows)
{
	return layer->n_out <= COLS_MAX_OUT && layer->n_in <= COLS_MAX_IN &&
	       rows >= COLS_ROWS;
}

/* A block of R rows × Q panels takes, per input, R·Q vector FMAs or the
 * FMA's latency (4 cycles), whichever is longer; a cycle is about 0.28 ns
 * here (AMD EPYC family 25 at 3.6 GHz, one 512-bit FMA a cycle; AVX2 needs
 * two, plain C sixteen). Weights beyond the L2 cache stream from L3 or
 * memory at about 120 GB/s on 2 cores. The activation is a pass of its
 * own. Fitted to bench_costs; MLP_MEASURE does not rely on it. */
static double packed_cost(const struct mlp_layer *layer, size_t rows, int threads)
{
	enum mlpi_kfp32_isa isa = mlpi_kfp32_best();
	double cycle = isa == MLPI_KFP32_AVX512 ? 0.00028
		       : isa == MLPI_KFP32_AVX2 ? 0.00056 : 0.0045; /* µs */
	double rows_per = isa == MLPI_KFP32_AVX512 ? 8 : isa == MLPI_KFP32_AVX2 ? 6 : 1;
	double pairs = (double)((mlpi_kfp32_panels(layer->n_out) + 1) / 2);
	double full = floor((double)rows / rows_per), rest = (double)rows - full * rows_per;
	double per_in = full * fmax(rows_per * 2, 4) + (rest > 0 ? fmax(rest * 2, 4) : 0);
	double compute = pairs * (per_in * cycle * (double)layer->n_in +
				  0.01 * (full + (rest > 0)));
	double bytes = 4.0 * (double)layer->n_in * (double)layer->n_out;
	double flops = 2.0 * (double)rows * (double)layer->n_in * (double)layer->n_out;
	double t;

	if (flops >= PACKED_SHARED_FLOPS && threads > 1)
		compute = 1.5 + compute / threads;
	t = bytes > 1e6 ? fmax(compute, bytes / 120e3) : compute;
	return 0.02 + t + 0.0002 * (double)(rows * layer->n_out);
}

/* Per block of 16 rows: the inputs transposed, then each output's sums
 * and its 16 scattered stores. */
static double cols_cost(const struct mlp_layer *layer, size_t rows, int threads)
{
	double blocks = (double)(rows / COLS_ROWS), n_in = (double)layer->n_in;
	double block = (double)layer->n_out * (0.006 + n_in * 0.0004) + n_in * 0.004;

	(void)threads;
	return 0.02 + blocks * block + 0.0002 * (double)(rows * layer->n_out);
}

static mlp_status packed_prepare(const struct mlp_layer *layer,
				 const struct mlpi_rungs *rungs, void **out)
{
	struct packed_layer *p = malloc(sizeof(*p));

	if (p == NULL)
		return MLP_ENOMEM;
	p->P = mlpi_alloc_aligned(mlpi_kfp32_size(layer->n_out, layer->n_in) *
				  sizeof(float));
	if (p->P == NULL) {
		free(p);
		return MLP_ENOMEM;
	}
	p->n_in = layer->n_in;
	p->n_out = layer->n_out;
	p->act = layer->act;
	p->isa = mlpi_kfp32_best();
	p->threads = mlpi_kernel_threads(rungs->threads);
	p->panels = mlpi_kfp32_panels(layer->n_out);
	p->shared_rows = (size_t)ceil(PACKED_SHARED_FLOPS /
				      (2.0 * (double)layer->n_in * (double)layer->n_out));
	if (p->threads <= 1 || p->panels < 4)
		p->shared_rows = SIZE_MAX;
	mlpi_kfp32_pack(layer->n_out, layer->n_in, layer->W, layer->b, p->P);
	snprintf(p->describe, sizeof(p->describe), "%s", mlpi_kfp32_name(p->isa));
	*out = p;
	return MLP_OK;
}

static mlp_status packed_context(const void *packed, void **ctx)
{
	(void)packed;
	*ctx = NULL;
	return MLP_OK;
}

struct panels_job {
	const struct packed_layer *p;
	size_t rows;
	const float *X;
	float *Y;
};

/* A share of the panels, in pairs (the kernel's step), and the activation
 * of the outputs it wrote. */
static void panels_part(void *arg, int part, int parts)
{
	const struct panels_job *job = arg;
	const struct packed_layer *p = job->p;
	size_t pairs = (mlpi_kfp32_panels(p->n_out) + 1) / 2;
	size_t lo = pairs * (size_t)part / (size_t)parts * 2;
	size_t hi = pairs * (size_t)(part + 1) / (size_t)parts * 2;

	hi = hi < mlpi_kfp32_panels(p->n_out) ? hi : mlpi_kfp32_panels(p->n_out);
	if (lo >= hi)
		return;
	mlpi_kfp32_run_panels(p->isa, job->rows, p->n_in, p->n_out, p->P, job->X,
			      job->Y, lo, hi);
	if (p->act == MLP_IDENTITY || p->act == MLP_SOFTMAX)
		return;
	if (parts == 1) {
		mlpi_bias_act(p->act, job->rows, p->n_out, NULL, job->Y);
		return;
	}
	for (size_t r = 0; r < job->rows; r++) {
		size_t o = lo * MLPI_KFP32_LANES;
		size_t n = (hi * MLPI_KFP32_LANES < p->n_out ? hi * MLPI_KFP32_LANES
							       : p->n_out) - o;

		mlpi_bias_act(p->act, 1, n, NULL, job->Y + r * p->n_out + o);
	}
}

static mlp_status packed_run(const void *packed, void *ctx, size_t rung,
			     size_t rows, const float *X, float *Y)
{
	const struct packed_layer *p = packed;

	(void)ctx;
	(void)rung;
#if defined(MLP_HAVE_ONEDNN)
	if (rows >= p->shared_rows) {
		struct panels_job job = { p, rows, X, Y };

		mlpi_openmp_parallel_n(panels_part, &job, (unsigned)p->threads);
		if (p->act == MLP_SOFTMAX)
			mlpi_bias_act(p->act, rows, p->n_out, NULL, Y);
		return MLP_OK;
	}
#endif
	/* On the calling thread: no job, no shares to work out. */
	mlpi_kfp32_run_panels(p->isa, rows, p->n_in, p->n_out, p->P, X, Y, 0,
			      p->panels);
	if (p->act != MLP_IDENTITY)
		mlpi_bias_act(p->act, rows, p->n_out, NULL, Y);
	return MLP_OK;
}

static mlp_status cols_run(const void *packed, void *ctx, size_t rung,
			   size_t rows, const float *X, float *Y)
{
	const struct packed_layer *p = packed;

	(void)ctx;
	(void)rung;
	mlpi_kfp32_run(p->isa, rows, p->n_in, p->n_out, p->P, X, Y);
	if (p->act != MLP_IDENTITY)
		mlpi_bias_act(p->act, rows, p->n_out, NULL, Y);
	return MLP_OK;
}

static const char *packed_describe(const void *packed)
{
	return ((const struct packed_layer *)packed)->describe;
}

static void packed_free_context(void *ctx)
{
	(void)ctx;
}

static void packed_free(void *packed)
{
	struct packed_layer *p = packed;

	if (p != NULL)
		mlpi_free_aligned(p->P);
	free(p);
}

const struct mlpi_kernel mlpi_kernel_packed = {
	.name = "packed",
	.precision = MLP_FP32,
	.invariant = true,
	.any_rows = true,
	.supports = packed_supports,
	.cost = packed_cost,
	.prepare = packed_prepare,
	.context = packed_context,
	.run = packed_run,
	.describe = packed_describe,
	.free_context = packed_free_context,
	.free_packed = packed_free,
};

const struct mlpi_kernel mlpi_kernel_packed_cols = {
	.name = "packed-cols",
	.precision = MLP_FP32,
	.invariant = false,
	.any_rows = true,
	.supports = cols_supports,
	.cost = cols_cost,
	.prepare = packed_prepare,
	.context = packed_context,
	.run = cols_run,
	.describe = packed_describe,
	.free_context = packed_free_context,
	.free_packed = packed_free,
};
