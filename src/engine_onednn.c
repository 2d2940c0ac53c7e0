/*
 * engine_onednn.c — the oneDNN engine: each layer one matmul primitive,
 * Y = X·Wᵀ + b, with the activation fused as a post-op where oneDNN has it,
 * in float or in bf16.
 *
 * A primitive serves one batch size, and oneDNN's fastest kernels (brgemm,
 * on AMX for bf16) want it fixed. So each layer has a ladder of primitives
 * for 1, 2, 4, ... rows up to max_batch (and max_batch itself), all taking
 * the same packed weights, and a chunk of rows runs as a sum of rungs
 * (100 rows: 64 + 32 + 4), each through the whole network.
 *
 * bf16: the input is converted once, each layer's output leaves in bf16 for
 * the next, the last in float. An activation oneDNN does not fuse (softmax)
 * is mlp's own pass over a float output.
 *
 * fp32, one row, or rows of under a million flops: the BLAS's chain
 * (mlp_forward's path, sgemv for a row), on a copy of the network kept for
 * it, beat oneDNN's kernels there: by 5-15% at one row of the 784-wide
 * networks, by 5% at 8 rows of 64 × 64 layers (the bench). Larger rungs
 * are oneDNN's.
 *
 * bf16, one row: mlp's own kernel (gemv_bf16.c), a share of each large
 * layer's outputs on each of OpenMP's threads. It ran 784-256-256-10 1.3
 * times as fast as AMX's kernels did, 784-1024-1024-10 1.4 times, and
 * networks of tiny layers 8 times.
 */
#include "bf16.h"
#include "cpu.h"
#include "elementwise.h"
#include "engine.h"
#include "openmp.h"

#include <oneapi/dnnl/dnnl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_RUNGS = 32 };

struct od_rung {
	dnnl_primitive_t prim;
	dnnl_memory_desc_t src, dst, scratch;
};

struct od_layer {
	size_t n_in, n_out;
	mlp_act act;
	bool fused;         /* the activation is a post-op, or identity */
	bool bf16_out;      /* the output leaves in bf16 */
	dnnl_memory_t weights; /* packed */
	dnnl_memory_t bias;
	float *bias_data;
	uint16_t *gemv;     /* bf16: the weights packed for one row */
	struct od_rung rung[MAX_RUNGS];
};

struct od_packed {
	dnnl_engine_t engine;
	mlp_precision precision;
	size_t n_layers, max_batch, n_rungs, rows[MAX_RUNGS];
	size_t scratch_bytes; /* the largest scratchpad */
	size_t widest;        /* the widest input or output of a layer */
	char describe[256];
	/* bf16: the input converted by a reorder a rung, which runs on
	 * every thread, where a loop of one thread left the others idle. */
	struct od_rung convert[MAX_RUNGS];
	mlp_net *plain;       /* fp32: the network, for the BLAS's rungs */
	size_t blas_rungs;    /* fp32: rungs 0 .. blas_rungs − 1 take it */
	uint16_t *gemv;       /* bf16: every layer's weights for one row */
	struct od_layer layers[];
};

struct od_context {
	dnnl_stream_t stream;
	void *block;          /* everything below, one allocation */
	unsigned char *scratchpad;
	void *buf[2];         /* a layer's output: max_batch × widest floats */
	float *tmp;           /* a bf16 plan's float output before its pass */
	uint16_t *xb;         /* the input in bf16 */
	dnnl_memory_t *mem;   /* (layer, or the conversion after the last
			       * layer) × rung × (src, dst, scratchpad) */
	const void **bound;   /* the data each of them has now */
	size_t n_mem;
	mlp_workspace *ws;    /* fp32: single rows through plain */
	uint16_t *xg[2];      /* bf16: one row's input to a layer, padded */
};

/* The post-op of an activation; false for one oneDNN does not have. */
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

static mlp_status from_dnnl(dnnl_status_t s)
{
	return s == dnnl_success ? MLP_OK
	       : s == dnnl_out_of_memory ? MLP_ENOMEM
					  : MLP_ENOTSUP;
}

