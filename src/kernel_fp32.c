/*
 * kernel_fp32.c — mlp's own fp32 layer product on packed weights.
 *
 * The weights are packed once into panels of 16 outputs: panel p holds,
 * for each input k, the 16 weights W[16p .. 16p + 15][k] side by side (zeros
 * past n_out), so that the inner loop loads one vector of weights and
 * multiplies it by one input broadcast. A block of up to 4 rows × 2 panels
 * keeps 8 independent accumulators, enough to cover the FMA units' latency;
 * the bias starts them. There is no call and no packing of X per product:
 * on small layers that is most of what a BLAS call costs.
 *
 * The vector width is chosen when the plan is made, by the CPU's rule
 * (cpu.c): AVX-512, AVX2 with FMA, or plain C. Layers narrower than a
 * panel take another way at 16 rows and more (run_narrow).
 */
#include "cpu.h"
#include "kernel_fp32.h"
#include "util.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* Rows of a block: AVX-512's 32 registers hold 8 rows × 2 panels of
 * accumulators; AVX2's 16 hold 6 rows × 1 panel of two vectors each, with
 * room for the weights and the broadcast input (4 rows × 2 panels, 16
 * accumulators, spilled: 54% of the peak on 784 × 1024 against 93%). */
enum { LANES = MLPI_KFP32_LANES, ROWS = 4, ROWS_512 = 8, ROWS_256 = 6,
       PANELS = 2 };

static size_t panels_of(size_t n_out)
{
	return (n_out + LANES - 1) / LANES;
}

size_t mlpi_kfp32_size(size_t n_out, size_t n_in)
{
	return panels_of(n_out) * LANES * (n_in + 1);
}

void mlpi_kfp32_pack(size_t n_out, size_t n_in, const float *W, const float *b,
		     float *P)
{
	size_t panels = panels_of(n_out);
	float *bias = P + panels * n_in * LANES;

	for (size_t p = 0; p < panels; p++)
		for (size_t k = 0; k < n_in; k++)
			for (size_t j = 0; j < LANES; j++) {
				size_t o = p * LANES + j;

				P[(p * n_in + k) * LANES + j] =
					o < n_out ? W[o * n_in + k] : 0.0f;
			}
	for (size_t o = 0; o < panels * LANES; o++)
		bias[o] = o < n_out && b != NULL ? b[o] : 0.0f;
}

/* Outputs [16p, 16p + 16) of a row from 16 computed values: all of them,
 * or the part below n_out. */
static inline void put(float *y, size_t p, size_t n_out, const float *v)
{
	size_t o = p * LANES, n = n_out - o < LANES ? n_out - o : LANES;

	memcpy(y + o, v, n * sizeof(float));
}

/* ---- plain C ---------------------------------------------------------------- */

static void run_c(size_t rows, size_t n_in, size_t n_out, const float *P,
		  const float *X, float *Y, size_t p_lo, size_t p_hi)
{
	const float *bias = P + panels_of(n_out) * n_in * LANES;

	for (size_t r = 0; r < rows; r++)
		for (size_t p = p_lo; p < p_hi; p++) {
			float acc[LANES];

			memcpy(acc, bias + p * LANES, sizeof(acc));
			for (size_t k = 0; k < n_in; k++) {
				const float *w = P + (p * n_in + k) * LANES;
				float x = X[r * n_in + k];

				for (size_t j = 0; j < LANES; j++)
					acc[j] += x * w[j];
			}
			put(Y + r * n_out, p, n_out, acc);
		}
}

#if defined(HAVE_X86)
/* A variant's driver over blocks of up to ROWS rows × PANELS panels, each
 * shape a constant so that the compiler unrolls its loops. Rows go in
 * chunks of CHUNK, and within a chunk a pair of panels (their weights) at a
 * time over every block of rows: a panel's weights are read from the
 * caches once a chunk instead of once every 4 rows, which on a wide layer
 * (784 × 1024, 3 MB) was most of the time at hundreds of rows. A row's
 * arithmetic is the same in any order of blocks. */
