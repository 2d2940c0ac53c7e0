/*
 * bf16.c — float to bfloat16, for the oneDNN engine and bf16 training.
 *
 * bf16 keeps float's sign and exponent and the top 8 bits of its
 * significand. The conversion rounds to nearest even and keeps NaN a NaN:
 * vcvtneps2bf16, which every CPU that runs bf16 in mlp has (AVX512_BF16 or
 * AMX), sixteen floats an instruction.
 */
#include "bf16.h"

#if defined(MLP_HAVE_BF16_KERNEL)

#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
bool mlpi_to_bf16(size_t n, const float *restrict src, void *restrict dst)
{
	const __m512i exponent = _mm512_set1_epi32(0x7f800000);
	__mmask16 bad = 0;
	uint16_t *out = dst;
	size_t i = 0;

	/* A float is infinite or NaN when its exponent bits are all set. */
	for (; i + 16 <= n; i += 16) {
		__m512 v = _mm512_loadu_ps(src + i);
		__m256bh h = _mm512_cvtneps_pbh(v);

		bad |= _mm512_cmpeq_epi32_mask(
			_mm512_and_si512(_mm512_castps_si512(v), exponent), exponent);
		_mm256_storeu_si256((__m256i *)(void *)(out + i), (__m256i)h);
	}
	if (i < n) {
		__mmask16 m = (__mmask16)((1u << (n - i)) - 1);
		__m512 v = _mm512_maskz_loadu_ps(m, src + i);
		__m256bh h = _mm512_cvtneps_pbh(v);

		bad |= _mm512_mask_cmpeq_epi32_mask(
			m, _mm512_and_si512(_mm512_castps_si512(v), exponent), exponent);
		_mm256_mask_storeu_epi16(out + i, m, (__m256i)h);
	}
	return bad == 0;
}

#endif
