/*
 * test_blas_core.c — OpenBLAS's kernels: which core mlp asks for, that it
 * leaves a core the user chose, and that asking for another works (the
 * part "switch"). Meson runs the main part as the environment comes and
 * with OPENBLAS_CORETYPE=Prescott, the core OpenBLAS 0.3.21 falls back to
 * on CPUs it does not know, and the part "switch" from Prescott.
 */
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(MLP_BLAS_OPENBLAS)
#include <cblas.h>
#endif

/* The choice itself: generic cores replaced by the best the CPU runs,
 * others never. */
START_TEST(core_choice)
{
	ck_assert_str_eq(mlpi_blas_core_for("Prescott", true, true), "SkylakeX");
	ck_assert_str_eq(mlpi_blas_core_for("prescott", true, false), "Haswell");
	ck_assert_ptr_null(mlpi_blas_core_for("Prescott", false, false));
	ck_assert_str_eq(mlpi_blas_core_for("Nehalem", true, true), "SkylakeX");
	ck_assert_str_eq(mlpi_blas_core_for("Core2", true, false), "Haswell");
	ck_assert_ptr_null(mlpi_blas_core_for("Haswell", true, true));
	ck_assert_ptr_null(mlpi_blas_core_for("Zen", true, true));
	ck_assert_ptr_null(mlpi_blas_core_for("SkylakeX", true, true));
	ck_assert_ptr_null(mlpi_blas_core_for("Sandybridge", true, true));
	ck_assert_ptr_null(mlpi_blas_core_for(NULL, true, true));
}
END_TEST

#if defined(MLP_BLAS_OPENBLAS) && defined(MLP_HAVE_OPENBLAS_CORE_SWITCH)

/* A layer through the kernels in use, against the double reference. */
static void layer_matches_reference(const char *core)
{
	enum { B = 64, NI = 300, NO = 70 };
	static float W[NO * NI], b[NO], X[B * NI], Y[B * NO];
	static double Xd[B * NI], want[B * NO], err[B * NO];
	struct trng g = { 5 };
	size_t where;

	trng_fill(&g, W, NO * NI, -0.1, 0.1);
	trng_fill(&g, b, NO, -0.5, 0.5);
	trng_fill(&g, X, B * NI, -1, 1);
	for (size_t i = 0; i < B * NI; i++)
		Xd[i] = X[i];
	ck_assert_int_eq(mlp_dense_forward(B, NI, NO, W, b, MLP_TANH, X, Y), MLP_OK);
	ref_layer(B, NI, NO, W, b, MLP_TANH, Xd, NULL, want, err);
	ck_assert_msg(ref_worst(B * NO, Y, want, err, &where) <= 1.0,
		      "%s kernels: Y[%zu] = %.9g, want %.9g", core, where,
		      (double)Y[where], want[where]);
}

/* The kernels in this process: a core the user set stays; otherwise no
 * generic core on a CPU that runs better ones (by the library's rule). */
START_TEST(core_in_use)
{
	const char *user = getenv("OPENBLAS_CORETYPE");
	const char *now = openblas_get_corename();

	if (user != NULL) {
		ck_assert_msg(strcasecmp(now, user) == 0,
			      "OPENBLAS_CORETYPE=%s, but the kernels are %s", user,
			      now);
		ck_assert_ptr_null(mlpi_blas_core_replaced());
	} else {
		ck_assert_msg(mlpi_blas_core_better(now) == NULL,
			      "still %s kernels, where %s would run", now,
			      mlpi_blas_core_better(now));
	}
	layer_matches_reference(now);
}
END_TEST

/* Asked for the better kernels the library's rule names, OpenBLAS
 * switches, says so, and computes right. */
START_TEST(core_switches)
{
	char before[32];
	const char *better;

	snprintf(before, sizeof(before), "%s", openblas_get_corename());
	better = mlpi_blas_core_better(before);
	ck_assert(mlpi_blas_use_core(better));
	ck_assert_str_eq(openblas_get_corename(), better);
	ck_assert_str_eq(mlpi_blas_core_replaced(), before);
	ck_assert_ptr_nonnull(strstr(mlp_blas_info(), "chosen by mlp over"));
	layer_matches_reference(better);
}
END_TEST

#endif

/* The part "switch": where OpenBLAS runs generic kernels on a CPU with
 * better ones (Meson sets OPENBLAS_CORETYPE=Prescott for it). */
static int switch_part(void)
{
#if defined(MLP_BLAS_OPENBLAS) && defined(MLP_HAVE_OPENBLAS_CORE_SWITCH)
	static char why[128];
	Suite *s;
	TCase *tc;

	if (mlpi_blas_core_better(openblas_get_corename()) == NULL) {
		snprintf(why, sizeof(why), "OpenBLAS runs %s, and this CPU has no "
			 "better kernels to switch to", openblas_get_corename());
		return test_skip(why);
	}
	s = suite_create("blas core switch");
	tc = tcase_create("switch");
	tcase_add_test(tc, core_switches);
	suite_add_tcase(s, tc);
	return run_suite(s);
#else
	return test_skip("the BLAS is not an OpenBLAS that can switch kernels "
			 "(DYNAMIC_ARCH)");
#endif
}

int main(int argc, char **argv)
{
	Suite *s;
	TCase *tc;

	if (test_part(argc, argv, "switch"))
		return switch_part();
	s = suite_create("blas core");
	tc = tcase_create("core");
	tcase_add_test(tc, core_choice);
#if defined(MLP_BLAS_OPENBLAS) && defined(MLP_HAVE_OPENBLAS_CORE_SWITCH)
	tcase_add_test(tc, core_in_use);
#endif
	suite_add_tcase(s, tc);
	return run_suite(s);
}