/* A plain 2-D row-major descriptor. */
static dnnl_status_t md2(dnnl_memory_desc_t *md, size_t rows, size_t cols,
			 dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
	dnnl_dims_t dims = { (dnnl_dim_t)rows, (dnnl_dim_t)cols };

	return dnnl_memory_desc_init_by_tag(md, 2, dims, dt, tag);
}

/* The attributes of a layer's primitives: user scratchpad, the post-op. */
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
 * more on starting and joining the other thread than it saved (measured
 * per shape on AMX, 2 threads: bf16 784 × 256 at 8 rows 2.9 µs on one
 * thread against 3.3 on two, 64 × 64 at 64 rows 0.6 against 1.9; one row
 * is bound by reading the weights, which two threads read faster from
 * 256 KB on). oneDNN fixes a primitive's threads when it is created. */
static bool one_thread(mlp_precision precision, size_t rows, size_t n_in,
		       size_t n_out)
{
	double flops = 2.0 * (double)rows * (double)n_in * (double)n_out;
	double weights = (double)n_in * (double)n_out *
			 (precision == MLP_BF16 ? 2 : 4);

	if (rows == 1)
		return weights < 256.0 * 1024;
	return flops < (precision == MLP_BF16 ? 8e6 : 0.5e6);
}

/* The primitive descriptor of a layer at `rows`, with weights of layout
 * weights (format_any to let oneDNN choose). */
static dnnl_status_t layer_pd(const struct od_packed *p, const struct od_layer *ly,
			      size_t rows, const dnnl_memory_desc_t *weights,
			      dnnl_primitive_attr_t attr,
			      dnnl_primitive_desc_t *pd)
{
	dnnl_data_type_t dt = p->precision == MLP_BF16 ? dnnl_bf16 : dnnl_f32;
	dnnl_memory_desc_t src, bias, dst;
	dnnl_matmul_desc_t desc;
	dnnl_status_t s;

	s = md2(&src, rows, ly->n_in, dt, dnnl_ab);
	if (s == dnnl_success)
		s = md2(&bias, 1, ly->n_out, dnnl_f32, dnnl_ab);
	if (s == dnnl_success)
		s = md2(&dst, rows, ly->n_out, ly->bf16_out ? dnnl_bf16 : dnnl_f32,
			dnnl_ab);
	if (s == dnnl_success)
		s = dnnl_matmul_desc_init(&desc, &src, weights, &bias, &dst);
	if (s == dnnl_success) {
		int threads = mlpi_openmp_threads();

		if (one_thread(p->precision, rows, ly->n_in, ly->n_out))
			mlpi_openmp_set_threads(1);
		s = dnnl_primitive_desc_create(pd, &desc, attr, p->engine, NULL);
		mlpi_openmp_set_threads(threads);
	}
	return s;
}

/* Adds an implementation's name to the description, once. */
static void describe_impl(struct od_packed *p, dnnl_primitive_desc_t pd)
{
	const char *impl = NULL;
	size_t len = strlen(p->describe);

	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) !=
		    dnnl_success || impl == NULL || strstr(p->describe, impl) != NULL)
		return;
	snprintf(p->describe + len, sizeof(p->describe) - len, "%s%s",
		 p->describe[len - 1] == ' ' ? "" : ", ", impl);
}

