/*
 * blas_core.c — OpenBLAS's kernels for this CPU, corrected when libmlp
 * loads.
 *
 * OpenBLAS built for many CPUs (DYNAMIC_ARCH, as Debian's) picks a table of
 * kernels for the CPU when it loads; on a CPU newer than it, it falls back
 * to a generic one, Prescott (SSE3), which runs sgemm several times slower
 * than its AVX-512 kernels. Its own remedy, OPENBLAS_CORETYPE, only works
 * in the environment of a process at its start, out of reach of a program
 * that merely links mlp. So when the library loads, before any BLAS call of
 * its own, it asks OpenBLAS to pick again with the kernels the CPU's vector
 * extensions call for: gotoblas_dynamic_quit and gotoblas_dynamic_init, the
 * entry points OpenBLAS itself runs at load, with OPENBLAS_CORETYPE set
 * for the moment of the call.
 *
 * It never overrides a core the user chose (OPENBLAS_CORETYPE), never one
 * that has AVX, and MLP_KEEP_OPENBLAS_CORE=1 turns it off. The kernels
 * belong to the process: every OpenBLAS caller in it gets the new ones.
 */
#define _POSIX_C_SOURCE 200809L
#include "blas_core.h"
#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Cores without AVX, which OpenBLAS falls back to on a CPU it does not
 * know: on a CPU with AVX2 or AVX-512 each is the wrong choice. */
static const char *const generic_cores[] = {
	"Prescott", "Katmai",    "Coppermine", "Northwood", "Banias",
	"Atom",     "Core2",     "Penryn",     "Dunnington", "Nehalem",
	"Athlon",   "Opteron",   "Opteron_SSE3", "Barcelona", "Bobcat",
	"Nano",
};

const char *mlpi_blas_core_for(const char *current, bool avx2, bool avx512)
{
	bool generic = false;

	for (size_t i = 0; i < sizeof(generic_cores) / sizeof(generic_cores[0]); i++)
		generic |= current != NULL && strcasecmp(current, generic_cores[i]) == 0;
	if (!generic)
		return NULL;
	return avx512 ? "SkylakeX" : avx2 ? "Haswell" : NULL;
}

const char *mlpi_blas_core_better(const char *current)
{
	return mlpi_blas_core_for(current, mlpi_cpu_avx2(), mlpi_cpu_avx512());
}

#if defined(MLP_BLAS_OPENBLAS) && defined(MLP_HAVE_OPENBLAS_CORE_SWITCH)

#include <cblas.h>

/* OpenBLAS's own, exported by its DYNAMIC_ARCH builds; not in cblas.h. */
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);

/* What happened, for mlp_blas_info: empty, or the core replaced and the
 * line mlp_blas_info gives then. */
static char replaced[32], info[320];

bool mlpi_blas_use_core(const char *core)
{
	char before[32];

	snprintf(before, sizeof(before), "%s", openblas_get_corename());
	if (setenv("OPENBLAS_CORETYPE", core, 1) != 0)
		return false;
	gotoblas_dynamic_quit();
	gotoblas_dynamic_init();
	unsetenv("OPENBLAS_CORETYPE");
	if (strcasecmp(openblas_get_corename(), before) != 0) {
		snprintf(replaced, sizeof(replaced), "%s", before);
		snprintf(info, sizeof(info), "%s (kernels %s chosen by mlp over "
			 "%s)", openblas_get_config(), openblas_get_corename(),
			 replaced);
	}
	return strcasecmp(openblas_get_corename(), core) == 0;
}

const char *mlpi_blas_core_replaced(void)
{
	return replaced[0] != '\0' ? replaced : NULL;
}

const char *mlpi_blas_core_info(void)
{
	return info[0] != '\0' ? info : NULL;
}

__attribute__((constructor))
static void correct_core(void)
{
	const char *keep = getenv("MLP_KEEP_OPENBLAS_CORE"), *want;

	if (getenv("OPENBLAS_CORETYPE") != NULL ||
	    (keep != NULL && strcmp(keep, "0") != 0))
		return;
	want = mlpi_blas_core_better(openblas_get_corename());
	if (want != NULL)
		mlpi_blas_use_core(want);
}

#else /* not an OpenBLAS that can pick again */

bool mlpi_blas_use_core(const char *core)
{
	(void)core;
	return false;
}

const char *mlpi_blas_core_replaced(void)
{
	return NULL;
}

const char *mlpi_blas_core_info(void)
{
	return NULL;
}

#endif

/* Referenced by dense.c, so that a static link that uses the forward pass
 * keeps this file, and its constructor, too. */
const char mlpi_blas_core_anchor = 0;
