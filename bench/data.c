/* data.c — see data.h. A linear congruential generator (Knuth's MMIX
 * constants): plenty for test data, and nothing to tune. */
#include "data.h"

static uint64_t next(struct bench_rng *g)
{
	g->s = g->s * 6364136223846793005u + 1442695040888963407u;
	return g->s;
}

double bench_uniform(struct bench_rng *g, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(next(g) >> 40) / 16777216.0);
}

void bench_fill(struct bench_rng *g, float *v, size_t n, double lo, double hi)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (float)bench_uniform(g, lo, hi);
}

size_t bench_below(struct bench_rng *g, size_t n)
{
	return (size_t)((next(g) >> 33) % n);
}