/* Reorders W (n_out × n_in, row-major float) into the packed layout. */
static dnnl_status_t pack_weights(const struct od_packed *p, struct od_layer *ly,
				  const float *W, const dnnl_memory_desc_t *packed)
{
	dnnl_memory_desc_t user_md;
	dnnl_memory_t user = NULL;
	dnnl_primitive_desc_t rpd = NULL;
	dnnl_primitive_t reorder = NULL;
	dnnl_stream_t stream = NULL;
	dnnl_status_t s;

	/* W as the K × N matrix of the matmul: n_in × n_out, column-major. */
	s = md2(&user_md, ly->n_in, ly->n_out, dnnl_f32, dnnl_ba);
	if (s == dnnl_success)
		s = dnnl_memory_create(&ly->weights, packed, p->engine,
				       DNNL_MEMORY_ALLOCATE);
	if (s == dnnl_success)
		s = dnnl_memory_create(&user, &user_md, p->engine, (void *)W);
	if (s == dnnl_success)
		s = dnnl_reorder_primitive_desc_create(&rpd, &user_md, p->engine,
						       packed, p->engine, NULL);
	if (s == dnnl_success)
		s = dnnl_primitive_create(&reorder, rpd);
	if (s == dnnl_success)
		s = dnnl_stream_create(&stream, p->engine, dnnl_stream_default_flags);
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

/* One layer: its ladder of primitives, its packed weights and bias. The
 * weights layout oneDNN picks for the largest rung is asked of every rung,
 * so that they share one copy. */
static mlp_status prepare_layer(struct od_packed *p, struct od_layer *ly,
				const struct mlp_layer *src)
{
	dnnl_memory_desc_t any, packed;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_status_t s;
	dnnl_data_type_t dt = p->precision == MLP_BF16 ? dnnl_bf16 : dnnl_f32;
	dnnl_memory_desc_t bias_md;

	s = layer_attr(ly, &attr);
	if (s == dnnl_success)
		s = md2(&any, ly->n_in, ly->n_out, dt, dnnl_format_tag_any);
	for (size_t k = p->n_rungs; s == dnnl_success && k-- > 0;) {
		dnnl_primitive_desc_t pd = NULL;
		struct od_rung *r = &ly->rung[k];

		s = layer_pd(p, ly, p->rows[k], k + 1 == p->n_rungs ? &any : &packed,
			     attr, &pd);
		if (s == dnnl_success && k + 1 == p->n_rungs)
			packed = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
		if (s == dnnl_success) {
			size_t bytes;

			r->src = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
			r->dst = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
			r->scratch = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
			bytes = dnnl_memory_desc_get_size(&r->scratch);
			p->scratch_bytes = bytes > p->scratch_bytes ? bytes : p->scratch_bytes;
			describe_impl(p, pd);
			s = dnnl_primitive_create(&r->prim, pd);
		}
		dnnl_primitive_desc_destroy(pd);
	}
	if (attr != NULL)
		dnnl_primitive_attr_destroy(attr);
	if (s == dnnl_success)
		s = pack_weights(p, ly, src->W, &packed);
	if (s != dnnl_success)
		return from_dnnl(s);
	/* The bias: a copy, so that the plan does not hold the network. */
	ly->bias_data = malloc(ly->n_out * sizeof(float));
	if (ly->bias_data == NULL)
		return MLP_ENOMEM;
	memcpy(ly->bias_data, src->b, ly->n_out * sizeof(float));
	s = md2(&bias_md, 1, ly->n_out, dnnl_f32, dnnl_ab);
	if (s == dnnl_success)
		s = dnnl_memory_create(&ly->bias, &bias_md, p->engine, ly->bias_data);
	return from_dnnl(s);
}

/* The conversion of rows of input from float to bf16, for each rung. */
static dnnl_status_t prepare_convert(struct od_packed *p, size_t n_in)
{
	dnnl_status_t s = dnnl_success;

	for (size_t k = 0; k < p->n_rungs && s == dnnl_success; k++) {
		struct od_rung *r = &p->convert[k];
		dnnl_primitive_desc_t pd = NULL;

		s = md2(&r->src, p->rows[k], n_in, dnnl_f32, dnnl_ab);
		if (s == dnnl_success)
			s = md2(&r->dst, p->rows[k], n_in, dnnl_bf16, dnnl_ab);
		if (s == dnnl_success)
			s = dnnl_reorder_primitive_desc_create(&pd, &r->src, p->engine,
							       &r->dst, p->engine, NULL);
		if (s == dnnl_success)
			s = dnnl_primitive_create(&r->prim, pd);
		dnnl_primitive_desc_destroy(pd);
	}
	return s;
}

static void free_packed(void *packed)
{
	struct od_packed *p = packed;

	if (p == NULL)
		return;
	for (size_t k = 0; k < p->n_rungs; k++)
		dnnl_primitive_destroy(p->convert[k].prim);
	for (size_t l = 0; l < p->n_layers; l++) {
		struct od_layer *ly = &p->layers[l];

		for (size_t k = 0; k < p->n_rungs; k++)
			dnnl_primitive_destroy(ly->rung[k].prim);
		dnnl_memory_destroy(ly->weights);
		dnnl_memory_destroy(ly->bias);
		free(ly->bias_data);
	}
	dnnl_engine_destroy(p->engine);
	mlp_net_free(p->plain);
	mlpi_free_aligned(p->gemv);
	free(p);
}

/* 1, 2, 4, ... up to max_batch, and max_batch. */
static size_t ladder(size_t max_batch, size_t *rows)
{
	size_t n = 0;

	for (size_t r = 1; r <= max_batch && n < MAX_RUNGS - 1; r *= 2)
		rows[n++] = r;
	if (rows[n - 1] != max_batch)
		rows[n++] = max_batch;
	return n;
}

/* fp32: the rungs the BLAS runs faster: one row, and rows of under a
 * million flops through the whole network. */
static size_t blas_rungs(const struct od_packed *p, const mlp_net *net)
{
	double row_flops = 0;
	size_t k = 1;

	for (size_t l = 0; l < net->n_layers; l++)
		row_flops += 2.0 * (double)net->layers[l].n_in *
			     (double)net->layers[l].n_out;
	while (k < p->n_rungs && (double)p->rows[k] * row_flops < 1e6)
		k++;
	return k;
}

/* bf16: the weights of every layer packed for one row at a time. */
static mlp_status prepare_gemv(struct od_packed *p, const mlp_net *net)
{
	size_t count = 0;

	for (size_t l = 0; l < net->n_layers; l++)
		count += mlpi_gemv_bf16_size(net->layers[l].n_out,
					     net->layers[l].n_in);
	p->gemv = mlpi_alloc_aligned(count * sizeof(uint16_t));
	if (p->gemv == NULL)
		return MLP_ENOMEM;
	count = 0;
	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *src = &net->layers[l];

		p->layers[l].gemv = p->gemv + count;
		mlpi_gemv_bf16_pack(src->n_out, src->n_in, src->W, p->layers[l].gemv);
		count += mlpi_gemv_bf16_size(src->n_out, src->n_in);
	}
	count = strlen(p->describe);
	snprintf(p->describe + count, sizeof(p->describe) - count,
		 "; one row: mlp's avx512_bf16 gemv");
	return MLP_OK;
}

