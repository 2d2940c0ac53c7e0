/*
 * test_dense.c — the stateless W·X+B step: random shapes against the double
 * reference, the sgemv path against the sgemm path, and every bad-input rule.
 */
#include "support.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct shape {
	size_t batch, n_in, n_out;
};

static const struct shape shapes[] = {
	{ 1, 1, 1 },     { 1, 7, 3 },     { 2, 3, 5 },      { 7, 16, 1 },
	{ 64, 1, 64 },   { 64, 100, 33 }, { 1, 1024, 257 }, { 13, 257, 1024 },
	{ 100, 784, 10 }, { 3, 1, 1 },
};
#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* One shape and one activation against ref_layer's double result and
 * bound (support.h explains the bound). */
static void check_shape(struct shape sh, mlp_act act, bool with_bias)
{
	struct trng g = { sh.batch * 1000003u + sh.n_in * 1009u + sh.n_out + act };
	size_t nx = sh.batch * sh.n_in, ny = sh.batch * sh.n_out;
	float *W = malloc(sh.n_out * sh.n_in * sizeof(float));
	float *b = malloc(sh.n_out * sizeof(float));
	float *X = malloc(nx * sizeof(float)), *Y = malloc(ny * sizeof(float));
	double *Xd = malloc(nx * sizeof(double));
	double *want = malloc(ny * sizeof(double)), *err = malloc(ny * sizeof(double));
	size_t where;
	double worst;

	ck_assert(W && b && X && Y && Xd && want && err);
	trng_fill(&g, W, sh.n_out * sh.n_in, -1, 1);
	trng_fill(&g, b, sh.n_out, -1, 1);
	trng_fill(&g, X, nx, -2, 2);
	for (size_t i = 0; i < nx; i++)
		Xd[i] = X[i];
	ck_assert_int_eq(mlp_dense_forward(sh.batch, sh.n_in, sh.n_out, W,
					   with_bias ? b : NULL, act, X, Y),
			 MLP_OK);
	ref_layer(sh.batch, sh.n_in, sh.n_out, W, with_bias ? b : NULL, act, Xd,
		  NULL, want, err);
	worst = ref_worst(ny, Y, want, err, &where);
	ck_assert_msg(worst <= 1.0,
		      "%zu×%zu→%zu %s%s: Y[%zu] = %.9g, want %.17g ± %.3g",
		      sh.batch, sh.n_in, sh.n_out, mlp_act_name(act),
		      with_bias ? "" : " (no bias)", where, (double)Y[where],
		      want[where], err[where]);
	free(W), free(b), free(X), free(Y), free(Xd), free(want), free(err);
}

START_TEST(shapes_match_reference)
{
	for (int a = 0; a < MLP_ACT_COUNT; a++) {
		check_shape(shapes[_i], (mlp_act)a, true);
		check_shape(shapes[_i], (mlp_act)a, false);
	}
}
END_TEST

/* Each row of a batch through the sgemm path equals the same row alone
 * through the sgemv path, within the reference bound of both. */
START_TEST(batch1_agrees_with_batched)
{
	enum { BATCH = 9, N_IN = 300, N_OUT = 70 };
	struct trng g = { 99 };
	static float W[N_OUT * N_IN], b[N_OUT], X[BATCH * N_IN];
	static float Yb[BATCH * N_OUT], y1[N_OUT];
	static double Xd[N_IN], want[N_OUT], err[N_OUT];

	trng_fill(&g, W, N_OUT * N_IN, -1, 1);
	trng_fill(&g, b, N_OUT, -1, 1);
	trng_fill(&g, X, BATCH * N_IN, -1, 1);
	ck_assert_int_eq(mlp_dense_forward(BATCH, N_IN, N_OUT, W, b, MLP_TANH, X, Yb),
			 MLP_OK);
	for (size_t r = 0; r < BATCH; r++) {
		ck_assert_int_eq(mlp_dense_forward(1, N_IN, N_OUT, W, b, MLP_TANH,
						   X + r * N_IN, y1),
				 MLP_OK);
		for (size_t j = 0; j < N_IN; j++)
			Xd[j] = X[r * N_IN + j];
		ref_layer(1, N_IN, N_OUT, W, b, MLP_TANH, Xd, NULL, want, err);
		for (size_t i = 0; i < N_OUT; i++) {
			double d = (double)y1[i] - Yb[r * N_OUT + i];
			ck_assert_msg(d <= 2 * err[i] && -d <= 2 * err[i],
				      "row %zu, output %zu: %.9g vs %.9g", r, i,
				      (double)y1[i], (double)Yb[r * N_OUT + i]);
		}
	}
}
END_TEST

/* ---- bad input: each rule gets its status and leaves Y untouched ---------- */

enum { BI = 3, BO = 2, BB = 4 };
static float bW[BO * BI], bb[BO], bX[BB * BI], bY[BB * BO];

/* Y filled with a sentinel; true when it still holds only that sentinel. */
static void fill_sentinel(float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = 12345.0f;
}

static bool untouched(const float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (y[i] != 12345.0f)
			return false;
	return true;
}

