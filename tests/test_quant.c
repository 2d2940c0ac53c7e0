/*
 * test_quant.c — int8 networks: quantising (weight and input scales, the
 * calibration methods), the int8 kernel's variants against an exact
 * integer reference at the top of the int8 range, MLP_INT8 plans, and
 * what a change to the parameters does to a quantised network.
 *
 * The parts "avx2" and "vnni" run the kernel's variant for those (SKIP
 * on a CPU without them); the main part runs plain C and the rest.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, strndup */
#include "support.h"

#include "kernel.h"
#include "kernel_int8.h"
#include "net.h"
#include "planner.h"
#include "quant.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum mlpi_kint8_isa isa; /* the variant under test */

/* A one-layer network of n_in → n_out whose weights are integers in
 * [-127, 127], each row holding ±127 (so that its scale is 1 and its
 * int8 weights are the integers), quantised with input scale 1 (inputs up
 * to 127, by the largest value). extremes: every weight ±127. */
static mlp_net *integer_layer(size_t n_in, size_t n_out, mlp_act act,
			      bool extremes, struct trng *g)
{
	size_t sizes[2] = { n_in, n_out };
	mlp_quantize_opts o = mlp_quantize_defaults();
	mlp_net *net, *q;
	float *W, *b, *calib = malloc(n_in * sizeof(float));

	ck_assert_ptr_nonnull(calib);
	ck_assert_int_eq(mlp_net_create(&net, 1, sizes, &act), MLP_OK);
	W = mlp_net_weights(net, 0);
	b = mlp_net_bias(net, 0);
	for (size_t i = 0; i < n_out; i++) {
		for (size_t k = 0; k < n_in; k++) {
			double u = trng_uniform(g, -1, 1);

			W[i * n_in + k] = extremes ? (u < 0 ? -127.0f : 127.0f)
						   : (float)floor(u * 127.999);
		}
		W[i * n_in + (size_t)trng_uniform(g, 0, (double)n_in - 0.01)] =
			trng_uniform(g, -1, 1) < 0 ? -127.0f : 127.0f;
		b[i] = (float)trng_uniform(g, -4, 4);
	}
	for (size_t k = 0; k < n_in; k++)
		calib[k] = k == 0 ? 127.0f : 0.0f;
	o.method = MLP_CALIBRATE_MAX;
	ck_assert_int_eq(mlp_net_quantize(&q, net, 1, calib, &o, NULL), MLP_OK);
	mlp_net_free(net);
	free(calib);
	ck_assert_float_eq(q->layers[0].in_scale, 1.0f);
	return q;
}

/* The exact result: inputs rounded to integers in [-127, 127], the sum in
 * 64 bits, then sum · scale + b in one rounding; identity activation. */
static float exact_output(const struct mlp_layer *ly, const float *x, size_t i)
{
	float inv = 1.0f / ly->in_scale;
	int64_t sum = 0;

	for (size_t k = 0; k < ly->n_in; k++) {
		double v = nearbyint((double)(x[k] * inv));

		v = v < -127 ? -127 : v > 127 ? 127 : v;
		sum += (int64_t)ly->Wq[i * ly->n_in + k] * (int64_t)v;
	}
	ck_assert(sum > INT32_MIN && sum < INT32_MAX);
	return fmaf((float)sum, ly->in_scale * ly->w_scale[i], ly->b[i]);
}

/* The variant on rows of inputs at ±127 and beyond (clipped) and at
 * random (with nonneg, ≥ 0 only: rows after a ReLU, which AVX2 runs its
 * own way), against the exact result, bit for bit; nothing allocated,
 * nothing written past Y. */
