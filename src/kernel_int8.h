/*
 * kernel_int8.h — mlp's own int8 kernel (kernel_int8.c), exposed beyond
 * its kernel table so that tests run each variant this CPU has.
 */
#ifndef MLP_KERNEL_INT8_H
#define MLP_KERNEL_INT8_H

#include "net.h"

/* The variants, narrowest first:
 *   C        int32 sums of int8 products, plain C;
 *   AVX2     rows ≥ 0: vpmaddubsw on x ≤ 127, whose 16-bit pair sums
 *            then cannot saturate (2 · 127 · 127 < 32767), widened by
 *            vpmaddwd; rows of both signs: int16 operands and vpmaddwd,
 *            or, one or two rows, |x| and vpsignb before vpmaddubsw
 *            (bench_int8 measures the ways);
 *   VNNI512  AVX512-VNNI's vpdpbusd, u8 × s8 into 32 bits: the inputs
 *            shifted by 128, the shift taken out of each sum after. */
enum mlpi_kint8_isa { MLPI_KINT8_C, MLPI_KINT8_AVX2, MLPI_KINT8_VNNI512 };

bool mlpi_kint8_runs(enum mlpi_kint8_isa isa);
enum mlpi_kint8_isa mlpi_kint8_best(void);
const char *mlpi_kint8_name(enum mlpi_kint8_isa isa);

/* The layer (quantised, n_in ≤ MLPI_INT8_MAX_IN) packed for variant isa
 * and passes of up to max_rows rows, shared among `threads` threads on
 * large layers: MLP_OK, MLP_ENOMEM, or MLP_ENOTSUP for a variant this
 * CPU lacks or a layer it cannot run. */
mlp_status mlpi_kint8_pack(const struct mlp_layer *layer,
			   enum mlpi_kint8_isa isa, size_t max_rows,
			   int threads, void **packed);
/* Scratch for one pass of up to max_rows rows: its size in bytes. */
size_t mlpi_kint8_scratch(const void *packed);
/* Y = act(X·Wᵀ + b) for rows ≤ max_rows, with scratch of
 * mlpi_kint8_scratch bytes, 64-byte aligned. Allocates nothing. */
void mlpi_kint8_run(const void *packed, void *scratch, size_t rows,
		    const float *X, float *Y);
void mlpi_kint8_free(void *packed);

/* q = x rounded to int8 at 1/scale = inv_scale (quant.h's mlpi_q8), n
 * values, vectorised where the CPU allows: the input of oneDNN's int8
 * primitives (kernel_onednn.c). */
void mlpi_kint8_quantize(size_t n, const float *x, float inv_scale, int8_t *q);

#endif /* MLP_KERNEL_INT8_H */
