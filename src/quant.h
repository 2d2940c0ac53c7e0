/*
 * quant.h — the arithmetic every int8 path shares (quant.c, kernel_int8.c),
 * so that each computes the same bits: how a float becomes int8, and how
 * an exact integer sum becomes a float output again.
 */
#ifndef MLP_QUANT_H
#define MLP_QUANT_H

#include "net.h"

#include <math.h>

/* Inputs wider than this are left to float kernels: the int8 sums of
 * u8 × s8 products (kernel_int8.c adds 128 to each input) then stay
 * below 2^31 (65,536 · 255 · 127). */
#define MLPI_INT8_MAX_IN 65536u

/* x at 1/scale = inv, rounded to the nearest (ties to even) within
 * [-127, 127]. A NaN becomes -127, as the vector forms do (max, then
 * min, each giving the second operand for a NaN). */
static inline int mlpi_q8(float x, float inv)
{
	float v = x * inv;

	v = v > -127.0f ? v : -127.0f;
	v = v < 127.0f ? v : 127.0f;
	return (int)nearbyintf(v);
}

/* Whether x clips at 1/scale = inv: it would round beyond ±127. */
static inline bool mlpi_q8_clips(float x, float inv)
{
	return fabsf(x * inv) >= 127.5f;
}

/* An output from its exact integer sum: sum · (in_scale · w_scale) + b,
 * in one rounding, as a vector FMA computes it. */
static inline float mlpi_q8_out(int32_t sum, float scale, float b)
{
	return fmaf((float)sum, scale, b);
}

/* layer's scale of output i's sum: in_scale · w_scale[i]. */
static inline float mlpi_q8_scale(const struct mlp_layer *layer, size_t i)
{
	return layer->in_scale * layer->w_scale[i];
}

/* Rows of X through layer's int8 weights into Y, as every int8 kernel
 * computes them; xq holds n_in bytes of scratch; the inputs that clip
 * are added to *clipped. */
void mlpi_int8_reference(const struct mlp_layer *layer, size_t rows,
			 const float *X, float *Y, int8_t *xq,
			 uint64_t *clipped);

/* Makes net quantised: per layer its int8 weights Wq[l], their scales
 * w_scale[l] and its input scale in_scale[l], all checked by the caller;
 * the float weights become Wq · w_scale. MLP_ENOMEM with net unchanged. */
mlp_status mlpi_quant_attach(mlp_net *net, const int8_t *const *Wq,
			     const float *const *w_scale, const float *in_scale);

#endif /* MLP_QUANT_H */
