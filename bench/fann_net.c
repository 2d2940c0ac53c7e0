/*
 * fann_net.c — the same network in FANN 2.2 (float build): see impls.h.
 *
 * FANN 2.2 has no ReLU. Its FANN_LINEAR_PIECE is clamp(s·x, 0, 1); with
 * steepness s = 2⁻²⁰ that is relu(x)·2⁻²⁰ for every |x| < 2²⁰, and the next
 * layer's weights scaled by 2²⁰ undo the factor. Both scalings are powers of
 * two, so the products FANN forms are exactly those of the ReLU network.
 * Identity is FANN_LINEAR (s = 1), sigmoid FANN_SIGMOID (1/(1 + e^(−2sx)),
 * s = ½), tanh FANN_SIGMOID_SYMMETRIC (s = 1). Other activations: none.
 */
#include "impls.h"

#if defined(MLP_BENCH_HAVE_FANN)

#include <floatfann.h>
#include <stdlib.h>
#include <string.h>

#define RELU_SCALE 1048576.0f /* 2²⁰ */

struct fann_net {
	struct fann *ann;
	size_t n_in, n_out;
	float out_scale; /* 2²⁰ when the last layer is a ReLU */
};

bool fann_available(void)
{
	return true;
}

static bool fann_act(mlp_act a, enum fann_activationfunc_enum *f, float *s)
{
	switch (a) {
	case MLP_IDENTITY:
		*f = FANN_LINEAR, *s = 1.0f;
		return true;
	case MLP_RELU:
		*f = FANN_LINEAR_PIECE, *s = 1.0f / RELU_SCALE;
		return true;
	case MLP_SIGMOID:
		*f = FANN_SIGMOID, *s = 0.5f;
		return true;
	case MLP_TANH:
		*f = FANN_SIGMOID_SYMMETRIC, *s = 1.0f;
		return true;
	default:
		return false;
	}
}

struct fann_net *fann_net_create(const struct bench_net *net)
{
	unsigned int layers[64];
	struct fann_net *f;

	if (net->n_layers + 1 > sizeof(layers) / sizeof(layers[0]))
		return NULL;
	for (size_t l = 0; l <= net->n_layers; l++)
		layers[l] = (unsigned int)net->sizes[l];
	for (size_t l = 0; l < net->n_layers; l++) {
		enum fann_activationfunc_enum fa;
		float s;
		if (!fann_act(net->acts[l], &fa, &s))
			return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->ann = fann_create_standard_array((unsigned int)net->n_layers + 1, layers);
	if (f->ann == NULL) {
		free(f);
		return NULL;
	}
	f->n_in = net->sizes[0];
	f->n_out = net->sizes[net->n_layers];
	f->out_scale = net->acts[net->n_layers - 1] == MLP_RELU ? RELU_SCALE : 1.0f;

	/* Layer l + 1 of FANN (0 is the input) is layer l here. Each neuron's
	 * connections run to every neuron of the layer before, whose last
	 * neuron is the bias (constant 1). */
	for (size_t l = 0; l < net->n_layers; l++) {
		struct fann_layer *layer = f->ann->first_layer + l + 1;
		struct fann_neuron *prev = (layer - 1)->first_neuron;
		size_t n_in = net->sizes[l];
		float in_scale = l > 0 && net->acts[l - 1] == MLP_RELU ? RELU_SCALE : 1.0f;
		enum fann_activationfunc_enum fa = FANN_LINEAR;
		float s = 1.0f;

		fann_act(net->acts[l], &fa, &s);
		fann_set_activation_function_layer(f->ann, fa, (int)l + 1);
		fann_set_activation_steepness_layer(f->ann, s, (int)l + 1);
		for (size_t i = 0; i < net->sizes[l + 1]; i++) {
			struct fann_neuron *neuron = layer->first_neuron + i;

			for (unsigned int c = neuron->first_con; c < neuron->last_con; c++) {
				size_t j = (size_t)(f->ann->connections[c] - prev);

				f->ann->weights[c] = j < n_in ? net->W[l][i * n_in + j] * in_scale
							      : net->b[l][i];
			}
		}
	}
	return f;
}

void fann_net_forward(struct fann_net *f, size_t batch, const float *X, float *Y)
{
	for (size_t r = 0; r < batch; r++) {
		const fann_type *out = fann_run(f->ann, (fann_type *)(X + r * f->n_in));
		float *y = Y + r * f->n_out;

		for (size_t i = 0; i < f->n_out; i++)
			y[i] = out[i] * f->out_scale;
	}
}

void fann_net_free(struct fann_net *f)
{
	if (f != NULL) {
		fann_destroy(f->ann);
		free(f);
	}
}

#else /* no FANN */

bool fann_available(void)
{
	return false;
}

struct fann_net *fann_net_create(const struct bench_net *net)
{
	(void)net;
	return NULL;
}

void fann_net_forward(struct fann_net *f, size_t batch, const float *X, float *Y)
{
	(void)f, (void)batch, (void)X, (void)Y;
}

void fann_net_free(struct fann_net *f)
{
	(void)f;
}

#endif
