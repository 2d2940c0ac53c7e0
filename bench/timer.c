/* timer.c — see timer.h. */
#define _POSIX_C_SOURCE 200809L
#include "timer.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* 2 ms, so that the idle threads of the BLAS (OPENBLAS_THREAD_TIMEOUT) and
 * of PyTorch park before the next run. */
static void pause_between_runs(void)
{
	struct timespec ts = { 0, 2000000 };
	nanosleep(&ts, NULL);
}

/* Median, quartiles and minimum of st->repeats times (sorted in place). */
static void finish(struct stats *st, double *times)
{
	st->median = bench_median(times, (size_t)st->repeats);
	st->min = times[0];
	st->p25 = times[(st->repeats - 1) / 4];
	st->p75 = times[(3 * (st->repeats - 1) + 3) / 4];
}

/* Runs a round needs, and rounds, from the time of one run. */
static void calibrate(const struct round_plan *plan, double t, struct stats *st)
{
	if (!(t > 0))
		t = 1e-7;
	st->inner = t >= plan->target_s ? 1 : (int)ceil(plan->target_s / t);
	st->repeats = (int)fmin(plan->repeats,
				floor(plan->budget_s / (t * st->inner)));
	if (st->repeats < 3)
		st->repeats = plan->single_ok && t > 1.0 ? 1 : 3;
}

void bench_rounds(const struct round_plan *plan, int first, int end,
		  struct stats *st, timed_fn fn, void *ctx)
{
	double **times = calloc((size_t)end, sizeof(*times));
	int *order = calloc((size_t)end, sizeof(*order));
	int active = 0, max_repeats = 0;

	if (times == NULL || order == NULL)
		goto done;
	for (int k = first; k < end; k++) {
		if (!st[k].present || !st[k].agree)
			continue;
		fn(ctx, k, 1); /* warm-up */
		calibrate(plan, fn(ctx, k, 1), &st[k]);
		/* And a whole untimed round: the first rounds after a pause
		 * (setting up a case, PyTorch settling) ran slow, the cores
		 * and threads not yet up to speed. */
		fn(ctx, k, st[k].inner);
		times[k] = malloc((size_t)st[k].repeats * sizeof(double));
		if (times[k] == NULL)
			continue;
		st[k].ran = true;
		order[active++] = k;
		max_repeats = st[k].repeats > max_repeats ? st[k].repeats : max_repeats;
	}
	for (int r = 0; r < max_repeats; r++) {
		for (int j = 0; j < active; j++) {
			int k = order[(r + j) % active];

			if (r < st[k].repeats) {
				pause_between_runs();
				times[k][r] = fn(ctx, k, st[k].inner) / st[k].inner;
			}
		}
	}
	for (int k = first; k < end; k++) {
		if (st[k].ran)
			finish(&st[k], times[k]);
		free(times[k]);
	}
done:
	free(times);
	free(order);
}
