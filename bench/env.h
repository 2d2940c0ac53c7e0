/*
 * env.h — the settings of the threaded libraries the bench measures, which
 * they read only when a process starts: the bench sets them and starts
 * itself again.
 *
 * Idle threads spin before they sleep: OpenBLAS's for about 0.1 s, OpenMP's
 * (oneDNN's threads) for GOMP_SPINCOUNT iterations. A thread still spinning
 * from one timed run takes a core from the next run, of another library.
 * OPENBLAS_THREAD_TIMEOUT=20 (2²⁰ cycles) and GOMP_SPINCOUNT=10000 make
 * both sleep within the 2 ms pause the bench makes between runs.
 */
#ifndef MLP_BENCH_ENV_H
#define MLP_BENCH_ENV_H

#include <stdbool.h>

/* Sets what the environment does not set already, and with keep_core
 * MLP_KEEP_OPENBLAS_CORE=1 (OpenBLAS's own choice of kernels, not mlp's
 * correction); runs the bench again (/proc/self/exe with argv) when it set
 * anything. */
void bench_env_restart(char **argv, bool keep_core);

#endif
