/*
 * init.c — seeded weight initialisation.
 *
 * Uniform on [-a, a], which has variance a²/3:
 *   He (ReLU family):  a = √(6 / n_in)           → Var = 2 / n_in
 *   Glorot (others):   a = √(6 / (n_in + n_out)) → Var = 2 / (n_in + n_out)
 * Uniform rather than normal keeps every draw to integer arithmetic, one
 * exact scaling and IEEE operations that round the same everywhere (sqrt
 * included), so the same seed gives the same bits on every machine.
 */
#include "net.h"
#include "rng.h"

#include <math.h>
#include <string.h>

mlp_status mlp_net_init(mlp_net *net, uint64_t seed)
{
	struct mlpi_rng rng;

	if (net == NULL)
		return MLP_ENULL;
	mlpi_rng_seed(&rng, seed);
	for (size_t l = 0; l < net->n_layers; l++) {
		struct mlp_layer *layer = &net->layers[l];
		size_t fan = layer->n_in;
		size_t count = layer->n_out * layer->n_in;
		double a;

		if (layer->act != MLP_RELU && layer->act != MLP_LEAKY_RELU)
			fan += layer->n_out;
		a = sqrt(6.0 / (double)fan);
		for (size_t i = 0; i < count; i++)
			layer->W[i] = (float)((2.0 * mlpi_rng_uniform(&rng) - 1.0) * a);
		memset(layer->b, 0, layer->n_out * sizeof(float));
	}
	mlpi_net_changed(net);
	return MLP_OK;
}
