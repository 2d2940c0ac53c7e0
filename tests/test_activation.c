/*
 * test_activation.c — every activation against its double-precision formula,
 * through mlp_dense_forward with W = I and b = 0 (so that the pre-activation
 * is exactly the input), and at extreme inputs.
 */
#include "support.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define U 0x1.0p-24 /* unit roundoff of float */

/* Tolerance of an element-wise activation at x: 16 ulp of the result for the
 * function's own rounding, plus 16 ulp of |x·f'(x)|, the change caused by
 * relative errors of order u in the arguments the float formula computes
 * (x/√2, x³, 2u, ...). The floor covers results in the subnormal range. */
static double act_tol(mlp_act act, double x)
{
	double h = 1e-6 * (fabs(x) > 1 ? fabs(x) : 1);
	double slope = (ref_act(act, x + h) - ref_act(act, x - h)) / (2 * h);

	if (!isfinite(slope))
		slope = 0;
	return 16 * U * (fabs(ref_act(act, x)) + fabs(x * slope)) + 0x1.0p-120;
}

static const float grid[] = {
	0.0f,  1e-30f, -1e-30f, 1e-8f,  -1e-8f,  0.5f,   -0.5f,   1.0f,
	-1.0f, 2.0f,   -2.0f,   3.0f,   -3.0f,   5.0f,   -5.0f,   10.0f,
	-10.0f, 20.0f, -20.0f,  50.0f,  -50.0f,  88.0f,  -88.0f,  89.0f,
	-89.0f, 100.0f, -100.0f, 1000.0f, -1000.0f, 1e30f, -1e30f, FLT_MAX,
	-FLT_MAX,
};
#define N_GRID (sizeof(grid) / sizeof(grid[0]))
#define N_RAND 256

/* Runs the n inputs x through act as one row each (batch) or as one row of
 * width n through an n × n identity; returns the outputs. */
static float *run_identity(mlp_act act, size_t n, const float *x, bool batch)
{
	size_t rows = batch ? n : 1, width = batch ? 1 : n;
	float *W = calloc(width * width, sizeof(float));
	float *y = malloc(n * sizeof(float));

	ck_assert(W && y);
	for (size_t i = 0; i < width; i++)
		W[i * width + i] = 1.0f;
	ck_assert_int_eq(mlp_dense_forward(rows, width, width, W, NULL, act, x, y),
			 MLP_OK);
	free(W);
	return y;
}

/* Every element-wise activation on the grid and on random inputs, both as
 * one wide row (sgemv path) and as a batch of one-wide rows (sgemm path). */
START_TEST(elementwise_matches_double)
{
	mlp_act act = (mlp_act)_i;
	size_t n = N_GRID + N_RAND;
	float *x = malloc(n * sizeof(float));
	struct trng g = { 7 };

	if (act == MLP_SOFTMAX) {
		free(x);
		return;
	}
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < N_GRID; i++)
		x[i] = grid[i];
	trng_fill(&g, x + N_GRID, N_RAND, -12, 12);
	for (int batch = 0; batch <= 1; batch++) {
		float *y = run_identity(act, n, x, batch);

		for (size_t i = 0; i < n; i++) {
			double want = ref_act(act, x[i]);

			ck_assert_msg(isfinite(y[i]),
				      "%s(%g) = %g is not finite",
				      mlp_act_name(act), (double)x[i], (double)y[i]);
			ck_assert_msg(fabs(y[i] - want) <= act_tol(act, x[i]),
				      "%s(%.9g) = %.9g, want %.17g (tol %.3g)",
				      mlp_act_name(act), (double)x[i], (double)y[i],
				      want, act_tol(act, x[i]));
		}
		free(y);
	}
	free(x);
}
END_TEST

/* Values that follow from the definitions alone, independent of the double
 * reference above. */
