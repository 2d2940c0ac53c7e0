/*
 * kernel_onednn.c — a layer as oneDNN matmul primitives, Y = X·Wᵀ + b, the
 * activation fused as a post-op where oneDNN has it, in float (onednn) or
 * bf16 (onednn-bf16: the input rounded to bf16 by a reorder, the output
 * left in float for whichever kernel runs the next layer).
 *
 * In int8 (onednn-int8, a quantised layer), the input is rounded to int8
 * (kernel_int8.c, as every int8 kernel rounds it), the weights are the
 * layer's int8 ones, and the primitive scales each output's exact 32-bit
 * sum by in_scale · w_scale[i] (the bias with it, divided by it
 * beforehand): only on CPUs with VNNI or AMX, whose products cannot
 * saturate (AVX2's vpmaddubsw can).
 *
 * A primitive serves one batch size, and oneDNN's fastest kernels (brgemm,
 * on AMX for bf16) want it fixed: so the layer has a primitive for each of
 * the plan's rungs, all taking one copy of the weights in the layout
 * oneDNN chose for the largest.
 */
#include "cpu.h"
#include "elementwise.h"
#include "kernel.h"
#include "kernel_int8.h"
#include "openmp.h"
#include "quant.h"

#include <oneapi/dnnl/dnnl.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct od_rung {
	dnnl_primitive_t prim, convert; /* convert: bf16's input reorder */
	dnnl_memory_desc_t src, dst, scratch, xf, xb;
};

struct od_layer {
	size_t n_in, n_out, n_rungs, max_rows;
	mlp_act act;
	bool bf16, int8;
	bool fused;            /* the activation is a post-op, or identity */
	float inv;             /* int8: 1 / the input scale */
	float *scales;         /* int8: in_scale · w_scale[i], per output */
	dnnl_engine_t engine;
	dnnl_memory_t weights; /* packed */
	dnnl_memory_t bias;
	float *bias_data;
	size_t scratch_bytes;  /* the largest rung's scratchpad */
	char describe[96];
	struct od_rung rung[MLPI_MAX_RUNGS];
};

/* A rung's memory objects: src, dst, scratchpad, and bf16's converted
 * input (from, to); their data is set by each run. */
enum { MEMS = 5 };

struct od_context {
	dnnl_stream_t stream;
	void *scratchpad;
	uint16_t *xb;          /* bf16: the input in bf16 */
	int8_t *xq;            /* int8: the input in int8 */
	dnnl_memory_t mem[MLPI_MAX_RUNGS][MEMS];
	const void *bound[MLPI_MAX_RUNGS][MEMS];
};

static bool post_op(mlp_act act, dnnl_alg_kind_t *alg, float *alpha)
{
	*alpha = 0.0f;
	switch (act) {
	case MLP_RELU:
		*alg = dnnl_eltwise_relu;
		return true;
	case MLP_LEAKY_RELU:
		*alg = dnnl_eltwise_relu;
		*alpha = MLP_LEAKY_RELU_SLOPE;
		return true;
	case MLP_SIGMOID:
		*alg = dnnl_eltwise_logistic;
		return true;
	case MLP_TANH:
		*alg = dnnl_eltwise_tanh;
		return true;
	case MLP_GELU:
		*alg = dnnl_eltwise_gelu_erf;
		return true;
	case MLP_GELU_TANH:
		*alg = dnnl_eltwise_gelu_tanh;
		return true;
	case MLP_SILU:
		*alg = dnnl_eltwise_swish;
		*alpha = 1.0f;
		return true;
	default:
		return false;
	}
}

/* oneDNN's failure as a status: memory, or anything else it refuses. */
static mlp_status od_status(dnnl_status_t s)
{
	return s == dnnl_success ? MLP_OK
	       : s == dnnl_out_of_memory ? MLP_ENOMEM : MLP_ENOTSUP;
}

static dnnl_status_t md2(dnnl_memory_desc_t *md, size_t rows, size_t cols,
			 dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
	dnnl_dims_t dims = { (dnnl_dim_t)rows, (dnnl_dim_t)cols };

	return dnnl_memory_desc_init_by_tag(md, 2, dims, dt, tag);
}

