/* naive.c — the baseline, kept deliberately plain: see impls.h. */
#include "impls.h"

#include <math.h>

static float act(mlp_act a, float x)
{
	switch (a) {
	case MLP_RELU:
		return x > 0 ? x : 0;
	case MLP_LEAKY_RELU:
		return x > 0 ? x : 0.01f * x;
	case MLP_SIGMOID:
		return 1 / (1 + expf(-x));
	case MLP_TANH:
		return tanhf(x);
	case MLP_GELU:
		return 0.5f * x * (1 + erff(x / sqrtf(2)));
	case MLP_GELU_TANH:
		return 0.5f * x * (1 + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
	case MLP_SILU:
		return x / (1 + expf(-x));
	default:
		return x;
	}
}

/* One layer: y_i = act(b_i + Σ_j w_ij·x_j) for every sample. */
static void layer(size_t batch, size_t n_in, size_t n_out, const float *W,
		  const float *b, mlp_act a, const float *X, float *Y)
{
	for (size_t r = 0; r < batch; r++) {
		const float *x = X + r * n_in;
		float *y = Y + r * n_out;

		for (size_t i = 0; i < n_out; i++) {
			float sum = b[i];

			for (size_t j = 0; j < n_in; j++)
				sum += W[i * n_in + j] * x[j];
			y[i] = act(a, sum);
		}
		if (a == MLP_SOFTMAX) {
			float max = y[0], total = 0;

			for (size_t i = 1; i < n_out; i++)
				max = y[i] > max ? y[i] : max;
			for (size_t i = 0; i < n_out; i++) {
				y[i] = expf(y[i] - max);
				total += y[i];
			}
			for (size_t i = 0; i < n_out; i++)
				y[i] /= total;
		}
	}
}

void naive_forward(const struct bench_net *net, size_t batch, const float *X,
		   float *Y, float *const tmp[2])
{
	const float *in = X;

	for (size_t l = 0; l < net->n_layers; l++) {
		float *out = l + 1 == net->n_layers ? Y : tmp[l % 2];

		layer(batch, net->sizes[l], net->sizes[l + 1], net->W[l], net->b[l],
		      net->acts[l], in, out);
		in = out;
	}
}
