/* openmp.c — the OpenMP runtime oneDNN loaded, found where it is. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "openmp.h"

#include <dlfcn.h>
#include <stddef.h>

#if defined(MLP_HAVE_ONEDNN)
/* oneDNN runs on OpenMP threads: the calls of the OpenMP runtime oneDNN
 * loaded, found where it is when the library loads, so that mlp links no
 * runtime of its own (which a clang build would take from another OpenMP
 * than oneDNN's). GOMP_parallel is libgomp's entry point for
 * #pragma omp parallel: its threads run fn(data). */
static struct {
	void (*set_num_threads)(int);
	int (*get_max_threads)(void);
	int (*thread_num)(void);
	int (*num_threads)(void);
	void (*parallel)(void (*)(void *), void *, unsigned, unsigned);
} omp;

__attribute__((constructor))
static void find_openmp(void)
{
	*(void **)&omp.set_num_threads = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
	*(void **)&omp.get_max_threads = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
	*(void **)&omp.thread_num = dlsym(RTLD_DEFAULT, "omp_get_thread_num");
	*(void **)&omp.num_threads = dlsym(RTLD_DEFAULT, "omp_get_num_threads");
	*(void **)&omp.parallel = dlsym(RTLD_DEFAULT, "GOMP_parallel");
}

void mlpi_openmp_set_threads(int n)
{
	if (omp.set_num_threads != NULL)
		omp.set_num_threads(n);
}

int mlpi_openmp_threads(void)
{
	return omp.get_max_threads != NULL ? omp.get_max_threads() : 1;
}

struct region {
	void (*fn)(void *, int, int);
	void *arg;
};

static void region_body(void *data)
{
	struct region *r = data;

	r->fn(r->arg, omp.thread_num(), omp.num_threads());
}

void mlpi_openmp_parallel_n(void (*fn)(void *, int, int), void *arg,
			    unsigned threads)
{
	struct region r = { fn, arg };

	if (omp.parallel == NULL || omp.thread_num == NULL ||
	    omp.num_threads == NULL || threads == 1)
		fn(arg, 0, 1);
	else
		omp.parallel(region_body, &r, threads, 0);
}

void mlpi_openmp_parallel(void (*fn)(void *, int, int), void *arg)
{
	mlpi_openmp_parallel_n(fn, arg, 0);
}
#endif


int mlpi_kernel_threads(int threads)
{
	if (threads > 0)
		return threads;
#if defined(MLP_HAVE_ONEDNN)
	return mlpi_openmp_threads();
#else
	return 1;
#endif
}