static dnnl_status_t layer_attr(const struct od_layer *ly,
				dnnl_primitive_attr_t *attr)
{
	dnnl_post_ops_t po = NULL;
	dnnl_alg_kind_t alg;
	dnnl_status_t s;
	float alpha;

	s = dnnl_primitive_attr_create(attr);
	if (s != dnnl_success)
		return s;
	s = dnnl_primitive_attr_set_scratchpad_mode(*attr,
						    dnnl_scratchpad_mode_user);
	if (s == dnnl_success && ly->int8)
		s = dnnl_primitive_attr_set_output_scales(*attr, (dnnl_dim_t)ly->n_out,
							  1 << 1, ly->scales);
	if (s == dnnl_success && post_op(ly->act, &alg, &alpha)) {
		s = dnnl_post_ops_create(&po);
		if (s == dnnl_success)
			s = dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, 0.0f);
		if (s == dnnl_success)
			s = dnnl_primitive_attr_set_post_ops(*attr, po);
		dnnl_post_ops_destroy(po);
	}
	if (s != dnnl_success) {
		dnnl_primitive_attr_destroy(*attr);
		*attr = NULL;
	}
	return s;
}

/* Whether a layer at `rows` runs on one thread: on two, small ones spent
 * more on starting and joining the other thread than they saved (bf16
 * 784 × 256 at 8 rows 2.9 µs on one thread against 3.3 on two, 64 × 64 at
 * 64 rows 0.6 against 1.9, on AMX). oneDNN fixes a primitive's threads when
 * it is made. */
static bool one_thread(const struct od_layer *ly, size_t rows)
{
	double flops = 2.0 * (double)rows * (double)ly->n_in * (double)ly->n_out;
	double weights = (double)ly->n_in * (double)ly->n_out *
			 (ly->int8 ? 1 : ly->bf16 ? 2 : 4);

	if (rows == 1)
		return weights < 256.0 * 1024;
	return flops < (ly->bf16 || ly->int8 ? 8e6 : 0.5e6);
}

/* The type of a layer's inputs and weights. */
static dnnl_data_type_t od_type(const struct od_layer *ly)
{
	return ly->int8 ? dnnl_s8 : ly->bf16 ? dnnl_bf16 : dnnl_f32;
}

static dnnl_status_t layer_pd(const struct od_layer *ly, size_t rows,
			      const dnnl_memory_desc_t *weights,
			      dnnl_primitive_attr_t attr, int threads,
			      dnnl_primitive_desc_t *pd)
{
	dnnl_data_type_t dt = od_type(ly);
	dnnl_memory_desc_t src, bias, dst;
	dnnl_matmul_desc_t desc;
	dnnl_status_t s;

	s = md2(&src, rows, ly->n_in, dt, dnnl_ab);
	if (s == dnnl_success)
		s = md2(&bias, 1, ly->n_out, dnnl_f32, dnnl_ab);
	if (s == dnnl_success)
		s = md2(&dst, rows, ly->n_out, dnnl_f32, dnnl_ab);
	if (s == dnnl_success)
		s = dnnl_matmul_desc_init(&desc, &src, weights, &bias, &dst);
	if (s == dnnl_success) {
		int before = mlpi_openmp_threads();

		mlpi_openmp_set_threads(one_thread(ly, rows) ? 1 : threads);
		s = dnnl_primitive_desc_create(pd, &desc, attr, ly->engine, NULL);
		mlpi_openmp_set_threads(before);
	}
	return s;
}

static dnnl_status_t pack_weights(struct od_layer *ly, const void *W,
				  const dnnl_memory_desc_t *packed)
{
	dnnl_memory_desc_t user_md;
	dnnl_memory_t user = NULL;
	dnnl_primitive_desc_t rpd = NULL;
	dnnl_primitive_t reorder = NULL;
	dnnl_stream_t stream = NULL;
	dnnl_status_t s;

	/* W as the K × N matrix of the matmul: n_in × n_out, column-major. */
	s = md2(&user_md, ly->n_in, ly->n_out, ly->int8 ? dnnl_s8 : dnnl_f32,
		dnnl_ba);
	if (s == dnnl_success)
		s = dnnl_memory_create(&ly->weights, packed, ly->engine,
				       DNNL_MEMORY_ALLOCATE);
	if (s == dnnl_success)
		s = dnnl_memory_create(&user, &user_md, ly->engine, (void *)W);
	if (s == dnnl_success)
		s = dnnl_reorder_primitive_desc_create(&rpd, &user_md, ly->engine,
						       packed, ly->engine, NULL);
	if (s == dnnl_success)
		s = dnnl_primitive_create(&reorder, rpd);
	if (s == dnnl_success)
		s = dnnl_stream_create(&stream, ly->engine, dnnl_stream_default_flags);
	if (s == dnnl_success) {
		dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, user },
					    { DNNL_ARG_TO, ly->weights } };
		s = dnnl_primitive_execute(reorder, stream, 2, args);
	}
	if (s == dnnl_success)
		s = dnnl_stream_wait(stream);
	dnnl_stream_destroy(stream);
	dnnl_primitive_destroy(reorder);
	dnnl_primitive_desc_destroy(rpd);
	dnnl_memory_destroy(user);
	return s;
}

