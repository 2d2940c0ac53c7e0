/* blas.c — the BLAS and the engines this build uses, and their threads. */
#define _GNU_SOURCE /* RTLD_DEFAULT; blis.h uses pthread barriers */
#include "blas_core.h"
#include "openmp.h"
#include "util.h"

#include <cblas.h>

#if defined(MLP_BLAS_BLIS)
#include <blis.h> /* its CBLAS header does not declare the threading API */
#endif

#include <dlfcn.h>
#include <stdio.h>

mlp_status mlp_set_threads(int n)
{
	if (n < 1)
		return MLP_EINVAL;
#if defined(MLP_HAVE_ONEDNN)
	mlpi_openmp_set_threads(n);
#endif
#if defined(MLP_BLAS_OPENBLAS)
	openblas_set_num_threads(n);
#elif defined(MLP_BLAS_BLIS)
	bli_thread_set_num_threads(n);
#else
	/* Any CBLAS: the thread count of the library behind it, where it is
	 * one that has one (OpenBLAS or BLIS, as Debian's libblas.so.3 may
	 * be). */
	void (*openblas_set)(int);
	void (*blis_set)(int64_t);

	*(void **)&openblas_set = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
	*(void **)&blis_set = dlsym(RTLD_DEFAULT, "bli_thread_set_num_threads");
	if (openblas_set != NULL)
		openblas_set(n);
	else if (blis_set != NULL)
		blis_set(n);
	else
		return MLP_ENOTSUP;
#endif
	return MLP_OK;
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

#if !defined(MLP_BLAS_OPENBLAS)
/* Which library answers cblas_sgemm in this process, found once when the
 * library loads: the build names only an interface (BLIS's, or any
 * CBLAS), and the dynamic linker picks the library behind it (Debian's
 * libblas.so.3 is whichever BLAS its alternatives point to). */
static char blas_line[320];

__attribute__((constructor))
static void find_blas(void)
{
	/* A function's address as dladdr takes it (POSIX makes them one). */
	union {
		void (*fn)(void);
		void *p;
	} sym = { .fn = (void (*)(void))cblas_sgemm };
	Dl_info where;
	const char *file = "a library the dynamic linker did not name";

	if (dladdr(sym.p, &where) != 0 && where.dli_fname != NULL)
		file = where.dli_fname;
#if defined(MLP_BLAS_BLIS)
	snprintf(blas_line, sizeof(blas_line), "BLIS %s, from %s",
		 bli_info_get_version_str(), file);
#else
	snprintf(blas_line, sizeof(blas_line), "CBLAS from %s%s", file,
		 dlsym(RTLD_DEFAULT, "openblas_get_config") != NULL
			 ? " (OpenBLAS)" : "");
#endif
}
#endif

const char *mlp_blas_info(void)
{
#if defined(MLP_BLAS_OPENBLAS)
	if (mlpi_blas_core_info() != NULL)
		return mlpi_blas_core_info();
	return openblas_get_config();
#else
	return blas_line;
#endif
}