static mlp_status od_prepare(const mlp_net *net, mlp_precision precision,
			     size_t max_batch, void **out)
{
	struct od_packed *p;
	mlp_status st = MLP_OK;

	if (precision == MLP_BF16 && !mlpi_cpu_bf16())
		return MLP_ENOTSUP;
	p = calloc(1, sizeof(*p) + net->n_layers * sizeof(p->layers[0]));
	if (p == NULL)
		return MLP_ENOMEM;
	p->precision = precision;
	p->n_layers = net->n_layers;
	p->max_batch = max_batch;
	p->n_rungs = ladder(max_batch, p->rows);
	snprintf(p->describe, sizeof(p->describe), "onednn %s: ",
		 precision == MLP_BF16 ? "bf16" : "fp32");
	if (dnnl_engine_create(&p->engine, dnnl_cpu, 0) != dnnl_success) {
		free(p);
		return MLP_ENOTSUP;
	}
	for (size_t l = 0; l < net->n_layers && st == MLP_OK; l++) {
		const struct mlp_layer *src = &net->layers[l];
		struct od_layer *ly = &p->layers[l];
		dnnl_alg_kind_t alg;
		float alpha;

		ly->n_in = src->n_in;
		ly->n_out = src->n_out;
		ly->act = src->act;
		ly->fused = src->act == MLP_IDENTITY || post_op(src->act, &alg, &alpha);
		ly->bf16_out = precision == MLP_BF16 && l + 1 < net->n_layers &&
			       ly->fused;
		p->widest = ly->n_in > p->widest ? ly->n_in : p->widest;
		p->widest = ly->n_out > p->widest ? ly->n_out : p->widest;
		st = prepare_layer(p, ly, src);
	}
	if (st == MLP_OK && precision == MLP_BF16)
		st = from_dnnl(prepare_convert(p, net->sizes[0]));
	if (st == MLP_OK && precision == MLP_BF16)
		st = prepare_gemv(p, net);
	if (st == MLP_OK && precision == MLP_FP32) {
		p->blas_rungs = blas_rungs(p, net);
		st = mlp_net_clone(&p->plain, net);
	}
	/* oneDNN's reference kernels are slower than the BLAS, and in bf16 an
	 * emulation. */
	if (st == MLP_OK && strstr(p->describe, "ref") != NULL)
		st = MLP_ENOTSUP;
	if (st != MLP_OK) {
		free_packed(p);
		return st;
	}
	*out = p;
	return MLP_OK;
}