/* bf16: the reorder of a rung's input rows from float. */
static dnnl_status_t prepare_convert(struct od_layer *ly, struct od_rung *r,
				     size_t rows)
{
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t s;

	s = md2(&r->xf, rows, ly->n_in, dnnl_f32, dnnl_ab);
	if (s == dnnl_success)
		s = md2(&r->xb, rows, ly->n_in, dnnl_bf16, dnnl_ab);
	if (s == dnnl_success)
		s = dnnl_reorder_primitive_desc_create(&pd, &r->xf, ly->engine,
						       &r->xb, ly->engine, NULL);
	if (s == dnnl_success)
		s = dnnl_primitive_create(&r->convert, pd);
	dnnl_primitive_desc_destroy(pd);
	return s;
}

static void od_free(void *packed)
{
	struct od_layer *ly = packed;

	if (ly == NULL)
		return;
	for (size_t k = 0; k < ly->n_rungs; k++) {
		dnnl_primitive_destroy(ly->rung[k].prim);
		dnnl_primitive_destroy(ly->rung[k].convert);
	}
	dnnl_memory_destroy(ly->weights);
	dnnl_memory_destroy(ly->bias);
	dnnl_engine_destroy(ly->engine);
	free(ly->bias_data);
	free(ly->scales);
	free(ly);
}

/* The primitives of every rung, the largest first: the weights layout
 * oneDNN picks for it is asked of the others, so that they share one
 * copy. */
static mlp_status od_prepare_layer(struct od_layer *ly,
				   const struct mlp_layer *src,
				   const struct mlpi_rungs *rungs)
{
	dnnl_memory_desc_t any, packed, bias_md;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_status_t s;
	int threads = mlpi_kernel_threads(rungs->threads);

	s = layer_attr(ly, &attr);
	if (s == dnnl_success)
		s = md2(&any, ly->n_in, ly->n_out, od_type(ly), dnnl_format_tag_any);
	for (size_t k = ly->n_rungs; s == dnnl_success && k-- > 0;) {
		dnnl_primitive_desc_t pd = NULL;
		struct od_rung *r = &ly->rung[k];
		const char *impl = NULL;

		s = layer_pd(ly, rungs->rows[k], k + 1 == ly->n_rungs ? &any : &packed,
			     attr, threads, &pd);
		if (s == dnnl_success && k + 1 == ly->n_rungs)
			packed = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
		if (s == dnnl_success) {
			size_t bytes;

			r->src = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
			r->dst = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
			r->scratch = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
			bytes = dnnl_memory_desc_get_size(&r->scratch);
			ly->scratch_bytes = bytes > ly->scratch_bytes ? bytes
								      : ly->scratch_bytes;
			if (k + 1 == ly->n_rungs &&
			    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0,
						      &impl) == dnnl_success && impl)
				snprintf(ly->describe, sizeof(ly->describe), "%s", impl);
			s = dnnl_primitive_create(&r->prim, pd);
		}
		if (s == dnnl_success && ly->bf16)
			s = prepare_convert(ly, r, rungs->rows[k]);
		dnnl_primitive_desc_destroy(pd);
	}
	if (attr != NULL)
		dnnl_primitive_attr_destroy(attr);
	if (s == dnnl_success)
		s = pack_weights(ly, ly->int8 ? (const void *)src->Wq
					      : (const void *)src->W, &packed);
	if (s != dnnl_success)
		return od_status(s);
	/* The bias: a copy, so that the plan does not hold the network. */
	ly->bias_data = malloc(ly->n_out * sizeof(float));
	if (ly->bias_data == NULL)
		return MLP_ENOMEM;
	memcpy(ly->bias_data, src->b, ly->n_out * sizeof(float));
	/* oneDNN 2's int8 matmul scales the sum and the bias together:
	 * scale · (sum + bias). A bias the scale would take past float's
	 * range is left to mlp's own kernel. */
	for (size_t i = 0; ly->int8 && i < ly->n_out; i++) {
		ly->bias_data[i] /= ly->scales[i];
		if (!isfinite(ly->bias_data[i]))
			return MLP_ENOTSUP;
	}
	s = md2(&bias_md, 1, ly->n_out, dnnl_f32, dnnl_ab);
	if (s == dnnl_success)
		s = dnnl_memory_create(&ly->bias, &bias_md, ly->engine, ly->bias_data);
	/* oneDNN's reference kernels are slower than the BLAS, and in bf16 an
	 * emulation. */
	if (s == dnnl_success && strstr(ly->describe, "ref") != NULL)
		return MLP_ENOTSUP;
	return od_status(s);
}

