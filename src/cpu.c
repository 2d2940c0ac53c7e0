/*
 * cpu.c — what this CPU computes natively: the one place the library
 * decides it. The vector extensions choose OpenBLAS's kernels
 * (blas_core.c); bf16 is what oneDNN runs (its effective ISA, which
 * DNNL_MAX_CPU_ISA may hold below the CPU's), and decides whether the
 * oneDNN engine offers bf16.
 */
#include "cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(MLP_HAVE_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#endif

/* MLP_MAX_CPU_ISA: 2 (unset: the CPU's), 1 (avx2), 0 (c); read once. */
static atomic_int isa_cap = -1;

static int cap(void)
{
	int c = atomic_load_explicit(&isa_cap, memory_order_relaxed);

	if (c < 0) {
		const char *v = getenv("MLP_MAX_CPU_ISA");

		c = v == NULL ? 2 : strcmp(v, "avx2") == 0 ? 1 : strcmp(v, "c") == 0 ? 0 : 2;
		atomic_store_explicit(&isa_cap, c, memory_order_relaxed);
	}
	return c;
}

bool mlpi_cpu_avx512(void)
{
	__builtin_cpu_init();
	return cap() >= 2 && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("avx512vl") &&
	       __builtin_cpu_supports("avx512cd");
}

bool mlpi_cpu_avx2(void)
{
	__builtin_cpu_init();
	return cap() >= 1 && __builtin_cpu_supports("avx2") &&
	       __builtin_cpu_supports("fma");
}

bool mlpi_cpu_avx512_bf16(void)
{
#if defined(MLP_HAVE_BF16_KERNEL)
	__builtin_cpu_init();
	return mlpi_cpu_avx512() && __builtin_cpu_supports("avx512bf16");
#else
	return false;
#endif
}

#if defined(MLP_HAVE_ONEDNN)
bool mlpi_cpu_bf16(void)
{
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();

	return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
	       (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}
#else
bool mlpi_cpu_bf16(void)
{
	return mlpi_cpu_avx512_bf16();
}
#endif
