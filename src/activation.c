/*
 * activation.c — activation functions, applied with the bias in one pass.
 *
 * Each function is written so that no intermediate overflows for any finite
 * input: sigmoid uses exp(-|x|) ≤ 1, softmax subtracts the row maximum,
 * GELU uses erfc so that x·Φ(x) keeps its relative accuracy for negative x.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__)
#define MLPI_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MLPI_ALWAYS_INLINE inline
#endif

/* The passes over Y are compiled for the baseline ISA and for AVX2 and
 * AVX-512, picked when the library loads (an ifunc): the baseline's 4-wide
 * SSE loops took as long as a small layer's sgemm. */
#if defined(MLP_HAVE_TARGET_CLONES)
#define MLPI_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define MLPI_CLONES
#endif

static const char *const act_names[MLP_ACT_COUNT] = {
	[MLP_IDENTITY] = "identity",   [MLP_RELU] = "relu",
	[MLP_LEAKY_RELU] = "leaky_relu", [MLP_SIGMOID] = "sigmoid",
	[MLP_TANH] = "tanh",           [MLP_GELU] = "gelu",
	[MLP_GELU_TANH] = "gelu_tanh", [MLP_SILU] = "silu",
	[MLP_SOFTMAX] = "softmax",
};

const char *mlp_act_name(mlp_act act)
{
	return mlpi_act_valid(act) ? act_names[act] : NULL;
}

mlp_status mlp_act_parse(const char *name, mlp_act *out)
{
	if (name == NULL || out == NULL)
		return MLP_ENULL;
	for (int a = 0; a < MLP_ACT_COUNT; a++) {
		if (strcmp(name, act_names[a]) == 0) {
			*out = (mlp_act)a;
			return MLP_OK;
		}
	}
	return MLP_EACT;
}

/* sigmoid(x) = 1 / (1 + e^-x). With e = e^-|x| ≤ 1 nothing overflows:
 * x ≥ 0 gives 1 / (1 + e), x < 0 gives e / (1 + e). */
static MLPI_ALWAYS_INLINE float sigmoid(float x)
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
static MLPI_ALWAYS_INLINE float act_sigmoid(float x) { return sigmoid(x); }
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
	return x * sigmoid(2.0f * u);
}

static MLPI_ALWAYS_INLINE float act_silu(float x) { return x * sigmoid(x); }

/* Y = f(Y + 1·bᵀ) for an element-wise f, one pass. Inlined per f so that
 * each loop is compiled (and vectorised) for its function. Without a bias
 * the rows are one contiguous run: one loop, not one per row. */
static MLPI_ALWAYS_INLINE void rows_apply(size_t rows, size_t n,
					  const float *restrict b,
					  float *restrict Y, float (*f)(float))
{
	if (b == NULL) {
		for (size_t i = 0; i < rows * n; i++)
			Y[i] = f(Y[i]);
		return;
	}
	for (size_t r = 0; r < rows; r++) {
		float *restrict y = Y + r * n;

		for (size_t j = 0; j < n; j++)
			y[j] = f(y[j] + b[j]);
	}
}

/* softmax(z)_j = e^(z_j - m) / Σ_k e^(z_k - m), m = max_k z_k, per row:
 * every exponent is ≤ 0 and the sum is ≥ 1. */
static void rows_softmax(size_t rows, size_t n, const float *b, float *Y)
{
	for (size_t r = 0; r < rows; r++) {
		float *restrict y = Y + r * n;
		float m, sum = 0.0f;

		if (b != NULL) {
			for (size_t j = 0; j < n; j++)
				y[j] += b[j];
		}
		m = y[0];
		for (size_t j = 1; j < n; j++)
			m = y[j] > m ? y[j] : m;
		for (size_t j = 0; j < n; j++) {
			y[j] = expf(y[j] - m);
			sum += y[j];
		}
		float inv = 1.0f / sum;
		for (size_t j = 0; j < n; j++)
			y[j] *= inv;
	}
}

/* b into the first row, then the filled rows copied onto the next ones,
 * doubling: log₂(rows) copies, each one contiguous run, rather than one
 * short copy per row when rows are narrow. */
void mlpi_bias_fill(size_t rows, size_t n, const float *restrict b,
		    float *restrict Y)
{
	size_t done = 1;

	memcpy(Y, b, n * sizeof(float));
	while (done < rows) {
		size_t copy = done < rows - done ? done : rows - done;

		memcpy(Y + done * n, Y, copy * n * sizeof(float));
		done += copy;
	}
}

MLPI_CLONES
void mlpi_bias_act(mlp_act act, size_t rows, size_t n, const float *b, float *Y)
{
	switch (act) {
	case MLP_IDENTITY:
		if (b != NULL)
			rows_apply(rows, n, b, Y, act_identity);
		break;
	case MLP_RELU:
		rows_apply(rows, n, b, Y, act_relu);
		break;
	case MLP_LEAKY_RELU:
		rows_apply(rows, n, b, Y, act_leaky_relu);
		break;
	case MLP_SIGMOID:
		rows_apply(rows, n, b, Y, act_sigmoid);
		break;
	case MLP_TANH:
		rows_apply(rows, n, b, Y, act_tanh);
		break;
	case MLP_GELU:
		rows_apply(rows, n, b, Y, act_gelu);
		break;
	case MLP_GELU_TANH:
		rows_apply(rows, n, b, Y, act_gelu_tanh);
		break;
	case MLP_SILU:
		rows_apply(rows, n, b, Y, act_silu);
		break;
	case MLP_SOFTMAX:
		rows_softmax(rows, n, b, Y);
		break;
	case MLP_ACT_COUNT:
		break;
	}
}
