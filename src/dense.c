/*
 * dense.c — the W·X+B step: one BLAS call, then bias and activation.
 *
 *   one input:  y = act(W·x + b)            cblas_sgemv
 *   a batch:    Y = act(X·Wᵀ + 1·bᵀ)        cblas_sgemm
 *
 * W is n_out × n_in row-major, X is rows × n_in with one sample per row, Y
 * is rows × n_out.
 */
#include "elementwise.h"
#include "blas_core.h"
#include "dense.h"

#include <limits.h>

#include <cblas.h>

/* Keeps blas_core.c, whose constructor corrects OpenBLAS's kernels, in any
 * program that links this file statically. */
__attribute__((used)) static const char *const keep_blas_core =
	&mlpi_blas_core_anchor;

/* Where the bias goes, as measured by bench/epilogue.c (OpenBLAS SkylakeX
 * kernels, AVX-512 passes, 1 and 2 threads). Broadcasting b into Y (by
 * doubling copies) and running the BLAS with beta = 1 was faster for
 * identity layers, for batch 1 (sgemv with beta = 0 spends a call clearing
 * y) and for narrow layers, up to twice as fast at 1-3 outputs, where one
 * contiguous activation pass beats a short loop per row. Adding bias and
 * activation in one pass after a beta = 0 sgemm was 1-6% faster for wide
 * layers with an activation, with one thread, and within noise with two. */
static enum mlpi_epilogue best_epilogue(size_t rows, size_t n_out, mlp_act act)
{
	if (rows == 1 || act == MLP_IDENTITY || n_out < 64)
		return MLPI_EPILOGUE_BROADCAST;
	return MLPI_EPILOGUE_FUSED;
}

/* The BLAS call alone: Y = X·Wᵀ + beta·Y. */
static void blas_step(size_t rows, size_t n_in, size_t n_out, const float *W,
		      const float *X, float beta, float *Y)
{
	if (rows == 1) {
		/* y = W·x: W is n_out × n_in with leading dimension n_in. */
		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n_out, (int)n_in,
			    1.0f, W, (int)n_in, X, 1, beta, Y, 1);
	} else {
		/* Y[rows × n_out] = X[rows × n_in] · (W[n_out × n_in])ᵀ. */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
			    (int)n_out, (int)n_in, 1.0f, X, (int)n_in, W,
			    (int)n_in, beta, Y, (int)n_out);
	}
}

void mlpi_dense_with(enum mlpi_epilogue how, size_t rows, size_t n_in,
		     size_t n_out, const float *W, const float *b, mlp_act act,
		     const float *X, float *Y)
{
	if (how == MLPI_EPILOGUE_BROADCAST && b != NULL) {
		mlpi_bias_fill(rows, n_out, b, Y);
		blas_step(rows, n_in, n_out, W, X, 1.0f, Y);
		mlpi_bias_act(act, rows, n_out, NULL, Y);
	} else {
		blas_step(rows, n_in, n_out, W, X, 0.0f, Y);
		mlpi_bias_act(act, rows, n_out, b, Y);
	}
}

/* At most this many outputs, a layer takes plain loops around its BLAS
 * call: the calls, dispatch and vector set-up of the passes cost more than
 * the few operations they would do (tiny networks, measured with callgrind:
 * 40% fewer of mlp's own instructions a layer). */
#define MLPI_TINY_OUTPUTS 16

/* Vector code for a handful of elements is all set-up: keep these scalar. */
#if defined(__GNUC__) && !defined(__clang__)
#define MLPI_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define MLPI_SCALAR
#endif

/* The small-layer path: b into Y, the BLAS with beta = 1, act over Y. */
MLPI_SCALAR
static void dense_tiny(size_t rows, size_t n_in, size_t n_out, const float *W,
		       const float *b, mlp_act act, const float *X, float *Y)
{
	size_t n = rows * n_out;

	for (size_t r = 0; r < rows && b != NULL; r++)
		for (size_t j = 0; j < n_out; j++)
			Y[r * n_out + j] = b[j];
	blas_step(rows, n_in, n_out, W, X, b != NULL ? 1.0f : 0.0f, Y);
	if (act != MLP_IDENTITY)
		for (size_t i = 0; i < n; i++)
			Y[i] = mlpi_act1(act, Y[i]);
}

void mlpi_dense(size_t rows, size_t n_in, size_t n_out, const float *W,
		const float *b, mlp_act act, const float *X, float *Y)
{
	if (rows <= MLPI_TINY_OUTPUTS && rows * n_out <= MLPI_TINY_OUTPUTS &&
	    act != MLP_SOFTMAX) {
		dense_tiny(rows, n_in, n_out, W, b, act, X, Y);
		return;
	}
	mlpi_dense_with(best_epilogue(rows, n_out, act), rows, n_in, n_out, W,
			b, act, X, Y);
}

mlp_status mlp_dense_forward(size_t batch, size_t n_in, size_t n_out,
			     const float *W, const float *b, mlp_act act,
			     const float *X, float *Y)
{
	size_t w_count, w_bytes, x_bytes, y_bytes;

	if (W == NULL || X == NULL || Y == NULL)
		return MLP_ENULL;
	if (!mlpi_act_valid(act))
		return MLP_EACT;
	if (batch == 0 || n_in == 0 || n_out == 0)
		return MLP_ESIZE;
	if (n_in > MLP_MAX_WIDTH || n_out > MLP_MAX_WIDTH ||
	    !mlpi_mul(n_out, n_in, &w_count) ||
	    !mlpi_mul(w_count, sizeof(float), &w_bytes) ||
	    !mlpi_mul(batch, n_in * sizeof(float), &x_bytes) ||
	    !mlpi_mul(batch, n_out * sizeof(float), &y_bytes))
		return MLP_ETOOBIG;
	if (mlpi_overlap(Y, y_bytes, X, x_bytes) ||
	    mlpi_overlap(Y, y_bytes, W, w_bytes) ||
	    (b != NULL && mlpi_overlap(Y, y_bytes, b, n_out * sizeof(float))))
		return MLP_EINVAL;

	/* A BLAS dimension is an int: run larger batches in chunks. */
	for (size_t r = 0; r < batch; r += (size_t)INT_MAX) {
		size_t rows = batch - r < (size_t)INT_MAX ? batch - r
							  : (size_t)INT_MAX;
		mlpi_dense(rows, n_in, n_out, W, b, act, X + r * n_in,
			   Y + r * n_out);
	}
	return MLP_OK;
}