enum { CHUNK = 64 };

/* Up to 4 rows: a row at a time over pairs of panels, the shortest code to
 * a block (most of what a tiny layer costs). */
#define RUN_FEW(block)                                                       \
	do {                                                                 \
		const float *bias = P + panels_of(n_out) * n_in * LANES;     \
									     \
		for (size_t r = 0; r < rows; r++)                            \
			for (size_t p = p_lo; p < p_hi; p += PANELS) {       \
				if (p_hi - p >= PANELS)                      \
					block(n_in, n_out, P, bias,          \
					      X + r * n_in, Y + r * n_out,   \
					      p, 1, 2);                      \
				else                                         \
					block(n_in, n_out, P, bias,          \
					      X + r * n_in, Y + r * n_out,   \
					      p, 1, 1);                      \
			}                                                    \
	} while (0)

#define RUN_BLOCKS(block, ROWS, STEP)                                        \
	do {                                                                 \
		const float *bias = P + panels_of(n_out) * n_in * LANES;     \
									     \
		for (size_t c0 = 0; c0 < rows; c0 += CHUNK) {                \
			size_t c1 = rows - c0 < CHUNK ? rows : c0 + CHUNK;   \
									     \
			for (size_t p = p_lo; p < p_hi; p += STEP) {         \
				int Q = p_hi - p < STEP                      \
						? (int)(p_hi - p)            \
						: STEP;                      \
									     \
				for (size_t r = c0; r < c1; r += ROWS) {     \
					int R = c1 - r < ROWS                \
							? (int)(c1 - r)      \
							: ROWS;              \
					const float *x = X + r * n_in;       \
					float *y = Y + r * n_out;            \
									     \
					if (R == ROWS && Q == 2)             \
						block(n_in, n_out, P, bias,  \
						      x, y, p, ROWS, 2);     \
					else if (R == ROWS)                  \
						block(n_in, n_out, P, bias,  \
						      x, y, p, ROWS, 1);     \
					else if (R == 4 && Q == 2)           \
						block(n_in, n_out, P, bias,  \
						      x, y, p, 4, 2);        \
					else if (R == 4)                     \
						block(n_in, n_out, P, bias,  \
						      x, y, p, 4, 1);        \
					else if (R == 1 && Q == 2)           \
						block(n_in, n_out, P, bias,  \
						      x, y, p, 1, 2);        \
					else if (R == 1)                     \
						block(n_in, n_out, P, bias,  \
						      x, y, p, 1, 1);        \
					else                                 \
						for (int i = 0; i < R;) {    \
							int n = R - i >= 4   \
									? 4  \
									: 1; \
							const float *xi =    \
								x + (size_t)i * n_in; \
							float *yi =          \
								y + (size_t)i * n_out; \
							if (n == 4 && Q == 2) \
								block(n_in, n_out, P, bias, xi, yi, p, 4, 2); \
							else if (n == 4)     \
								block(n_in, n_out, P, bias, xi, yi, p, 4, 1); \
							else if (Q == 2)     \
								block(n_in, n_out, P, bias, xi, yi, p, 1, 2); \
							else                 \
								block(n_in, n_out, P, bias, xi, yi, p, 1, 1); \
							i += n;              \
						}                            \
				}                                            \
			}                                                    \
		}                                                            \
	} while (0)

/* ---- AVX-512: a panel is one vector ------------------------------------------ */

