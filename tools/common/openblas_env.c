/* openblas_env.c — see openblas_env.h. */
#define _POSIX_C_SOURCE 200809L
#include "openblas_env.h"

#include <mlp.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Tells the restarted process which core type it was given. */
#define MARK "MLP_OPENBLAS_CORETYPE_SET"

/* The kernels to ask for on this CPU, when OpenBLAS picked Prescott; NULL
 * when it picked others or the CPU has neither AVX2 nor AVX-512. */
static const char *better_core(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (strcmp(mlp_blas_name(), "openblas") != 0 ||
	    strstr(mlp_blas_info(), " Prescott ") == NULL)
		return NULL;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2"))
		return "Haswell";
#endif
	return NULL;
}

void openblas_env_restart(char **argv, unsigned flags)
{
	bool again = false;
	const char *core;

	if (strcmp(mlp_blas_name(), "openblas") != 0)
		return;
	if ((flags & OPENBLAS_ENV_THREAD_TIMEOUT) &&
	    getenv("OPENBLAS_THREAD_TIMEOUT") == NULL)
		again |= setenv("OPENBLAS_THREAD_TIMEOUT", "20", 1) == 0;
	if ((flags & OPENBLAS_ENV_CORETYPE) &&
	    getenv("OPENBLAS_CORETYPE") == NULL && (core = better_core()) != NULL &&
	    setenv("OPENBLAS_CORETYPE", core, 1) == 0) {
		setenv(MARK, core, 1);
		again = true;
	}
	if (again) {
		fflush(NULL);
		execv("/proc/self/exe", argv);
	}
}

const char *openblas_env_coretype_set(void)
{
	const char *mark = getenv(MARK), *core = getenv("OPENBLAS_CORETYPE");

	return mark != NULL && core != NULL && strcmp(mark, core) == 0 ? core : NULL;
}
