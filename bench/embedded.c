/*
 * embedded.c — a program that embeds libmlp as a user's would: it links
 * the shared library, sets no environment and restarts nothing, and times
 * mlp_forward on 784-256-256-10 at batch 1024 (median of 15 runs). Run it
 * as it is, then with OPENBLAS_CORETYPE set by hand, to see whether the
 * kernels mlp leaves OpenBLAS with are the ones a user would choose.
 */
#include "clock.h"
#include "data.h"

#include <mlp.h>
#include <stdio.h>
#include <stdlib.h>

enum { BATCH = 1024, RUNS = 15 };

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	static const size_t sizes[] = { 784, 256, 256, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_IDENTITY };
	struct bench_rng g = { 1 };
	double t[RUNS];
	mlp_workspace *ws;
	mlp_net *net;
	float *X = malloc(BATCH * 784 * sizeof(float));
	float *Y = malloc(BATCH * 10 * sizeof(float));

	if (X == NULL || Y == NULL ||
	    mlp_net_create(&net, 3, sizes, acts) != MLP_OK ||
	    mlp_net_init(net, 1) != MLP_OK ||
	    mlp_workspace_create(&ws, net, BATCH) != MLP_OK) {
		fprintf(stderr, "embedded: out of memory\n");
		return 1;
	}
	bench_fill(&g, X, BATCH * 784, 0, 1);
	for (int i = 0; i < 3; i++)
		mlp_forward(net, ws, BATCH, X, Y);
	for (int i = 0; i < RUNS; i++) {
		double t0 = clock_seconds();

		mlp_forward(net, ws, BATCH, X, Y);
		t[i] = clock_seconds() - t0;
	}
	qsort(t, RUNS, sizeof(t[0]), cmp);
	printf("784-256-256-10, batch 1024: %.0f us (median of %d); %s\n",
	       t[RUNS / 2] * 1e6, RUNS, mlp_blas_info());
	mlp_workspace_free(ws);
	mlp_net_free(net);
	free(X);
	free(Y);
	return 0;
}
