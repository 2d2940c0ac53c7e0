/*
 * rest.c — bench_rest: whether a plan's threads rest once a forward pass
 * has returned. For each network and batch, a plan (MLP_ESTIMATE, and
 * MLP_MEASURE) runs passes for a moment; then the process sleeps one
 * second, and the CPU time it used meanwhile (every thread's: the BLAS's,
 * OpenMP's, mlp's) is printed. A pool that spins on after the call shows
 * here as tens or hundreds of milliseconds.
 */
#define _POSIX_C_SOURCE 200809L
#include <mlp.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static const size_t wide[] = { 784, 1024, 1024, 10 }, narrow[] = { 64, 64, 64, 64, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_RELU, MLP_IDENTITY };
	static const size_t batches[] = { 1, 8, 64, 256, 1024 };
	struct { const char *name; size_t n; const size_t *sizes; } nets[] = {
		{ "784-1024-1024-10", 3, wide }, { "64-64-64-64-10", 4, narrow },
	};
	double worst = 0;

	printf("CPU time of the whole process in the second after the last "
	       "forward pass returned (ms)\n");
	printf("%-17s %5s %9s %9s\n", "network", "batch", "estimate", "measure");
	for (size_t n = 0; n < 2; n++) {
		mlp_net *net;
		float *X, *Y;

		if (mlp_net_create(&net, nets[n].n, nets[n].sizes, acts + 4 - nets[n].n) != MLP_OK)
			return 1;
		mlp_net_init(net, 1);
		X = calloc(1024 * 784, sizeof(float));
		Y = calloc(1024 * 64, sizeof(float));
		if (X == NULL || Y == NULL)
			return 1;
		for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
			double ms[2];

			for (int e = 0; e < 2; e++) {
				mlp_plan_opts o = mlp_plan_defaults();
				struct timespec sec = { 1, 0 };
				mlp_plan *plan;
				double t0;

				o.max_batch = batches[b];
				o.effort = e ? MLP_MEASURE : MLP_ESTIMATE;
				if (mlp_plan_create_opts(&plan, net, &o, NULL) != MLP_OK)
					return 1;
				t0 = cpu_s();
				for (int r = 0; r < 20 || cpu_s() - t0 < 0.05; r++)
					mlp_plan_forward(plan, batches[b], X, Y);
				t0 = cpu_s();
				nanosleep(&sec, NULL);
				ms[e] = (cpu_s() - t0) * 1e3;
				worst = ms[e] > worst ? ms[e] : worst;
				mlp_plan_free(plan);
			}
			printf("%-17s %5zu %9.2f %9.2f\n", nets[n].name, batches[b],
			       ms[0], ms[1]);
		}
		free(X);
		free(Y);
		mlp_net_free(net);
	}
	printf("worst: %.2f ms\n", worst);
	return 0;
}
