/*
 * quant.c — int8 networks: quantising a float network (weight scales per
 * output, input scales calibrated on rows), the int8 block a network
 * carries, and the reference int8 chain mlp_quant_compare runs, which
 * every int8 kernel matches bit for bit (quant.h).
 */
#include "dense.h"
#include "quant.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

mlp_status mlpi_quant_attach(mlp_net *net, const int8_t *const *Wq,
			     const float *const *w_scale, const float *in_scale)
{
	mlp_status st = mlpi_quant_alloc(net);

	if (st != MLP_OK)
		return st;
	for (size_t l = 0; l < net->n_layers; l++) {
		struct mlp_layer *ly = &net->layers[l];

		memcpy((int8_t *)ly->Wq, Wq[l], ly->n_out * ly->n_in);
		memcpy((float *)ly->w_scale, w_scale[l], ly->n_out * sizeof(float));
		ly->in_scale = in_scale[l];
		for (size_t i = 0; i < ly->n_out; i++)
			for (size_t k = 0; k < ly->n_in; k++)
				ly->W[i * ly->n_in + k] =
					(float)ly->Wq[i * ly->n_in + k] * ly->w_scale[i];
	}
	return MLP_OK;
}

mlp_status mlp_quantize_opts_init(mlp_quantize_opts *opts, size_t struct_size)
{
	mlp_quantize_opts full = {
		.struct_size = sizeof(full), .method = MLP_CALIBRATE_PERCENTILE,
		.percentile = 99.99,
	};

	if (opts == NULL)
		return MLP_ENULL;
	if (struct_size != sizeof(full))
		return MLP_EINVAL;
	*opts = full;
	return MLP_OK;
}

/* A scale for values up to v: v / 127, within [2^-48, 2^48], the
 * bounds a file holds to (docs/model-files.md): values below 2^-48 · 127
 * are all but zero, values beyond 2^48 · 127 clip. */
static float scale_for(double v)
{
	float s = (float)(v / 127.0);

	return s > 0x1p-48f ? (s < 0x1p48f ? s : 0x1p48f) : 0x1p-48f;
}

/* Weights of a row as int8 with their scale, and back: W = q · s. */
static void quantize_weights(struct mlp_layer *ly)
{
	for (size_t i = 0; i < ly->n_out; i++) {
		float *w = ly->W + i * ly->n_in, m = 0;
		int8_t *q = (int8_t *)ly->Wq + i * ly->n_in;
		float s, inv;

		for (size_t k = 0; k < ly->n_in; k++)
			m = fabsf(w[k]) > m ? fabsf(w[k]) : m;
		s = scale_for(m);
		inv = 1.0f / s;
		((float *)ly->w_scale)[i] = s;
		for (size_t k = 0; k < ly->n_in; k++) {
			q[k] = (int8_t)mlpi_q8(w[k], inv);
			w[k] = (float)q[k] * s;
		}
	}
}

