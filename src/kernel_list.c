/*
 * kernel_list.c — the kernels of this build, in one list: mlp_engines()
 * names them, mlp_precision_supported() asks them, the planner takes its
 * candidates from them.
 */
#include "kernel.h"

#include <stdio.h>

static const struct mlpi_kernel *const kernels[] = {
	&mlpi_kernel_cblas,
	&mlpi_kernel_packed,
	&mlpi_kernel_packed_cols,
	&mlpi_kernel_int8,
#if defined(MLP_HAVE_ONEDNN)
	&mlpi_kernel_onednn_fp32,
	&mlpi_kernel_onednn_bf16,
	&mlpi_kernel_onednn_int8,
#endif
#if defined(MLP_HAVE_BF16_KERNEL)
	&mlpi_kernel_bf16_rows,
#endif
};
#define N_KERNELS (sizeof(kernels) / sizeof(kernels[0]))

const struct mlpi_kernel *const *mlpi_kernels(size_t *n)
{
	*n = N_KERNELS;
	return kernels;
}

/* mlp_engines' names, written once when the library loads. */
static char kernel_names[128];

__attribute__((constructor))
static void name_kernels(void)
{
	size_t used = 0;

	for (size_t i = 0; i < N_KERNELS; i++) {
		int n = snprintf(kernel_names + used, sizeof(kernel_names) - used,
				 "%s%s", used > 0 ? " " : "", kernels[i]->name);

		used += n > 0 ? (size_t)n : 0;
	}
}

const char *mlp_engines(void)
{
	return kernel_names;
}

/* A precision is run where some kernel of it runs every layer at any
 * batch: one that serves a row of a 1 × 1 layer and any rows. */
int mlp_precision_supported(mlp_precision precision)
{
	float w = 0, b = 0, s = 1;
	int8_t q = 0;
	struct mlp_layer one = { 1, 1, MLP_IDENTITY, &w, &b, &q, &s, 1 };

	for (size_t i = 0; i < N_KERNELS; i++)
		if (kernels[i]->precision == precision &&
		    kernels[i]->supports(&one, 1) && kernels[i]->supports(&one, 64))
			return 1;
	return 0;
}
