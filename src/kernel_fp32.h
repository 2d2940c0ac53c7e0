/*
 * kernel_fp32.h — mlp's own fp32 layer product on packed weights
 * (kernel_fp32.c): Y = X·Wᵀ + 1·bᵀ, rows of X and Y one after another.
 */
#ifndef MLP_KERNEL_FP32_H
#define MLP_KERNEL_FP32_H

#include <stdbool.h>
#include <stddef.h>

/* Outputs a panel: the width of an AVX-512 vector, two of AVX2's. */
#define MLPI_KFP32_LANES 16

/* The vector widths the kernel is written for, narrowest first. */
enum mlpi_kfp32_isa { MLPI_KFP32_C, MLPI_KFP32_AVX2, MLPI_KFP32_AVX512 };

/* Floats the packed form of an n_out × n_in layer takes (weights in
 * panels of 16 outputs, then the bias padded to the panels). */
size_t mlpi_kfp32_size(size_t n_out, size_t n_in);
/* W (n_out × n_in, row-major) and b (n_out, or NULL for zeros) into P. */
void mlpi_kfp32_pack(size_t n_out, size_t n_in, const float *W, const float *b,
		     float *P);
/* Whether this CPU runs the variant, and the widest it runs. */
bool mlpi_kfp32_runs(enum mlpi_kfp32_isa isa);
enum mlpi_kfp32_isa mlpi_kfp32_best(void);
const char *mlpi_kfp32_name(enum mlpi_kfp32_isa isa);
/* Y (rows × n_out) = X (rows × n_in) · Wᵀ + b on the packed P, with a
 * variant this CPU runs. Allocates nothing. */
void mlpi_kfp32_run(enum mlpi_kfp32_isa isa, size_t rows, size_t n_in,
		    size_t n_out, const float *P, const float *X, float *Y);

/* The panels of an n_out-wide layer, and the outputs of panels
 * [p_lo, p_hi) alone, always a row at a time in the same order: a row's
 * result does not depend on the rows run with it (mlpi_kfp32_run's way for
 * narrow layers, across rows, rounds differently). */
size_t mlpi_kfp32_panels(size_t n_out);
void mlpi_kfp32_run_panels(enum mlpi_kfp32_isa isa, size_t rows, size_t n_in,
			   size_t n_out, const float *P, const float *X,
			   float *Y, size_t p_lo, size_t p_hi);

#endif /* MLP_KERNEL_FP32_H */