static void check_variant_x(size_t rows, size_t n_in, size_t n_out,
			    bool extremes, bool nonneg, uint64_t seed)
{
	struct trng g = { seed };
	mlp_net *q = integer_layer(n_in, n_out, MLP_IDENTITY, extremes, &g);
	const struct mlp_layer *ly = &q->layers[0];
	float *X = malloc(rows * n_in * sizeof(float));
	float *Y = malloc((rows * n_out + 16) * sizeof(float));
	void *packed = NULL, *scratch;
	long calls;

	ck_assert(X && Y);
	for (size_t i = 0; i < rows * n_in; i++) {
		double u = trng_uniform(&g, -1, 1);

		/* Most at the top of the range, some past it, some inside. */
		X[i] = i % 5 == 4 ? (float)(u * 127) : i % 5 == 3 ? (float)(u * 300)
			: (u < 0 ? -127.0f : 127.0f);
		X[i] = nonneg ? fabsf(X[i]) : X[i];
	}
	for (size_t i = 0; i < 16; i++)
		Y[rows * n_out + i] = 1234.5f;
	ck_assert_int_eq(mlpi_kint8_pack(ly, isa, rows, 1, &packed), MLP_OK);
	scratch = mlpi_alloc_aligned(mlpi_kint8_scratch(packed));
	ck_assert_ptr_nonnull(scratch);
	alloc_arm(0);
	mlpi_kint8_run(packed, scratch, rows, X, Y);
	calls = alloc_calls();
	alloc_disarm();
	ck_assert_int_eq(calls, 0);
	for (size_t r = 0; r < rows; r++)
		for (size_t i = 0; i < n_out; i++) {
			float want = exact_output(ly, X + r * n_in, i);

			ck_assert_msg(Y[r * n_out + i] == want, "%s, %zu rows of %zu -> "
				      "%zu: row %zu output %zu is %.9g, exactly %.9g",
				      mlpi_kint8_name(isa), rows, n_in, n_out, r, i,
				      (double)Y[r * n_out + i], (double)want);
		}
	for (size_t i = 0; i < 16; i++)
		ck_assert(Y[rows * n_out + i] == 1234.5f);
	mlpi_free_aligned(scratch);
	mlpi_kint8_free(packed);
	mlp_net_free(q);
	free(X);
	free(Y);
}

static void check_variant(size_t rows, size_t n_in, size_t n_out,
			  bool extremes, uint64_t seed)
{
	check_variant_x(rows, n_in, n_out, extremes, false, seed);
	check_variant_x(rows, n_in, n_out, extremes, true, seed + 1000);
}

static const size_t widths[] = { 1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 32, 33,
				 47, 63, 64, 65, 100, 129, 255, 257 };
#define N_WIDTHS (sizeof(widths) / sizeof(widths[0]))

/* Every width as outputs and as inputs, 1 to 9 rows; all weights at ±127
 * and random ones. */
START_TEST(variant_exact)
{
	size_t n = widths[_i];

	for (size_t j = 0; j < N_WIDTHS; j += 3)
		for (size_t rows = 1; rows <= 9; rows++) {
			check_variant(rows, widths[j], n, rows % 2 == 0, 31 * _i + j + rows);
			check_variant(rows, n, widths[j], rows % 2 == 1, 57 * _i + j + rows);
		}
}
END_TEST

/* Sums far beyond 16 bits, where vpmaddubsw would saturate (2 × 255 × 127
 * > 32767) and an int16 sum would wrap: every weight and input ±127 on
 * the widest layer int8 kernels take, and on wide ones. */
START_TEST(variant_no_saturation)
{
	check_variant(3, 4096, 33, true, 5);
	check_variant(2, MLPI_INT8_MAX_IN, 16, true, 6);
	check_variant(5, 1000, 300, true, 7);
}
END_TEST

/* A layer wider than MLPI_INT8_MAX_IN is left to float kernels. */
START_TEST(variant_refuses_wide)
{
	struct trng g = { 3 };
	mlp_net *q = integer_layer(MLPI_INT8_MAX_IN + 1, 2, MLP_IDENTITY, false, &g);
	void *packed = NULL;

	ck_assert_int_eq(mlpi_kint8_pack(&q->layers[0], isa, 4, 1, &packed),
			 MLP_ENOTSUP);
	ck_assert_ptr_null(packed);
	ck_assert(!mlpi_kernel_int8.supports(&q->layers[0], 1));
	mlp_net_free(q);
}
END_TEST

#if defined(MLP_HAVE_ONEDNN)
/* oneDNN's int8 primitives, on the CPUs it runs them exactly: every
 * layer of a plan on onednn-int8 against the exact result, inputs at the
 * top of the range and past it; with scales other than 1, within a
 * float's rounding of the scaling (oneDNN multiplies and adds apart). */
