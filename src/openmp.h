/*
 * openmp.h — the OpenMP runtime oneDNN runs on, found where it is loaded
 * (openmp.c): builds with oneDNN only.
 */
#ifndef MLP_OPENMP_H
#define MLP_OPENMP_H



#if defined(MLP_HAVE_ONEDNN)
/* The threads of the calling thread's OpenMP parallel regions, which
 * oneDNN runs on; and fn(arg, i, n) on each thread i of n of such a region
 * (on the calling thread alone without an OpenMP runtime). */
void mlpi_openmp_set_threads(int n);
int mlpi_openmp_threads(void);
void mlpi_openmp_parallel(void (*fn)(void *arg, int i, int n), void *arg);
/* The same on `threads` threads (0: the calling thread's setting). */
void mlpi_openmp_parallel_n(void (*fn)(void *arg, int i, int n), void *arg,
			    unsigned threads);
#endif

/* The threads a kernel shares a layer among: `threads`, or the calling
 * thread's OpenMP setting for 0 (1 in a build without OpenMP). */
int mlpi_kernel_threads(int threads);

#endif /* MLP_OPENMP_H */
