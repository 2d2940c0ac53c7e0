/*
 * openblas_env.h — OpenBLAS settings that take effect only from the start of
 * a process, for the programs built on mlp (the tool, the bench and the
 * examples): each sets what it wants and starts itself again.
 *
 * OpenBLAS 0.3.21 (Debian 12) does not know CPUs newer than it and falls
 * back to its slowest kernels (Prescott, SSE3) on them; OPENBLAS_CORETYPE
 * picks the kernels for the vector extensions the CPU has. Its idle threads
 * spin for about 0.1 s before they sleep; OPENBLAS_THREAD_TIMEOUT=20 parks
 * them within a millisecond (the bench, so that a spinning thread does not
 * take a core from the next timed run).
 */
#ifndef MLP_PROGRAMS_OPENBLAS_ENV_H
#define MLP_PROGRAMS_OPENBLAS_ENV_H

enum {
	OPENBLAS_ENV_CORETYPE = 1,       /* SkylakeX or Haswell for Prescott */
	OPENBLAS_ENV_THREAD_TIMEOUT = 2, /* 2²⁰ cycles */
};

/* Sets each setting of `flags` that the environment does not set already,
 * then, when it set any, runs the program again (/proc/self/exe with argv)
 * so that OpenBLAS reads them as it loads. Returns when there was nothing
 * to set, the BLAS is not OpenBLAS, or the exec failed. */
void openblas_env_restart(char **argv, unsigned flags);

/* The OPENBLAS_CORETYPE that openblas_env_restart set for this process, or
 * NULL when it set none. */
const char *openblas_env_coretype_set(void);

#endif
