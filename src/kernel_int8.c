/*
 * kernel_int8.c — mlp's own int8 kernel: a quantised layer (quant.c) on
 * its int8 weights, packed once when the plan is made.
 *
 * A pass rounds each row's inputs to int8 at the layer's input scale
 * (quant.h), sums the products exactly in 32-bit integers, and turns each
 * sum into a float output with one FMA: sum · (input scale · weight
 * scale) + bias; the activation follows in float. Every variant computes
 * the same integers, so their outputs are the same bits as the reference
 * chain's (mlpi_int8_reference): a row's result never depends on the
 * batch.
 *
 * The weights are packed in panels of 16 outputs, as the fp32 kernel's
 * (kernel_fp32.c), but with 4 inputs side by side in each 32-bit lane,
 * so that one instruction (vpdpbusd on VNNI512, vpmaddubsw on AVX2)
 * multiplies a broadcast group of a row's inputs by 16 outputs' weights
 * (8 on AVX2). Panels come in pairs (a zero panel pads an odd
 * count); a block of up to 4 rows × 2 panels, or 2 rows × 4 panels,
 * keeps enough sums in flight to cover the instruction's latency.
 */
#include "cpu.h"
#include "dense.h"
#include "kernel.h"
#include "kernel_int8.h"
#include "openmp.h"
#include "quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

enum { LANES = 16 };

/* Below this many products a layer runs on the calling thread, as the
 * fp32 kernel (kernel_packed.c) decides it, int8 products counting half. */
#define INT8_SHARED_MACS 1e6

struct int8_layer {
	size_t n_in, n_out;
	size_t panels;     /* even */
	size_t kp;         /* n_in padded to a group of 4 */
	size_t max_rows, shared_rows;
	mlp_act act;
	enum mlpi_kint8_isa isa;
	int threads;
	float inv;         /* 1 / the input scale */
	void *W;           /* packed weights; C: row-major, n_out × kp */
	int16_t *W16;      /* AVX2: the weights again as int16, 2 inputs a
			    * lane, for rows of both signs */
	int32_t *comp;     /* VNNI512: 128 · Σ_k W[i][k], per output */
	float *scale, *bias; /* per output, panels × 16, zero past n_out */
	char describe[24];
};

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

bool mlpi_kint8_runs(enum mlpi_kint8_isa isa)
{
	switch (isa) {
	case MLPI_KINT8_C:
		return true;
#if defined(HAVE_X86)
	case MLPI_KINT8_AVX2:
		return mlpi_cpu_avx2();
	case MLPI_KINT8_VNNI512:
		__builtin_cpu_init();
		return mlpi_cpu_avx512() && __builtin_cpu_supports("avx512vnni");
#else
	default:
		break;
#endif
	}
	return false;
}

enum mlpi_kint8_isa mlpi_kint8_best(void)
{
	for (int isa = MLPI_KINT8_VNNI512; isa > MLPI_KINT8_C; isa--)
		if (mlpi_kint8_runs((enum mlpi_kint8_isa)isa))
			return (enum mlpi_kint8_isa)isa;
	return MLPI_KINT8_C;
}

const char *mlpi_kint8_name(enum mlpi_kint8_isa isa)
{
	static const char *const names[] = { "c", "avx2", "avx512-vnni" };

	return (size_t)isa < sizeof(names) / sizeof(names[0]) ? names[isa] : "none";
}

/* ---- packing ------------------------------------------------------------- */

static void pack_weights(const struct mlp_layer *ly, struct int8_layer *p)
{
	size_t g_in = 4, groups = p->kp / g_in;

	for (size_t o = 0; o < p->panels * LANES; o++) {
		size_t panel = o / LANES, j = o % LANES;
		int32_t sum = 0;

		for (size_t k = 0; k < p->kp; k++) {
			int w = o < ly->n_out && k < ly->n_in ? ly->Wq[o * ly->n_in + k] : 0;
			size_t at = ((panel * groups + k / g_in) * LANES + j) * g_in + k % g_in;

			sum += w;
			if (p->isa == MLPI_KINT8_C)
				((int8_t *)p->W)[o * p->kp + k] = (int8_t)w;
			else
				((int8_t *)p->W)[at] = (int8_t)w;
			if (p->W16 != NULL)
				p->W16[((panel * (p->kp / 2) + k / 2) * LANES + j) * 2 + k % 2] =
					(int16_t)w;
		}
		p->comp[o] = 128 * sum;
		p->scale[o] = o < ly->n_out ? mlpi_q8_scale(ly, o) : 0.0f;
		p->bias[o] = o < ly->n_out ? ly->b[o] : 0.0f;
	}
}