static void free_context(void *ctx)
{
	struct od_context *c = ctx;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_mem; i++)
		dnnl_memory_destroy(c->mem[i]); /* NULL is a no-op */
	free(c->mem);
	mlp_workspace_free(c->ws);
	dnnl_stream_destroy(c->stream);
	mlpi_free_aligned(c->block);
	free(c);
}

/* The memory objects of one rung of one layer; their data is set by each
 * run. */
static dnnl_status_t rung_memories(const struct od_packed *p,
				   struct od_context *c, size_t l, size_t k)
{
	const struct od_rung *r = l < p->n_layers ? &p->layers[l].rung[k]
						  : &p->convert[k];
	dnnl_memory_t *m = c->mem + 3 * (l * p->n_rungs + k);
	dnnl_status_t s;

	s = dnnl_memory_create(&m[0], &r->src, p->engine, DNNL_MEMORY_NONE);
	if (s == dnnl_success)
		s = dnnl_memory_create(&m[1], &r->dst, p->engine, DNNL_MEMORY_NONE);
	/* A primitive without a scratchpad gets none. */
	if (s == dnnl_success && r->prim != NULL &&
	    dnnl_memory_desc_get_size(&r->scratch) > 0)
		s = dnnl_memory_create(&m[2], &r->scratch, p->engine, c->scratchpad);
	return s;
}

static mlp_status od_context(const void *packed, void **out)
{
	const struct od_packed *p = packed;
	struct mlpi_carver cv = MLPI_CARVER(NULL);
	size_t rows = p->max_batch, count = rows * p->widest, bytes;
	struct od_context *c = calloc(1, sizeof(*c));
	dnnl_status_t s = dnnl_success;

	if (c == NULL)
		return MLP_ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		c->scratchpad = mlpi_carve(&cv, p->scratch_bytes, 1);
		c->buf[0] = mlpi_carve(&cv, count, sizeof(float));
		c->buf[1] = mlpi_carve(&cv, count, sizeof(float));
		c->tmp = mlpi_carve(&cv, count, sizeof(float));
		c->xb = mlpi_carve(&cv, count, sizeof(uint16_t));
		c->xg[0] = mlpi_carve(&cv, p->widest + 1, sizeof(uint16_t));
		c->xg[1] = mlpi_carve(&cv, p->widest + 1, sizeof(uint16_t));
		if (pass == 0) {
			if (!mlpi_carved_size(&cv, &bytes)) {
				free(c);
				return MLP_ETOOBIG;
			}
			c->block = mlpi_alloc_aligned(bytes);
			/* The memory objects, then the data they hold. */
			c->mem = calloc(3 * (p->n_layers + 1) * p->n_rungs,
					sizeof(dnnl_memory_t) + sizeof(void *));
			if (c->mem != NULL) {
				c->n_mem = 3 * (p->n_layers + 1) * p->n_rungs;
				c->bound = (const void **)(void *)(c->mem + c->n_mem);
			}
			if (c->block == NULL || c->mem == NULL) {
				free_context(c);
				return MLP_ENOMEM;
			}
			cv = MLPI_CARVER(c->block);
		}
	}
	if (p->plain != NULL &&
	    mlp_workspace_create(&c->ws, p->plain, p->rows[p->blas_rungs - 1]) !=
		    MLP_OK) {
		free_context(c);
		return MLP_ENOMEM;
	}
	s = dnnl_stream_create(&c->stream, p->engine, dnnl_stream_default_flags);
	for (size_t l = 0; l <= p->n_layers && s == dnnl_success; l++)
		for (size_t k = 0; k < p->n_rungs && s == dnnl_success; k++)
			if (l < p->n_layers || p->convert[k].prim != NULL)
				s = rung_memories(p, c, l, k);
	if (s != dnnl_success) {
		free_context(c);
		return from_dnnl(s);
	}
	*out = c;
	return MLP_OK;
}

