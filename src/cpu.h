/*
 * cpu.h — what this CPU computes natively, the one place the library
 * decides it (cpu.c): the vector extensions OpenBLAS's kernels need, and
 * bf16 as oneDNN runs it.
 */
#ifndef MLP_CPU_H
#define MLP_CPU_H

#include <stdbool.h>

/* AVX2 with FMA (OpenBLAS's Haswell kernels). */
bool mlpi_cpu_avx2(void);
/* The AVX-512 subsets OpenBLAS's SkylakeX kernels use. */
bool mlpi_cpu_avx512(void);
/* Whether oneDNN computes bf16 natively here (AVX512_BF16 or AMX, as
 * oneDNN's effective ISA says: DNNL_MAX_CPU_ISA can hold it below); false
 * in a build without oneDNN. */
bool mlpi_cpu_bf16(void);

#endif /* MLP_CPU_H */