START_TEST(analytic_values)
{
	static const struct {
		mlp_act act;
		float x;
		double want;
	} cases[] = {
		{ MLP_IDENTITY, -2.5f, -2.5 },  { MLP_RELU, -1.0f, 0.0 },
		{ MLP_RELU, 3.0f, 3.0 },        { MLP_LEAKY_RELU, -1.0f, -0.01 },
		{ MLP_LEAKY_RELU, 2.0f, 2.0 },  { MLP_SIGMOID, 0.0f, 0.5 },
		{ MLP_SIGMOID, 1000.0f, 1.0 },  { MLP_SIGMOID, -1000.0f, 0.0 },
		{ MLP_TANH, 0.0f, 0.0 },        { MLP_TANH, 1000.0f, 1.0 },
		{ MLP_TANH, -1000.0f, -1.0 },   { MLP_GELU, 0.0f, 0.0 },
		{ MLP_GELU, 1000.0f, 1000.0 },  { MLP_GELU, -1000.0f, 0.0 },
		/* Φ(1) = 0.841344746068543 */
		{ MLP_GELU, 1.0f, 0.841344746068543 },
		{ MLP_GELU_TANH, 0.0f, 0.0 },   { MLP_GELU_TANH, 1000.0f, 1000.0 },
		{ MLP_GELU_TANH, -1000.0f, 0.0 }, { MLP_SILU, 0.0f, 0.0 },
		{ MLP_SILU, 1000.0f, 1000.0 },  { MLP_SILU, -1000.0f, 0.0 },
	};
	float one = 1.0f, y;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(mlp_dense_forward(1, 1, 1, &one, NULL,
						   cases[i].act, &cases[i].x, &y),
				 MLP_OK);
		ck_assert_msg(fabs(y - cases[i].want) <= 4 * U * fabs(cases[i].want),
			      "%s(%g) = %.9g, want %.9g",
			      mlp_act_name(cases[i].act), (double)cases[i].x,
			      (double)y, cases[i].want);
	}
}
END_TEST

/* Softmax rows with extreme logits: finite, summing to 1, and equal to the
 * double-precision softmax within (n + 16) ulp of each probability. */
START_TEST(softmax_stable)
{
	enum { N = 4 };
	static const float rows[][N] = {
		{ 1000, -1000, 0, 1 },      { 1000, 1000, 1000, 1000 },
		{ -1000, -1000, -1000, -1000 }, { -1000, 1000, -1000, 999 },
		{ 0, 0, 0, 0 },             { 1e30f, -1e30f, 0, 0 },
		{ 0.69314718f, 0, 0, 0 },   { -FLT_MAX, FLT_MAX, 0, 0 },
	};
	size_t batch = sizeof(rows) / sizeof(rows[0]);
	float W[N * N] = { 0 }, y[sizeof(rows) / sizeof(float)];
	double Xd[sizeof(rows) / sizeof(float)], want[sizeof(y) / sizeof(float)];
	double err[sizeof(y) / sizeof(float)];

	for (size_t i = 0; i < N; i++)
		W[i * N + i] = 1;
	for (size_t i = 0; i < batch * N; i++)
		Xd[i] = rows[i / N][i % N];
	ck_assert_int_eq(mlp_dense_forward(batch, N, N, W, NULL, MLP_SOFTMAX,
					   &rows[0][0], y),
			 MLP_OK);
	ref_layer(batch, N, N, W, NULL, MLP_SOFTMAX, Xd, NULL, want, err);
	for (size_t r = 0; r < batch; r++) {
		double sum = 0;

		for (size_t j = 0; j < N; j++) {
			size_t i = r * N + j;

			ck_assert_msg(isfinite(y[i]), "row %zu: p[%zu] = %g", r, j,
				      (double)y[i]);
			ck_assert_msg(fabs(y[i] - want[i]) <= err[i] + 0x1.0p-126,
				      "row %zu: p[%zu] = %.9g, want %.17g", r, j,
				      (double)y[i], want[i]);
			sum += y[i];
		}
		ck_assert_msg(fabs(sum - 1) <= (N + 16) * U, "row %zu sums to %.9g",
			      r, sum);
	}
	/* Equal logits give 1/4 each; e^(ln 2) = 2 against three e^0 = 1 gives
	 * 2/5 and 1/5. */
	ck_assert(fabs(y[4] - 0.25) <= 4 * U);
	ck_assert(fabs(y[24] - 0.4) <= 8 * U && fabs(y[25] - 0.2) <= 8 * U);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("activation");
	TCase *tc = tcase_create("activation");

	tcase_add_loop_test(tc, elementwise_matches_double, 0, MLP_ACT_COUNT);
	tcase_add_test(tc, analytic_values);
	tcase_add_test(tc, softmax_stable);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