mlp_status mlpi_kint8_pack(const struct mlp_layer *ly, enum mlpi_kint8_isa isa,
			   size_t max_rows, int threads, void **out)
{
	struct int8_layer *p;
	size_t outs, wbytes;

	if (ly->Wq == NULL || ly->n_in > MLPI_INT8_MAX_IN || !mlpi_kint8_runs(isa))
		return MLP_ENOTSUP;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return MLP_ENOMEM;
	p->n_in = ly->n_in;
	p->n_out = ly->n_out;
	p->panels = round_up((ly->n_out + LANES - 1) / LANES, 2);
	p->isa = isa;
	p->kp = round_up(ly->n_in, 4);
	p->max_rows = max_rows;
	p->act = ly->act;
	p->inv = 1.0f / ly->in_scale;
	p->threads = threads;
	p->shared_rows = (size_t)ceil(2 * INT8_SHARED_MACS /
				      ((double)ly->n_in * (double)ly->n_out));
	if (threads <= 1 || p->panels < 4)
		p->shared_rows = SIZE_MAX;
	outs = p->panels * LANES;
	wbytes = outs * p->kp; /* n_in, n_out ≤ 2^24: no overflow */
	p->W = mlpi_alloc_aligned(wbytes);
	p->comp = mlpi_alloc_aligned(outs * (sizeof(int32_t) + 2 * sizeof(float)));
	if (isa == MLPI_KINT8_AVX2)
		p->W16 = mlpi_alloc_aligned(wbytes * sizeof(int16_t));
	if (p->W == NULL || p->comp == NULL ||
	    (isa == MLPI_KINT8_AVX2 && p->W16 == NULL)) {
		mlpi_kint8_free(p);
		return MLP_ENOMEM;
	}
	p->scale = (float *)(p->comp + outs);
	p->bias = p->scale + outs;
	pack_weights(ly, p);
	snprintf(p->describe, sizeof(p->describe), "%s", mlpi_kint8_name(isa));
	*out = p;
	return MLP_OK;
}

size_t mlpi_kint8_scratch(const void *packed)
{
	const struct int8_layer *p = packed;

	/* The rows in int8; AVX2's rows in int16 too, and the sign of each. */
	return round_up(p->max_rows * (p->isa == MLPI_KINT8_AVX2 ? 3 * p->kp + 1
							     : p->kp), 64);
}

void mlpi_kint8_free(void *packed)
{
	struct int8_layer *p = packed;

	if (p == NULL)
		return;
	mlpi_free_aligned(p->W);
	mlpi_free_aligned(p->W16);
	mlpi_free_aligned(p->comp);
	free(p);
}

/* ---- plain C --------------------------------------------------------------- */

static void quantize_c(const struct int8_layer *p, size_t rows, const float *X,
		       int8_t *xs)
{
	for (size_t r = 0; r < rows; r++)
		for (size_t k = 0; k < p->kp; k++)
			xs[r * p->kp + k] = (int8_t)(k < p->n_in ? mlpi_q8(X[r * p->n_in + k], p->inv) : 0);
}

static void run_c(const struct int8_layer *p, size_t rows, const void *xq,
		  float *Y, size_t lo, size_t hi)
{
	const int8_t *xs = xq, *W = p->W;
	size_t end = hi * LANES < p->n_out ? hi * LANES : p->n_out;

	for (size_t r = 0; r < rows; r++)
		for (size_t o = lo * LANES; o < end; o++) {
			int32_t sum = 0;

			for (size_t k = 0; k < p->kp; k++)
				sum += (int32_t)W[o * p->kp + k] * xs[r * p->kp + k];
			Y[r * p->n_out + o] = mlpi_q8_out(sum, p->scale[o], p->bias[o]);
		}
}

