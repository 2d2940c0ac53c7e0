/*
 * batcher.c — bench_batcher: many threads, one row a request, with and
 * without the batcher.
 *
 * For each network, in one process, rows per second of:
 *   plan       back-to-back passes of max_batch rows on one plan: the
 *              rate the batcher comes close to at best;
 *   threads    N threads each calling mlp_plan_forward one row at a time,
 *              each on its own clone (of a plan on one thread a layer, the
 *              BLAS on one thread too: N threads fill the cores already);
 *   batcher    N threads each calling mlp_batcher_run with one row;
 *   batch 1    the same with max_batch 1: queueing without batching;
 * and for the batcher, the 50th and 99th percentiles of a request's
 * latency as its caller sees it, and the mean batch.
 *
 *   bench_batcher [--clients N] [--seconds S] [--max-delay-us U]
 *                 [--workers W] [--max-batch B] [--plan-threads T]
 *                 [--cases A,B]
 */
#define _POSIX_C_SOURCE 200809L
#include <mlp.h>

#include "env.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_CLIENTS = 1024 };

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct run {
	mlp_batcher *batcher;  /* or */
	mlp_plan *plan;        /* one clone a client */
	size_t n_in, n_out;
	double until;
	atomic_int go;
};

struct client {
	struct run *run;
	mlp_plan *plan;
	float *x, *y;
	size_t done;
	double *lat;           /* seconds a request */
	size_t lat_cap, lat_n;
	int failed;
};

static void *client_loop(void *arg)
{
	struct client *c = arg;
	struct run *r = c->run;

	while (!atomic_load(&r->go))
		;
	for (;;) {
		double t0 = now_s(), t1;
		mlp_status st = r->batcher != NULL
					? mlp_batcher_run(r->batcher, 1, c->x, c->y)
					: mlp_plan_forward(c->plan, 1, c->x, c->y);

		t1 = now_s();
		if (st != MLP_OK) {
			c->failed++;
			break;
		}
		c->done++;
		if (c->lat_n < c->lat_cap)
			c->lat[c->lat_n++] = t1 - t0;
		if (t1 >= r->until)
			break;
	}
	return NULL;
}

struct result {
	double rows_per_s, p50_us, p99_us;
	int failed;
};

/* n clients for `seconds`, through the batcher or one clone each. */
static int clients(struct run *r, const mlp_plan *plan, int n, double seconds,
		   struct result *out)
{
	struct client *cs = calloc((size_t)n, sizeof(*cs));
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	size_t total = 0, n_lat = 0;
	double *all = NULL, t0;
	int rc = 0;

	if (cs == NULL || th == NULL)
		return 1;
	for (int i = 0; i < n && rc == 0; i++) {
		cs[i].run = r;
		cs[i].x = calloc(r->n_in, sizeof(float));
		cs[i].y = calloc(r->n_out, sizeof(float));
		cs[i].lat_cap = 1 << 16;
		cs[i].lat = malloc(cs[i].lat_cap * sizeof(double));
		for (size_t j = 0; cs[i].x != NULL && j < r->n_in; j++)
			cs[i].x[j] = (float)((i * 31 + (int)j) % 17) / 17.0f;
		if (cs[i].x == NULL || cs[i].y == NULL || cs[i].lat == NULL)
			rc = 1;
		if (rc == 0 && r->batcher == NULL &&
		    mlp_plan_clone(&cs[i].plan, plan) != MLP_OK)
			rc = 1;
	}
	atomic_store(&r->go, 0);
	r->until = now_s() + seconds + 1.0;
	for (int i = 0; i < n && rc == 0; i++)
		if (pthread_create(&th[i], NULL, client_loop, &cs[i]) != 0)
			rc = 1;
	t0 = now_s();
	r->until = t0 + seconds;
	atomic_store(&r->go, 1);
	for (int i = 0; i < n && rc == 0; i++)
		pthread_join(th[i], NULL);
	out->rows_per_s = 0;
	out->failed = 0;
	if (rc == 0) {
		double elapsed = now_s() - t0;

		for (int i = 0; i < n; i++) {
			total += cs[i].done;
			n_lat += cs[i].lat_n;
			out->failed += cs[i].failed;
		}
		out->rows_per_s = (double)total / elapsed;
		all = malloc((n_lat + 1) * sizeof(double));
		if (all == NULL)
			rc = 1;
	}
	if (rc == 0) {
		size_t k = 0;

		for (int i = 0; i < n; i++)
			for (size_t j = 0; j < cs[i].lat_n; j++)
				all[k++] = cs[i].lat[j];
		qsort(all, n_lat, sizeof(double), cmp_double);
		out->p50_us = n_lat ? 1e6 * all[n_lat / 2] : 0;
		out->p99_us = n_lat ? 1e6 * all[(size_t)((double)n_lat * 0.99)] : 0;
	}
	for (int i = 0; i < n; i++) {
		free(cs[i].x);
		free(cs[i].y);
		free(cs[i].lat);
		mlp_plan_free(cs[i].plan);
	}
	free(all);
	free(cs);
	free(th);
	return rc;
}

/* Rows a second of back-to-back passes of `batch` rows, for `seconds`. */
static double plan_rate(mlp_plan *plan, size_t batch, size_t n_in,
			size_t n_out, double seconds, double *pass_us)
{
	float *X = calloc(batch * n_in, sizeof(float));
	float *Y = calloc(batch * n_out, sizeof(float));
	size_t passes = 0;
	double t0, t;

	if (X == NULL || Y == NULL)
		return 0;
	mlp_plan_forward(plan, batch, X, Y); /* warm */
	t0 = now_s();
	do {
		mlp_plan_forward(plan, batch, X, Y);
		passes++;
		t = now_s();
	} while (t - t0 < seconds);
	free(X);
	free(Y);
	*pass_us = 1e6 * (t - t0) / (double)passes;
	return (double)(passes * batch) / (t - t0);
}

