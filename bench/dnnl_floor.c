/*
 * dnnl_floor.c — the bare oneDNN chain, the floor of mlp's oneDNN plans: see
 * impls.h. One matmul primitive a layer at the cell's batch, with the
 * kernels oneDNN picks for it and the weights packed into their layout
 * beforehand; no bias, no activation. In bf16, a reorder converts the float
 * input first (the least a float-in, float-out caller does), and every
 * layer's output but the last stays bf16.
 */
#include "impls.h"

#if defined(MLP_BENCH_HAVE_ONEDNN)

#include <oneapi/dnnl/dnnl.h>

#include <stdlib.h>
#include <string.h>

struct dnnl_layer {
	dnnl_primitive_t prim;
	dnnl_memory_t src, weights, dst, scratch;
};

struct dnnl_floor {
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	size_t n_layers;
	void *x, *buf[2], *scratchpad; /* the input as the first layer takes it */
	dnnl_primitive_t convert;      /* bf16: X into x */
	dnnl_memory_t from, to;
	struct dnnl_layer layers[];
};

bool dnnl_floor_available(bool bf16)
{
	unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
	unsigned want = (unsigned)dnnl_cpu_isa_avx512_core_bf16;

	return !bf16 || (isa & want) == want;
}

static dnnl_status_t md2(dnnl_memory_desc_t *md, size_t rows, size_t cols,
			 dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
	dnnl_dims_t dims = { (dnnl_dim_t)rows, (dnnl_dim_t)cols };

	return dnnl_memory_desc_init_by_tag(md, 2, dims, dt, tag);
}

/* W (n_out × n_in, float) reordered into the packed weights of a layer. */
static dnnl_status_t pack(struct dnnl_floor *f, struct dnnl_layer *ly,
			  const dnnl_memory_desc_t *packed, size_t n_in,
			  size_t n_out, const float *W)
{
	dnnl_memory_desc_t user_md;
	dnnl_memory_t user = NULL;
	dnnl_primitive_desc_t rpd = NULL;
	dnnl_primitive_t reorder = NULL;
	dnnl_status_t s = md2(&user_md, n_in, n_out, dnnl_f32, dnnl_ba);

	if (s == dnnl_success)
		s = dnnl_memory_create(&ly->weights, packed, f->engine,
				       DNNL_MEMORY_ALLOCATE);
	if (s == dnnl_success)
		s = dnnl_memory_create(&user, &user_md, f->engine, (void *)W);
	if (s == dnnl_success)
		s = dnnl_reorder_primitive_desc_create(&rpd, &user_md, f->engine,
						       packed, f->engine, NULL);
	if (s == dnnl_success)
		s = dnnl_primitive_create(&reorder, rpd);
	if (s == dnnl_success) {
		dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, user },
					    { DNNL_ARG_TO, ly->weights } };
		s = dnnl_primitive_execute(reorder, f->stream, 2, args);
	}
	if (s == dnnl_success)
		s = dnnl_stream_wait(f->stream);
	dnnl_primitive_destroy(reorder);
	dnnl_primitive_desc_destroy(rpd);
	dnnl_memory_destroy(user);
	return s;
}

/* One layer's primitive, packed weights and memories. */
static dnnl_status_t layer(struct dnnl_floor *f, size_t l, size_t batch,
			   size_t n_in, size_t n_out, const float *W, bool bf16,
			   bool last)
{
	struct dnnl_layer *ly = &f->layers[l];
	dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
	dnnl_memory_desc_t src, weights, dst;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_matmul_desc_t desc;
	dnnl_status_t s;

	s = md2(&src, batch, n_in, dt, dnnl_ab);
	if (s == dnnl_success)
		s = md2(&weights, n_in, n_out, dt, dnnl_format_tag_any);
	if (s == dnnl_success)
		s = md2(&dst, batch, n_out, last ? dnnl_f32 : dt, dnnl_ab);
	if (s == dnnl_success)
		s = dnnl_matmul_desc_init(&desc, &src, &weights, NULL, &dst);
	if (s == dnnl_success)
		s = dnnl_primitive_attr_create(&attr);
	if (s == dnnl_success)
		s = dnnl_primitive_attr_set_scratchpad_mode(attr,
							    dnnl_scratchpad_mode_user);
	if (s == dnnl_success)
		s = dnnl_primitive_desc_create(&pd, &desc, attr, f->engine, NULL);
	if (s == dnnl_success)
		s = dnnl_primitive_create(&ly->prim, pd);
	if (s == dnnl_success)
		s = pack(f, ly, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
			 n_in, n_out, W);
	if (s == dnnl_success)
		s = dnnl_memory_create(&ly->src, &src, f->engine, DNNL_MEMORY_NONE);
	if (s == dnnl_success)
		s = dnnl_memory_create(&ly->dst, &dst, f->engine, DNNL_MEMORY_NONE);
	/* A primitive without a scratchpad gets none. */
	if (s == dnnl_success &&
	    dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)) > 0)
		s = dnnl_memory_create(&ly->scratch,
				       dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0),
				       f->engine, f->scratchpad);
	dnnl_primitive_desc_destroy(pd);
	dnnl_primitive_attr_destroy(attr);
	return s;
}

