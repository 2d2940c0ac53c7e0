/*
 * limits.c — the mlp program under an address-space limit (ulimit -v).
 *
 * Every allocation of mlp's is checked, but OpenBLAS's are not: each thread
 * that computes maps a buffer of 128 MiB (BUFFER_SIZE, plus a page) the
 * first time it needs one, and when the mapping fails it tries again,
 * forever. Measured with Debian's OpenBLAS 0.3.21: every sgemm and sgemv,
 * however small, takes the buffer; each worker thread maps its own when
 * OpenBLAS loads; the buffer stays mapped for the thread's life. So below
 * a limit with room for the buffers the program would hang at its first
 * product, or at its exit.
 *
 * Two measures, before anything else takes the room:
 *  - below 512 MiB plus 160 MiB a core, the program starts itself again
 *    with OpenBLAS and OpenMP on one thread (the settings must be there
 *    before they load), so that one buffer is all it needs and no thread
 *    stack has to fit;
 *  - then, under any limit, it maps the buffer's size once to see that it
 *    fits (or says so, exit 1) and runs one product at once, so that
 *    OpenBLAS takes its buffer while the room is there; it keeps it, and
 *    every later allocation is the program's own, checked.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* OpenBLAS's buffer: BUFFER_SIZE (32 << 22 on x86-64) and a page. */
#define BLAS_BUFFER (((size_t)128 << 20) + 4096)
/* A product large enough that no BLAS takes a path without its buffer
 * (OpenBLAS's small-matrix kernels stop at about 100³). */
#define WARM_SIZE 128

/* The address-space limit in bytes, or 0 for none. */
static size_t address_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	return (size_t)rl.rlim_cur;
}

void limits_fit_blas(char **argv)
{
	size_t limit = address_limit();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	bool changed = false;

	if (limit == 0 || cpus <= 1 ||
	    limit >= ((size_t)512 + 160 * (size_t)cpus) << 20)
		return;
	/* oneDNN's OpenMP threads too: libgomp ends the process when it
	 * cannot create one. What the user set stays. */
	if (getenv("OPENBLAS_NUM_THREADS") == NULL)
		changed |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
	if (getenv("OMP_NUM_THREADS") == NULL)
		changed |= setenv("OMP_NUM_THREADS", "1", 1) == 0;
	if (changed)
		execv("/proc/self/exe", argv);
	/* No re-execution: go on, with the threads as they are. */
}

/* The bytes of address space the process maps now. */
static size_t mapped_now(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

int limits_reserve_blas(void)
{
	size_t limit = address_limit(), n = WARM_SIZE * WARM_SIZE;
	float *m;
	void *room;
	int rc;

	if (limit == 0 || strstr(mlp_blas_info(), "OpenBLAS") == NULL)
		return EXIT_OK;
	/* The buffer, and a MiB for what the product itself allocates. */
	room = mmap(NULL, BLAS_BUFFER + ((size_t)1 << 20), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (room == MAP_FAILED)
		return report_error(EXIT_FAIL, "out of memory: the program maps "
				    "%zu MiB, and OpenBLAS needs %zu MiB more for "
				    "its buffer, which the address-space limit "
				    "(ulimit -v) of %zu MiB does not leave; raise "
				    "it to at least %zu MiB", mapped_now() >> 20,
				    BLAS_BUFFER >> 20, limit >> 20,
				    ((mapped_now() + BLAS_BUFFER) >> 20) + 64);
	munmap(room, BLAS_BUFFER + ((size_t)1 << 20));
	/* W, b, X and Y of one layer: the product takes the buffer. */
	m = calloc(3 * n + WARM_SIZE, sizeof(float));
	if (m == NULL)
		return report_error(EXIT_FAIL, "out of memory");
	rc = report_status(mlp_dense_forward(WARM_SIZE, WARM_SIZE, WARM_SIZE, m,
					     m + 3 * n, MLP_IDENTITY, m + n,
					     m + 2 * n),
			   "a first product");
	free(m);
	return rc;
}
