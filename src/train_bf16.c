/*
 * train_bf16.c — the GEMMs of a bf16 training step (mixed precision), on
 * oneDNN's bf16 kernels (AMX, AVX512_BF16).
 *
 * The network's weights stay the float master copy the optimizer updates;
 * at the start of each step they are converted to bf16, once, for the
 * forward and the backward products. Each layer's input is converted to
 * bf16 as it is made, and each layer's ∂L/∂Z as backpropagation reaches
 * it, by the trainer's threads, a slice of rows each (trainer.c). Every
 * product accumulates in float and leaves in float:
 *
 *   Z    = A·Wᵀ + b     src A (bf16),          weights Wᵀ (bf16, Wᵀ of W)
 *   dW   = dZᵀ·A        src dZᵀ (bf16, dZ read transposed), weights A
 *   dA   = dZ·W         src dZ (bf16),          weights W (bf16)
 *
 * all with the weights in their plain layout: AMX's kernels pack them
 * themselves about as fast as a reorder into oneDNN's layout would, and
 * the step then converts each tensor once, by the CPU's own instruction.
 * AMX's kernels read the transposed dZ more slowly (in dW of the first
 * layer of 784-256-128-10 at batch 256, 50 µs against 33 untransposed),
 * but transposing it first, by oneDNN's reorder or in registers, cost as
 * much or more. Biases, activations, the loss and every gradient stay
 * float. The primitives serve the trainer's max_batch rows; a step of
 * fewer rows runs in float (trainer.c).
 */
#include "bf16.h"
#include "openmp.h"
#include "train_bf16.h"

#include <oneapi/dnnl/dnnl.h>

#include <stdlib.h>
#include <string.h>

enum { FWD, DW, DA, N_PRODUCTS };

struct bf16_layer {
	dnnl_primitive_t prim[N_PRODUCTS];
	dnnl_memory_t mem[N_PRODUCTS][3]; /* src, weights, dst */
	uint16_t *A;  /* the layer's input, rows × n_in */
};

struct mlpi_bf16 {
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	size_t n_layers, rows;
	dnnl_memory_t scratch;
	void *mem;                       /* everything below */
	uint16_t *Wb;                    /* the block in bf16 */
	uint16_t *dZ;                    /* rows × widest */
	unsigned char *scratchpad;
	size_t scratch_bytes;
	struct bf16_layer layers[];
};

static dnnl_status_t md2(dnnl_memory_desc_t *md, size_t rows, size_t cols,
			 dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
	dnnl_dims_t dims = { (dnnl_dim_t)rows, (dnnl_dim_t)cols };

	return dnnl_memory_desc_init_by_tag(md, 2, dims, dt, tag);
}

/* A (m × k)·(k × n) product: src and weights bf16 with the given layouts,
 * dst float, into prim and its memories over src, weights and dst. */
static dnnl_status_t product(struct mlpi_bf16 *b, size_t m, size_t k, size_t n,
			     dnnl_format_tag_t src_tag, dnnl_format_tag_t w_tag,
			     void *src, void *weights, float *dst,
			     dnnl_primitive_t *prim, dnnl_memory_t *mem)
{
	dnnl_memory_desc_t s_md, w_md, d_md;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_matmul_desc_t desc;
	dnnl_status_t s;

	s = md2(&s_md, m, k, dnnl_bf16, src_tag);
	if (s == dnnl_success)
		s = md2(&w_md, k, n, dnnl_bf16, w_tag);
	if (s == dnnl_success)
		s = md2(&d_md, m, n, dnnl_f32, dnnl_ab);
	if (s == dnnl_success)
		s = dnnl_matmul_desc_init(&desc, &s_md, &w_md, NULL, &d_md);
	if (s == dnnl_success)
		s = dnnl_primitive_attr_create(&attr);
	if (s == dnnl_success)
		s = dnnl_primitive_attr_set_scratchpad_mode(attr,
							    dnnl_scratchpad_mode_user);
	if (s == dnnl_success)
		s = dnnl_primitive_desc_create(&pd, &desc, attr, b->engine, NULL);
	if (s == dnnl_success) {
		size_t bytes = dnnl_memory_desc_get_size(
			dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));

		b->scratch_bytes = bytes > b->scratch_bytes ? bytes : b->scratch_bytes;
		s = dnnl_primitive_create(prim, pd);
	}
	if (s == dnnl_success)
		s = dnnl_memory_create(&mem[0], &s_md, b->engine, src);
	if (s == dnnl_success)
		s = dnnl_memory_create(&mem[1], &w_md, b->engine, weights);
	if (s == dnnl_success)
		s = dnnl_memory_create(&mem[2], &d_md, b->engine, dst);
	dnnl_primitive_desc_destroy(pd);
	dnnl_primitive_attr_destroy(attr);
	return s;
}

void mlpi_bf16_free(struct mlpi_bf16 *b)
{
	if (b == NULL)
		return;
	for (size_t l = 0; l < b->n_layers; l++) {
		for (int k = 0; k < N_PRODUCTS; k++) {
			dnnl_primitive_destroy(b->layers[l].prim[k]);
			for (int i = 0; i < 3; i++)
				dnnl_memory_destroy(b->layers[l].mem[k][i]);
		}
	}
	dnnl_memory_destroy(b->scratch);
	dnnl_stream_destroy(b->stream);
	dnnl_engine_destroy(b->engine);
	mlpi_free_aligned(b->mem);
	free(b);
}

/* The buffers of the bf16 copies: sizes them, or hands them out. */
static void bf16_layout(struct mlpi_bf16 *b, const mlp_net *net, size_t rows,
			struct mlpi_carver *c)
{
	size_t widest = 0;

