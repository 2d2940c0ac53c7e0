/* data.h — the benches' data: one seeded generator for inputs, biases and
 * classes, the same on every machine. */
#ifndef MLP_BENCH_DATA_H
#define MLP_BENCH_DATA_H

#include <stddef.h>
#include <stdint.h>

struct bench_rng {
	uint64_t s;
};

/* Uniform on [lo, hi), 24 random bits. */
double bench_uniform(struct bench_rng *g, double lo, double hi);
/* n floats uniform on [lo, hi). */
void bench_fill(struct bench_rng *g, float *v, size_t n, double lo, double hi);
/* A whole number in [0, n). */
size_t bench_below(struct bench_rng *g, size_t n);

#endif
