/*
 * bf16.c — float to bfloat16, for the oneDNN engine and bf16 training.
 *
 * bf16 keeps float's sign and exponent and the top 8 bits of its
 * significand. The conversion rounds to nearest even and keeps NaN a NaN:
 * vcvtneps2bf16, which every CPU that runs bf16 in mlp has (AVX512_BF16 or
 * AMX), sixteen floats an instruction.
 */
#include "internal.h"

#if defined(MLP_HAVE_ONEDNN)

#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
void mlpi_to_bf16(size_t n, const float *restrict src, void *restrict dst)
{
	uint16_t *out = dst;
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
		_mm256_storeu_si256((__m256i *)(void *)(out + i), (__m256i)h);
	}
	if (i < n) {
		__mmask16 m = (__mmask16)((1u << (n - i)) - 1);
		__m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
		_mm256_mask_storeu_epi16(out + i, m, (__m256i)h);
	}
}

#endif