static void check_onednn(size_t n_in, size_t n_out, size_t rows, bool unit,
			 uint64_t seed)
{
	struct trng g = { seed };
	mlp_net *q = integer_layer(n_in, n_out, MLP_IDENTITY, seed % 2 == 0, &g);
	const struct mlpi_kernel *only[1] = { &mlpi_kernel_onednn_int8 };
	mlp_plan_opts o = mlp_plan_defaults();
	float *X = malloc(rows * n_in * sizeof(float));
	float *Y = malloc(rows * n_out * sizeof(float));
	mlp_plan *plan;
	mlp_msg msg;

	if (!unit) {
		struct mlp_layer *ly = &q->layers[0];

		ly->in_scale = 0.37f;
		for (size_t i = 0; i < n_out; i++)
			((float *)ly->w_scale)[i] = (float)trng_uniform(&g, 0.001, 0.1);
	}
	for (size_t i = 0; i < rows * n_in; i++) {
		double u = trng_uniform(&g, -1, 1);

		X[i] = (float)(i % 3 == 2 ? u * 300 : u < 0 ? -127 : 127) *
		       q->layers[0].in_scale;
	}
	o.precision = MLP_INT8;
	o.max_batch = rows;
	ck_assert_int_eq(mlpi_plan_create_with(only, 1, &plan, q, &o, &msg), MLP_OK);
	ck_assert_str_eq(mlp_plan_kernel(plan, rows, 0), "onednn-int8");
	ck_assert_int_eq(mlp_plan_forward(plan, rows, X, Y), MLP_OK);
	for (size_t r = 0; r < rows; r++)
		for (size_t i = 0; i < n_out; i++) {
			float want = exact_output(&q->layers[0], X + r * n_in, i);
			float got = Y[r * n_out + i];

			if (unit)
				ck_assert_msg(got == want, "%zu -> %zu, row %zu output "
					      "%zu: %.9g, exactly %.9g", n_in, n_out,
					      r, i, (double)got, (double)want);
			else
				ck_assert_msg(fabsf(got - want) <= 2e-7f * (fabsf(want) + 1),
					      "%zu -> %zu, row %zu output %zu: %.9g, "
					      "exactly %.9g", n_in, n_out, r, i,
					      (double)got, (double)want);
		}
	mlp_plan_free(plan);
	mlp_net_free(q);
	free(X);
	free(Y);
}

START_TEST(onednn_exact)
{
	static const size_t shapes[][3] = { { 1, 1, 1 }, { 3, 17, 5 },
					    { 64, 64, 16 }, { 300, 33, 64 },
					    { 4096, 40, 3 }, { 784, 256, 256 } };

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		check_onednn(shapes[i][0], shapes[i][1], shapes[i][2], true, 2 * i);
		check_onednn(shapes[i][0], shapes[i][1], shapes[i][2], false, 2 * i + 1);
	}
}
END_TEST
#endif

/* ---- quantising ------------------------------------------------------------ */

static mlp_net *random_net(size_t n_layers, const size_t *sizes, uint64_t seed)
{
	mlp_act acts[4] = { MLP_RELU, MLP_TANH, MLP_GELU, MLP_SOFTMAX };
	mlp_net *net;

	acts[n_layers - 1] = MLP_SOFTMAX;
	ck_assert_int_eq(mlp_net_create(&net, n_layers, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, seed), MLP_OK);
	return net;
}

/* Weight scales are max |W| / 127 per row; the int8 weights W / s
 * rounded; the float weights become q · s; the input scale of the first
 * layer the largest |x| / 127 (MLP_CALIBRATE_MAX), and with a percentile
 * the value below which that share of |x| lies. */
START_TEST(quantize_scales)
{
	size_t sizes[3] = { 20, 30, 5 };
	mlp_net *net = random_net(2, sizes, 4), *q, *p;
	mlp_quantize_opts o = mlp_quantize_defaults();
	struct trng g = { 8 };
	float X[100 * 20], s_in, s_w[30], *sorted = malloc(sizeof(X));
	double top = 0;

	trng_fill(&g, X, 100 * 20, -3, 3);
	X[17] = 50; /* one outlier */
	o.method = MLP_CALIBRATE_MAX;
	ck_assert_int_eq(mlp_net_quantize(&q, net, 100, X, &o, NULL), MLP_OK);
	ck_assert(mlp_net_quantized(q));
	ck_assert(!mlp_net_quantized(net));
	ck_assert_int_eq(mlp_net_quant_scales(q, 0, &s_in, s_w), MLP_OK);
	ck_assert_float_eq(s_in, 50.0f / 127);
	for (size_t i = 0; i < 30; i++) {
		const float *w = net->layers[0].W + i * 20;
		double m = 0;

		for (size_t k = 0; k < 20; k++)
			m = fmax(m, fabs(w[k]));
		ck_assert_float_eq_tol(s_w[i], m / 127, m / 127 * 1e-6);
		for (size_t k = 0; k < 20; k++) {
			int want = (int)nearbyint(w[k] / s_w[i]);

			ck_assert_int_le(abs(q->layers[0].Wq[i * 20 + k] - want), 1);
			ck_assert_float_eq(q->layers[0].W[i * 20 + k],
					   (float)q->layers[0].Wq[i * 20 + k] * s_w[i]);
			ck_assert_double_le(fabs(q->layers[0].W[i * 20 + k] - w[k]),
					    s_w[i] * 0.5001);
		}
	}
	o.method = MLP_CALIBRATE_PERCENTILE;
	o.percentile = 99.0;
	ck_assert_int_eq(mlp_net_quantize(&p, net, 100, X, &o, NULL), MLP_OK);
	ck_assert_int_eq(mlp_net_quant_scales(p, 0, &s_in, NULL), MLP_OK);
	for (size_t i = 0; i < 2000; i++)
		top = fmax(top, fabs(X[i]) <= s_in * 127 * (1 + 1e-6) ? fabs(X[i]) : 0);
	/* 99% of the 2,000 values at or below the scale's top: 1,980. */
	{
		size_t below = 0;

		for (size_t i = 0; i < 2000; i++)
			below += fabs(X[i]) <= s_in * 127 * (1 + 1e-6);
		ck_assert_uint_eq(below, 1980);
		ck_assert_float_eq_tol(top, s_in * 127, s_in * 127 * 1e-6);
	}
	mlp_net_free(p);
	mlp_net_free(q);
	mlp_net_free(net);
	free(sorted);
}
END_TEST