/* Points memory object m at data, unless it is there already: a program
 * that passes the same X and Y each time, and the context's own buffers,
 * cost no call (it is a tenth of a small bf16 pass). */
static void bind(struct od_context *c, dnnl_memory_t *m, const void *data)
{
	size_t i = (size_t)(m - c->mem);

	if (c->bound[i] != data) {
		dnnl_memory_set_data_handle(*m, (void *)data);
		c->bound[i] = data;
	}
}

/* oneDNN's failure as a status: memory, or anything else it refuses. */
static mlp_status od_status(dnnl_status_t s)
{
	return s == dnnl_success ? MLP_OK
	       : s == dnnl_out_of_memory ? MLP_ENOMEM : MLP_ENOTSUP;
}

/* `rows`, one rung's worth, through every layer. */
static mlp_status run_rung(const struct od_packed *p, struct od_context *c,
			   size_t k, const float *X, float *Y)
{
	size_t rows = p->rows[k];
	const void *in = X;
	dnnl_status_t s = dnnl_success;

	if (p->precision == MLP_BF16) {
		dnnl_memory_t *m = c->mem + 3 * (p->n_layers * p->n_rungs + k);
		dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, m[0] },
					    { DNNL_ARG_TO, m[1] } };

		bind(c, &m[0], X);
		bind(c, &m[1], c->xb);
		s = dnnl_primitive_execute(p->convert[k].prim, c->stream, 2, args);
		in = c->xb;
	}
	for (size_t l = 0; s == dnnl_success && l < p->n_layers; l++) {
		const struct od_layer *ly = &p->layers[l];
		dnnl_memory_t *m = c->mem + 3 * (l * p->n_rungs + k);
		bool last = l + 1 == p->n_layers;
		/* A float output that goes on in bf16 stops in tmp first. */
		bool staged = p->precision == MLP_BF16 && !last && !ly->bf16_out;
		void *out = last ? (void *)Y : staged ? (void *)c->tmp : c->buf[l & 1];
		dnnl_exec_arg_t args[5] = {
			{ DNNL_ARG_SRC, m[0] }, { DNNL_ARG_WEIGHTS, ly->weights },
			{ DNNL_ARG_BIAS, ly->bias }, { DNNL_ARG_DST, m[1] },
			{ DNNL_ARG_SCRATCHPAD, m[2] },
		};

		bind(c, &m[0], in);
		bind(c, &m[1], out);
		s = dnnl_primitive_execute(ly->rung[k].prim, c->stream,
					   m[2] != NULL ? 5 : 4, args);
		if (s != dnnl_success)
			break;
		if (!ly->fused)
			mlpi_bias_act(ly->act, rows, ly->n_out, NULL, (float *)out);
		if (staged) {
			mlpi_to_bf16(rows * ly->n_out, c->tmp, c->buf[l & 1]);
			out = c->buf[l & 1];
		}
		in = out;
	}
	return od_status(s);
}

/* Layers of fewer weights run on the calling thread alone: waking
 * OpenMP's threads cost more than they saved (256 × 256 did; 784 × 256,
 * 1.3 times faster shared than alone on 2 cores). */
#define GEMV_SHARED_WEIGHTS ((size_t)1 << 17)

/* One layer's outputs for one row, a share of its blocks of 16 a
 * thread, in fours (the kernel's step). */
struct gemv_job {
	const struct od_layer *ly;
	const uint16_t *x;
	float *y;
};

