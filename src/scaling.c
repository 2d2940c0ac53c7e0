/*
 * scaling.c — standardisation kept with a network: the means and standard
 * deviations its inputs were scaled by for training (and its targets, for
 * a regression), so that raw rows go in and outputs in the targets' units
 * come out. Saved and loaded with the network ("scaling.*" tensors,
 * safetensors.c); applied by the calls below, never by the forward pass.
 */
#include "net.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t n_in(const mlp_net *net)
{
	return net->sizes[0];
}

static size_t n_out(const mlp_net *net)
{
	return net->sizes[net->n_layers];
}

/* MLP_OK when both of a pair are given or neither (*given says which),
 * the means finite and the deviations finite normal floats, at least
 * FLT_MIN (2^-126): below it, a subnormal, 1/std overflows, and so would
 * the standardised value of any input a unit from the mean. */
static mlp_status check_pair(const float *mean, const float *std, size_t n,
			     bool *given)
{
	*given = mean != NULL;
	if ((mean == NULL) != (std == NULL))
		return MLP_ENULL;
	if (mean == NULL)
		return MLP_OK;
	if (!mlpi_all_finite(n, mean) || !mlpi_all_finite(n, std))
		return MLP_ENONFINITE;
	for (size_t i = 0; i < n; i++)
		if (!(std[i] >= FLT_MIN))
			return MLP_EINVAL;
	return MLP_OK;
}

mlp_status mlp_net_set_scaling(mlp_net *net, const float *in_mean,
			       const float *in_std, const float *out_mean,
			       const float *out_std)
{
	size_t a, b;
	bool has_in, has_out;
	mlp_status st;
	float *s;

	if (net == NULL)
		return MLP_ENULL;
	a = n_in(net);
	b = n_out(net);
	st = check_pair(in_mean, in_std, a, &has_in);
	if (st == MLP_OK)
		st = check_pair(out_mean, out_std, b, &has_out);
	if (st != MLP_OK)
		return st;
	s = net->scaling;
	if (s == NULL && (has_in || has_out)) {
		s = malloc(2 * (a + b) * sizeof(float));
		if (s == NULL)
			return MLP_ENOMEM;
	}
	if (has_in) {
		memmove(s, in_mean, a * sizeof(float));
		memmove(s + a, in_std, a * sizeof(float));
	}
	if (has_out) {
		memmove(s + 2 * a, out_mean, b * sizeof(float));
		memmove(s + 2 * a + b, out_std, b * sizeof(float));
	}
	if (!has_in && !has_out) {
		free(s);
		s = NULL;
	}
	net->scaling = s;
	net->has_in = has_in;
	net->has_out = has_out;
	return MLP_OK;
}

mlp_status mlp_net_get_scaling(const mlp_net *net, const float **in_mean,
			       const float **in_std, const float **out_mean,
			       const float **out_std)
{
	const float *s;
	size_t a;

	if (net == NULL || in_mean == NULL || in_std == NULL ||
	    out_mean == NULL || out_std == NULL)
		return MLP_ENULL;
	s = net->scaling;
	a = n_in(net);
	*in_mean = net->has_in ? s : NULL;
	*in_std = net->has_in ? s + a : NULL;
	*out_mean = net->has_out ? s + 2 * a : NULL;
	*out_std = net->has_out ? s + 2 * a + n_out(net) : NULL;
	return MLP_OK;
}

mlp_status mlp_net_scale_inputs(const mlp_net *net, size_t batch,
				const float *X, float *out)
{
	size_t a, bytes;

	if (net == NULL || X == NULL || out == NULL)
		return MLP_ENULL;
	if (batch == 0)
		return MLP_ESIZE;
	a = n_in(net);
	if (!mlpi_mul(batch, a * sizeof(float), &bytes))
		return MLP_ETOOBIG;
	if (X != out && mlpi_overlap(X, bytes, out, bytes))
		return MLP_EINVAL;
	if (!net->has_in) {
		memmove(out, X, bytes);
		return MLP_OK;
	}
	/* Checked first, written after: out may be X. */
	for (size_t r = 0; r < batch; r++)
		for (size_t i = 0; i < a; i++)
			if (!isfinite((X[r * a + i] - net->scaling[i]) /
				      net->scaling[a + i]))
				return MLP_ENONFINITE;
	for (size_t r = 0; r < batch; r++)
		for (size_t i = 0; i < a; i++)
			out[r * a + i] = (X[r * a + i] - net->scaling[i]) /
					 net->scaling[a + i];
	return MLP_OK;
}

mlp_status mlp_net_unscale_outputs(const mlp_net *net, size_t batch, float *Y)
{
	size_t a, b, bytes;

	if (net == NULL || Y == NULL)
		return MLP_ENULL;
	if (batch == 0)
		return MLP_ESIZE;
	a = n_in(net);
	b = n_out(net);
	if (!mlpi_mul(batch, b * sizeof(float), &bytes))
		return MLP_ETOOBIG;
	if (!net->has_out)
		return MLP_OK;
	for (size_t r = 0; r < batch; r++)
		for (size_t j = 0; j < b; j++)
			if (!isfinite(Y[r * b + j] * net->scaling[2 * a + b + j] +
				      net->scaling[2 * a + j]))
				return MLP_ENONFINITE;
	for (size_t r = 0; r < batch; r++)
		for (size_t j = 0; j < b; j++)
			Y[r * b + j] = Y[r * b + j] * net->scaling[2 * a + b + j] +
				       net->scaling[2 * a + j];
	return MLP_OK;
}

mlp_status mlpi_scaling_copy(mlp_net *dst, const mlp_net *src)
{
	const float *im, *is, *om, *os;
	mlp_status st = mlp_net_get_scaling(src, &im, &is, &om, &os);

	return st != MLP_OK ? st : mlp_net_set_scaling(dst, im, is, om, os);
}