__attribute__((target("avx512f"), always_inline))
static inline void block_512(size_t n_in, size_t n_out, const float *P,
			     const float *bias, const float *X, float *Y,
			     size_t p0, int R, int Q)
{
	__m512 acc[ROWS_512][PANELS];

	for (int q = 0; q < Q; q++)
		for (int r = 0; r < R; r++)
			acc[r][q] = _mm512_loadu_ps(bias + (p0 + (size_t)q) * LANES);
	for (size_t k = 0; k < n_in; k++) {
		for (int q = 0; q < Q; q++) {
			__m512 w = _mm512_loadu_ps(P + ((p0 + (size_t)q) * n_in + k) *
							   LANES);

			for (int r = 0; r < R; r++)
				acc[r][q] = _mm512_fmadd_ps(
					_mm512_set1_ps(X[(size_t)r * n_in + k]), w,
					acc[r][q]);
		}
	}
	for (int r = 0; r < R; r++)
		for (int q = 0; q < Q; q++) {
			size_t p = p0 + (size_t)q;

			if ((p + 1) * LANES <= n_out) {
				_mm512_storeu_ps(Y + (size_t)r * n_out + p * LANES,
						 acc[r][q]);
			} else {
				/* The part below n_out: a masked store, no call. */
				__mmask16 m = (__mmask16)((1u << (n_out - p * LANES)) - 1);

				_mm512_mask_storeu_ps(Y + (size_t)r * n_out + p * LANES, m,
						      acc[r][q]);
			}
		}
}

__attribute__((target("avx512f")))
static void run_512(size_t rows, size_t n_in, size_t n_out, const float *P,
		    const float *X, float *Y, size_t p_lo, size_t p_hi)
{
	if (rows < 4)
		RUN_FEW(block_512);
	else
		RUN_BLOCKS(block_512, ROWS_512, PANELS);
}

/* ---- AVX2 with FMA: a panel is two vectors ----------------------------------- */