#define EXPECT_STATUS(call, want)                                         \
	do {                                                              \
		fill_sentinel(bY, BB * BO);                               \
		ck_assert_int_eq((call), (want));                         \
		ck_assert_msg(untouched(bY, BB * BO), "Y changed by %s", #call); \
	} while (0)

START_TEST(null_pointers)
{
	EXPECT_STATUS(mlp_dense_forward(BB, BI, BO, NULL, bb, MLP_RELU, bX, bY), MLP_ENULL);
	EXPECT_STATUS(mlp_dense_forward(BB, BI, BO, bW, bb, MLP_RELU, NULL, bY), MLP_ENULL);
	ck_assert_int_eq(mlp_dense_forward(BB, BI, BO, bW, bb, MLP_RELU, bX, NULL), MLP_ENULL);
}
END_TEST

START_TEST(zero_sizes)
{
	EXPECT_STATUS(mlp_dense_forward(0, BI, BO, bW, bb, MLP_RELU, bX, bY), MLP_ESIZE);
	EXPECT_STATUS(mlp_dense_forward(BB, 0, BO, bW, bb, MLP_RELU, bX, bY), MLP_ESIZE);
	EXPECT_STATUS(mlp_dense_forward(BB, BI, 0, bW, bb, MLP_RELU, bX, bY), MLP_ESIZE);
}
END_TEST

START_TEST(sizes_too_big)
{
	/* Beyond the width limit, and a batch whose byte count overflows. */
	EXPECT_STATUS(mlp_dense_forward(BB, (size_t)MLP_MAX_WIDTH + 1, BO, bW, bb,
					MLP_RELU, bX, bY), MLP_ETOOBIG);
	EXPECT_STATUS(mlp_dense_forward(BB, BI, (size_t)MLP_MAX_WIDTH + 1, bW, bb,
					MLP_RELU, bX, bY), MLP_ETOOBIG);
	EXPECT_STATUS(mlp_dense_forward(SIZE_MAX / 8, BI, BO, bW, bb, MLP_RELU,
					bX, bY), MLP_ETOOBIG);
	EXPECT_STATUS(mlp_dense_forward(SIZE_MAX, 1, 1, bW, bb, MLP_RELU, bX, bY),
		      MLP_ETOOBIG);
}
END_TEST

START_TEST(unknown_activation)
{
	EXPECT_STATUS(mlp_dense_forward(BB, BI, BO, bW, bb, MLP_ACT_COUNT, bX, bY), MLP_EACT);
	EXPECT_STATUS(mlp_dense_forward(BB, BI, BO, bW, bb, (mlp_act)-1, bX, bY), MLP_EACT);
	EXPECT_STATUS(mlp_dense_forward(BB, BI, BO, bW, bb, (mlp_act)1000, bX, bY), MLP_EACT);
}
END_TEST

START_TEST(overlapping_output)
{
	static float buf[BB * BI + BB * BO];

	/* Y on X, on W, and on b. */
	ck_assert_int_eq(mlp_dense_forward(BB, BI, BO, bW, bb, MLP_RELU, buf,
					   buf + BB * BI - 1), MLP_EINVAL);
	ck_assert_int_eq(mlp_dense_forward(1, BI, BO, buf, bb, MLP_RELU, bX,
					   buf + 2), MLP_EINVAL);
	ck_assert_int_eq(mlp_dense_forward(1, BI, BO, bW, buf, MLP_RELU, bX,
					   buf + 1), MLP_EINVAL);
	/* Adjacent but not overlapping is fine. */
	ck_assert_int_eq(mlp_dense_forward(BB, BI, BO, bW, bb, MLP_RELU, buf,
					   buf + BB * BI), MLP_OK);
}
END_TEST

START_TEST(forward_allocates_nothing)
{
	float y[BB * BO];
	mlp_status st[2];

	if (!TEST_WRAP)
		return;
	ck_assert_int_eq(mlp_dense_forward(BB, BI, BO, bW, bb, MLP_SOFTMAX, bX, y), MLP_OK);
	/* No Check call while armed: Check allocates to record a passed
	 * assertion. */
	alloc_arm(0);
	st[0] = mlp_dense_forward(BB, BI, BO, bW, bb, MLP_SOFTMAX, bX, y);
	st[1] = mlp_dense_forward(1, BI, BO, bW, bb, MLP_GELU, bX, y);
	alloc_disarm();
	ck_assert_int_eq(st[0], MLP_OK);
	ck_assert_int_eq(st[1], MLP_OK);
	ck_assert_int_eq(alloc_calls(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dense");
	TCase *tc = tcase_create("numerics");
	TCase *bad = tcase_create("bad input");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, shapes_match_reference, 0, N_SHAPES);
	tcase_add_test(tc, batch1_agrees_with_batched);
	suite_add_tcase(s, tc);
	tcase_add_test(bad, null_pointers);
	tcase_add_test(bad, zero_sizes);
	tcase_add_test(bad, sizes_too_big);
	tcase_add_test(bad, unknown_activation);
	tcase_add_test(bad, overlapping_output);
	tcase_add_test(bad, forward_allocates_nothing);
	suite_add_tcase(s, bad);
	return run_suite(s);
}
