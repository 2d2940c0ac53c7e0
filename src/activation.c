/*
 * activation.c — activation names, and the passes that apply an activation
 * (with the bias) over a layer's outputs. The element-wise functions are in
 * elementwise.h; softmax, which works across a row, is here.
 */
#include "elementwise.h"
#include "dense.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


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

/* The activation whose name is the len bytes at s; MLP_ACT_COUNT if none. */
static mlp_act act_named(const char *s, size_t len)
{
	for (int a = 0; a < MLP_ACT_COUNT; a++)
		if (strlen(act_names[a]) == len && memcmp(s, act_names[a], len) == 0)
			return (mlp_act)a;
	return MLP_ACT_COUNT;
}

mlp_status mlp_act_parse(const char *name, mlp_act *out)
{
	mlp_act a;

	if (name == NULL || out == NULL)
		return MLP_ENULL;
	a = act_named(name, strlen(name));
	if (a == MLP_ACT_COUNT)
		return MLP_EACT;
	*out = a;
	return MLP_OK;
}

/* "identity, relu, ...": every name, for messages. */
static void list_names(char *out, size_t size)
{
	size_t at = 0;

	for (int a = 0; a < MLP_ACT_COUNT && at < size; a++)
		at += (size_t)snprintf(out + at, size - at, "%s%s",
				       a > 0 ? ", " : "", act_names[a]);
}

/* One pass over a list: checks every item and counts them, and stores
 * them when acts is not NULL. */
static mlp_status parse_list(const char *list, mlp_act *acts, size_t max,
			     size_t *count, mlp_msg *msg)
{
	const char *s = list;
	size_t n = 0;

	for (;;) {
		size_t len = strcspn(s, ",");
		mlp_act a = act_named(s, len);

		if (a == MLP_ACT_COUNT) {
			char names[160];

			list_names(names, sizeof(names));
			return mlpi_fail(msg, MLP_EACT,
					 "item %zu, '%.*s', is not an activation "
					 "(%s)", n + 1, len < 40 ? (int)len : 40, s,
					 names);
		}
		if (n == max)
			return mlpi_fail(msg, MLP_ESIZE,
					 "the list names more than %zu activations",
					 max);
		if (acts != NULL)
			acts[n] = a;
		n++;
		if (s[len] != ',')
			break;
		s += len + 1;
	}
	*count = n;
	return MLP_OK;
}

mlp_status mlp_act_parse_list(const char *list, mlp_act *acts, size_t max,
			      size_t *count, mlp_msg *msg)
{
	size_t n;
	mlp_status st;

	if (list == NULL || acts == NULL || count == NULL)
		return mlpi_fail(msg, MLP_ENULL, "%s is NULL",
				 list == NULL ? "list" : acts == NULL ? "acts"
								      : "count");
	/* Checked whole first, so that a failure writes nothing. */
	st = parse_list(list, NULL, max, &n, msg);
	if (st != MLP_OK)
		return st;
	parse_list(list, acts, max, count, msg);
	mlpi_msg_clear(msg);
	return MLP_OK;
}

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

/* ---- backward ---------------------------------------------------------- */

/* dA ← dA ⊙ act'(Z), elementwise over a contiguous run. */
static MLPI_ALWAYS_INLINE void grad_apply(size_t count, const float *restrict Z,
					  const float *restrict A,
					  float *restrict dA,
					  float (*df)(float, float))
{
	for (size_t i = 0; i < count; i++)
		dA[i] *= df(Z != NULL ? Z[i] : 0.0f, A[i]);
}

/* Softmax: dz_j = a_j·(da_j − Σ_k da_k·a_k), per row. */
static void softmax_backward(size_t rows, size_t n, const float *A, float *dA)
{
	for (size_t r = 0; r < rows; r++) {
		const float *a = A + r * n;
		float *d = dA + r * n;
		float dot = 0.0f;

		for (size_t j = 0; j < n; j++)
			dot += d[j] * a[j];
		for (size_t j = 0; j < n; j++)
			d[j] = a[j] * (d[j] - dot);
	}
}

MLPI_CLONES
void mlpi_act_backward(mlp_act act, size_t rows, size_t n, const float *Z,
		       const float *A, float *dA)
{
	size_t count = rows * n;

	switch (act) {
	case MLP_IDENTITY:
		break;
	case MLP_RELU:
		grad_apply(count, NULL, A, dA, dact_relu);
		break;
	case MLP_LEAKY_RELU:
		grad_apply(count, NULL, A, dA, dact_leaky_relu);
		break;
	case MLP_SIGMOID:
		grad_apply(count, NULL, A, dA, dact_sigmoid);
		break;
	case MLP_TANH:
		grad_apply(count, NULL, A, dA, dact_tanh);
		break;
	case MLP_GELU:
		grad_apply(count, Z, A, dA, dact_gelu);
		break;
	case MLP_GELU_TANH:
		grad_apply(count, Z, A, dA, dact_gelu_tanh);
		break;
	case MLP_SILU:
		grad_apply(count, Z, A, dA, dact_silu);
		break;
	case MLP_SOFTMAX:
		softmax_backward(rows, n, A, dA);
		break;
	case MLP_ACT_COUNT:
		break;
	}
}