#if defined(HAVE_X86)

static inline int32_t load32(const void *p)
{
	int32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* ---- AVX2: vpmaddubsw on rows ≥ 0, vpmaddwd on rows of both signs -------
 * vpmaddubsw multiplies unsigned bytes by signed ones and adds each pair
 * into a saturating int16. With an unsigned operand up to 255 (inputs
 * shifted by 128), 2 · 255 · 127 passes 32767; with 0 ≤ x ≤ 127 it cannot
 * (2 · 127 · 127 = 32258). So a block whose rows are all ≥ 0 (after a
 * ReLU, or pixels) multiplies them as bytes, unshifted. A block of 3 or 4
 * rows with one below 0 takes int16 operands and vpmaddwd, exact as well,
 * which bench_int8 measured 1.1-1.2 times as fast there as moving x's
 * sign onto the weights (|x| and vpsignb, then vpmaddubsw); blocks of 1 or
 * 2 such rows take the latter, which reads half the bytes (1.5 times as
 * fast at one row). */

/* The scratch of an AVX2 pass: rows in int8, rows in int16, signs. */
struct avx2_rows {
	int8_t *x8;
	int16_t *x16;
	uint8_t *neg; /* neg[r]: row r has a value below 0 */
};

static struct avx2_rows avx2_rows(const struct int8_layer *p, void *scratch)
{
	struct avx2_rows s = { scratch, NULL, NULL };

	s.x16 = (int16_t *)(void *)((int8_t *)scratch + p->max_rows * p->kp);
	s.neg = (uint8_t *)(s.x16 + p->max_rows * p->kp);
	return s;
}

__attribute__((target("avx2,fma")))
static void quantize_avx2(const struct int8_layer *p, size_t rows,
			  const float *X, struct avx2_rows s)
{
	const __m256 inv = _mm256_set1_ps(p->inv), lo = _mm256_set1_ps(-127.0f),
		     hi = _mm256_set1_ps(127.0f);
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);

	for (size_t r = 0; r < rows; r++) {
		const float *x = X + r * p->n_in;
		int8_t *q = s.x8 + r * p->kp;
		int16_t *q16 = s.x16 + r * p->kp;
		__m256i any = _mm256_setzero_si256();
		size_t k = 0;
		int below = 0;

		for (; k + 32 <= p->n_in; k += 32) {
			__m256i i[4], w[2], b;

			for (int j = 0; j < 4; j++) {
				__m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + k + 8 * j), inv);

				i[j] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
			}
			w[0] = _mm256_packs_epi32(i[0], i[1]);
			w[1] = _mm256_packs_epi32(i[2], i[3]);
			b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w[0], w[1]), order);
			_mm256_storeu_si256((__m256i *)(void *)(q + k), b);
			any = _mm256_or_si256(any, b);
			for (int j = 0; j < 2; j++)
				_mm256_storeu_si256((__m256i *)(void *)(q16 + k + 16 * j),
						    _mm256_permute4x64_epi64(w[j], 0xd8));
		}
		below = _mm256_movemask_epi8(any) != 0;
		for (; k < p->kp; k++) {
			q[k] = (int8_t)(k < p->n_in ? mlpi_q8(x[k], p->inv) : 0);
			q16[k] = q[k];
			below |= q[k] < 0;
		}
		s.neg[r] = (uint8_t)below;
	}
}

