/*
 * int8_ways.c — bench_int8: the ways to multiply int8 on a CPU without
 * VNNI, timed on one thread against the fp32 kernel, per layer of the
 * bench's 784-wide networks and rows a pass:
 *
 *   fp32-avx2     mlp's fp32 kernel, AVX2 with FMA (kernel_fp32.c)
 *   i8-madd16     int16 operands and vpmaddwd, exact: here only, the way
 *                 mlp's AVX2 kernel was measured against
 *   i8-shift128   inputs shifted to u8 (0-255), vpmaddubsw then vpmaddwd
 *                 by ones: the way that saturates 16 bits with 8-bit
 *                 weights (what 7-bit weights would buy); timed only
 *   avx2 x>=0     mlp's int8 kernel on AVX2 (kernel_int8.c), rows ≥ 0
 *   avx2 x<>0     the same, rows of both signs (|x| and vpsignb)
 *   i8-vnni       mlp's int8 kernel on AVX512-VNNI, where the CPU has it
 *   fp32-avx512   mlp's fp32 kernel on AVX-512, where the CPU has it
 *
 * Medians of 7 samples; microseconds a pass.
 */
#define _POSIX_C_SOURCE 200809L
#include "cpu.h"
#include "kernel_fp32.h"
#include "kernel_int8.h"
#include "net.h"

#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

typedef void (*pass_fn)(void *arg);

static double median_us(pass_fn fn, void *arg)
{
	double t[7], one = now_us();
	size_t reps;

	fn(arg);
	one = now_us() - one;
	reps = one >= 50 ? 1 : (size_t)(50 / (one + 0.01)) + 1;
	for (int s = 0; s < 7; s++) {
		double t0 = now_us();

		for (size_t r = 0; r < reps; r++)
			fn(arg);
		t[s] = (now_us() - t0) / (double)reps;
	}
	qsort(t, 7, sizeof(double), cmp);
	return t[3];
}

struct job {
	size_t rows, n_in, n_out;
	const float *X, *P;
	float *Y;
	enum mlpi_kfp32_isa isa;
	const void *packed;
	void *scratch;
	/* the ways timed here: weights as 16 outputs × 4 inputs a group
	 * (bytes) or × 2 (int16), inputs as bytes or int16 */
	const int8_t *W8;
	const int16_t *W16;
	const uint8_t *Xu;
	const int16_t *X16;
	int32_t *acc;
};

static void run_fp32(void *arg)
{
	struct job *j = arg;

	mlpi_kfp32_run_panels(j->isa, j->rows, j->n_in, j->n_out, j->P, j->X, j->Y,
			      0, mlpi_kfp32_panels(j->n_out));
}

static void run_int8(void *arg)
{
	struct job *j = arg;

	mlpi_kint8_run(j->packed, j->scratch, j->rows, j->X, j->Y);
}

/* Rows × panels of 16 outputs, one ymm pair a panel: per group of 4
 * inputs, vpmaddubsw (u8 × s8 pairs into saturating int16), vpmaddwd by
 * ones (into int32), an add. */
__attribute__((target("avx2")))
static void run_maddubs(void *arg)
{
	struct job *j = arg;
	size_t groups = (j->n_in + 3) / 4, panels = (j->n_out + 15) / 16;
	const __m256i ones = _mm256_set1_epi16(1);

	for (size_t r0 = 0; r0 < j->rows; r0 += 4) {
		size_t R = j->rows - r0 < 4 ? j->rows - r0 : 4;

		for (size_t p = 0; p < panels; p++) {
			__m256i acc[4][2];
			const int8_t *w = j->W8 + p * groups * 64;

			for (size_t r = 0; r < 4; r++)
				acc[r][0] = acc[r][1] = _mm256_setzero_si256();
			for (size_t g = 0; g < groups; g++, w += 64) {
				__m256i w0 = _mm256_load_si256((const __m256i *)(const void *)w);
				__m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(w + 32));

				for (size_t r = 0; r < 4; r++) {
					int32_t x4;
					__m256i x;

					if (r >= R)
						break;
					memcpy(&x4, j->Xu + (r0 + r) * groups * 4 + 4 * g, 4);
					x = _mm256_set1_epi32(x4);
					acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(
						_mm256_maddubs_epi16(x, w0), ones));
					acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(
						_mm256_maddubs_epi16(x, w1), ones));
				}
			}
			for (size_t r = 0; r < R; r++) {
				int32_t *out = j->acc + (r0 + r) * panels * 16 + p * 16;

				_mm256_storeu_si256((__m256i *)(void *)out, acc[r][0]);
				_mm256_storeu_si256((__m256i *)(void *)(out + 8), acc[r][1]);
			}
		}
	}
}

/* The same with int16 operands: per group of 2 inputs, vpmaddwd, an add. */
__attribute__((target("avx2")))
static void run_madd16(void *arg)
{
	struct job *j = arg;
	size_t groups = (j->n_in + 1) / 2, panels = (j->n_out + 15) / 16;

	for (size_t r0 = 0; r0 < j->rows; r0 += 4) {
		size_t R = j->rows - r0 < 4 ? j->rows - r0 : 4;

		for (size_t p = 0; p < panels; p++) {
			__m256i acc[4][2];
			const int16_t *w = j->W16 + p * groups * 32;

			for (size_t r = 0; r < 4; r++)
				acc[r][0] = acc[r][1] = _mm256_setzero_si256();
			for (size_t g = 0; g < groups; g++, w += 32) {
				__m256i w0 = _mm256_load_si256((const __m256i *)(const void *)w);
				__m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(w + 16));

				for (size_t r = 0; r < 4; r++) {
					int32_t x2;
					__m256i x;

					if (r >= R)
						break;
					memcpy(&x2, j->X16 + (r0 + r) * groups * 2 + 2 * g, 4);
					x = _mm256_set1_epi32(x2);
					acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, w0));
					acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, w1));
				}
			}
			for (size_t r = 0; r < R; r++) {
				int32_t *out = j->acc + (r0 + r) * panels * 16 + p * 16;

				_mm256_storeu_si256((__m256i *)(void *)out, acc[r][0]);
				_mm256_storeu_si256((__m256i *)(void *)(out + 8), acc[r][1]);
			}
		}
	}
}

