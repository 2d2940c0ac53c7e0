/*
 * test_loss.c — loss values against their definitions, stability at extreme
 * logits, accuracy, and mlp_evaluate on bad input.
 */
#include "support.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* A one-layer network whose outputs are act(x): W = I, b = 0. */
static mlp_net *identity_net(size_t n, mlp_act act)
{
	size_t sizes[] = { n, n };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 1, sizes, &act), MLP_OK);
	for (size_t i = 0; i < n; i++)
		mlp_net_weights(net, 0)[i * n + i] = 1.0f;
	return net;
}

START_TEST(mse_value)
{
	mlp_net *net = identity_net(2, MLP_IDENTITY);
	const float X[] = { 1, 2, -1, 0.5f }, T[] = { 0, 2, 1, -0.5f };
	double loss, acc;

	/* ((1)² + 0 + (−2)² + 1²) / 4 = 1.5 */
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_MSE, 2, X, T, &loss, &acc), MLP_OK);
	ck_assert_double_eq_tol(loss, 1.5, 1e-12);
	ck_assert(isnan(acc));
	mlp_net_free(net);
}
END_TEST

/* Softmax cross-entropy from the logits: −log softmax(z)_t. */
START_TEST(softmax_xent_value_and_stability)
{
	mlp_net *net = identity_net(2, MLP_SOFTMAX);
	/* logits (0, ln 3): p = (1/4, 3/4); then (1000, −1000) with the
	 * target on the losing side: −log p = 2000 exactly. */
	const float X[] = { 0, 1.0986122887f, 1000, -1000 };
	const float T[] = { 1, 0, 0, 1 };
	double loss, acc;

	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 1, X, T, &loss, &acc), MLP_OK);
	ck_assert_double_eq_tol(loss, log(4.0), 1e-6);
	ck_assert_double_eq(acc, 0.0);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 1, X + 2, T + 2, &loss, &acc),
			 MLP_OK);
	ck_assert_double_eq_tol(loss, 2000.0, 1e-9);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 2, X, T, &loss, &acc), MLP_OK);
	ck_assert_double_eq_tol(loss, (log(4.0) + 2000) / 2, 1e-6);
	mlp_net_free(net);
}
END_TEST

/* Binary cross-entropy from the logits: max(z, 0) − z·t + log(1 + e^−|z|). */
START_TEST(sigmoid_xent_value_and_stability)
{
	mlp_net *net = identity_net(2, MLP_SIGMOID);
	const float X[] = { 0, -1000, 1000, 2 }, T[] = { 1, 1, 1, 0.25f };
	double loss, acc, want;

	/* ln 2, 1000, 0, and 2 − 0.5 + log(1 + e^−2), averaged over 4. */
	want = (log(2.0) + 1000 + 0 + (2 - 0.5 + log1p(exp(-2.0)))) / 4;
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 2, X, T, &loss, &acc), MLP_OK);
	ck_assert_double_eq_tol(loss, want, 1e-6);
	/* z = 0 against t = 1 is wrong (p = ½ is not above ½); −1000 against
	 * 1 wrong; 1000 against 1 right; 2 against 0.25 wrong. */
	ck_assert_double_eq(acc, 0.25);
	mlp_net_free(net);
}
END_TEST

START_TEST(softmax_accuracy)
{
	mlp_net *net = identity_net(3, MLP_SOFTMAX);
	const float X[] = { 1, 2, 3, 3, 2, 1, 0, 5, 1, -1, -2, -3 };
	const float T[] = { 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0 };
	double loss, acc;

	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 4, X, T, &loss, &acc), MLP_OK);
	ck_assert_double_eq(acc, 0.75);
	ck_assert(isfinite(loss));
	mlp_net_free(net);
}
END_TEST

START_TEST(loss_bad_input)
{
	mlp_net *net = identity_net(2, MLP_SOFTMAX);
	float X[] = { 1, 2 }, T[] = { 0, 1 };
	double loss = 42, acc = 42;

	ck_assert_int_eq(mlp_evaluate(NULL, MLP_LOSS_XENT, 1, X, T, &loss, &acc), MLP_ENULL);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 1, NULL, T, &loss, &acc), MLP_ENULL);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 1, X, NULL, &loss, &acc), MLP_ENULL);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 1, X, T, NULL, &acc), MLP_ENULL);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 0, X, T, &loss, &acc), MLP_ESIZE);
	ck_assert_int_eq(mlp_evaluate(net, (mlp_loss_kind)9, 1, X, T, &loss, &acc), MLP_EINVAL);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, SIZE_MAX / 2, X, T, &loss, &acc),
			 MLP_ETOOBIG);
	X[1] = NAN;
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 1, X, T, &loss, &acc), MLP_ENONFINITE);
	X[1] = 2;
	T[0] = 0.5f; /* the row sums to 1.5 */
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 1, X, T, &loss, &acc), MLP_EINVAL);
	ck_assert(loss == 42 && acc == 42);
	mlp_net_free(net);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loss");
	TCase *tc = tcase_create("loss");

	tcase_add_test(tc, mse_value);
	tcase_add_test(tc, softmax_xent_value_and_stability);
	tcase_add_test(tc, sigmoid_xent_value_and_stability);
	tcase_add_test(tc, softmax_accuracy);
	tcase_add_test(tc, loss_bad_input);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