/* The outputs of R rows of one panel from their sums. */
__attribute__((target("avx2,fma"), always_inline))
static inline void store_avx2(const struct int8_layer *p, float *Y, size_t r0,
			      size_t R, size_t panel, __m256i acc[4][2])
{
	size_t o = panel * LANES, n = p->n_out - o < LANES ? p->n_out - o : LANES;
	__m256 sc[2], bi[2];

	for (int h = 0; h < 2; h++) {
		sc[h] = _mm256_load_ps(p->scale + o + 8 * h);
		bi[h] = _mm256_load_ps(p->bias + o + 8 * h);
	}
	for (size_t r = 0; r < R; r++) {
		float v[LANES], *y = Y + (r0 + r) * p->n_out + o;

		for (int h = 0; h < 2; h++) {
			__m256 out = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][h]), sc[h], bi[h]);

			/* A whole panel straight to Y; the last one's part through
			 * v. */
			if (n == LANES)
				_mm256_storeu_ps(y + 8 * h, out);
			else
				_mm256_storeu_ps(v + 8 * h, out);
		}
		if (n < LANES)
			memcpy(y, v, n * sizeof(float));
	}
}

/* R rows (R constant once inlined) × one panel: vpmaddubsw, then
 * vpmaddwd by ones into 32 bits; rows ≥ 0 as they are, or (signed_x)
 * |x| with x's sign moved onto the weights. */
__attribute__((target("avx2,fma"), always_inline))
static inline void block_u8_avx2(const struct int8_layer *p, const int8_t *xs,
				 float *Y, size_t r0, size_t R, size_t panel,
				 bool signed_x)
{
	size_t groups = p->kp / 4;
	const int8_t *w = (const int8_t *)p->W + panel * groups * 4 * LANES;
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i acc[4][2];

	for (size_t r = 0; r < R; r++)
		acc[r][0] = acc[r][1] = _mm256_setzero_si256();
	for (size_t g = 0; g < groups; g++, w += 4 * LANES) {
		__m256i w0 = _mm256_load_si256((const __m256i *)(const void *)w);
		__m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(w + 32));

		for (size_t r = 0; r < R; r++) {
			__m256i x = _mm256_set1_epi32(load32(xs + (r0 + r) * p->kp + 4 * g));
			__m256i s0, s1;

			if (signed_x) {
				__m256i ax = _mm256_abs_epi8(x);

				s0 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, x));
				s1 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, x));
			} else {
				s0 = _mm256_maddubs_epi16(x, w0);
				s1 = _mm256_maddubs_epi16(x, w1);
			}
			acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(s0, ones));
			acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(s1, ones));
		}
	}
	store_avx2(p, Y, r0, R, panel, acc);
}

/* R rows of both signs × one panel: int16 operands, vpmaddwd. */
__attribute__((target("avx2,fma"), always_inline))
static inline void block_i16_avx2(const struct int8_layer *p, const int16_t *xs,
				  float *Y, size_t r0, size_t R, size_t panel)
{
	size_t groups = p->kp / 2;
	const int16_t *w = p->W16 + panel * groups * 2 * LANES;
	__m256i acc[4][2];

	for (size_t r = 0; r < R; r++)
		acc[r][0] = acc[r][1] = _mm256_setzero_si256();
	for (size_t g = 0; g < groups; g++, w += 2 * LANES) {
		__m256i w0 = _mm256_load_si256((const __m256i *)(const void *)w);
		__m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(w + LANES));

		for (size_t r = 0; r < R; r++) {
			__m256i x = _mm256_set1_epi32(load32(xs + (r0 + r) * p->kp + 2 * g));

			acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, w0));
			acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, w1));
		}
	}
	store_avx2(p, Y, r0, R, panel, acc);
}

__attribute__((target("avx2,fma")))
static void run_avx2(const struct int8_layer *p, size_t rows, const void *scratch,
		     float *Y, size_t lo, size_t hi)
{
	/* Only read here: the rows quantize_avx2 wrote. */
	struct avx2_rows s = avx2_rows(p, (void *)(uintptr_t)scratch);

	for (size_t r0 = 0; r0 < rows; r0 += 4) {
		size_t R = rows - r0 < 4 ? rows - r0 : 4;
		bool neg = false;

		for (size_t r = 0; r < R; r++)
			neg |= s.neg[r0 + r] != 0;
		/* Signed blocks of one or two rows read the weights as bytes
		 * (with vpsignb): there the reading, not the multiplying, is
		 * what takes the time. */
		for (size_t panel = lo; panel < hi && panel * LANES < p->n_out; panel++) {
			switch (R + 4 * neg) {
			case 1: block_u8_avx2(p, s.x8, Y, r0, 1, panel, false); break;
			case 2: block_u8_avx2(p, s.x8, Y, r0, 2, panel, false); break;
			case 3: block_u8_avx2(p, s.x8, Y, r0, 3, panel, false); break;
			case 4: block_u8_avx2(p, s.x8, Y, r0, 4, panel, false); break;
			case 5: block_u8_avx2(p, s.x8, Y, r0, 1, panel, true); break;
			case 6: block_u8_avx2(p, s.x8, Y, r0, 2, panel, true); break;
			case 7: block_i16_avx2(p, s.x16, Y, r0, 3, panel); break;
			default: block_i16_avx2(p, s.x16, Y, r0, 4, panel); break;
			}
		}
	}
}

