/*
 * bf16.h — floats to bf16 (bf16.c), and the one-row bf16 product of
 * plans (gemv_bf16.c): x86-64 builds.
 */
#ifndef MLP_BF16_H
#define MLP_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(MLP_HAVE_BF16_KERNEL)
/* bf16.c: n floats to bf16 (round to nearest even) on a CPU with
 * AVX512_BF16; whether they were all finite. */
bool mlpi_to_bf16(size_t n, const float *src, void *dst);

/* gemv_bf16.c: y = W·x + b for one row in bf16 (AVX512_BF16), on weights
 * packed by mlpi_gemv_bf16_pack into mlpi_gemv_bf16_size(n_out, n_in)
 * bf16 values; output blocks [lo, hi) of mlpi_gemv_bf16_blocks(n_out), 16
 * outputs each. x holds n_in bf16 values and a zero after them when n_in
 * is odd. */
size_t mlpi_gemv_bf16_blocks(size_t n_out);
size_t mlpi_gemv_bf16_size(size_t n_out, size_t n_in);
void mlpi_gemv_bf16_pack(size_t n_out, size_t n_in, const float *W,
			 uint16_t *P);
void mlpi_gemv_bf16(size_t n_out, size_t n_in, const uint16_t *P,
		    const uint16_t *x, const float *b, float *y, size_t lo,
		    size_t hi);

#endif

#endif /* MLP_BF16_H */
