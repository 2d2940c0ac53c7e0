/* timer.h — a monotonic clock and medians for the benches. */
#ifndef MLP_BENCH_TIMER_H
#define MLP_BENCH_TIMER_H

#include <stddef.h>

/* Seconds on a monotonic clock. */
double bench_now(void);

/* Sorts v[n] in place and returns its median. */
double bench_median(double *v, size_t n);

#endif