/* bf16: the reorder that converts the batch's float input into f->x. */
static dnnl_status_t converter(struct dnnl_floor *f, size_t batch, size_t n_in,
			       const float *X)
{
	dnnl_memory_desc_t from, to;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t s = md2(&from, batch, n_in, dnnl_f32, dnnl_ab);

	if (s == dnnl_success)
		s = md2(&to, batch, n_in, dnnl_bf16, dnnl_ab);
	if (s == dnnl_success)
		s = dnnl_reorder_primitive_desc_create(&pd, &from, f->engine, &to,
						       f->engine, NULL);
	if (s == dnnl_success)
		s = dnnl_primitive_create(&f->convert, pd);
	if (s == dnnl_success)
		s = dnnl_memory_create(&f->from, &from, f->engine, (void *)X);
	if (s == dnnl_success)
		s = dnnl_memory_create(&f->to, &to, f->engine, f->x);
	dnnl_primitive_desc_destroy(pd);
	return s;
}

struct dnnl_floor *dnnl_floor_create(const struct bench_net *net, size_t batch,
				     bool bf16, const float *X)
{
	struct dnnl_floor *f = calloc(1, sizeof(*f) + net->n_layers * sizeof(f->layers[0]));
	size_t widest = 0, n_in = net->sizes[0];
	dnnl_status_t s;

	if (f == NULL)
		return NULL;
	for (size_t l = 0; l <= net->n_layers; l++)
		widest = net->sizes[l] > widest ? net->sizes[l] : widest;
	f->n_layers = net->n_layers;
	f->x = malloc(batch * n_in * sizeof(float));
	f->buf[0] = malloc(batch * widest * sizeof(float));
	f->buf[1] = malloc(batch * widest * sizeof(float));
	f->scratchpad = malloc(64u << 20); /* far more than a matmul asks */
	if (f->x == NULL || f->buf[0] == NULL || f->buf[1] == NULL ||
	    f->scratchpad == NULL) {
		dnnl_floor_free(f);
		return NULL;
	}
	if (!bf16)
		memcpy(f->x, X, batch * n_in * sizeof(float));
	s = dnnl_engine_create(&f->engine, dnnl_cpu, 0);
	if (s == dnnl_success)
		s = dnnl_stream_create(&f->stream, f->engine, dnnl_stream_default_flags);
	if (s == dnnl_success && bf16)
		s = converter(f, batch, n_in, X);
	for (size_t l = 0; l < net->n_layers && s == dnnl_success; l++)
		s = layer(f, l, batch, net->sizes[l], net->sizes[l + 1], net->W[l],
			  bf16, l + 1 == net->n_layers);
	if (s != dnnl_success) {
		dnnl_floor_free(f);
		return NULL;
	}
	return f;
}

void dnnl_floor_forward(struct dnnl_floor *f, float *Y)
{
	void *in = f->x;

	if (f->convert != NULL) {
		dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, f->from },
					    { DNNL_ARG_TO, f->to } };
		dnnl_primitive_execute(f->convert, f->stream, 2, args);
	}

	for (size_t l = 0; l < f->n_layers; l++) {
		struct dnnl_layer *ly = &f->layers[l];
		void *out = l + 1 == f->n_layers ? (void *)Y : f->buf[l & 1];
		dnnl_exec_arg_t args[4] = {
			{ DNNL_ARG_SRC, ly->src }, { DNNL_ARG_WEIGHTS, ly->weights },
			{ DNNL_ARG_DST, ly->dst }, { DNNL_ARG_SCRATCHPAD, ly->scratch },
		};

		dnnl_memory_set_data_handle(ly->src, in);
		dnnl_memory_set_data_handle(ly->dst, out);
		dnnl_primitive_execute(ly->prim, f->stream,
				       ly->scratch != NULL ? 4 : 3, args);
		in = out;
	}
	dnnl_stream_wait(f->stream);
}

void dnnl_floor_free(struct dnnl_floor *f)
{
	if (f == NULL)
		return;
	for (size_t l = 0; l < f->n_layers; l++) {
		dnnl_primitive_destroy(f->layers[l].prim);
		dnnl_memory_destroy(f->layers[l].src);
		dnnl_memory_destroy(f->layers[l].weights);
		dnnl_memory_destroy(f->layers[l].dst);
		dnnl_memory_destroy(f->layers[l].scratch);
	}
	dnnl_primitive_destroy(f->convert);
	dnnl_memory_destroy(f->from);
	dnnl_memory_destroy(f->to);
	dnnl_stream_destroy(f->stream);
	dnnl_engine_destroy(f->engine);
	free(f->x);
	free(f->buf[0]);
	free(f->buf[1]);
	free(f->scratchpad);
	free(f);
}

#else /* no oneDNN */

bool dnnl_floor_available(bool bf16)
{
	(void)bf16;
	return false;
}

struct dnnl_floor *dnnl_floor_create(const struct bench_net *net, size_t batch,
				     bool bf16, const float *X)
{
	(void)net, (void)batch, (void)bf16, (void)X;
	return NULL;
}

void dnnl_floor_forward(struct dnnl_floor *f, float *Y)
{
	(void)f, (void)Y;
}

void dnnl_floor_free(struct dnnl_floor *f)
{
	(void)f;
}

#endif