__attribute__((target("avx2,fma"), always_inline))
static inline void block_256(size_t n_in, size_t n_out, const float *P,
			     const float *bias, const float *X, float *Y,
			     size_t p0, int R, int Q)
{
	__m256 acc[ROWS_256][PANELS][2];
	float v[LANES];

	for (int q = 0; q < Q; q++)
		for (int r = 0; r < R; r++)
			for (int h = 0; h < 2; h++)
				acc[r][q][h] = _mm256_loadu_ps(
					bias + (p0 + (size_t)q) * LANES + 8 * h);
	for (size_t k = 0; k < n_in; k++) {
		for (int q = 0; q < Q; q++) {
			const float *w = P + ((p0 + (size_t)q) * n_in + k) * LANES;
			__m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);

			for (int r = 0; r < R; r++) {
				__m256 x = _mm256_set1_ps(X[(size_t)r * n_in + k]);

				acc[r][q][0] = _mm256_fmadd_ps(x, w0, acc[r][q][0]);
				acc[r][q][1] = _mm256_fmadd_ps(x, w1, acc[r][q][1]);
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int q = 0; q < Q; q++) {
			size_t p = p0 + (size_t)q;

			if ((p + 1) * LANES <= n_out) {
				float *y = Y + (size_t)r * n_out + p * LANES;

				_mm256_storeu_ps(y, acc[r][q][0]);
				_mm256_storeu_ps(y + 8, acc[r][q][1]);
			} else {
				_mm256_storeu_ps(v, acc[r][q][0]);
				_mm256_storeu_ps(v + 8, acc[r][q][1]);
				put(Y + (size_t)r * n_out, p, n_out, v);
			}
		}
}

__attribute__((target("avx2,fma")))
static void run_256(size_t rows, size_t n_in, size_t n_out, const float *P,
		    const float *X, float *Y, size_t p_lo, size_t p_hi)
{
	if (rows < 4)
		RUN_FEW(block_256);
	else
		RUN_BLOCKS(block_256, ROWS_256, 1);
}
#endif

typedef void (*run_fn)(size_t rows, size_t n_in, size_t n_out, const float *P,
		       const float *X, float *Y, size_t p_lo, size_t p_hi);

static const struct {
	run_fn fn;
	const char *isa;
} variants[] = {
	[MLPI_KFP32_C] = { run_c, "c" },
#if defined(HAVE_X86)
	[MLPI_KFP32_AVX2] = { run_256, "avx2" },
	[MLPI_KFP32_AVX512] = { run_512, "avx512" },
#endif
};

bool mlpi_kfp32_runs(enum mlpi_kfp32_isa isa)
{
	switch (isa) {
	case MLPI_KFP32_C:
		return true;
#if defined(HAVE_X86)
	case MLPI_KFP32_AVX2:
		return mlpi_cpu_avx2();
	case MLPI_KFP32_AVX512:
		return mlpi_cpu_avx512();
#else
	default:
		break;
#endif
	}
	return false;
}

enum mlpi_kfp32_isa mlpi_kfp32_best(void)
{
	for (int isa = MLPI_KFP32_AVX512; isa > MLPI_KFP32_C; isa--)
		if (mlpi_kfp32_runs((enum mlpi_kfp32_isa)isa))
			return (enum mlpi_kfp32_isa)isa;
	return MLPI_KFP32_C;
}

#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

const char *mlpi_kfp32_name(enum mlpi_kfp32_isa isa)
{
	return (size_t)isa < N_VARIANTS ? variants[isa].isa : "none";
}

/* ---- narrow layers: vectors across rows ------------------------------------
 * A layer of fewer than 16 outputs fills one panel partly (a 1-wide layer
 * uses one lane of 16), so for blocks of 16 rows the vectors run across
 * the rows instead: the block's inputs transposed, then each output's sum
 * for the 16 rows at once. */
enum { NARROW_ROWS = 16, NARROW_MAX_IN = 64 };

MLPI_CLONES
static void run_narrow(size_t blocks, size_t n_in, size_t n_out,
		       const float *P, const float *X, float *Y)
{
	const float *bias = P + n_in * LANES; /* one panel */
	float xt[NARROW_MAX_IN * NARROW_ROWS];

	for (size_t blk = 0; blk < blocks; blk++) {
		const float *x = X + blk * NARROW_ROWS * n_in;
		float *y = Y + blk * NARROW_ROWS * n_out;

		for (size_t k = 0; k < n_in; k++)
			for (size_t j = 0; j < NARROW_ROWS; j++)
				xt[k * NARROW_ROWS + j] = x[j * n_in + k];
		for (size_t o = 0; o < n_out; o++) {
			float acc[NARROW_ROWS];

			for (size_t j = 0; j < NARROW_ROWS; j++)
				acc[j] = bias[o];
			for (size_t k = 0; k < n_in; k++) {
				float w = P[k * LANES + o];

				for (size_t j = 0; j < NARROW_ROWS; j++)
					acc[j] += xt[k * NARROW_ROWS + j] * w;
			}
			for (size_t j = 0; j < NARROW_ROWS; j++)
				y[j * n_out + o] = acc[j];
		}
	}
}

void mlpi_kfp32_run(enum mlpi_kfp32_isa isa, size_t rows, size_t n_in,
		    size_t n_out, const float *P, const float *X, float *Y)
{
	size_t blocks = 0;

	if (n_out < LANES && n_in <= NARROW_MAX_IN && rows >= NARROW_ROWS) {
		blocks = rows / NARROW_ROWS;
		run_narrow(blocks, n_in, n_out, P, X, Y);
	}
	rows -= blocks * NARROW_ROWS;
	if (rows > 0)
		variants[isa].fn(rows, n_in, n_out, P,
				 X + blocks * NARROW_ROWS * n_in,
				 Y + blocks * NARROW_ROWS * n_out, 0, panels_of(n_out));
}

size_t mlpi_kfp32_panels(size_t n_out)
{
	return panels_of(n_out);
}

void mlpi_kfp32_run_panels(enum mlpi_kfp32_isa isa, size_t rows, size_t n_in,
			   size_t n_out, const float *P, const float *X,
			   float *Y, size_t p_lo, size_t p_hi)
{
	variants[isa].fn(rows, n_in, n_out, P, X, Y, p_lo, p_hi);
}
