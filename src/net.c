/*
 * net.c — the network: a layer table and one aligned parameter block.
 *
 * The block holds W₀, b₀, W₁, b₁, ... in that order, each starting on a
 * 64-byte boundary; the padding between them stays zero. A quantised
 * network has a second block, its int8 weights and their scales
 * (quant.c fills it).
 */
#include "net.h"

#include <stdlib.h>
#include <string.h>

/* The parameter block: with net NULL the carver only sizes it; with the
 * network and its block it hands each layer its W and b. */
static void block_layout(mlp_net *net, size_t n_layers, const size_t *sizes,
			 struct mlpi_carver *c)
{
	for (size_t l = 0; l < n_layers; l++) {
		float *W = mlpi_carve(c, sizes[l + 1] * sizes[l], sizeof(float));
		float *b = mlpi_carve(c, sizes[l + 1], sizeof(float));

		if (net != NULL) {
			net->layers[l].W = W;
			net->layers[l].b = b;
		}
	}
}

/* Checks the arguments of mlp_net_create and computes the block size in
 * bytes. Pointers are checked by the caller. Widths ≤ 2²⁴ keep each
 * product of two widths, and so each carve, far from overflow. */
static mlp_status check_shape(size_t n_layers, const size_t *sizes,
			      const mlp_act *acts, size_t *block_bytes)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);

	if (n_layers == 0)
		return MLP_ESIZE;
	if (n_layers > MLP_MAX_LAYERS)
		return MLP_ETOOBIG;
	for (size_t i = 0; i <= n_layers; i++) {
		if (sizes[i] == 0)
			return MLP_ESIZE;
		if (sizes[i] > MLP_MAX_WIDTH)
			return MLP_ETOOBIG;
	}
	for (size_t l = 0; l < n_layers; l++) {
		if (!mlpi_act_valid(acts[l]))
			return MLP_EACT;
	}
	block_layout(NULL, n_layers, sizes, &c);
	return mlpi_carved_size(&c, block_bytes) ? MLP_OK : MLP_ETOOBIG;
}

/* A network of a checked shape with a zeroed block of block_bytes, its
 * activations left to the caller; NULL when out of memory. */
static mlp_net *net_new(size_t n_layers, const size_t *sizes,
			size_t block_bytes)
{
	struct mlpi_carver c;
	mlp_net *net;

	/* n_layers ≤ MLP_MAX_LAYERS: these sizes cannot overflow. */
	net = malloc(sizeof(*net) + n_layers * sizeof(net->layers[0]) +
		     (n_layers + 1) * sizeof(size_t));
	if (net == NULL)
		return NULL;
	net->block = mlpi_alloc_aligned(block_bytes);
	if (net->block == NULL) {
		free(net);
		return NULL;
	}
	memset(net->block, 0, block_bytes);
	c = MLPI_CARVER(net->block);
	block_layout(net, n_layers, sizes, &c);

	net->sizes = (size_t *)(void *)&net->layers[n_layers];
	memcpy(net->sizes, sizes, (n_layers + 1) * sizeof(size_t));
	net->n_layers = n_layers;
	net->block_floats = block_bytes / sizeof(float);
	net->n_params = 0;
	net->max_hidden = 0;
	atomic_init(&net->version, 0);
	net->scaling = NULL;
	net->has_in = net->has_out = false;
	net->quant = NULL;
	net->quant_version = 0;
	for (size_t l = 0; l < n_layers; l++) {
		struct mlp_layer *layer = &net->layers[l];

		layer->n_in = sizes[l];
		layer->n_out = sizes[l + 1];
		layer->Wq = NULL;
		layer->w_scale = NULL;
		layer->in_scale = 0;
		net->n_params += layer->n_out * layer->n_in + layer->n_out;
		if (l + 1 < n_layers && layer->n_out > net->max_hidden)
			net->max_hidden = layer->n_out;
	}
	return net;
}

/* The int8 block: per layer Wq (n_out × n_in bytes), then w_scale (n_out
 * floats), each 64-byte aligned. With net NULL the carver only sizes it. */
static void quant_layout(const mlp_net *shape, mlp_net *net,
			 struct mlpi_carver *c)
{
	for (size_t l = 0; l < shape->n_layers; l++) {
		const struct mlp_layer *ly = &shape->layers[l];
		int8_t *Wq = mlpi_carve(c, ly->n_out * ly->n_in, 1);
		float *s = mlpi_carve(c, ly->n_out, sizeof(float));

		if (net != NULL) {
			net->layers[l].Wq = Wq;
			net->layers[l].w_scale = s;
		}
	}
}

mlp_status mlpi_quant_alloc(mlp_net *net)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);
	size_t bytes;
	void *block;

	quant_layout(net, NULL, &c);
	if (!mlpi_carved_size(&c, &bytes))
		return MLP_ETOOBIG;
	block = mlpi_alloc_aligned(bytes);
	if (block == NULL)
		return MLP_ENOMEM;
	memset(block, 0, bytes);
	mlpi_quant_drop(net);
	net->quant = block;
	c = MLPI_CARVER(block);
	quant_layout(net, net, &c);
	net->quant_version = mlpi_net_version(net);
	return MLP_OK;
}

void mlpi_quant_drop(mlp_net *net)
{
	mlpi_free_aligned(net->quant);
	net->quant = NULL;
	for (size_t l = 0; l < net->n_layers; l++) {
		net->layers[l].Wq = NULL;
		net->layers[l].w_scale = NULL;
		net->layers[l].in_scale = 0;
	}
}

