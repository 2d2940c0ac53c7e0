/*
 * epilogue.c — how to add the bias: fused after the BLAS call, or broadcast
 * into Y before it with beta = 1. Runs both on the same shapes, alternating
 * them so that drift of a shared machine affects both alike, and prints the
 * median time of each, their ratio, and the time of the bare BLAS call (no
 * bias, no activation) for scale.
 *
 *   bench_epilogue [repeats]
 */
#include "internal.h"
#include "clock.h"
#include "data.h"
#include "timer.h"

#include <stdio.h>
#include <stdlib.h>

struct shape {
	size_t batch, n_in, n_out;
	mlp_act act;
};

static const struct shape shapes[] = {
	{ 1, 784, 256, MLP_RELU },    { 1, 256, 10, MLP_SOFTMAX },
	{ 8, 784, 256, MLP_RELU },    { 64, 784, 256, MLP_RELU },
	{ 64, 256, 256, MLP_TANH },   { 64, 256, 10, MLP_SOFTMAX },
	{ 256, 1024, 1024, MLP_RELU }, { 1024, 784, 256, MLP_RELU },
	{ 1024, 64, 64, MLP_IDENTITY }, { 1024, 64, 64, MLP_RELU },
	{ 64, 64, 64, MLP_RELU },       { 8, 64, 64, MLP_RELU },
	{ 64, 784, 256, MLP_IDENTITY }, { 1, 784, 256, MLP_IDENTITY },
	{ 1, 2, 3, MLP_RELU },          { 1, 2, 3, MLP_IDENTITY },
	{ 1024, 1, 3, MLP_RELU },       { 1024, 3, 1, MLP_IDENTITY },
	{ 1024, 3, 3, MLP_RELU },       { 1024, 64, 16, MLP_RELU },
	{ 1024, 64, 32, MLP_RELU },     { 256, 256, 10, MLP_SOFTMAX },
	{ 1024, 256, 256, MLP_RELU },   { 256, 784, 256, MLP_RELU },
};

enum { FUSED, BROADCAST, BARE, N_WAYS };

static double time_one(int way, const struct shape *s, const float *W,
		       const float *b, const float *X, float *Y, int inner)
{
	double t0 = clock_seconds();

	for (int k = 0; k < inner; k++) {
		if (way == BARE)
			mlpi_dense_with(MLPI_EPILOGUE_FUSED, s->batch, s->n_in,
					s->n_out, W, NULL, MLP_IDENTITY, X, Y);
		else
			mlpi_dense_with(way == FUSED ? MLPI_EPILOGUE_FUSED
						     : MLPI_EPILOGUE_BROADCAST,
					s->batch, s->n_in, s->n_out, W, b, s->act, X, Y);
	}
	return (clock_seconds() - t0) / inner;
}

int main(int argc, char **argv)
{
	int repeats = argc > 1 ? atoi(argv[1]) : 31;

	if (repeats < 1)
		repeats = 1;
	printf("%-20s %-9s %12s %12s %8s %12s\n", "shape", "act", "fused us",
	       "broadcast us", "b/f", "bare BLAS us");
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape *s = &shapes[i];
		struct bench_rng g = { i + 1 };
		float *W = malloc(s->n_out * s->n_in * sizeof(float));
		float *b = malloc(s->n_out * sizeof(float));
		float *X = malloc(s->batch * s->n_in * sizeof(float));
		float *Y = malloc(s->batch * s->n_out * sizeof(float));
		double *t[N_WAYS];
		double flops = 2.0 * (double)s->batch * (double)s->n_in * (double)s->n_out;
		int inner = flops > 1e8 ? 1 : (int)(1e8 / flops) + 1;
		char name[64];

		for (int w = 0; w < N_WAYS; w++)
			t[w] = malloc((size_t)repeats * sizeof(double));
		if (!W || !b || !X || !Y || !t[FUSED] || !t[BROADCAST] || !t[BARE])
			return 1;
		bench_fill(&g, W, s->n_out * s->n_in, -0.5, 0.5);
		bench_fill(&g, b, s->n_out, -0.1, 0.1);
		bench_fill(&g, X, s->batch * s->n_in, -0.5, 0.5);
		for (int w = 0; w < N_WAYS; w++) /* warm-up */
			time_one(w, s, W, b, X, Y, inner);
		for (int r = 0; r < repeats; r++)
			for (int k = 0; k < N_WAYS; k++) {
				int w = (r + k) % N_WAYS; /* rotate the order */
				t[w][r] = time_one(w, s, W, b, X, Y, inner);
			}
		double mf = bench_median(t[FUSED], (size_t)repeats);
		double mb = bench_median(t[BROADCAST], (size_t)repeats);
		double m0 = bench_median(t[BARE], (size_t)repeats);
		snprintf(name, sizeof(name), "%zux%zu->%zu", s->batch, s->n_in, s->n_out);
		printf("%-20s %-9s %12.3f %12.3f %8.3f %12.3f\n", name,
		       mlp_act_name(s->act), mf * 1e6, mb * 1e6, mb / mf, m0 * 1e6);
		free(W), free(b), free(X), free(Y);
		for (int w = 0; w < N_WAYS; w++)
			free(t[w]);
	}
	return 0;
}