	for (size_t l = 1; l <= net->n_layers; l++)
		widest = net->sizes[l] > widest ? net->sizes[l] : widest;
	b->Wb = mlpi_carve(c, net->block_floats, sizeof(uint16_t));
	b->dZ = mlpi_carve(c, rows * widest, sizeof(uint16_t));
	for (size_t l = 0; l < net->n_layers; l++)
		b->layers[l].A = mlpi_carve(c, rows * net->sizes[l], sizeof(uint16_t));
}

mlp_status mlpi_bf16_create(const mlp_net *net, size_t rows,
			    const struct mlpi_bf16_buffers *f,
			    struct mlpi_bf16 **out)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);
	struct mlpi_bf16 *b;
	dnnl_status_t s;
	size_t bytes;

	b = calloc(1, sizeof(*b) + net->n_layers * sizeof(b->layers[0]));
	if (b == NULL)
		return MLP_ENOMEM;
	b->n_layers = net->n_layers;
	b->rows = rows;
	bf16_layout(b, net, rows, &c);
	b->mem = mlpi_carved_size(&c, &bytes) ? mlpi_alloc_aligned(bytes) : NULL;
	if (b->mem == NULL) {
		mlpi_bf16_free(b);
		return MLP_ENOMEM;
	}
	c = MLPI_CARVER(b->mem);
	bf16_layout(b, net, rows, &c);
	s = dnnl_engine_create(&b->engine, dnnl_cpu, 0);
	if (s == dnnl_success)
		s = dnnl_stream_create(&b->stream, b->engine, dnnl_stream_default_flags);
	for (size_t l = 0; l < net->n_layers && s == dnnl_success; l++) {
		const struct mlp_layer *layer = &net->layers[l];
		struct bf16_layer *bl = &b->layers[l];
		size_t n_in = layer->n_in, n_out = layer->n_out;
		uint16_t *W = b->Wb + (layer->W - net->block);

		/* Z = A·Wᵀ: (rows × n_in)·(n_in × n_out), Wᵀ of W read as ba. */
		s = product(b, rows, n_in, n_out, dnnl_ab, dnnl_ba, bl->A, W,
			    f->Z[l], &bl->prim[FWD], bl->mem[FWD]);
		/* dW = dZᵀ·A: (n_out × rows)·(rows × n_in), dZᵀ of dZ read as ba. */
		if (s == dnnl_success)
			s = product(b, n_out, rows, n_in, dnnl_ba, dnnl_ab, b->dZ, bl->A,
				    f->dW[l], &bl->prim[DW], bl->mem[DW]);
		/* dA = dZ·W: (rows × n_out)·(n_out × n_in). */
		if (s == dnnl_success && l > 0)
			s = product(b, rows, n_out, n_in, dnnl_ab, dnnl_ab, b->dZ, W,
				    f->dA[l], &bl->prim[DA], bl->mem[DA]);
	}
	if (s == dnnl_success) {
		dnnl_dims_t dims = { (dnnl_dim_t)(b->scratch_bytes > 0 ? b->scratch_bytes : 1) };
		dnnl_memory_desc_t md;

		s = dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_u8, dnnl_a);
		if (s == dnnl_success)
			s = dnnl_memory_create(&b->scratch, &md, b->engine,
					       DNNL_MEMORY_ALLOCATE);
	}
	if (s != dnnl_success) {
		mlpi_bf16_free(b);
		return s == dnnl_out_of_memory ? MLP_ENOMEM : MLP_ENOTSUP;
	}
	*out = b;
	return MLP_OK;
}

static void execute(struct mlpi_bf16 *b, size_t l, int k)
{
	dnnl_memory_t *m = b->layers[l].mem[k];
	dnnl_exec_arg_t args[4] = {
		{ DNNL_ARG_SRC, m[0] }, { DNNL_ARG_WEIGHTS, m[1] },
		{ DNNL_ARG_DST, m[2] }, { DNNL_ARG_SCRATCHPAD, b->scratch },
	};

	dnnl_primitive_execute(b->layers[l].prim[k], b->stream, 4, args);
}

/* The parameter block to bf16, a slice a thread. */
struct convert_job {
	const float *src;
	uint16_t *dst;
	size_t n;
};

static void convert_part(void *arg, int part, int parts)
{
	const struct convert_job *job = arg;
	size_t lo = job->n * (size_t)part / (size_t)parts;
	size_t hi = job->n * (size_t)(part + 1) / (size_t)parts;

	mlpi_to_bf16(hi - lo, job->src + lo, job->dst + lo);
}

void mlpi_bf16_weights(struct mlpi_bf16 *b, const mlp_net *net)
{
	struct convert_job job = { net->block, b->Wb, net->block_floats };

	mlpi_openmp_parallel(convert_part, &job);
}

bool mlpi_bf16_set_input(struct mlpi_bf16 *b, size_t l, size_t n_in,
			 size_t lo, size_t hi, const float *A)
{
	return mlpi_to_bf16((hi - lo) * n_in, A + lo * n_in, b->layers[l].A + lo * n_in);
}

void mlpi_bf16_set_grad(struct mlpi_bf16 *b, size_t n_out, size_t lo,
			size_t hi, const float *dZ)
{
	mlpi_to_bf16((hi - lo) * n_out, dZ + lo * n_out, b->dZ + lo * n_out);
}

void mlpi_bf16_forward(struct mlpi_bf16 *b, size_t l)
{
	execute(b, l, FWD);
	dnnl_stream_wait(b->stream);
}

void mlpi_bf16_backward(struct mlpi_bf16 *b, size_t l)
{
	execute(b, l, DW);
	if (l > 0)
		execute(b, l, DA);
	dnnl_stream_wait(b->stream);
}
