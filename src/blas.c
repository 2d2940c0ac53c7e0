/* blas.c — the BLAS and the engines this build uses, and their threads. */
#define _GNU_SOURCE /* RTLD_DEFAULT; blis.h uses pthread barriers */
#include "internal.h"

#include <cblas.h>

#if defined(MLP_BLAS_BLIS)
#include <blis.h> /* its CBLAS header does not declare the threading API */
#endif

#if defined(MLP_HAVE_ONEDNN)
#include <dlfcn.h>

/* oneDNN runs on OpenMP threads: the calls of the OpenMP runtime oneDNN
 * loaded, found where it is, so that mlp links no runtime of its own (which
 * a clang build would take from another OpenMP than oneDNN's). */
void mlpi_openmp_set_threads(int n)
{
	void (*set)(int);

	*(void **)&set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
	if (set != NULL)
		set(n);
}

int mlpi_openmp_threads(void)
{
	int (*get)(void);

	*(void **)&get = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
	return get != NULL ? get() : 1;
}
#endif

mlp_status mlp_set_threads(int n)
{
	if (n < 1)
		return MLP_EINVAL;
#if defined(MLP_BLAS_OPENBLAS)
	openblas_set_num_threads(n);
#elif defined(MLP_BLAS_BLIS)
	bli_thread_set_num_threads(n);
#else
	return MLP_ENOTSUP;
#endif
#if defined(MLP_HAVE_ONEDNN)
	mlpi_openmp_set_threads(n);
#endif
	return MLP_OK;
}

const char *mlp_engines(void)
{
#if defined(MLP_HAVE_ONEDNN)
	return "cblas onednn";
#else
	return "cblas";
#endif
}

const char *mlp_blas_name(void)
{
#if defined(MLP_BLAS_OPENBLAS)
	return "openblas";
#elif defined(MLP_BLAS_BLIS)
	return "blis";
#else
	return "cblas";
#endif
}

const char *mlp_blas_info(void)
{
#if defined(MLP_BLAS_OPENBLAS)
	if (mlpi_blas_core_info() != NULL)
		return mlpi_blas_core_info();
	return openblas_get_config();
#elif defined(MLP_BLAS_BLIS)
	return bli_info_get_version_str();
#else
	return "CBLAS";
#endif
}
