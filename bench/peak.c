/*
 * peak.c — the machine's single-precision FMA peak, measured.
 *
 * Each thread keeps CHAINS accumulators, each an FMA chain acc = acc·a + b
 * with no dependence between chains: with two FMA units of 4 cycles'
 * latency, 8 chains keep a core busy, and 12 leave room. The chains
 * converge to b / (1 − a), far from subnormals and overflow.
 */
#define _POSIX_C_SOURCE 200809L
#include "peak.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

enum { CHAINS = 12, ROUNDS = 5, MAX_THREADS = 256 };

/* Runs every chain `rounds` times; returns the chains' sum, so that the
 * loop is kept. */
typedef float (*chains_fn)(long rounds);

#if defined(HAVE_X86)
__attribute__((target("avx512f")))
static float chains_avx512(long rounds)
{
	__m512 acc[CHAINS];
	const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
	float out[16], sum = 0;

	for (int i = 0; i < CHAINS; i++)
		acc[i] = _mm512_set1_ps((float)i);
	for (long r = 0; r < rounds; r++)
		for (int i = 0; i < CHAINS; i++)
			acc[i] = _mm512_fmadd_ps(acc[i], a, b);
	for (int i = 1; i < CHAINS; i++)
		acc[0] = _mm512_add_ps(acc[0], acc[i]);
	_mm512_storeu_ps(out, acc[0]);
	for (int k = 0; k < 16; k++)
		sum += out[k];
	return sum;
}

__attribute__((target("avx2,fma")))
static float chains_avx2(long rounds)
{
	__m256 acc[CHAINS];
	const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
	float out[8], sum = 0;

	for (int i = 0; i < CHAINS; i++)
		acc[i] = _mm256_set1_ps((float)i);
	for (long r = 0; r < rounds; r++)
		for (int i = 0; i < CHAINS; i++)
			acc[i] = _mm256_fmadd_ps(acc[i], a, b);
	for (int i = 1; i < CHAINS; i++)
		acc[0] = _mm256_add_ps(acc[0], acc[i]);
	_mm256_storeu_ps(out, acc[0]);
	for (int k = 0; k < 8; k++)
		sum += out[k];
	return sum;
}
#endif

struct job {
	chains_fn fn;
	long rounds;
	double seconds;
	float sink;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	double t0 = now();

	j->sink = j->fn(j->rounds);
	j->seconds = now() - t0;
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* GFLOP/s of fn on `threads` threads, `lanes` floats a vector: each
 * thread's own rate, summed; the median of ROUNDS. */
static double measure(chains_fn fn, int lanes, int threads)
{
	static struct job jobs[MAX_THREADS];
	static pthread_t tid[MAX_THREADS];
	double rate[ROUNDS], t;
	long rounds = 1L << 18;

	/* Rounds for about 40 ms a thread. */
	t = now();
	fn(rounds);
	t = now() - t;
	rounds = (long)((double)rounds * 0.04 / (t > 1e-6 ? t : 1e-6));
	rounds = rounds > 1 ? rounds : 1;
	for (int r = 0; r < ROUNDS; r++) {
		int started = 0;

		rate[r] = 0;
		for (int i = 0; i < threads; i++) {
			jobs[i] = (struct job){ .fn = fn, .rounds = rounds };
			if (pthread_create(&tid[i], NULL, run_job, &jobs[i]) != 0)
				break;
			started++;
		}
		for (int i = 0; i < started; i++) {
			pthread_join(tid[i], NULL);
			rate[r] += 2.0 * CHAINS * lanes * (double)rounds /
				   jobs[i].seconds / 1e9;
		}
	}
	qsort(rate, ROUNDS, sizeof(rate[0]), by_value);
	return rate[ROUNDS / 2];
}

struct peak peak_measure(int threads)
{
	struct peak p = { 0, "none", threads };

	if (threads < 1)
		threads = p.threads = 1;
	if (threads > MAX_THREADS)
		threads = p.threads = MAX_THREADS;
#if defined(HAVE_X86)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		p.gflops = measure(chains_avx2, 8, threads);
		p.isa = "AVX2+FMA";
	}
	if (__builtin_cpu_supports("avx512f")) {
		double g = measure(chains_avx512, 16, threads);

		if (g > p.gflops) {
			p.gflops = g;
			p.isa = "AVX-512";
		}
	}
#endif
	return p;
}
