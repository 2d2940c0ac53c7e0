/*
 * timer.h — how the benches time: every implementation of a case is
 * calibrated, then timed in rounds that run each one once, so that a shared
 * machine's drift affects them alike; medians and quartiles are kept.
 */
#ifndef MLP_BENCH_TIMER_H
#define MLP_BENCH_TIMER_H

#include <stdbool.h>
#include <stddef.h>

/* The measurement of one implementation on one case. */
struct stats {
	bool present; /* the implementation ran the case */
	bool agree;   /* and agreed with mlp */
	bool ran;     /* and was timed */
	double median, p25, p75, min; /* seconds a run */
	int repeats, inner;           /* rounds; runs a timed round */
	double err;    /* bf16: the relative RMS distance of its outputs from
			* mlp's float ones (0 for the others) */
	char why[160]; /* why it is absent, or where it disagrees */
};

/* How long to time. */
struct round_plan {
	int repeats;     /* rounds, at most */
	double target_s; /* a timed round lasts about this long */
	double budget_s; /* all the rounds of one implementation */
	bool single_ok;  /* one round is enough for a run over a second */
};

/* Seconds for `inner` runs of implementation k. */
typedef double (*timed_fn)(void *ctx, int k, int inner);

/* Times each implementation k in [first, end) with st[k].present and
 * st[k].agree: a warm-up run, a calibration run (runs a round needs to
 * last target_s; rounds that fit the budget, at least 3), an untimed round,
 * then rounds that run every one once, starting from the next one each
 * round, with a pause before each run. Fills the rest of st[k]. */
void bench_rounds(const struct round_plan *plan, int first, int end,
		  struct stats *st, timed_fn fn, void *ctx);

/* Sorts v[n] in place and returns its median. */
double bench_median(double *v, size_t n);

#endif
