/*
 * blas_core.h — OpenBLAS's kernels for this CPU (blas_core.c).
 */
#ifndef MLP_BLAS_CORE_H
#define MLP_BLAS_CORE_H

#include <stdbool.h>

/* The core to replace `current` with on a CPU with these extensions: NULL
 * unless current is a generic (pre-AVX) core and the CPU has AVX2
 * ("Haswell") or AVX-512 ("SkylakeX"). */
const char *mlpi_blas_core_for(const char *current, bool avx2, bool avx512);
/* The same for this CPU: the one rule of which vector extensions count. */
const char *mlpi_blas_core_better(const char *current);
/* Makes OpenBLAS use `core` from now on (before any BLAS call); whether it
 * does. false where the BLAS is not an OpenBLAS that can pick again. */
bool mlpi_blas_use_core(const char *core);
/* The core mlp replaced, and mlp_blas_info's line then; NULL when none. */
const char *mlpi_blas_core_replaced(void);
const char *mlpi_blas_core_info(void);
extern const char mlpi_blas_core_anchor;

#endif /* MLP_BLAS_CORE_H */