/* ---- AVX512-VNNI: u8 × s8, vpdpbusd ------------------------------------ */

/* n values of x rounded to int8 at 1/scale = inv_scale, plus shift (0,
 * or 128 for vpdpbusd's unsigned bytes), into q. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void q8_rows_512(size_t n, const float *x, float inv_scale, int shift,
			void *q)
{
	const __m512 inv = _mm512_set1_ps(inv_scale), lo = _mm512_set1_ps(-127.0f),
		     hi = _mm512_set1_ps(127.0f);
	const __m512i add = _mm512_set1_epi32(shift);

	for (size_t k = 0; k < n; k += 16) {
		__mmask16 m = n - k >= 16 ? 0xffff : (__mmask16)((1u << (n - k)) - 1);
		__m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), inv);
		__m512i i = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi));

		_mm_mask_storeu_epi8((int8_t *)q + k, m,
				     _mm512_cvtepi32_epi8(_mm512_add_epi32(i, add)));
	}
}

static void quantize_vnni(const struct int8_layer *p, size_t rows,
			  const float *X, uint8_t *xs)
{
	for (size_t r = 0; r < rows; r++) {
		uint8_t *q = xs + r * p->kp;

		q8_rows_512(p->n_in, X + r * p->n_in, p->inv, 128, q);
		for (size_t k = p->n_in; k < p->kp; k++)
			q[k] = 128;
	}
}

/* R rows × P panels (constants once inlined). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline))
static inline void block_vnni(const struct int8_layer *p, const uint8_t *xs,
			      float *Y, size_t r0, size_t R, size_t panel,
			      size_t P)
{
	size_t groups = p->kp / 4;
	const int32_t *w = (const int32_t *)p->W + panel * groups * LANES;
	__m512i acc[4][4];

	for (size_t r = 0; r < R; r++)
		for (size_t q = 0; q < P; q++)
			acc[r][q] = _mm512_setzero_si512();
	for (size_t g = 0; g < groups; g++, w += LANES) {
		__m512i wv[4];

		for (size_t q = 0; q < P; q++)
			wv[q] = _mm512_load_si512((const void *)(w + q * groups * LANES));
		for (size_t r = 0; r < R; r++) {
			__m512i x = _mm512_set1_epi32(load32(xs + (r0 + r) * p->kp + 4 * g));

			for (size_t q = 0; q < P; q++)
				acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], x, wv[q]);
		}
	}
	for (size_t q = 0; q < P; q++) {
		size_t o = (panel + q) * LANES;
		__m512i comp;
		__m512 sc, bi;
		__mmask16 m;

		if (o >= p->n_out)
			break;
		m = p->n_out - o >= LANES ? 0xffff : (__mmask16)((1u << (p->n_out - o)) - 1);
		comp = _mm512_load_si512((const void *)(p->comp + o));
		sc = _mm512_load_ps(p->scale + o);
		bi = _mm512_load_ps(p->bias + o);
		for (size_t r = 0; r < R; r++) {
			__m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][q], comp));

			_mm512_mask_storeu_ps(Y + (r0 + r) * p->n_out + o, m,
					      _mm512_fmadd_ps(v, sc, bi));
		}
	}
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void run_vnni(const struct int8_layer *p, size_t rows, const void *xq,
		     float *Y, size_t lo, size_t hi)
{
	const uint8_t *xs = xq;

	for (size_t r0 = 0; r0 < rows; r0 += 4) {
		size_t R = rows - r0 < 4 ? rows - r0 : 4, panel = lo;

		/* One or two rows: four panels at once, for enough sums. */
		for (; R <= 2 && panel + 4 <= hi; panel += 4) {
			if (R == 1)
				block_vnni(p, xs, Y, r0, 1, panel, 4);
			else
				block_vnni(p, xs, Y, r0, 2, panel, 4);
		}
		for (; panel < hi; panel += 2) {
			switch (R) {
			case 1: block_vnni(p, xs, Y, r0, 1, panel, 2); break;
			case 2: block_vnni(p, xs, Y, r0, 2, panel, 2); break;
			case 3: block_vnni(p, xs, Y, r0, 3, panel, 2); break;
			default: block_vnni(p, xs, Y, r0, 4, panel, 2); break;
			}
		}
	}
}