static int by_value(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* The input scale of a layer from its n inputs at X (overwritten). */
static float calibrate(float *X, size_t n, const mlp_quantize_opts *o)
{
	double top = 0;

	for (size_t i = 0; i < n; i++) {
		X[i] = fabsf(X[i]);
		top = X[i] > top ? X[i] : top;
	}
	if (o->method == MLP_CALIBRATE_PERCENTILE && o->percentile < 100) {
		/* The smallest value at or above the percentile's share. */
		size_t k = (size_t)ceil(o->percentile / 100.0 * (double)n);

		qsort(X, n, sizeof(float), by_value);
		top = X[k > 0 ? k - 1 : 0];
	}
	return scale_for(top);
}

static mlp_status check_quantize_opts(const mlp_quantize_opts *o, mlp_msg *msg)
{
	if (o->struct_size != sizeof(*o))
		return mlpi_fail(msg, MLP_EINVAL, "opts->struct_size is %zu: opts "
				 "must come from mlp_quantize_defaults",
				 o->struct_size);
	if (o->method != MLP_CALIBRATE_PERCENTILE && o->method != MLP_CALIBRATE_MAX)
		return mlpi_fail(msg, MLP_EINVAL, "method %d is neither "
				 "MLP_CALIBRATE_PERCENTILE nor MLP_CALIBRATE_MAX",
				 (int)o->method);
	if (o->method == MLP_CALIBRATE_PERCENTILE &&
	    !(o->percentile > 50 && o->percentile <= 100))
		return mlpi_fail(msg, MLP_EINVAL, "percentile %g is not in (50, "
				 "100]", o->percentile);
	return MLP_OK;
}

mlp_status mlp_net_quantize(mlp_net **out, const mlp_net *net, size_t rows,
			    const float *X, const mlp_quantize_opts *opts,
			    mlp_msg *msg)
{
	mlp_quantize_opts defaults = mlp_quantize_defaults();
	const mlp_quantize_opts *o = opts != NULL ? opts : &defaults;
	size_t width = 0, cells;
	float *cur = NULL, *next = NULL, *abs = NULL;
	mlp_net *q = NULL;
	mlp_status st;

	if (out == NULL || net == NULL || X == NULL)
		return mlpi_fail(msg, MLP_ENULL, "out, net and X may not be NULL");
	st = check_quantize_opts(o, msg);
	if (st != MLP_OK)
		return st;
	if (rows == 0)
		return mlpi_fail(msg, MLP_ESIZE, "no calibration rows");
	if (rows > MLP_MAX_BATCH)
		return mlpi_fail(msg, MLP_ETOOBIG, "%zu calibration rows are above "
				 "MLP_MAX_BATCH", rows);
	for (size_t l = 0; l <= net->n_layers; l++)
		width = net->sizes[l] > width ? net->sizes[l] : width;
	if (!mlpi_mul(rows, width, &cells) || cells > SIZE_MAX / 3 / sizeof(float))
		return mlpi_fail(msg, MLP_ETOOBIG, "%zu rows of %zu values are too "
				 "many", rows, width);
	if (!mlpi_all_finite(rows * net->sizes[0], X))
		return mlpi_fail(msg, MLP_ENONFINITE, "a calibration row holds NaN "
				 "or infinity");
	cur = malloc(cells * sizeof(float));
	next = malloc(cells * sizeof(float));
	abs = malloc(cells * sizeof(float));
	st = cur && next && abs ? mlp_net_clone(&q, net) : MLP_ENOMEM;
	if (st == MLP_OK)
		st = mlpi_quant_alloc(q);
	if (st != MLP_OK) {
		mlp_net_free(q);
		free(cur);
		free(next);
		free(abs);
		return mlpi_fail(msg, st, "out of memory");
	}
	/* Each layer's inputs are the float network's, from the layer
	 * before; the weights are quantised once they have been used. */
	memcpy(cur, X, rows * net->sizes[0] * sizeof(float));
	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *f = &net->layers[l];
		struct mlp_layer *ly = &q->layers[l];
		float *t;

		memcpy(abs, cur, rows * f->n_in * sizeof(float));
		ly->in_scale = calibrate(abs, rows * f->n_in, o);
		if (l + 1 < net->n_layers) {
			mlpi_dense(rows, f->n_in, f->n_out, f->W, f->b, f->act, cur, next);
			t = cur;
			cur = next;
			next = t;
		}
		quantize_weights(ly);
	}
	free(cur);
	free(next);
	free(abs);
	/* The float weights were written after the block was made. */
	mlpi_net_changed(q);
	q->quant_version = mlpi_net_version(q);
	*out = q;
	mlpi_msg_clear(msg);
	return MLP_OK;
}

int mlp_net_quantized(const mlp_net *net)
{
	return net != NULL && mlpi_net_quantized(net);
}

mlp_status mlp_net_quant_scales(const mlp_net *net, size_t layer,
				float *input_scale, float *weight_scales)
{
	if (net == NULL || input_scale == NULL)
		return MLP_ENULL;
	if (!mlpi_net_quantized(net))
		return MLP_EINVAL;
	if (layer >= net->n_layers)
		return MLP_ESIZE;
	*input_scale = net->layers[layer].in_scale;
	if (weight_scales != NULL)
		memcpy(weight_scales, net->layers[layer].w_scale,
		       net->layers[layer].n_out * sizeof(float));
	return MLP_OK;
}

