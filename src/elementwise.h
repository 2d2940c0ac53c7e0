/*
 * elementwise.h — the element-wise activation functions, inline, for the
 * passes over a layer's outputs (activation.c) and the small-layer path of
 * the W·X+B step (dense.c).
 *
 * Each is written so that no intermediate overflows for any finite input:
 * sigmoid uses exp(-|x|) ≤ 1, GELU uses erfc so that x·Φ(x) keeps its
 * relative accuracy for negative x.
 */
#ifndef MLP_ELEMENTWISE_H
#define MLP_ELEMENTWISE_H

#include "mlp.h"

#include <math.h>

#if defined(__GNUC__)
#define MLPI_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MLPI_ALWAYS_INLINE inline
#endif

/* stable_sigmoid(x) = 1 / (1 + e^-x). With e = e^-|x| ≤ 1 nothing overflows:
 * x ≥ 0 gives 1 / (1 + e), x < 0 gives e / (1 + e). */
static MLPI_ALWAYS_INLINE float stable_sigmoid(float x)
{
	float e = expf(-fabsf(x));
	float s = 1.0f / (1.0f + e);
	return x >= 0.0f ? s : e * s;
}

static MLPI_ALWAYS_INLINE float act_identity(float x) { return x; }
static MLPI_ALWAYS_INLINE float act_relu(float x) { return x > 0.0f ? x : 0.0f; }
static MLPI_ALWAYS_INLINE float act_leaky_relu(float x)
{
	return x > 0.0f ? x : MLP_LEAKY_RELU_SLOPE * x;
}
static MLPI_ALWAYS_INLINE float act_sigmoid(float x) { return stable_sigmoid(x); }
static MLPI_ALWAYS_INLINE float act_tanh(float x) { return tanhf(x); }

/* GELU(x) = x·Φ(x) with Φ(x) = erfc(-x/√2) / 2: the same function as
 * 0.5·x·(1 + erf(x/√2)) without its cancellation for negative x. */
static MLPI_ALWAYS_INLINE float act_gelu(float x)
{
	return 0.5f * x * erfcf(-x * 0.70710678118654752f);
}

/* 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), u = √(2/π)·(x + 0.044715·x³). */
static MLPI_ALWAYS_INLINE float act_gelu_tanh(float x)
{
	float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
	return x * stable_sigmoid(2.0f * u);
}

static MLPI_ALWAYS_INLINE float act_silu(float x) { return x * stable_sigmoid(x); }

/* act(x) for an element-wise activation (softmax: x unchanged). */
static MLPI_ALWAYS_INLINE float mlpi_act1(mlp_act act, float x)
{
	switch (act) {
	case MLP_RELU:
		return act_relu(x);
	case MLP_LEAKY_RELU:
		return act_leaky_relu(x);
	case MLP_SIGMOID:
		return act_sigmoid(x);
	case MLP_TANH:
		return act_tanh(x);
	case MLP_GELU:
		return act_gelu(x);
	case MLP_GELU_TANH:
		return act_gelu_tanh(x);
	case MLP_SILU:
		return act_silu(x);
	default:
		return x;
	}
}

/* ---- derivatives, for backpropagation: act'(z), given z and a = act(z) ----
 * Those that follow from a alone ignore z (which may then be garbage). */

static MLPI_ALWAYS_INLINE float dact_relu(float z, float a)
{
	(void)z;
	return a > 0.0f ? 1.0f : 0.0f;
}

/* a > 0 exactly when z > 0: the slope is positive. */
static MLPI_ALWAYS_INLINE float dact_leaky_relu(float z, float a)
{
	(void)z;
	return a > 0.0f ? 1.0f : MLP_LEAKY_RELU_SLOPE;
}

static MLPI_ALWAYS_INLINE float dact_sigmoid(float z, float a)
{
	(void)z;
	return a * (1.0f - a);
}

static MLPI_ALWAYS_INLINE float dact_tanh(float z, float a)
{
	(void)z;
	return 1.0f - a * a;
}

/* d/dz z·Φ(z) = Φ(z) + z·φ(z), φ(z) = e^(−z²/2) / √(2π). */
static MLPI_ALWAYS_INLINE float dact_gelu(float z, float a)
{
	(void)a;
	return 0.5f * erfcf(-z * 0.70710678118654752f) +
	       z * 0.39894228040143268f * expf(-0.5f * z * z);
}

/* d/dz z·s with s = sigmoid(2u), u = k(z + c·z³):
 * s + z·2s(1 − s)·k(1 + 3c·z²). */
static MLPI_ALWAYS_INLINE float dact_gelu_tanh(float z, float a)
{
	const float k = 0.79788456080286536f, c = 0.044715f;
	float s = stable_sigmoid(2.0f * k * (z + c * z * z * z));

	(void)a;
	return s + z * 2.0f * s * (1.0f - s) * k * (1.0f + 3.0f * c * z * z);
}

/* d/dz z·s(z) = s + z·s(1 − s). */
static MLPI_ALWAYS_INLINE float dact_silu(float z, float a)
{
	float s = stable_sigmoid(z);

	(void)a;
	return s + z * s * (1.0f - s);
}

/* Whether act' needs z, not only a = act(z). */
static inline int mlpi_act_needs_z(mlp_act act)
{
	return act == MLP_GELU || act == MLP_GELU_TANH || act == MLP_SILU;
}

#endif /* MLP_ELEMENTWISE_H */