#endif /* HAVE_X86 */

/* ---- rounding rows to int8, for other kernels ------------------------------- */

#if defined(HAVE_X86)

__attribute__((target("avx2,fma")))
static void q8_rows_256(size_t n, const float *x, float inv_scale, int8_t *q)
{
	const __m256 inv = _mm256_set1_ps(inv_scale), lo = _mm256_set1_ps(-127.0f),
		     hi = _mm256_set1_ps(127.0f);
	size_t k = 0;

	for (; k + 8 <= n; k += 8) {
		__m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + k), inv);
		__m256i i = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
		int32_t t[8];

		_mm256_storeu_si256((__m256i *)(void *)t, i);
		for (int j = 0; j < 8; j++)
			q[k + (size_t)j] = (int8_t)t[j];
	}
	for (; k < n; k++)
		q[k] = (int8_t)mlpi_q8(x[k], inv_scale);
}
#endif

void mlpi_kint8_quantize(size_t n, const float *x, float inv_scale, int8_t *q)
{
#if defined(HAVE_X86)
	if (mlpi_cpu_avx512()) {
		q8_rows_512(n, x, inv_scale, 0, q);
		return;
	}
	if (mlpi_cpu_avx2()) {
		q8_rows_256(n, x, inv_scale, q);
		return;
	}
#endif
	for (size_t k = 0; k < n; k++)
		q[k] = (int8_t)mlpi_q8(x[k], inv_scale);
}

/* ---- a pass ---------------------------------------------------------------- */

static void run_panels(const struct int8_layer *p, size_t rows, const void *xq,
		       float *Y, size_t lo, size_t hi)
{
	switch (p->isa) {
#if defined(HAVE_X86)
	case MLPI_KINT8_VNNI512:
		run_vnni(p, rows, xq, Y, lo, hi);
		return;
	case MLPI_KINT8_AVX2:
		run_avx2(p, rows, xq, Y, lo, hi);
		return;
#endif
	default:
		run_c(p, rows, xq, Y, lo, hi);
		return;
	}
}

struct panels_job {
	const struct int8_layer *p;
	size_t rows;
	const void *xq;
	float *Y;
};

/* A share of the panels, in pairs. */
static void panels_part(void *arg, int part, int parts)
{
	const struct panels_job *job = arg;
	size_t pairs = job->p->panels / 2;
	size_t lo = pairs * (size_t)part / (size_t)parts * 2;
	size_t hi = pairs * (size_t)(part + 1) / (size_t)parts * 2;

	if (lo < hi)
		run_panels(job->p, job->rows, job->xq, job->Y, lo, hi);
}

void mlpi_kint8_run(const void *packed, void *scratch, size_t rows,
		    const float *X, float *Y)
{
	const struct int8_layer *p = packed;

	switch (p->isa) {
#if defined(HAVE_X86)
	case MLPI_KINT8_VNNI512:
		quantize_vnni(p, rows, X, scratch);
		break;
	case MLPI_KINT8_AVX2:
		quantize_avx2(p, rows, X, avx2_rows(p, scratch));
		break;
#endif
	default:
		quantize_c(p, rows, X, scratch);
		break;
	}
#if defined(MLP_HAVE_ONEDNN)
	if (rows >= p->shared_rows) {
		struct panels_job job = { p, rows, scratch, Y };

		mlpi_openmp_parallel_n(panels_part, &job, (unsigned)p->threads);
	} else
#endif
	{
		run_panels(p, rows, scratch, Y, 0, p->panels);
	}
	if (p->act != MLP_IDENTITY)
		mlpi_bias_act(p->act, rows, p->n_out, NULL, Y);
}

