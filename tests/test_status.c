/* test_status.c — status messages, version, activation names. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const mlp_status all_status[] = {
	MLP_OK,      MLP_ENULL, MLP_ESIZE,  MLP_ETOOBIG,
	MLP_EACT,    MLP_EWORKSPACE, MLP_ENOMEM, MLP_EINVAL,
	MLP_ENOTSUP, MLP_EIO,   MLP_EFORMAT, MLP_ENONFINITE,
	MLP_ELOSS,   MLP_EDIVERGED,
};
#define N_STATUS (sizeof(all_status) / sizeof(all_status[0]))

START_TEST(strerror_distinct)
{
	const char *unknown = mlp_strerror((mlp_status)999);

	ck_assert_str_eq(unknown, "unknown status");
	for (size_t i = 0; i < N_STATUS; i++) {
		const char *m = mlp_strerror(all_status[i]);

		ck_assert_ptr_nonnull(m);
		ck_assert_str_ne(m, unknown);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(m, mlp_strerror(all_status[j]));
	}
}
END_TEST

START_TEST(version_matches_header)
{
	char want[32];

	ck_assert_uint_eq(mlp_version(), MLP_VERSION_NUMBER);
	snprintf(want, sizeof(want), "%d.%d.%d", MLP_VERSION_MAJOR,
		 MLP_VERSION_MINOR, MLP_VERSION_PATCH);
	ck_assert_str_eq(mlp_version_string(), want);
	ck_assert_str_eq(MLP_VERSION_STRING, want);
}
END_TEST

START_TEST(act_names_round_trip)
{
	for (int a = 0; a < MLP_ACT_COUNT; a++) {
		const char *name = mlp_act_name((mlp_act)a);
		mlp_act back = MLP_ACT_COUNT;

		ck_assert_ptr_nonnull(name);
		ck_assert_int_eq(mlp_act_parse(name, &back), MLP_OK);
		ck_assert_int_eq(back, a);
	}
	ck_assert_str_eq(mlp_act_name(MLP_RELU), "relu");
	ck_assert_str_eq(mlp_act_name(MLP_SOFTMAX), "softmax");
	ck_assert_ptr_null(mlp_act_name(MLP_ACT_COUNT));
	ck_assert_ptr_null(mlp_act_name((mlp_act)-1));
}
END_TEST

START_TEST(act_parse_rejects)
{
	mlp_act a = MLP_TANH;

	ck_assert_int_eq(mlp_act_parse("ReLU", &a), MLP_EACT);
	ck_assert_int_eq(mlp_act_parse("", &a), MLP_EACT);
	ck_assert_int_eq(mlp_act_parse("relu ", &a), MLP_EACT);
	ck_assert_int_eq(mlp_act_parse(NULL, &a), MLP_ENULL);
	ck_assert_int_eq(mlp_act_parse("relu", NULL), MLP_ENULL);
	ck_assert_int_eq(a, MLP_TANH); /* unchanged by every failure */
}
END_TEST

START_TEST(blas_threads)
{
	const char *name = mlp_blas_name();
	mlp_status st = mlp_blas_set_threads(1);

	ck_assert(strcmp(name, "openblas") == 0 || strcmp(name, "blis") == 0 ||
		  strcmp(name, "cblas") == 0);
	ck_assert_int_eq(st, strcmp(name, "cblas") == 0 ? MLP_ENOTSUP : MLP_OK);
	ck_assert_int_eq(mlp_blas_set_threads(0), MLP_EINVAL);
	ck_assert_int_eq(mlp_blas_set_threads(-3), MLP_EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("status");

	tcase_add_test(tc, strerror_distinct);
	tcase_add_test(tc, version_matches_header);
	tcase_add_test(tc, act_names_round_trip);
	tcase_add_test(tc, act_parse_rejects);
	tcase_add_test(tc, blas_threads);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