static bool od_supports_int8(const struct mlp_layer *layer, size_t rows);

static mlp_status od_prepare(const struct mlp_layer *src, mlp_precision p,
			     const struct mlpi_rungs *rungs, void **out)
{
	struct od_layer *ly;
	dnnl_alg_kind_t alg;
	float alpha;
	mlp_status st;

	if ((p == MLP_BF16 && !mlpi_cpu_bf16()) ||
	    (p == MLP_INT8 && !od_supports_int8(src, 1)))
		return MLP_ENOTSUP;
	ly = calloc(1, sizeof(*ly));
	if (ly == NULL)
		return MLP_ENOMEM;
	ly->n_in = src->n_in;
	ly->n_out = src->n_out;
	ly->act = src->act;
	ly->bf16 = p == MLP_BF16;
	ly->int8 = p == MLP_INT8;
	if (ly->int8) {
		ly->inv = 1.0f / src->in_scale;
		ly->scales = malloc(src->n_out * sizeof(float));
		if (ly->scales == NULL) {
			free(ly);
			return MLP_ENOMEM;
		}
		for (size_t i = 0; i < src->n_out; i++)
			ly->scales[i] = mlpi_q8_scale(src, i);
	}
	ly->fused = src->act == MLP_IDENTITY || post_op(src->act, &alg, &alpha);
	ly->n_rungs = rungs->n;
	ly->max_rows = rungs->rows[rungs->n - 1];
	if (dnnl_engine_create(&ly->engine, dnnl_cpu, 0) != dnnl_success) {
		free(ly->scales);
		free(ly);
		return MLP_ENOTSUP;
	}
	st = od_prepare_layer(ly, src, rungs);
	if (st != MLP_OK) {
		od_free(ly);
		return st;
	}
	*out = ly;
	return MLP_OK;
}

static mlp_status od_prepare_fp32(const struct mlp_layer *layer,
				  const struct mlpi_rungs *rungs, void **out)
{
	return od_prepare(layer, MLP_FP32, rungs, out);
}

static mlp_status od_prepare_bf16(const struct mlp_layer *layer,
				  const struct mlpi_rungs *rungs, void **out)
{
	return od_prepare(layer, MLP_BF16, rungs, out);
}

static mlp_status od_prepare_int8(const struct mlp_layer *layer,
				  const struct mlpi_rungs *rungs, void **out)
{
	return od_prepare(layer, MLP_INT8, rungs, out);
}

static void od_free_context(void *ctx)
{
	struct od_context *c = ctx;

	if (c == NULL)
		return;
	for (size_t k = 0; k < MLPI_MAX_RUNGS; k++)
		for (size_t i = 0; i < MEMS; i++)
			dnnl_memory_destroy(c->mem[k][i]); /* NULL is a no-op */
	dnnl_stream_destroy(c->stream);
	mlpi_free_aligned(c->scratchpad);
	mlpi_free_aligned(c->xb);
	mlpi_free_aligned(c->xq);
	free(c);
}

static dnnl_status_t rung_memories(const struct od_layer *ly,
				   struct od_context *c, size_t k)
{
	const struct od_rung *r = &ly->rung[k];
	dnnl_memory_t *m = c->mem[k];
	dnnl_status_t s;

