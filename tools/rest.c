/*
 * rest.c — the runtimes' threads rest once mlp's work is done (see
 * tool.h). OpenBLAS's threads spin for 2^OPENBLAS_THREAD_TIMEOUT cycles
 * after a call (2^28 by default, about 0.1 s) and libgomp's, oneDNN's and
 * mlp's kernels', for GOMP_SPINCOUNT spins (300,000): a process that had
 * finished used up to 103 ms of CPU in the next second. Both read the
 * environment when they load, before main, so mlp sets what is unset and
 * starts itself again, as the bench does.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <stdlib.h>
#include <unistd.h>

/* Sets name to value unless it is set; whether it set it. */
static bool set_default(const char *name, const char *value)
{
	return getenv(name) == NULL && setenv(name, value, 1) == 0;
}

void rest_threads(char **argv)
{
	bool changed = false;

	changed |= set_default("OPENBLAS_THREAD_TIMEOUT", "20");
	changed |= set_default("GOMP_SPINCOUNT", "10000");
	if (changed) {
		fflush(NULL);
		execv("/proc/self/exe", argv);
	}
	/* No re-execution: go on, the threads spinning as they do. */
}
