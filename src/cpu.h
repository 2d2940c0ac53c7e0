/*
 * cpu.h — what this CPU computes natively, the one place the library
 * decides it (cpu.c): the vector extensions OpenBLAS's kernels need, and
 * bf16 as oneDNN runs it.
 */
#ifndef MLP_CPU_H
#define MLP_CPU_H

#include <stdbool.h>

/* MLP_MAX_CPU_ISA=avx2 in the environment holds what mlp's own kernels
 * use below AVX-512 (and so AVX512-VNNI and AVX512_BF16), =c below AVX2,
 * to measure on one machine what a CPU without them gets (with
 * OPENBLAS_CORETYPE and DNNL_MAX_CPU_ISA for the libraries). */

/* AVX2 with FMA (OpenBLAS's Haswell kernels). */
bool mlpi_cpu_avx2(void);
/* The AVX-512 subsets OpenBLAS's SkylakeX kernels use. */
bool mlpi_cpu_avx512(void);
/* Whether the library computes bf16 natively here: as oneDNN's effective
 * ISA says (AVX512_BF16 or AMX; DNNL_MAX_CPU_ISA can hold it below, for
 * mlp's own kernel too), or without oneDNN, AVX512_BF16. */
bool mlpi_cpu_bf16(void);
/* AVX512_BF16, which mlp's own bf16 kernel (gemv_bf16.c) needs, in a
 * build that has the kernel. */
bool mlpi_cpu_avx512_bf16(void);

#endif /* MLP_CPU_H */
