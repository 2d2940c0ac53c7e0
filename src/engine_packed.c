/*
 * engine_packed.c — the packed engine: chunks of few rows through every
 * layer on mlp's own fp32 kernel (kernel_fp32.c), its weights packed once
 * when the plan is made, the activation applied in one pass after each
 * product; chunks of more rows on mlp_forward's path. Its packed form is
 * one block of the layers' panels and a copy of the network; its context
 * two buffers of the widest hidden layer and a workspace.
 */
#include "engine.h"
#include "kernel_fp32.h"

#include <stdio.h>
#include <stdlib.h>

/* Taken for networks whose every layer has fewer weights than this: there
 * a BLAS call costs more than the product (oneDNN takes the wider ones). */
#define PACKED_MAX_WEIGHTS 4096u

/* Chunks of more rows run mlp_forward's path, on a copy of the network:
 * at 1 to 8 rows the kernel beat it on every network the bench has, by
 * 1.2 to 2.7 times on an AMD EPYC (family 25 model 17); from 64 rows on it
 * did not on all (2-8-8-1: 0.7 to 0.9 times). */
#define PACKED_MAX_ROWS 8u

struct packed_layer {
	size_t n_in, n_out;
	mlp_act act;
	float *P;
};

struct packed_net {
	size_t n_layers, max_batch, widest; /* widest hidden layer */
	mlp_net *net;                       /* mlp_forward's path, for more rows */
	enum mlpi_kfp32_isa isa;
	void *mem;
	char describe[64];
	struct packed_layer layers[];
};

struct packed_context {
	void *mem;
	float *buf[2];
	mlp_workspace *ws; /* mlp_forward's path */
};

static mlp_status packed_prepare(const mlp_net *net, mlp_precision precision,
				 size_t max_batch, void **out)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);
	struct packed_net *p;
	size_t bytes;

	if (precision != MLP_FP32)
		return MLP_ENOTSUP;
	p = malloc(sizeof(*p) + net->n_layers * sizeof(p->layers[0]));
	if (p == NULL)
		return MLP_ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t l = 0; l < net->n_layers; l++) {
			const struct mlp_layer *ly = &net->layers[l];

			p->layers[l].P = mlpi_carve(&c, mlpi_kfp32_size(ly->n_out,
									 ly->n_in),
						    sizeof(float));
		}
		if (pass == 1)
			break;
		if (!mlpi_carved_size(&c, &bytes) ||
		    (p->mem = mlpi_alloc_aligned(bytes)) == NULL) {
			free(p);
			return c.ok ? MLP_ENOMEM : MLP_ETOOBIG;
		}
		c = MLPI_CARVER(p->mem);
	}
	if (mlp_net_clone(&p->net, net) != MLP_OK) {
		mlpi_free_aligned(p->mem);
		free(p);
		return MLP_ENOMEM;
	}
	p->n_layers = net->n_layers;
	p->max_batch = max_batch;
	p->widest = net->max_hidden;
	p->isa = mlpi_kfp32_best();
	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *ly = &net->layers[l];
		struct packed_layer *pl = &p->layers[l];

		pl->n_in = ly->n_in;
		pl->n_out = ly->n_out;
		pl->act = ly->act;
		mlpi_kfp32_pack(ly->n_out, ly->n_in, ly->W, ly->b, pl->P);
	}
	snprintf(p->describe, sizeof(p->describe), "packed fp32: %s",
		 mlpi_kfp32_name(p->isa));
	*out = p;
	return MLP_OK;
}

static mlp_status packed_context(const void *packed, void **ctx)
{
	const struct packed_net *p = packed;
	struct mlpi_carver c = MLPI_CARVER(NULL);
	struct packed_context *x = malloc(sizeof(*x));
	size_t bytes;

	if (x == NULL)
		return MLP_ENOMEM;
	x->mem = NULL;
	x->buf[0] = x->buf[1] = NULL;
	if (mlp_workspace_create(&x->ws, p->net, p->max_batch) != MLP_OK) {
		free(x);
		return MLP_ENOMEM;
	}
	if (p->widest > 0) {
		for (int pass = 0; pass < 2; pass++) {
			x->buf[0] = mlpi_carve(&c, p->max_batch * p->widest,
					       sizeof(float));
			x->buf[1] = mlpi_carve(&c, p->max_batch * p->widest,
					       sizeof(float));
			if (pass == 1)
				break;
			if (!mlpi_carved_size(&c, &bytes) ||
			    (x->mem = mlpi_alloc_aligned(bytes)) == NULL) {
				mlp_workspace_free(x->ws);
				free(x);
				return c.ok ? MLP_ENOMEM : MLP_ETOOBIG;
			}
			c = MLPI_CARVER(x->mem);
		}
	}
	*ctx = x;
	return MLP_OK;
}

static mlp_status packed_run(const void *packed, void *ctx, size_t rows,
			     const float *X, float *Y)
{
	const struct packed_net *p = packed;
	struct packed_context *x = ctx;
	const float *in = X;

	if (rows > PACKED_MAX_ROWS) {
		mlpi_forward_rows(p->net, x->ws, rows, X, Y, true);
		return MLP_OK;
	}
	for (size_t l = 0; l < p->n_layers; l++) {
		const struct packed_layer *pl = &p->layers[l];
		float *out = l + 1 == p->n_layers ? Y : x->buf[l & 1];

		mlpi_kfp32_run(p->isa, rows, pl->n_in, pl->n_out, pl->P, in, out);
		if (pl->act != MLP_IDENTITY)
			mlpi_bias_act(pl->act, rows, pl->n_out, NULL, out);
		in = out;
	}
	return MLP_OK;
}

static bool packed_supports(mlp_precision precision)
{
	return precision == MLP_FP32;
}

static bool packed_suits(const mlp_net *net, mlp_precision precision)
{
	for (size_t l = 0; l < net->n_layers; l++)
		if (net->layers[l].n_in * net->layers[l].n_out >=
		    PACKED_MAX_WEIGHTS)
			return false;
	return precision == MLP_FP32;
}

static const char *packed_describe(const void *packed)
{
	return ((const struct packed_net *)packed)->describe;
}

static void packed_free_context(void *ctx)
{
	struct packed_context *x = ctx;

	if (x != NULL) {
		mlpi_free_aligned(x->mem);
		mlp_workspace_free(x->ws);
	}
	free(x);
}

static void packed_free(void *packed)
{
	struct packed_net *p = packed;

	if (p != NULL) {
		mlpi_free_aligned(p->mem);
		mlp_net_free(p->net);
	}
	free(p);
}

const struct mlpi_engine mlpi_engine_packed = {
	.name = "packed",
	.supports = packed_supports,
	.suits = packed_suits,
	.prepare = packed_prepare,
	.context = packed_context,
	.run = packed_run,
	.describe = packed_describe,
	.free_context = packed_free_context,
	.free_packed = packed_free,
};
