/* test_status.c — status messages, version, activation names. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "support.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const mlp_status all_status[] = {
	MLP_OK,      MLP_ENULL, MLP_ESIZE,  MLP_ETOOBIG,
	MLP_EACT,    MLP_EWORKSPACE, MLP_ENOMEM, MLP_EINVAL,
	MLP_ENOTSUP, MLP_EIO,   MLP_EFORMAT, MLP_ENONFINITE,
	MLP_ELOSS,   MLP_EDIVERGED, MLP_ECOMM, MLP_EWORKERS,
	MLP_EBUSY,
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

/* Lists of names: every item checked before anything is written, and a
 * message naming the item that breaks a rule. */
START_TEST(act_parse_list_rules)
{
	static const struct {
		const char *list;
		size_t max;
		mlp_status want;
		const char *says; /* in the message */
	} bad[] = {
		{ "relu,swish", 4, MLP_EACT, "item 2, 'swish', is not an activation" },
		{ "", 4, MLP_EACT, "item 1, '', is not" },
		{ "relu,", 4, MLP_EACT, "item 2, '', is not" },
		{ ",relu", 4, MLP_EACT, "item 1, '', is not" },
		{ "relu, tanh", 4, MLP_EACT, "item 2, ' tanh'" },
		{ "ReLU", 4, MLP_EACT, "item 1, 'ReLU'" },
		{ "relu,relu,relu", 2, MLP_ESIZE, "more than 2 activations" },
		{ "relu", 0, MLP_ESIZE, "more than 0 activations" },
	};
	mlp_act acts[4];
	mlp_msg msg;
	size_t count;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int k = 0; k < 4; k++)
			acts[k] = MLP_ACT_COUNT;
		count = 99;
		memset(msg.text, 'X', sizeof(msg.text));
		ck_assert_int_eq(mlp_act_parse_list(bad[i].list, acts, bad[i].max,
						    &count, &msg), bad[i].want);
		ck_assert_msg(strstr(msg.text, bad[i].says) != NULL,
			      "'%s': \"%s\" does not say \"%s\"", bad[i].list,
			      msg.text, bad[i].says);
		ck_assert_uint_eq(count, 99);
		for (int k = 0; k < 4; k++)
			ck_assert_int_eq(acts[k], MLP_ACT_COUNT);
	}
	memset(msg.text, 'X', sizeof(msg.text));
	ck_assert_int_eq(mlp_act_parse_list("gelu_tanh,identity,softmax", acts, 3,
					    &count, &msg), MLP_OK);
	ck_assert_str_eq(msg.text, "");
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(acts[0], MLP_GELU_TANH);
	ck_assert_int_eq(acts[1], MLP_IDENTITY);
	ck_assert_int_eq(acts[2], MLP_SOFTMAX);
	ck_assert_int_eq(acts[3], MLP_ACT_COUNT);
	ck_assert_int_eq(mlp_act_parse_list("relu", acts, 4, &count, NULL), MLP_OK);
	ck_assert_int_eq(mlp_act_parse_list(NULL, acts, 4, &count, &msg), MLP_ENULL);
	ck_assert_str_eq(msg.text, "list is NULL");
	ck_assert_int_eq(mlp_act_parse_list("relu", NULL, 4, &count, &msg), MLP_ENULL);
	ck_assert_int_eq(mlp_act_parse_list("relu", acts, 4, NULL, &msg), MLP_ENULL);
}
END_TEST

/* OpenBLAS's own count, where the BLAS is OpenBLAS. */
extern int openblas_get_num_threads(void) __attribute__((weak));

START_TEST(blas_threads)
{
	const char *name = mlp_blas_name();
	mlp_status st = mlp_set_threads(1);

	/* Any CBLAS: a count where the library behind it has one. */
	bool counted = strcmp(name, "cblas") != 0 ||
		       dlsym(RTLD_DEFAULT, "openblas_set_num_threads") != NULL ||
		       dlsym(RTLD_DEFAULT, "bli_thread_set_num_threads") != NULL;

	ck_assert(strcmp(name, "openblas") == 0 || strcmp(name, "blis") == 0 ||
		  strcmp(name, "cblas") == 0);
	ck_assert_int_eq(st, counted ? MLP_OK : MLP_ENOTSUP);
	ck_assert_int_eq(mlp_set_threads(0), MLP_EINVAL);
	ck_assert_int_eq(mlp_set_threads(-3), MLP_EINVAL);
	mlp_set_threads(3);
	if (openblas_get_num_threads != NULL)
		ck_assert_int_eq(openblas_get_num_threads(), 3);
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
	tcase_add_test(tc, act_parse_list_rules);
	tcase_add_test(tc, blas_threads);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