	s = dnnl_memory_create(&m[0], &r->src, ly->engine, DNNL_MEMORY_NONE);
	if (s == dnnl_success)
		s = dnnl_memory_create(&m[1], &r->dst, ly->engine, DNNL_MEMORY_NONE);
	/* A primitive without a scratchpad gets none. */
	if (s == dnnl_success && dnnl_memory_desc_get_size(&r->scratch) > 0)
		s = dnnl_memory_create(&m[2], &r->scratch, ly->engine, c->scratchpad);
	if (s == dnnl_success && ly->bf16)
		s = dnnl_memory_create(&m[3], &r->xf, ly->engine, DNNL_MEMORY_NONE);
	if (s == dnnl_success && ly->bf16)
		s = dnnl_memory_create(&m[4], &r->xb, ly->engine, c->xb);
	return s;
}

static mlp_status od_context(const void *packed, void **out)
{
	const struct od_layer *ly = packed;
	struct od_context *c = calloc(1, sizeof(*c));
	dnnl_status_t s;

	if (c == NULL)
		return MLP_ENOMEM;
	if (ly->scratch_bytes > 0)
		c->scratchpad = mlpi_alloc_aligned(ly->scratch_bytes);
	if (ly->bf16)
		c->xb = mlpi_alloc_aligned(ly->max_rows * ly->n_in * sizeof(uint16_t));
	if (ly->int8)
		c->xq = mlpi_alloc_aligned(ly->max_rows * ly->n_in);
	if ((ly->scratch_bytes > 0 && c->scratchpad == NULL) ||
	    (ly->bf16 && c->xb == NULL) || (ly->int8 && c->xq == NULL)) {
		od_free_context(c);
		return MLP_ENOMEM;
	}
	s = dnnl_stream_create(&c->stream, ly->engine, dnnl_stream_default_flags);
	for (size_t k = 0; k < ly->n_rungs && s == dnnl_success; k++)
		s = rung_memories(ly, c, k);
	if (s != dnnl_success) {
		od_free_context(c);
		return od_status(s);
	}
	*out = c;
	return MLP_OK;
}

/* Points memory object i of rung k at data, unless it is there already: a
 * program that passes the same buffers each time costs no call. */
static void bind(struct od_context *c, size_t k, size_t i, const void *data)
{
	if (c->bound[k][i] != data) {
		dnnl_memory_set_data_handle(c->mem[k][i], (void *)data);
		c->bound[k][i] = data;
	}
}

static mlp_status od_run(const void *packed, void *ctx, size_t k, size_t rows,
			 const float *X, float *Y)
{
	const struct od_layer *ly = packed;
	struct od_context *c = ctx;
	dnnl_memory_t *m = c->mem[k];
	dnnl_status_t s = dnnl_success;
	dnnl_exec_arg_t args[5] = {
		{ DNNL_ARG_SRC, m[0] }, { DNNL_ARG_WEIGHTS, ly->weights },
		{ DNNL_ARG_BIAS, ly->bias }, { DNNL_ARG_DST, m[1] },
		{ DNNL_ARG_SCRATCHPAD, m[2] },
	};
	mlp_status wait;

	if (ly->bf16) {
		dnnl_exec_arg_t conv[2] = { { DNNL_ARG_FROM, m[3] },
					    { DNNL_ARG_TO, m[4] } };

		bind(c, k, 3, X);
		s = dnnl_primitive_execute(ly->rung[k].convert, c->stream, 2, conv);
		bind(c, k, 0, c->xb);
	} else if (ly->int8) {
		mlpi_kint8_quantize(rows * ly->n_in, X, ly->inv, c->xq);
		bind(c, k, 0, c->xq);
	} else {
		bind(c, k, 0, X);
	}
	bind(c, k, 1, Y);
	if (s == dnnl_success)
		s = dnnl_primitive_execute(ly->rung[k].prim, c->stream,
					   m[2] != NULL ? 5 : 4, args);
	/* The stream is waited for even after a failure: nothing of this
	 * call may run on once it returns. */
	wait = od_status(dnnl_stream_wait(c->stream));
	if (s != dnnl_success)
		return od_status(s);
	if (wait == MLP_OK && !ly->fused)
		mlpi_bias_act(ly->act, rows, ly->n_out, NULL, Y);
	return wait;
}

static bool od_supports_fp32(const struct mlp_layer *layer, size_t rows)
{
	(void)layer;
	(void)rows;
	return true;
}

