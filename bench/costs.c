/*
 * costs.c — bench_costs: each fp32 kernel's cost model (kernel.h, what
 * MLP_ESTIMATE goes by) against its measured time, per layer of the
 * bench's networks and per rung, and which kernel each would pick. The
 * data the cost models' constants come from; run it on a new CPU to see
 * how far they are from it. With --int8, the candidates of an int8 plan
 * (the int8 kernels and the fp32 ones) on the layers quantised.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "planner.h"

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

/* The median of 7 samples of 20 µs or more each. */
static double time_run(const struct mlpi_kernel *k, const void *packed,
		       void *ctx, size_t rung, size_t rows, const float *X,
		       float *Y)
{
	double t[7], one;
	size_t reps;

	one = now_us();
	k->run(packed, ctx, rung, rows, X, Y);
	one = now_us() - one;
	reps = one >= 20 ? 1 : (size_t)(20 / (one + 0.01)) + 1;
	for (int s = 0; s < 7; s++) {
		double t0 = now_us();

		for (size_t r = 0; r < reps; r++)
			k->run(packed, ctx, rung, rows, X, Y);
		t[s] = (now_us() - t0) / (double)reps;
	}
	qsort(t, 7, sizeof(double), cmp);
	return t[3];
}

int main(int argc, char **argv)
{
	bool int8 = argc > 1 && strcmp(argv[1], "--int8") == 0;
	static const size_t layers[][2] = {
		{ 2, 8 }, { 8, 8 }, { 8, 1 }, { 16, 32 }, { 32, 32 }, { 32, 4 },
		{ 64, 64 }, { 64, 10 }, { 784, 256 }, { 256, 256 }, { 256, 10 },
		{ 784, 1024 }, { 1024, 1024 }, { 1024, 10 },
	};
	struct mlpi_rungs rungs = { .threads = mlpi_kernel_threads(0) };
	size_t n;
	const struct mlpi_kernel *const *list = mlpi_kernels(&n);
	float *X = malloc(1024 * 1024 * sizeof(float));
	float *Y = malloc(1024 * 1024 * sizeof(float));
	int agree = 0, within = 0, cells = 0;

	if (X == NULL || Y == NULL)
		return 1;
	for (size_t i = 0; i < 1024 * 1024; i++)
		X[i] = (float)(i % 17) / 8.0f - 1.0f;
	for (size_t r = 1; r <= 1024; r *= 4)
		rungs.rows[rungs.n++] = r;
	printf("layer       rows  kernel       measured(us)  model(us)  model/measured\n");
	for (size_t s = 0; s < sizeof(layers) / sizeof(layers[0]); s++) {
		float *W = calloc(layers[s][0] * layers[s][1], sizeof(float));
		float *b = calloc(layers[s][1], sizeof(float));
		int8_t *Wq = calloc(layers[s][0] * layers[s][1], 1);
		float *ws = calloc(layers[s][1], sizeof(float));
		struct mlp_layer ly = { .n_in = layers[s][0], .n_out = layers[s][1],
					.act = MLP_RELU, .W = W, .b = b };

		for (size_t j = 0; W != NULL && j < layers[s][0] * layers[s][1]; j++)
			W[j] = (float)(j % 13) / 64.0f - 0.1f;
		for (size_t j = 0; Wq != NULL && j < layers[s][0] * layers[s][1]; j++)
			Wq[j] = (int8_t)(j % 13 * 10 - 60);
		for (size_t j = 0; ws != NULL && j < layers[s][1]; j++)
			ws[j] = 0.01f;
		if (int8) {
			ly.Wq = Wq;
			ly.w_scale = ws;
			ly.in_scale = 0.01f;
		}
		for (size_t k = 0; k < rungs.n; k++) {
			double best_t = INFINITY, best_m = INFINITY, t_of_m = INFINITY;
			const char *by_t = "-", *by_m = "-";

			for (size_t i = 0; i < n; i++) {
				const struct mlpi_kernel *kn = list[i];
				void *packed = NULL, *ctx = NULL;
				double t, m;

				if ((kn->precision != MLP_FP32 &&
				     !(int8 && kn->precision == MLP_INT8)) ||
				    !kn->supports(&ly, rungs.rows[k]) ||
				    kn->prepare(&ly, &rungs, &packed) != MLP_OK)
					continue;
				if (kn->context(packed, &ctx) != MLP_OK) {
					kn->free_packed(packed);
					continue;
				}
				t = time_run(kn, packed, ctx, k, rungs.rows[k], X, Y);
				m = kn->cost(&ly, rungs.rows[k], rungs.threads);
				printf("%4zux%-5zu %5zu  %-12s %12.3f %10.3f %8.2f\n",
				       layers[s][0], layers[s][1], rungs.rows[k],
				       kn->name, t, m, m / t);
				if (t < best_t)
					best_t = t, by_t = kn->name;
				if (m < best_m)
					best_m = m, by_m = kn->name, t_of_m = t;
				kn->free_context(ctx);
				kn->free_packed(packed);
			}
			printf("    fastest %s, model picks %s: %.2f times the fastest\n",
			       by_t, by_m, t_of_m / best_t);
			agree += strcmp(by_t, by_m) == 0;
			within += t_of_m <= 1.1 * best_t;
			cells++;
		}
		free(W);
		free(b);
		free(Wq);
		free(ws);
	}
	printf("the model picks the fastest in %d of %d cells, one within 10%% "
	       "of it in %d\n", agree, cells, within);
	free(X);
	free(Y);
	return 0;
}