static void gemv_part(void *arg, int part, int parts)
{
	const struct gemv_job *job = arg;
	size_t blocks = mlpi_gemv_bf16_blocks(job->ly->n_out);
	size_t fours = (blocks + 3) / 4;
	size_t lo = fours * (size_t)part / (size_t)parts * 4;
	size_t hi = fours * (size_t)(part + 1) / (size_t)parts * 4;

	hi = hi < blocks ? hi : blocks;
	if (lo < hi)
		mlpi_gemv_bf16(job->ly->n_out, job->ly->n_in, job->ly->gemv, job->x,
			       job->ly->bias_data, job->y, lo, hi);
}

/* bf16 x (n values) padded with a zero for the kernel's pairs. */
static uint16_t *row_to_bf16(uint16_t *x, size_t n, const float *from)
{
	mlpi_to_bf16(n, from, x);
	x[n] = 0;
	return x;
}

/* One row through every layer on mlp's kernel. */
static void run_row(const struct od_packed *p, struct od_context *c,
		    const float *X, float *Y)
{
	struct gemv_job job;

	job.x = row_to_bf16(c->xg[0], p->layers[0].n_in, X);
	for (size_t l = 0; l < p->n_layers; l++) {
		const struct od_layer *ly = &p->layers[l];
		bool last = l + 1 == p->n_layers;

		job.ly = ly;
		job.y = last ? Y : c->tmp;
		if (ly->n_in * ly->n_out >= GEMV_SHARED_WEIGHTS)
			mlpi_openmp_parallel(gemv_part, &job);
		else
			gemv_part(&job, 0, 1);
		if (ly->act != MLP_IDENTITY)
			mlpi_bias_act(ly->act, 1, ly->n_out, NULL, job.y);
		if (!last)
			job.x = row_to_bf16(c->xg[(l + 1) & 1], ly->n_out, job.y);
	}
}

static mlp_status od_run(const void *packed, void *ctx, size_t rows,
			 const float *X, float *Y)
{
	const struct od_packed *p = packed;
	size_t n_in = p->layers[0].n_in, n_out = p->layers[p->n_layers - 1].n_out;
	size_t k = p->n_rungs;
	mlp_status st = MLP_OK, wait;

	/* The largest rung that fits what is left, down the ladder. */
	for (size_t r = 0; r < rows && st == MLP_OK;) {
		while (p->rows[k - 1] > rows - r)
			k--;
		if (k - 1 < p->blas_rungs && p->plain != NULL)
			mlpi_forward_rows(p->plain, ((struct od_context *)ctx)->ws,
					  p->rows[k - 1], X + r * n_in,
					  Y + r * n_out, true);
		else if (p->rows[k - 1] == 1 && p->gemv != NULL)
			run_row(p, ctx, X + r * n_in, Y + r * n_out);
		else
			st = run_rung(p, ctx, k - 1, X + r * n_in, Y + r * n_out);
		r += p->rows[k - 1];
	}
	/* The stream is waited for even after a failure: nothing of this
	 * call may run on once it returns. */
	wait = od_status(dnnl_stream_wait(((struct od_context *)ctx)->stream));
	return st != MLP_OK ? st : wait;
}

static bool od_supports(mlp_precision precision)
{
	return precision == MLP_FP32 ||
	       (precision == MLP_BF16 && mlpi_cpu_bf16());
}

/* fp32 only for networks with a layer of at least OD_FP32_MIN_WEIGHTS
 * weights, where its kernels beat the BLAS (see the bench); below, a
 * oneDNN call costs more than the layer. */
#define OD_FP32_MIN_WEIGHTS 4096u

static bool od_suits(const mlp_net *net, mlp_precision precision)
{
	size_t widest = 0;

	for (size_t l = 0; l < net->n_layers; l++) {
		size_t w = net->layers[l].n_in * net->layers[l].n_out;
		widest = w > widest ? w : widest;
	}
	return precision == MLP_BF16 || widest >= OD_FP32_MIN_WEIGHTS;
}

static const char *od_describe(const void *packed)
{
	return ((const struct od_packed *)packed)->describe;
}

const struct mlpi_engine mlpi_engine_onednn = {
	.name = "onednn",
	.supports = od_supports,
	.suits = od_suits,
	.prepare = od_prepare,
	.context = od_context,
	.run = od_run,
	.describe = od_describe,
	.free_context = free_context,
	.free_packed = free_packed,
};
