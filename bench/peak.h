/*
 * peak.h — the machine's single-precision FMA peak, measured: the ceiling
 * the bench's GFLOP/s are a fraction of.
 */
#ifndef MLP_BENCH_PEAK_H
#define MLP_BENCH_PEAK_H

struct peak {
	double gflops;    /* 0 where it cannot be measured (no FMA) */
	const char *isa;  /* the vectors that reached it: "AVX-512", "AVX2+FMA" */
	int threads;
};

/* The peak on `threads` threads, each running independent chains of vector
 * FMAs (enough of them to cover the FMA units' latency) for about 40 ms:
 * the median of five rounds, of the widest vectors the CPU has and of
 * AVX2's where both run, whichever is faster. */
struct peak peak_measure(int threads);

#endif