int main(void)
{
	static const size_t shapes[][2] = { { 784, 256 }, { 256, 256 }, { 256, 10 },
					    { 784, 1024 }, { 1024, 1024 }, { 1024, 10 } };
	static const size_t rows[] = { 1, 8, 64, 256 };
	bool vnni = mlpi_kint8_runs(MLPI_KINT8_VNNI512);
	bool avx512 = mlpi_kfp32_runs(MLPI_KFP32_AVX512);

	if (!mlpi_cpu_avx2()) {
		puts("bench_int8: this CPU has no AVX2");
		return 0;
	}
	printf("one thread; microseconds a pass (median of 7); x >=0, x <>0: "
	       "fp32-avx2 / mlp's int8 on AVX2\n");
	printf("%-10s %4s %9s %9s %9s %9s %9s %9s %9s %7s %7s\n", "layer", "rows",
	       "fp32-avx2", "madd16", "shift128", "avx2 x>=0", "avx2 x<>0",
	       "i8-vnni", "fp32-512", "x >=0", "x <>0");
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		size_t n_in = shapes[s][0], n_out = shapes[s][1], max = 256;
		size_t sizes[2] = { n_in, n_out }, groups = (n_in + 3) / 4;
		size_t panels = (n_out + 15) / 16;
		mlp_act act = MLP_IDENTITY;
		mlp_net *net, *q;
		float *X = malloc(max * n_in * sizeof(float));
		float *Y = malloc(max * n_out * sizeof(float));
		float *P = mlpi_alloc_aligned(mlpi_kfp32_size(n_out, n_in) * sizeof(float));
		int8_t *W8 = mlpi_alloc_aligned(panels * groups * 64);
		int16_t *W16 = mlpi_alloc_aligned(panels * groups * 64 * 2);
		uint8_t *Xu = malloc(max * groups * 4);
		int16_t *X16 = malloc(max * groups * 4 * 2);
		float *Xabs = malloc(max * n_in * sizeof(float));
		int32_t *acc = malloc(max * panels * 16 * sizeof(int32_t));
		void *packed[2] = { NULL, NULL }, *scratch[2] = { NULL, NULL };

		if (!X || !Y || !P || !W8 || !W16 || !Xu || !X16 || !Xabs || !acc ||
		    mlp_net_create(&net, 1, sizes, &act) != MLP_OK ||
		    mlp_net_init(net, 1) != MLP_OK)
			return 1;
		for (size_t i = 0; i < max * n_in; i++)
			X[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
		if (mlp_net_quantize(&q, net, max, X, NULL, NULL) != MLP_OK)
			return 1;
		mlpi_kfp32_pack(n_out, n_in, net->layers[0].W, net->layers[0].b, P);
		memset(W8, 1, panels * groups * 64);
		memset(Xu, 100, max * groups * 4);
		for (size_t i = 0; i < panels * groups * 64; i++)
			W16[i] = (int16_t)(i % 255) - 127;
		for (size_t i = 0; i < max * groups * 4; i++)
			X16[i] = (int16_t)(i % 255) - 127;
		for (size_t i = 0; i < max * n_in; i++)
			Xabs[i] = X[i] < 0 ? -X[i] : X[i];
		for (int v = 0; v < 2; v++) {
			enum mlpi_kint8_isa isa = v == 0 ? MLPI_KINT8_AVX2 : MLPI_KINT8_VNNI512;

			if (mlpi_kint8_runs(isa) &&
			    mlpi_kint8_pack(&q->layers[0], isa, max, 1, &packed[v]) == MLP_OK)
				scratch[v] = mlpi_alloc_aligned(mlpi_kint8_scratch(packed[v]));
		}
		for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
			struct job j = { rows[r], n_in, n_out, X, P, Y, MLPI_KFP32_AVX2,
					 packed[0], scratch[0], W8, W16, Xu, X16, acc };
			double f2 = median_us(run_fp32, &j), mixed = median_us(run_int8, &j);
			double m16 = median_us(run_madd16, &j), mub = median_us(run_maddubs, &j);
			double pos, vn = NAN, f5 = NAN;
			char layer[24];

			j.X = Xabs;
			pos = median_us(run_int8, &j);
			j.X = X;
			if (vnni && packed[1] != NULL) {
				j.packed = packed[1];
				j.scratch = scratch[1];
				vn = median_us(run_int8, &j);
			}
			if (avx512) {
				j.isa = MLPI_KFP32_AVX512;
				f5 = median_us(run_fp32, &j);
			}
			snprintf(layer, sizeof(layer), "%zux%zu", n_in, n_out);
			printf("%-10s %4zu %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %7.2f %7.2f\n",
			       layer, rows[r], f2, m16, mub, pos, mixed, vn, f5, f2 / pos,
			       f2 / mixed);
		}
		for (int v = 0; v < 2; v++) {
			mlpi_kint8_free(packed[v]);
			mlpi_free_aligned(scratch[v]);
		}
		mlp_net_free(q);
		mlp_net_free(net);
		free(X);
		free(Y);
		mlpi_free_aligned(P);
		mlpi_free_aligned(W8);
		mlpi_free_aligned(W16);
		free(Xu);
		free(X16);
		free(Xabs);
		free(acc);
	}
	return 0;
}