/* mlp_quant_compare: against the double chain's own int8 arithmetic
 * (every layer's input rounded, exact sums), and the clip counts. */
START_TEST(compare_counts)
{
	size_t sizes[4] = { 12, 40, 25, 6 };
	mlp_net *net = random_net(3, sizes, 9), *q;
	mlp_quantize_opts o = mlp_quantize_defaults();
	mlp_quant_error err[3], self[3];
	struct trng g = { 10 };
	float X[300 * 12];
	uint64_t clipped0 = 0;
	float s_in;

	trng_fill(&g, X, 300 * 12, -2, 2);
	o.percentile = 99.0;
	ck_assert_int_eq(mlp_net_quantize(&q, net, 200, X, &o, NULL), MLP_OK);
	ck_assert_int_eq(mlp_quant_compare(q, net, 300, X, err, 3), MLP_OK);
	ck_assert_int_eq(mlp_net_quant_scales(q, 0, &s_in, NULL), MLP_OK);
	for (size_t i = 0; i < 300 * 12; i++)
		clipped0 += fabsf(X[i] / s_in) >= 127.5f;
	ck_assert_uint_eq(err[0].clipped, clipped0);
	ck_assert_uint_gt(err[0].clipped, 0);
	ck_assert_uint_eq(err[0].inputs, 300 * 12);
	ck_assert_uint_eq(err[2].inputs, 300 * 25);
	for (int l = 0; l < 3; l++) {
		ck_assert_double_gt(err[l].rel_rms, 0);
		/* 1% of the inputs clipped, on purpose: still within 10%. */
		ck_assert_double_lt(err[l].rel_rms, 0.1);
		ck_assert_double_gt(err[l].max_abs, 0);
	}
	/* Against its own dequantised weights the error is the inputs'
	 * rounding alone: smaller. */
	ck_assert_int_eq(mlp_quant_compare(q, NULL, 300, X, self, 3), MLP_OK);
	ck_assert_double_le(self[0].rel_rms, err[0].rel_rms);
	ck_assert_int_eq(mlp_quant_compare(net, NULL, 300, X, self, 3), MLP_EINVAL);
	ck_assert_int_eq(mlp_quant_compare(q, NULL, 300, X, self, 2), MLP_ESIZE);
	ck_assert_int_eq(mlp_quant_compare(q, NULL, 0, X, self, 3), MLP_ESIZE);
	ck_assert_int_eq(mlp_quant_compare(NULL, NULL, 3, X, self, 3), MLP_ENULL);
	X[5] = NAN;
	ck_assert_int_eq(mlp_quant_compare(q, NULL, 3, X, self, 3), MLP_ENONFINITE);
	mlp_net_free(q);
	mlp_net_free(net);
}
END_TEST

/* Arguments; a change to the parameters ends the int8 part; clones keep
 * it; int8 plans refuse a float network. */
