/*
 * net.c — the network: a layer table and one aligned parameter block.
 *
 * The block holds W₀, b₀, W₁, b₁, ... in that order, each starting on a
 * 64-byte boundary; the padding between them stays zero.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* n floats rounded up to whole 64-byte lines; check_shape has ruled out
 * overflow for every n it is used with. */
static size_t padded(size_t n)
{
	return (n + MLPI_ALIGN_FLOATS - 1) & ~(MLPI_ALIGN_FLOATS - 1);
}

/* Checks the arguments of mlp_net_create and computes the block size in
 * floats. Pointers are checked by the caller. */
static mlp_status check_shape(size_t n_layers, const size_t *sizes,
			      const mlp_act *acts, size_t *block_floats)
{
	size_t total = 0;

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
	for (size_t l = 0; l < n_layers; l++) {
		size_t w, w_pad, b_pad;

		if (!mlpi_mul(sizes[l + 1], sizes[l], &w) ||
		    !mlpi_round_up(w, MLPI_ALIGN_FLOATS, &w_pad) ||
		    !mlpi_round_up(sizes[l + 1], MLPI_ALIGN_FLOATS, &b_pad) ||
		    !mlpi_add(total, w_pad, &total) ||
		    !mlpi_add(total, b_pad, &total))
			return MLP_ETOOBIG;
	}
	if (total > SIZE_MAX / sizeof(float))
		return MLP_ETOOBIG;
	*block_floats = total;
	return MLP_OK;
}

mlp_status mlp_net_create(mlp_net **out, size_t n_layers, const size_t *sizes,
			  const mlp_act *acts)
{
	size_t block_floats = 0;
	mlp_status st;
	mlp_net *net;
	float *p;

	if (out == NULL || sizes == NULL || acts == NULL)
		return MLP_ENULL;
	st = check_shape(n_layers, sizes, acts, &block_floats);
	if (st != MLP_OK)
		return st;

	/* n_layers ≤ MLP_MAX_LAYERS: these sizes cannot overflow. */
	net = malloc(sizeof(*net) + n_layers * sizeof(net->layers[0]) +
		     (n_layers + 1) * sizeof(size_t));
	if (net == NULL)
		return MLP_ENOMEM;
	net->block = mlpi_alloc_aligned(block_floats * sizeof(float));
	if (net->block == NULL) {
		free(net);
		return MLP_ENOMEM;
	}
	memset(net->block, 0, block_floats * sizeof(float));

	net->sizes = (size_t *)(void *)&net->layers[n_layers];
	memcpy(net->sizes, sizes, (n_layers + 1) * sizeof(size_t));
	net->n_layers = n_layers;
	net->block_floats = block_floats;
	net->n_params = 0;
	net->max_hidden = 0;
	p = net->block;
	for (size_t l = 0; l < n_layers; l++) {
		struct mlp_layer *layer = &net->layers[l];
		size_t w = sizes[l + 1] * sizes[l];

		layer->n_in = sizes[l];
		layer->n_out = sizes[l + 1];
		layer->act = acts[l];
		layer->W = p;
		p += padded(w);
		layer->b = p;
		p += padded(layer->n_out);
		net->n_params += w + layer->n_out;
		if (l + 1 < n_layers && layer->n_out > net->max_hidden)
			net->max_hidden = layer->n_out;
	}
	*out = net;
	return MLP_OK;
}

void mlp_net_free(mlp_net *net)
{
	if (net == NULL)
		return;
	mlpi_free_aligned(net->block);
	free(net);
}

size_t mlp_net_layers(const mlp_net *net)
{
	return net != NULL ? net->n_layers : 0;
}

size_t mlp_net_size(const mlp_net *net, size_t i)
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

float *mlp_net_weights(mlp_net *net, size_t layer)
{
	return net != NULL && layer < net->n_layers ? net->layers[layer].W
						    : NULL;
}

float *mlp_net_bias(mlp_net *net, size_t layer)
{
	return net != NULL && layer < net->n_layers ? net->layers[layer].b
						    : NULL;
}