/* ---- the kernel's entry in the table --------------------------------------- */

static bool int8_supports(const struct mlp_layer *layer, size_t rows)
{
	(void)rows;
	return layer->Wq != NULL && layer->n_in <= MLPI_INT8_MAX_IN;
}

/* Per block, each group of 4 inputs takes one instruction per row and
 * panel (VNNI512), about 2.3 cycles per row and panel on AVX2 (four
 * multiplying instructions, two a cycle: 2.2 measured on rows ≥ 0, 3.1 on
 * rows of both signs, bench_int8), or the instruction's latency (5
 * cycles) when fewer are in flight; a cycle is about 0.28 ns (as
 * kernel_packed.c's model), and loads and the loop add 15%. Each row
 * costs about 4 ns beside (its rounding, the stores of its outputs).
 * Fitted to bench_costs --int8 on an AMD EPYC family 25 (AVX512-VNNI, and
 * held to AVX2 by MLP_MAX_CPU_ISA); MLP_MEASURE does not rely on it. */
static double int8_cost(const struct mlp_layer *layer, size_t rows, int threads)
{
	enum mlpi_kint8_isa isa = mlpi_kint8_best();
	double cycle = 0.00028 * 1.15, groups, per_group, blocks, compute;
	double panels = (double)round_up((layer->n_out + LANES - 1) / LANES, 2);
	double full = floor((double)rows / 4), rest = (double)(rows % 4);

	groups = (double)round_up(layer->n_in, 4) / 4;
	per_group = isa == MLPI_KINT8_VNNI512 ? 1 : isa == MLPI_KINT8_AVX2 ? 2.3 : 64;
	/* Blocks of 4 rows × 2 panels, and the rest. */
	blocks = full * fmax(8 * per_group, 5) * (panels / 2) +
		 (rest > 0 ? fmax(rest * 2 * per_group, 5) * (panels / 2) : 0);
	compute = blocks * groups * cycle;
	if ((double)rows * layer->n_in * layer->n_out >= 2 * INT8_SHARED_MACS &&
	    threads > 1)
		compute = 1.5 + compute / threads;
	return 0.02 + compute + (double)rows * (double)layer->n_in * cycle / 8 +
	       0.004 * (double)rows + 0.0002 * (double)(rows * layer->n_out);
}

static mlp_status int8_prepare(const struct mlp_layer *layer,
			       const struct mlpi_rungs *rungs, void **out)
{
	return mlpi_kint8_pack(layer, mlpi_kint8_best(), rungs->rows[rungs->n - 1],
			       mlpi_kernel_threads(rungs->threads), out);
}

static mlp_status int8_context(const void *packed, void **ctx)
{
	*ctx = mlpi_alloc_aligned(mlpi_kint8_scratch(packed));
	return *ctx != NULL ? MLP_OK : MLP_ENOMEM;
}

static mlp_status int8_run(const void *packed, void *ctx, size_t rung,
			   size_t rows, const float *X, float *Y)
{
	(void)rung;
	mlpi_kint8_run(packed, ctx, rows, X, Y);
	return MLP_OK;
}

static const char *int8_describe(const void *packed)
{
	return ((const struct int8_layer *)packed)->describe;
}

const struct mlpi_kernel mlpi_kernel_int8 = {
	.name = "int8",
	.precision = MLP_INT8,
	.invariant = true,
	.any_rows = true,
	.supports = int8_supports,
	.cost = int8_cost,
	.prepare = int8_prepare,
	.context = int8_context,
	.run = int8_run,
	.describe = int8_describe,
	.free_context = mlpi_free_aligned,
	.free_packed = mlpi_kint8_free,
};