START_TEST(quantize_arguments)
{
	size_t sizes[3] = { 4, 8, 3 };
	mlp_net *net = random_net(2, sizes, 11), *q = NULL, *c;
	mlp_quantize_opts o = mlp_quantize_defaults();
	float X[4 * 4] = { 1, 2, 3, 4, -1, -2, -3, -4, 0, 0, 0, 0, 1, 1, 1, 1 };
	float s;
	mlp_plan *plan = NULL;
	mlp_msg msg;

	ck_assert_int_eq(mlp_net_quantize(NULL, net, 4, X, NULL, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_net_quantize(&q, NULL, 4, X, NULL, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_net_quantize(&q, net, 4, NULL, NULL, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_net_quantize(&q, net, 0, X, NULL, &msg), MLP_ESIZE);
	o.percentile = 50;
	ck_assert_int_eq(mlp_net_quantize(&q, net, 4, X, &o, &msg), MLP_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg.text, "percentile"));
	o = mlp_quantize_defaults();
	o.method = (mlp_calibration)7;
	ck_assert_int_eq(mlp_net_quantize(&q, net, 4, X, &o, &msg), MLP_EINVAL);
	o = mlp_quantize_defaults();
	o.struct_size = 3;
	ck_assert_int_eq(mlp_net_quantize(&q, net, 4, X, &o, &msg), MLP_EINVAL);
	ck_assert_int_eq(mlp_quantize_opts_init(&o, 3), MLP_EINVAL);
	X[6] = INFINITY;
	ck_assert_int_eq(mlp_net_quantize(&q, net, 4, X, NULL, &msg), MLP_ENONFINITE);
	ck_assert_ptr_null(q);
	X[6] = -3;
	ck_assert_int_eq(mlp_plan_create(&plan, net, MLP_INT8, 4), MLP_EINVAL);
	ck_assert_ptr_null(plan);
	ck_assert_int_eq(mlp_net_quantize(&q, net, 4, X, NULL, &msg), MLP_OK);
	ck_assert_str_eq(msg.text, "");
	ck_assert_int_eq(mlp_net_quant_scales(q, 2, &s, NULL), MLP_ESIZE);
	ck_assert_int_eq(mlp_net_quant_scales(net, 0, &s, NULL), MLP_EINVAL);
	ck_assert_int_eq(mlp_net_quant_scales(q, 0, NULL, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_net_clone(&c, q), MLP_OK);
	ck_assert(mlp_net_quantized(c));
	ck_assert_int_eq(memcmp(c->layers[1].Wq, q->layers[1].Wq, 24), 0);
	ck_assert_int_eq(mlp_plan_create(&plan, c, MLP_INT8, 4), MLP_OK);
	mlp_plan_free(plan);
	/* A pointer to the weights may change them: the int8 part ends. */
	(void)mlp_net_weights(c, 0);
	ck_assert(!mlp_net_quantized(c));
	ck_assert_int_eq(mlp_plan_create_opts(&plan, c, &(mlp_plan_opts){
		.struct_size = sizeof(mlp_plan_opts), .precision = MLP_INT8,
		.max_batch = 4, .time_limit = 1 }, &msg), MLP_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg.text, "changed"));
	ck_assert(!mlp_net_quantized(NULL));
	mlp_net_free(c);
	/* A trainer will change the parameters: the int8 part ends; int8 is
	 * no precision to train in. */
	{
		mlp_train_opts to = mlp_train_defaults();
		mlp_trainer *t;

		ck_assert_int_eq(mlp_net_clone(&c, q), MLP_OK);
		to.precision = MLP_INT8;
		ck_assert_int_eq(mlp_train_check(c, &to, &msg), MLP_EINVAL);
		ck_assert_ptr_nonnull(strstr(msg.text, "int8"));
		to.precision = MLP_FP32;
		ck_assert(mlp_net_quantized(c));
		ck_assert_int_eq(mlp_trainer_create(&t, c, &to, 4), MLP_OK);
		ck_assert(!mlp_net_quantized(c));
		mlp_trainer_free(t);
		mlp_net_free(c);
	}
	mlp_net_free(q);
	mlp_net_free(net);
}
END_TEST

/* A failure at each allocation of mlp_net_quantize and of an int8 plan:
 * its status, nothing left behind. */
START_TEST(quantize_allocation_failure)
{
	size_t sizes[3] = { 6, 9, 2 };
	mlp_net *net = random_net(2, sizes, 12), *q = NULL;
	float X[3 * 6] = { 1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6, 0 };
	long calls, at;
	mlp_status st = MLP_ENOMEM;

	for (at = 1; st != MLP_OK; at++) {
		alloc_arm(at);
		st = mlp_net_quantize(&q, net, 3, X, NULL, NULL);
		calls = alloc_calls();
		if (st != MLP_OK && alloc_live() != 0)
			break;
		if (st == MLP_OK)
			mlp_net_free(q);
		alloc_disarm();
		ck_assert_int_eq(st == MLP_OK || st == MLP_ENOMEM, 1);
		ck_assert_int_le(at, calls + 1);
	}
	alloc_disarm();
	ck_assert_int_eq(st, MLP_OK);
	ck_assert_int_eq(alloc_live(), 0);
	mlp_net_free(net);
}
END_TEST

/* MLP_INT8 plans: every layer on the int8 kernel gives the reference
 * chain's bits (mlp_quant_compare's arithmetic), at every batch, a row
 * alone or in a batch; the planner's own choice within the int8 error of
 * the float network. */
START_TEST(int8_plans)
{
	static const size_t shapes[][4] = { { 3, 5, 7, 2 }, { 70, 33, 17, 10 },
					    { 784, 64, 40, 10 } };
	const size_t *sz = shapes[_i];
	mlp_net *net = random_net(3, sz, 13 + (uint64_t)_i), *q;
	const struct mlpi_kernel *only[1] = { &mlpi_kernel_int8 };
	mlp_plan_opts o = mlp_plan_defaults();
	struct trng g = { 14 };
	enum { ROWS = 37 };
	float *X = malloc(ROWS * sz[0] * sizeof(float));
	float *Y = malloc(ROWS * sz[3] * sizeof(float));
	float *Z = malloc(ROWS * sz[3] * sizeof(float));
	float *want = malloc(ROWS * sz[3] * sizeof(float));
	float *h[2];
	int8_t *xq = malloc(sz[0] + sz[1] + sz[2]);
	mlp_plan *plan;
	uint64_t clip = 0;
	mlp_status st;
	long calls;

	h[0] = malloc(ROWS * 100 * sizeof(float));
	h[1] = malloc(ROWS * 100 * sizeof(float));
	trng_fill(&g, X, ROWS * sz[0], -1, 1);
	ck_assert_int_eq(mlp_net_quantize(&q, net, ROWS, X, NULL, NULL), MLP_OK);
	mlpi_int8_reference(&q->layers[0], ROWS, X, h[0], xq, &clip);
	mlpi_int8_reference(&q->layers[1], ROWS, h[0], h[1], xq, &clip);
	mlpi_int8_reference(&q->layers[2], ROWS, h[1], want, xq, &clip);
	o.precision = MLP_INT8;
	o.max_batch = 16;
	ck_assert_int_eq(mlpi_plan_create_with(only, 1, &plan, q, &o, NULL), MLP_OK);
	ck_assert_ptr_nonnull(strstr(mlp_plan_describe(plan), "int8"));
	ck_assert_str_eq(mlp_plan_kernel(plan, 16, 1), "int8");
	alloc_arm(0);
	st = mlp_plan_forward(plan, ROWS, X, Y);
	for (size_t r = 0; r < ROWS; r++)
		st = st != MLP_OK ? st : mlp_plan_forward(plan, 1, X + r * sz[0],
							  Z + r * sz[3]);
	calls = alloc_calls();
	alloc_disarm();
	ck_assert_int_eq(st, MLP_OK);
	ck_assert_int_eq(calls, 0);
	ck_assert_int_eq(memcmp(Y, want, ROWS * sz[3] * sizeof(float)), 0);
	ck_assert_int_eq(memcmp(Z, want, ROWS * sz[3] * sizeof(float)), 0);
	mlp_plan_free(plan);
	for (int effort = MLP_ESTIMATE; effort <= MLP_MEASURE; effort++) {
		mlp_workspace *ws;

		o.effort = (mlp_plan_effort)effort;
		o.time_limit = 0.05;
		ck_assert_int_eq(mlp_plan_create_opts(&plan, q, &o, NULL), MLP_OK);
		ck_assert_int_eq(mlp_plan_forward(plan, ROWS, X, Y), MLP_OK);
		ck_assert_int_eq(mlp_workspace_create(&ws, q, ROWS), MLP_OK);
		ck_assert_int_eq(mlp_forward(q, ws, ROWS, X, Z), MLP_OK);
		/* Softmax outputs: within 0.05 of the dequantised float
		 * network's, whichever kernels the planner took. */
		for (size_t i = 0; i < ROWS * sz[3]; i++)
			ck_assert_float_eq_tol(Y[i], Z[i], 0.05);
		mlp_workspace_free(ws);
		mlp_plan_free(plan);
	}
	mlp_net_free(q);
	mlp_net_free(net);
	free(X);
	free(Y);
	free(Z);
	free(want);
	free(xq);
	free(h[0]);
	free(h[1]);
}
END_TEST

/* ---- files ------------------------------------------------------------------ */

static unsigned char *read_whole(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*size = (size_t)n;
	return buf;
}

/* A quantised network saved and loaded is the same network: int8
 * weights, scales, float weights and outputs the same bits; the file of
 * 784-256-128-10 is at most 0.3 of the float one. */
START_TEST(file_round_trip)
{
	size_t sizes[4] = { 784, 256, 128, 10 };
	mlp_net *net = random_net(3, sizes, 15), *q, *back;
	char fpath[] = "/tmp/mlp-quant-XXXXXX", qpath[64];
	enum { ROWS = 20 };
	float *X = malloc(ROWS * 784 * sizeof(float)), Y[ROWS * 10], Z[ROWS * 10];
	struct trng g = { 16 };
	unsigned char *fb, *qb;
	size_t fsize, qsize;
	mlp_plan *p1, *p2;
	mlp_msg msg;
	int fd = mkstemp(fpath);

	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(qpath, sizeof(qpath), "%s.q", fpath);
	trng_fill(&g, X, ROWS * 784, 0, 1);
	ck_assert_int_eq(mlp_net_quantize(&q, net, ROWS, X, NULL, NULL), MLP_OK);
	ck_assert_int_eq(mlp_net_save(net, fpath, &msg), MLP_OK);
	ck_assert_int_eq(mlp_net_save(q, qpath, &msg), MLP_OK);
	fb = read_whole(fpath, &fsize);
	qb = read_whole(qpath, &qsize);
	ck_assert_msg(qsize <= 0.3 * (double)fsize, "%zu bytes against %zu", qsize, fsize);
	ck_assert_int_eq(mlp_net_load(&back, qpath, NULL, &msg), MLP_OK);
	ck_assert(mlp_net_quantized(back));
	for (size_t l = 0; l < 3; l++) {
		const struct mlp_layer *a = &q->layers[l], *b = &back->layers[l];

		ck_assert_int_eq(memcmp(a->Wq, b->Wq, a->n_out * a->n_in), 0);
		ck_assert_int_eq(memcmp(a->w_scale, b->w_scale, a->n_out * 4), 0);
		ck_assert_int_eq(memcmp(a->W, b->W, a->n_out * a->n_in * 4), 0);
		ck_assert_int_eq(memcmp(a->b, b->b, a->n_out * 4), 0);
		ck_assert(a->in_scale == b->in_scale && a->act == b->act);
	}
	ck_assert_int_eq(mlp_plan_create(&p1, q, MLP_INT8, ROWS), MLP_OK);
	ck_assert_int_eq(mlp_plan_create(&p2, back, MLP_INT8, ROWS), MLP_OK);
	ck_assert_int_eq(mlp_plan_forward(p1, ROWS, X, Y), MLP_OK);
	ck_assert_int_eq(mlp_plan_forward(p2, ROWS, X, Z), MLP_OK);
	ck_assert_int_eq(memcmp(Y, Z, sizeof(Y)), 0);
	/* Once changed, it saves as a float network. */
	(void)mlp_net_bias(back, 0);
	ck_assert_int_eq(mlp_net_save(back, qpath, &msg), MLP_OK);
	free(qb);
	qb = read_whole(qpath, &qsize);
	ck_assert_uint_eq(qsize, fsize);
	mlp_plan_free(p1);
	mlp_plan_free(p2);
	unlink(fpath);
	unlink(qpath);
	free(fb);
	free(qb);
	free(X);
	mlp_net_free(back);
	mlp_net_free(q);
	mlp_net_free(net);
}
END_TEST

/* A quantised file broken in one way, refused with a message naming the
 * rule. The file of 5-4-3: per layer bias, weight scales, input scale
 * (bytes 0-35, then 36-63), then the I8 weights (64-83, 84-95). */
static const struct {
	long at;                /* a byte of the data to patch, or -1 */
	unsigned char bytes[4]; /* what goes there */
	size_t n;
	const char *from, *to;  /* a change to the header */
	const char *expect;
} broken[] = {
	{ 16, { 0, 0, 0x80, 0xbf }, 4, NULL, NULL, "a scale is from" },   /* -1 */
	{ 16, { 0, 0, 0, 0 }, 4, NULL, NULL, "a scale is from" },          /* 0 */
	{ 32, { 0, 0, 0xc0, 0x7f }, 4, NULL, NULL, "NaN or infinity" },    /* NaN */
	{ 32, { 0, 0, 0x80, 0x59 }, 4, NULL, NULL, "a scale is from" },    /* 2^52 */
	{ 60, { 0, 0, 0x80, 0x7f }, 4, NULL, NULL, "NaN or infinity" },    /* inf */
	{ 67, { 0x80 }, 1, NULL, NULL, "is -128" },
	{ -1, { 0 }, 0, "quant.1.input_scale", "quant.1.inputXscale",
	  "not a quantisation tensor" },
	{ -1, { 0 }, 0, "quant.1.weight_scale", "quant.7.weight_scale",
	  "no such layer" },
	{ -1, { 0 }, 0, "\"int8\"", "\"int9\"", "quantization is" },
};
#define N_BROKEN (sizeof(broken) / sizeof(broken[0]))

START_TEST(file_refused)
{
	size_t sizes[3] = { 5, 4, 3 }, size, hl = 0;
	mlp_net *net = random_net(2, sizes, 17), *q, *back = NULL;
	float X[2 * 5] = { 1, -2, 3, 0.5f, 0, 2, 2, -1, 0, 1 };
	char path[] = "/tmp/mlp-quant-XXXXXX";
	unsigned char *f;
	mlp_msg msg;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(mlp_net_quantize(&q, net, 2, X, NULL, NULL), MLP_OK);
	ck_assert_int_eq(mlp_net_save(q, path, &msg), MLP_OK);
	f = read_whole(path, &size);
	for (int k = 7; k >= 0; k--)
		hl = hl << 8 | f[k];
	ck_assert_uint_eq(size, 8 + hl + 96);
	ck_assert_int_eq(mlp_net_load_memory(&back, f, size, NULL, &msg), MLP_OK);
	mlp_net_free(back);
	back = NULL;
	for (size_t i = 0; i < N_BROKEN; i++) {
		unsigned char *g = malloc(size);
		char *at;

		memcpy(g, f, size);
		if (broken[i].at >= 0)
			memcpy(g + 8 + hl + broken[i].at, broken[i].bytes, broken[i].n);
		if (broken[i].from != NULL) {
			char *h = strndup((const char *)g + 8, hl);

			at = strstr(h, broken[i].from);
			ck_assert_ptr_nonnull(at);
			ck_assert_uint_eq(strlen(broken[i].from), strlen(broken[i].to));
			memcpy(g + 8 + (at - h), broken[i].to, strlen(broken[i].to));
			free(h);
		}
		ck_assert_int_eq(mlp_net_load_memory(&back, g, size, NULL, &msg),
				 MLP_EFORMAT);
		ck_assert_ptr_null(back);
		ck_assert_msg(strstr(msg.text, broken[i].expect) != NULL,
			      "case %zu: \"%s\" does not say \"%s\"", i, msg.text,
			      broken[i].expect);
		free(g);
	}
	unlink(path);
	free(f);
	mlp_net_free(q);
	mlp_net_free(net);
}
END_TEST

int main(int argc, char **argv)
{
	static char why[96];
	Suite *s = suite_create("quant");
	TCase *tc;

	if (test_part(argc, argv, "onednn")) {
#if defined(MLP_HAVE_ONEDNN)
		float w = 0, b = 0, one_scale = 1;
		int8_t q = 0;
		struct mlp_layer one = { 1, 1, MLP_IDENTITY, &w, &b, &q,
					 &one_scale, 1 };

		if (!mlpi_kernel_onednn_int8.supports(&one, 1))
			return test_skip("oneDNN runs int8 exactly only with VNNI "
					 "or AMX, which this CPU lacks");
		tc = tcase_create("onednn-int8");
		tcase_set_timeout(tc, 240);
		tcase_add_test(tc, onednn_exact);
		suite_add_tcase(s, tc);
		return run_suite(s);
#else
		return test_skip("this build has no oneDNN");
#endif
	}
	isa = test_part(argc, argv, "vnni") ? MLPI_KINT8_VNNI512
	      : test_part(argc, argv, "avx2") ? MLPI_KINT8_AVX2
					     : MLPI_KINT8_C;
	if (!mlpi_kint8_runs(isa)) {
		snprintf(why, sizeof(why), "this CPU has no %s (the int8 "
			 "kernel's variant for it is not run)", mlpi_kint8_name(isa));
		return test_skip(why);
	}
	tc = tcase_create(mlpi_kint8_name(isa));
	tcase_set_timeout(tc, 240);
	tcase_add_loop_test(tc, variant_exact, 0, N_WIDTHS);
	tcase_add_test(tc, variant_no_saturation);
	tcase_add_test(tc, variant_refuses_wide);
	suite_add_tcase(s, tc);
	if (isa == MLPI_KINT8_C) {
		tc = tcase_create("quantise");
		tcase_set_timeout(tc, 120);
		tcase_add_test(tc, quantize_scales);
		tcase_add_test(tc, compare_counts);
		tcase_add_test(tc, quantize_arguments);
		tcase_add_test(tc, quantize_allocation_failure);
		tcase_add_loop_test(tc, int8_plans, 0, 3);
		tcase_add_test(tc, file_round_trip);
		tcase_add_test(tc, file_refused);
		suite_add_tcase(s, tc);
	}
	return run_suite(s);
}