static int parse_sizes(const char *s, size_t *sizes, size_t *n)
{
	char *end;

	*n = 0;
	while (*s != '\0' && *n < 8) {
		sizes[(*n)++] = strtoul(s, &end, 10);
		if (end == s || (*end != '-' && *end != '\0'))
			return 1;
		s = *end == '-' ? end + 1 : end;
	}
	return *n < 2;
}

int main(int argc, char **argv)
{
	const char *cases = "784-256-256-10,784-1024-1024-10,2-8-8-1";
	int n_clients = 64, workers = 1, max_batch = 64, plan_threads = 0;
	unsigned delay = 0;
	double seconds = 2.0;
	char list[256], *save = NULL;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	/* The threads of the passes sleep between them, as mlp's do. */
	bench_env_restart(argv, false);
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--clients") == 0)
			n_clients = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--max-delay-us") == 0)
			delay = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--workers") == 0)
			workers = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--max-batch") == 0)
			max_batch = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--plan-threads") == 0)
			plan_threads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--cases") == 0)
			cases = argv[i + 1];
		else
			return fprintf(stderr, "bench_batcher: unknown option %s\n",
				       argv[i]), 2;
	}
	if (n_clients < 1 || n_clients > MAX_CLIENTS || workers < 1 ||
	    seconds <= 0 || max_batch < 1 || plan_threads < 0)
		return fprintf(stderr, "bench_batcher: bad option value\n"), 2;
	printf("%d clients, one row a request; max_batch %d, max_delay_us %u, "
	       "%d worker(s) on %d thread(s) each; %ld CPUs; %.1f s a cell; "
	       "rows/s\n", n_clients, max_batch, delay, workers, plan_threads,
	       cpus, seconds);
	printf("%-17s %10s %10s %10s %10s %7s %7s %9s %9s %8s\n", "network",
	       "plan", "threads", "batcher", "batch 1", "of plan",
	       "x thr", "p50 us", "p99 us", "batch");
	snprintf(list, sizeof(list), "%s", cases);
	for (char *name = strtok_r(list, ",", &save); name != NULL;
	     name = strtok_r(NULL, ",", &save)) {
		size_t sizes[8], n;
		mlp_act acts[7];
		mlp_net *net;
		mlp_plan *plan, *plan1;
		mlp_plan_opts po = mlp_plan_defaults();
		mlp_batcher_opts bo = mlp_batcher_defaults();
		struct run r = { 0 };
		struct result thr, bat, one;
		mlp_batch_stats st;
		double rate, pass_us = 0;

		if (parse_sizes(name, sizes, &n))
			return fprintf(stderr, "bench_batcher: bad case %s\n", name), 2;
		for (size_t l = 0; l + 1 < n; l++)
			acts[l] = l + 2 < n ? MLP_RELU : MLP_SOFTMAX;
		if (mlp_net_create(&net, n - 1, sizes, acts) != MLP_OK ||
		    mlp_net_init(net, 1) != MLP_OK)
			return 1;
		po.max_batch = (size_t)max_batch;
		po.threads = plan_threads;
		if (mlp_plan_create_opts(&plan, net, &po, NULL) != MLP_OK)
			return 1;
		po.threads = 1;
		po.max_batch = 1;
		if (mlp_plan_create_opts(&plan1, net, &po, NULL) != MLP_OK)
			return 1;
		r.n_in = sizes[0];
		r.n_out = sizes[n - 1];
		rate = plan_rate(plan, (size_t)max_batch, r.n_in, r.n_out, seconds, &pass_us);
		/* N callers at once: the BLAS on one thread each, as mlp.h
		 * advises (mlp_set_threads), else they queue on its lock. */
		mlp_set_threads(1);
		if (clients(&r, plan1, n_clients, seconds, &thr) != 0)
			return 1;
		mlp_set_threads((int)cpus);
		bo.max_delay_us = delay;
		bo.workers = (unsigned)workers;
		bo.max_batch = (size_t)max_batch;
		if (mlp_batcher_create(&r.batcher, plan, &bo, NULL) != MLP_OK ||
		    clients(&r, NULL, n_clients, seconds, &bat) != 0 ||
		    mlp_batcher_stats(r.batcher, &st, sizeof(st)) != MLP_OK)
			return 1;
		mlp_batcher_free(r.batcher);
		bo.max_batch = 1;
		bo.queue_rows = 2 * (size_t)n_clients;
		if (mlp_batcher_create(&r.batcher, plan, &bo, NULL) != MLP_OK ||
		    clients(&r, NULL, n_clients, seconds, &one) != 0)
			return 1;
		mlp_batcher_free(r.batcher);
		printf("%-17s %10.0f %10.0f %10.0f %10.0f %7.2f %7.2f %9.0f %9.0f "
		       "%8.1f\n", name, rate, thr.rows_per_s, bat.rows_per_s,
		       one.rows_per_s, bat.rows_per_s / rate,
		       bat.rows_per_s / thr.rows_per_s, bat.p50_us, bat.p99_us,
		       st.mean_batch);
		printf("%-17s a pass of %d rows %.0f us; p99 bound (delay + 3 "
		       "passes) %.0f us; failed %d\n", "", max_batch, pass_us,
		       delay + 3 * pass_us, thr.failed + bat.failed + one.failed);
		fflush(stdout);
		mlp_plan_free(plan);
		mlp_plan_free(plan1);
		mlp_net_free(net);
	}
	return 0;
}