mlp_status mlpi_quant_copy(mlp_net *dst, const mlp_net *src)
{
	mlp_status st;

	if (!mlpi_net_quantized(src))
		return MLP_OK;
	st = mlpi_quant_alloc(dst);
	if (st != MLP_OK)
		return st;
	for (size_t l = 0; l < src->n_layers; l++) {
		const struct mlp_layer *s = &src->layers[l];
		struct mlp_layer *d = &dst->layers[l];

		memcpy((int8_t *)d->Wq, s->Wq, s->n_out * s->n_in);
		memcpy((float *)d->w_scale, s->w_scale, s->n_out * sizeof(float));
		d->in_scale = s->in_scale;
	}
	return MLP_OK;
}

mlp_status mlp_net_create(mlp_net **out, size_t n_layers, const size_t *sizes,
			  const mlp_act *acts)
{
	size_t block_bytes = 0;
	mlp_status st;
	mlp_net *net;

	if (out == NULL || sizes == NULL || acts == NULL)
		return MLP_ENULL;
	st = check_shape(n_layers, sizes, acts, &block_bytes);
	if (st != MLP_OK)
		return st;
	net = net_new(n_layers, sizes, block_bytes);
	if (net == NULL)
		return MLP_ENOMEM;
	for (size_t l = 0; l < n_layers; l++)
		net->layers[l].act = acts[l];
	*out = net;
	return MLP_OK;
}

mlp_status mlp_net_clone(mlp_net **out, const mlp_net *net)
{
	mlp_net *copy;

	if (out == NULL || net == NULL)
		return MLP_ENULL;
	copy = net_new(net->n_layers, net->sizes,
		       net->block_floats * sizeof(float));
	if (copy == NULL)
		return MLP_ENOMEM;
	for (size_t l = 0; l < net->n_layers; l++)
		copy->layers[l].act = net->layers[l].act;
	/* The same layout: one copy of the block, padding included. */
	memcpy(copy->block, net->block, net->block_floats * sizeof(float));
	if (mlpi_scaling_copy(copy, net) != MLP_OK ||
	    mlpi_quant_copy(copy, net) != MLP_OK) {
		mlp_net_free(copy);
		return MLP_ENOMEM;
	}
	*out = copy;
	return MLP_OK;
}

void mlp_net_free(mlp_net *net)
{
	if (net == NULL)
		return;
	mlpi_free_aligned(net->block);
	mlpi_quant_drop(net);
	free(net->scaling);
	free(net);
}

size_t mlp_net_layers(const mlp_net *net)
{
	return net != NULL ? net->n_layers : 0;
}

size_t mlp_net_width(const mlp_net *net, size_t i)
{
	return net != NULL && i <= net->n_layers ? net->sizes[i] : 0;
}

mlp_act mlp_net_act(const mlp_net *net, size_t layer)
{
	return net != NULL && layer < net->n_layers ? net->layers[layer].act
						    : MLP_ACT_COUNT;
}

size_t mlp_net_param_count(const mlp_net *net)
{
	return net != NULL ? net->n_params : 0;
}

/* A pointer through which the parameters may be written: a trainer
 * re-checks its next update in full. */
float *mlp_net_weights(mlp_net *net, size_t layer)
{
	if (net == NULL || layer >= net->n_layers)
		return NULL;
	mlpi_net_changed(net);
	return net->layers[layer].W;
}

float *mlp_net_bias(mlp_net *net, size_t layer)
{
	if (net == NULL || layer >= net->n_layers)
		return NULL;
	mlpi_net_changed(net);
	return net->layers[layer].b;
}

/* Copies between the flat list W₀ b₀ W₁ b₁ … and the padded block: into
 * flat_out, or from flat_in (the other NULL). */
static void copy_params(const mlp_net *net, float *flat_out,
			const float *flat_in)
{
	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *layer = &net->layers[l];
		float *tensor[2] = { layer->W, layer->b };
		size_t count[2] = { layer->n_out * layer->n_in, layer->n_out };

		for (int k = 0; k < 2; k++) {
			size_t bytes = count[k] * sizeof(float);

			if (flat_out != NULL) {
				memcpy(flat_out, tensor[k], bytes);
				flat_out += count[k];
			} else {
				memcpy(tensor[k], flat_in, bytes);
				flat_in += count[k];
			}
		}
	}
}

/* Whether count floats at p share memory with the parameter block. */
static bool overlaps_block(const mlp_net *net, const float *p, size_t count)
{
	return mlpi_overlap(p, count * sizeof(float), net->block,
			    net->block_floats * sizeof(float));
}

mlp_status mlp_net_get_params(const mlp_net *net, float *out, size_t count)
{
	if (net == NULL || out == NULL)
		return MLP_ENULL;
	if (count != net->n_params)
		return MLP_ESIZE;
	if (overlaps_block(net, out, count))
		return MLP_EINVAL;
	copy_params(net, out, NULL);
	return MLP_OK;
}

mlp_status mlp_net_set_params(mlp_net *net, const float *in, size_t count)
{
	if (net == NULL || in == NULL)
		return MLP_ENULL;
	if (count != net->n_params)
		return MLP_ESIZE;
	if (overlaps_block(net, in, count))
		return MLP_EINVAL;
	if (!mlpi_all_finite(count, in))
		return MLP_ENONFINITE;
	copy_params(net, NULL, in);
	mlpi_net_changed(net);
	return MLP_OK;
}