static bool od_supports_bf16(const struct mlp_layer *layer, size_t rows)
{
	(void)layer;
	(void)rows;
	return mlpi_cpu_bf16();
}

/* A quantised layer, on a CPU whose int8 products oneDNN runs exactly:
 * VNNI (AVX512 or AVX) or AMX, as oneDNN's effective ISA says. */
static bool od_supports_int8(const struct mlp_layer *layer, size_t rows)
{
	unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
	unsigned vnni512 = (unsigned)dnnl_cpu_isa_avx512_core_vnni;
	unsigned vnni256 = (unsigned)dnnl_cpu_isa_avx2_vnni;

	(void)rows;
	return layer->Wq != NULL && layer->n_in <= MLPI_INT8_MAX_IN &&
	       ((isa & vnni512) == vnni512 || (isa & vnni256) == vnni256);
}

/* A primitive's execution costs about 0.6 µs whatever its size (argument
 * checks, the stream, OpenMP's threads); beyond it oneDNN's brgemm kernels
 * run near the FMA peak on large products (210 GFLOP/s on an AMD EPYC
 * family 25, 2 threads, bench_costs), half of it on small ones; a row or
 * a few read the weights at about 60 GB/s (their blocked layout). */
static double od_cost(const struct mlp_layer *layer, size_t rows, int threads,
		      double rate, double width)
{
	double flops = 2.0 * (double)rows * (double)layer->n_in * (double)layer->n_out;
	double bytes = width * (double)layer->n_in * (double)layer->n_out;
	double t = flops / (flops >= 2e6 ? rate : rate / 2) * 2 / (threads > 1 ? 2 : 1);

	if (rows <= 4)
		t = fmax(t, bytes / 60e3);
	return 0.6 + t + 0.003 * (double)rows;
}

/* Below AVX-512 (oneDNN's gemm:jit on AVX2), about 120 GFLOP/s: bench_costs
 * on the same machine held to AVX2 (DNNL_MAX_CPU_ISA) measured 0.45-0.9 of
 * the AVX-512 rate. */
static double od_cost_fp32(const struct mlp_layer *layer, size_t rows,
			   int threads)
{
	unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
	unsigned avx512 = (unsigned)dnnl_cpu_isa_avx512_core;

	return od_cost(layer, rows, threads, (isa & avx512) == avx512 ? 210e3 : 120e3, 4);
}

static double od_cost_bf16(const struct mlp_layer *layer, size_t rows,
			   int threads)
{
	return od_cost(layer, rows, threads, 600e3, 2);
}

/* int8: VNNI's four products a lane, and the rounding of the inputs. */
static double od_cost_int8(const struct mlp_layer *layer, size_t rows,
			   int threads)
{
	return od_cost(layer, rows, threads, 900e3, 1) +
	       0.0003 * (double)(rows * layer->n_in);
}

static const char *od_describe(const void *packed)
{
	return ((const struct od_layer *)packed)->describe;
}

const struct mlpi_kernel mlpi_kernel_onednn_fp32 = {
	.name = "onednn",
	.precision = MLP_FP32,
	.invariant = false,
	.any_rows = false,
	.supports = od_supports_fp32,
	.cost = od_cost_fp32,
	.prepare = od_prepare_fp32,
	.context = od_context,
	.run = od_run,
	.describe = od_describe,
	.free_context = od_free_context,
	.free_packed = od_free,
};

const struct mlpi_kernel mlpi_kernel_onednn_bf16 = {
	.name = "onednn-bf16",
	.precision = MLP_BF16,
	.invariant = false,
	.any_rows = false,
	.supports = od_supports_bf16,
	.cost = od_cost_bf16,
	.prepare = od_prepare_bf16,
	.context = od_context,
	.run = od_run,
	.describe = od_describe,
	.free_context = od_free_context,
	.free_packed = od_free,
};

const struct mlpi_kernel mlpi_kernel_onednn_int8 = {
	.name = "onednn-int8",
	.precision = MLP_INT8,
	.invariant = false,
	.any_rows = false,
	.supports = od_supports_int8,
	.cost = od_cost_int8,
	.prepare = od_prepare_int8,
	.context = od_context,
	.run = od_run,
	.describe = od_describe,
	.free_context = od_free_context,
	.free_packed = od_free,
};
