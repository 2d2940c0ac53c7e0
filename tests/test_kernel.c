/*
 * test_kernel.c — mlp's own fp32 layer kernel (kernel_fp32.c) alone: each
 * variant against the double reference within the float bound, on widths
 * 1 to 1025 (every panel edge: 15, 16, 17, 31, 32, 33, ...) and rows 1 to
 * 17 and 64; the packed layout; nothing written past Y's rows; no
 * allocation.
 *
 * The main part tests the plain C variant, which runs everywhere; the
 * parts "avx2" and "avx512" the vector ones, each skipped (77) on a CPU
 * without the instructions, as the library's rule (cpu.c) says.
 */
#include "support.h"

#include "kernel_fp32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum mlpi_kfp32_isa isa; /* the variant under test */

static const size_t widths[] = { 1,   2,   3,   7,   15,  16,  17,  31,
				 32,  33,  48,  63,  64,  65,  100, 255,
				 256, 257, 511, 513, 1023, 1025 };
#define N_WIDTHS (sizeof(widths) / sizeof(widths[0]))

/* A layer of n_out × n_in on `rows` rows against the double reference;
 * the floats past Y's end untouched. */
static void check_layer(size_t rows, size_t n_in, size_t n_out, uint64_t seed)
{
	struct trng g = { seed };
	float *W = malloc(n_out * n_in * sizeof(float));
	float *b = malloc(n_out * sizeof(float));
	float *X = malloc(rows * n_in * sizeof(float));
	float *Y = malloc((rows * n_out + 16) * sizeof(float));
	float *P = malloc(mlpi_kfp32_size(n_out, n_in) * sizeof(float));
	double *Xd = malloc(rows * n_in * sizeof(double));
	double *want = malloc(rows * n_out * sizeof(double));
	double *err = malloc(rows * n_out * sizeof(double));
	size_t where;
	double worst;
	long calls;

	ck_assert(W && b && X && Y && P && Xd && want && err);
	trng_fill(&g, W, n_out * n_in, -1, 1);
	trng_fill(&g, b, n_out, -1, 1);
	trng_fill(&g, X, rows * n_in, -2, 2);
	for (size_t i = 0; i < rows * n_in; i++)
		Xd[i] = X[i];
	for (size_t i = 0; i < 16; i++)
		Y[rows * n_out + i] = 1234.5f;
	mlpi_kfp32_pack(n_out, n_in, W, b, P);
	alloc_arm(0);
	mlpi_kfp32_run(isa, rows, n_in, n_out, P, X, Y);
	calls = alloc_calls();
	alloc_disarm();
	ck_assert_int_eq(calls, 0);
	ref_layer(rows, n_in, n_out, W, b, MLP_IDENTITY, Xd, NULL, want, err);
	worst = ref_worst(rows * n_out, Y, want, err, &where);
	ck_assert_msg(worst <= 1.0, "%s, %zu rows of %zu -> %zu: output %zu is "
		      "%.9g, the reference %.9g within %.3g (%.3g of the bound)",
		      mlpi_kfp32_name(isa), rows, n_in, n_out, where,
		      (double)Y[where], want[where], err[where], worst);
	for (size_t i = 0; i < 16; i++)
		ck_assert_msg(Y[rows * n_out + i] == 1234.5f,
			      "written past Y: %zu rows of %zu", rows, n_out);
	free(W);
	free(b);
	free(X);
	free(Y);
	free(P);
	free(Xd);
	free(want);
	free(err);
}

/* Every width as the outputs, against inputs of several widths, and every
 * row count from 1 to 17 and 64. */
START_TEST(widths_and_rows)
{
	size_t n_out = widths[_i];
	static const size_t ins[] = { 1, 3, 16, 17, 64, 257 };

	for (size_t j = 0; j < sizeof(ins) / sizeof(ins[0]); j++)
		for (size_t rows = 1; rows <= 17; rows++)
			check_layer(rows, ins[j], n_out, 100 * _i + j + rows);
	check_layer(64, 33, n_out, 7 + _i);
	check_layer(5, 1025, n_out, 9 + _i);
	check_layer(3, n_out, 17, 11 + _i);
}
END_TEST

/* The packed form: panel p, input k, lane j holds W[16p + j][k], zeros
 * past n_out; the bias after the panels, padded with zeros (and zeros for
 * no bias). */
