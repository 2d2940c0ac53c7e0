/* blas.c — the BLAS this build uses, and its thread count. */
#define _POSIX_C_SOURCE 200809L /* blis.h uses pthread barriers */
#include "internal.h"

#include <cblas.h>

#if defined(MLP_BLAS_BLIS)
#include <blis.h> /* its CBLAS header does not declare the threading API */
#endif

mlp_status mlp_blas_set_threads(int n)
{
	if (n < 1)
		return MLP_EINVAL;
#if defined(MLP_BLAS_OPENBLAS)
	openblas_set_num_threads(n);
	return MLP_OK;
#elif defined(MLP_BLAS_BLIS)
	bli_thread_set_num_threads(n);
	return MLP_OK;
#else
	return MLP_ENOTSUP;
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
	return openblas_get_config();
#elif defined(MLP_BLAS_BLIS)
	return bli_info_get_version_str();
#else
	return "CBLAS";
#endif
}
