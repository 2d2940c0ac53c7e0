/*
 * gemv_bf16.c — one row through a layer in bf16: y = W·x + b with W and x
 * in bf16, the products summed in float, by AVX512_BF16's dot product of
 * pairs (vdpbf16ps). oneDNN's AMX kernels work on tiles of 16 rows, and on
 * one row of 784-256-256-10 took as long as the float BLAS; this reads each
 * weight once, two bytes of it.
 *
 * The weights are packed for it: blocks of 16 outputs, and within a block,
 * for each pair of inputs (k, k + 1), the 16 outputs' two weights side by
 * side: 64 bytes, which one instruction multiplies by x[k] and x[k + 1]
 * broadcast. Four blocks run at once, to hide the instruction's latency.
 */
#include "bf16.h"

#if defined(MLP_HAVE_BF16_KERNEL)

#include <immintrin.h>
#include <string.h>

/* Pairs of inputs; blocks of 16 outputs. */
static size_t pairs(size_t n_in)
{
	return (n_in + 1) / 2;
}

size_t mlpi_gemv_bf16_blocks(size_t n_out)
{
	return (n_out + 15) / 16;
}

size_t mlpi_gemv_bf16_size(size_t n_out, size_t n_in)
{
	return mlpi_gemv_bf16_blocks(n_out) * pairs(n_in) * 32;
}

/* One float to bf16 as vcvtneps2bf16 rounds it (nearest, ties to even;
 * NaN stays NaN). */
static uint16_t bf16_of(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40u);
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void mlpi_gemv_bf16_pack(size_t n_out, size_t n_in, const float *W,
			 uint16_t *P)
{
	size_t kp = pairs(n_in);

	for (size_t blk = 0; blk < mlpi_gemv_bf16_blocks(n_out); blk++)
		for (size_t p = 0; p < kp; p++)
			for (size_t i = 0; i < 16; i++)
				for (size_t h = 0; h < 2; h++) {
					size_t j = blk * 16 + i, k = 2 * p + h;

					P[(blk * kp + p) * 32 + i * 2 + h] =
						j < n_out && k < n_in
							? bf16_of(W[j * n_in + k])
							: 0;
				}
}

/* The 16 outputs of block blk, from its accumulator, with the bias. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void store_block(size_t n_out, size_t blk, __m512 acc, const float *b,
			float *y)
{
	size_t left = n_out - blk * 16;
	__mmask16 m = left >= 16 ? (__mmask16)0xffff
				 : (__mmask16)((1u << left) - 1);

	acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, b + blk * 16));
	_mm512_mask_storeu_ps(y + blk * 16, m, acc);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
void mlpi_gemv_bf16(size_t n_out, size_t n_in, const uint16_t *P,
		    const uint16_t *x, const float *b, float *y, size_t lo,
		    size_t hi)
{
	size_t kp = pairs(n_in), blk = lo;
	const uint32_t *xp = (const void *)x;

	for (; blk + 4 <= hi; blk += 4) {
		const __m512i *w = (const void *)(P + blk * kp * 32);
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;

		for (size_t p = 0; p < kp; p++) {
			__m512bh xv = (__m512bh)_mm512_set1_epi32((int)xp[p]);

			a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(w + p), xv);
			a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(w + kp + p), xv);
			a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_loadu_si512(w + 2 * kp + p), xv);
			a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_loadu_si512(w + 3 * kp + p), xv);
		}
		store_block(n_out, blk, a0, b, y);
		store_block(n_out, blk + 1, a1, b, y);
		store_block(n_out, blk + 2, a2, b, y);
		store_block(n_out, blk + 3, a3, b, y);
	}
	for (; blk < hi; blk++) {
		const __m512i *w = (const void *)(P + blk * kp * 32);
		__m512 a0 = _mm512_setzero_ps();

		for (size_t p = 0; p < kp; p++)
			a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(w + p),
					      (__m512bh)_mm512_set1_epi32((int)xp[p]));
		store_block(n_out, blk, a0, b, y);
	}
}

#endif