START_TEST(packed_layout)
{
	enum { NO = 21, NI = 5 };
	float W[NO * NI], b[NO], P[2 * 16 * (NI + 1)];

	ck_assert_uint_eq(mlpi_kfp32_size(NO, NI), 2 * 16 * (NI + 1));
	for (size_t i = 0; i < NO * NI; i++)
		W[i] = (float)i;
	for (size_t o = 0; o < NO; o++)
		b[o] = -(float)o;
	mlpi_kfp32_pack(NO, NI, W, b, P);
	for (size_t p = 0; p < 2; p++)
		for (size_t k = 0; k < NI; k++)
			for (size_t j = 0; j < 16; j++) {
				size_t o = p * 16 + j;

				ck_assert(P[(p * NI + k) * 16 + j] ==
					  (o < NO ? W[o * NI + k] : 0.0f));
			}
	for (size_t o = 0; o < 32; o++)
		ck_assert(P[2 * 16 * NI + o] == (o < NO ? b[o] : 0.0f));
	mlpi_kfp32_pack(NO, NI, W, NULL, P);
	for (size_t o = 0; o < 32; o++)
		ck_assert(P[2 * 16 * NI + o] == 0.0f);
}
END_TEST

/* mlpi_kfp32_run_panels: each row's outputs the same bits run alone as in
 * any number of rows (blocks of 8, 6, 4 and 1 rows, chunks of 64): what
 * batch-invariant plans rest on. */
START_TEST(rows_alone_same_bits)
{
	static const size_t outs[] = { 1, 17, 33, 100 }, ins[] = { 3, 65, 300 };
	enum { MAX_ROWS = 70 };

	for (size_t o = 0; o < 4; o++)
		for (size_t i = 0; i < 3; i++) {
			size_t n_out = outs[o], n_in = ins[i];
			size_t panels = mlpi_kfp32_panels(n_out);
			struct trng g = { 5 + o + 10 * i };
			float *W = malloc(n_out * n_in * sizeof(float));
			float *b = malloc(n_out * sizeof(float));
			float *X = malloc(MAX_ROWS * n_in * sizeof(float));
			float *Y = malloc(MAX_ROWS * n_out * sizeof(float));
			float *one = malloc(MAX_ROWS * n_out * sizeof(float));
			float *P = malloc(mlpi_kfp32_size(n_out, n_in) * sizeof(float));

			ck_assert(W && b && X && Y && one && P);
			trng_fill(&g, W, n_out * n_in, -1, 1);
			trng_fill(&g, b, n_out, -1, 1);
			trng_fill(&g, X, MAX_ROWS * n_in, -2, 2);
			mlpi_kfp32_pack(n_out, n_in, W, b, P);
			for (size_t r = 0; r < MAX_ROWS; r++)
				mlpi_kfp32_run_panels(isa, 1, n_in, n_out, P, X + r * n_in,
						      one + r * n_out, 0, panels);
			for (size_t rows = 2; rows <= MAX_ROWS; rows += rows < 20 ? 1 : 25) {
				mlpi_kfp32_run_panels(isa, rows, n_in, n_out, P, X, Y, 0,
						      panels);
				ck_assert_msg(memcmp(Y, one, rows * n_out * sizeof(float)) == 0,
					      "%s, %zu rows of %zu -> %zu: a row differs "
					      "from itself alone", mlpi_kfp32_name(isa),
					      rows, n_in, n_out);
			}
			free(W), free(b), free(X), free(Y), free(one), free(P);
		}
}
END_TEST

int main(int argc, char **argv)
{
	static char why[96];
	Suite *s;
	TCase *tc;

	isa = test_part(argc, argv, "avx512") ? MLPI_KFP32_AVX512
	      : test_part(argc, argv, "avx2") ? MLPI_KFP32_AVX2
					     : MLPI_KFP32_C;
	if (!mlpi_kfp32_runs(isa)) {
		snprintf(why, sizeof(why), "this CPU has no %s (the kernel's "
			 "variant for it is not run)", mlpi_kfp32_name(isa));
		return test_skip(why);
	}
	s = suite_create("kernel");
	tc = tcase_create(mlpi_kfp32_name(isa));
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, packed_layout);
	tcase_add_test(tc, rows_alone_same_bits);
	tcase_add_loop_test(tc, widths_and_rows, 0, N_WIDTHS);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