void mlpi_int8_reference(const struct mlp_layer *ly, size_t rows,
			 const float *X, float *Y, int8_t *xq,
			 uint64_t *clipped)
{
	float inv = 1.0f / ly->in_scale;

	for (size_t r = 0; r < rows; r++) {
		const float *x = X + r * ly->n_in;
		float *y = Y + r * ly->n_out;

		for (size_t k = 0; k < ly->n_in; k++) {
			xq[k] = (int8_t)mlpi_q8(x[k], inv);
			*clipped += mlpi_q8_clips(x[k], inv);
		}
		for (size_t i = 0; i < ly->n_out; i++) {
			const int8_t *w = ly->Wq + i * ly->n_in;
			int64_t sum = 0;

			for (size_t k = 0; k < ly->n_in; k++)
				sum += (int32_t)w[k] * xq[k];
			y[i] = mlpi_q8_out((int32_t)sum, mlpi_q8_scale(ly, i), ly->b[i]);
		}
	}
	mlpi_bias_act(ly->act, rows, ly->n_out, NULL, Y);
}

/* Sums of a comparison, per layer. */
struct sums {
	double diff2, ref2, max_abs;
	uint64_t clipped;
};

static void compare_chunk(const mlp_net *q, const mlp_net *ref, size_t rows,
			  const float *X, float **buf, int8_t *xq,
			  struct sums *s)
{
	const float *in_q = X, *in_f = X;

	for (size_t l = 0; l < q->n_layers; l++) {
		const struct mlp_layer *ly = &q->layers[l], *f = &ref->layers[l];
		float *out_q = buf[l % 2 * 2], *out_f = buf[l % 2 * 2 + 1];

		mlpi_int8_reference(ly, rows, in_q, out_q, xq, &s[l].clipped);
		mlpi_dense(rows, f->n_in, f->n_out, f->W, f->b, f->act, in_f, out_f);
		for (size_t i = 0; i < rows * ly->n_out; i++) {
			double d = (double)out_q[i] - out_f[i];

			s[l].diff2 += d * d;
			s[l].ref2 += (double)out_f[i] * out_f[i];
			s[l].max_abs = fabs(d) > s[l].max_abs ? fabs(d) : s[l].max_abs;
		}
		in_q = out_q;
		in_f = out_f;
	}
}

mlp_status mlp_quant_compare(const mlp_net *qnet, const mlp_net *ref,
			     size_t rows, const float *X, mlp_quant_error *err,
			     size_t n_err)
{
	enum { CHUNK = 256 };
	size_t width = 0, n_in;
	float *buf[4] = { NULL };
	int8_t *xq;
	struct sums *s;
	mlp_status st = MLP_OK;

	if (qnet == NULL || X == NULL || err == NULL)
		return MLP_ENULL;
	if (!mlpi_net_quantized(qnet))
		return MLP_EINVAL;
	ref = ref != NULL ? ref : qnet;
	if (n_err != qnet->n_layers || ref->n_layers != qnet->n_layers)
		return MLP_ESIZE;
	for (size_t l = 0; l <= qnet->n_layers; l++) {
		if (ref->sizes[l] != qnet->sizes[l])
			return MLP_ESIZE;
		width = qnet->sizes[l] > width ? qnet->sizes[l] : width;
	}
	if (rows == 0)
		return MLP_ESIZE;
	n_in = qnet->sizes[0];
	if (rows > MLP_MAX_BATCH || n_in > SIZE_MAX / sizeof(float) / rows)
		return MLP_ETOOBIG;
	if (!mlpi_all_finite(rows * n_in, X))
		return MLP_ENONFINITE;
	for (int i = 0; i < 4; i++)
		buf[i] = malloc(CHUNK * width * sizeof(float));
	xq = malloc(width);
	s = calloc(qnet->n_layers, sizeof(*s));
	if (buf[0] && buf[1] && buf[2] && buf[3] && xq && s) {
		for (size_t r = 0; r < rows; r += CHUNK)
			compare_chunk(qnet, ref, rows - r < CHUNK ? rows - r : CHUNK,
				      X + r * n_in, buf, xq, s);
		for (size_t l = 0; l < qnet->n_layers; l++) {
			err[l].rel_rms = s[l].ref2 > 0 ? sqrt(s[l].diff2 / s[l].ref2)
						       : sqrt(s[l].diff2);
			err[l].max_abs = s[l].max_abs;
			err[l].clipped = s[l].clipped;
			err[l].inputs = (uint64_t)rows * qnet->layers[l].n_in;
		}
	} else {
		st = MLP_ENOMEM;
	}
	for (int i = 0; i < 4; i++)
		free(buf[i]);
	free(xq);
	free(s);
	return st;
}
