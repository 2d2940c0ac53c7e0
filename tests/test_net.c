/*
 * test_net.c — creating networks, their accessors, seeded initialisation,
 * bad input and allocation failure.
 */
#include "support.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const size_t sizes3[] = { 5, 7, 3, 2 };
static const mlp_act acts3[] = { MLP_RELU, MLP_TANH, MLP_SOFTMAX };

START_TEST(create_and_accessors)
{
	mlp_net *net = NULL;
	uintptr_t prev_end = 0;

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes3, acts3), MLP_OK);
	ck_assert_ptr_nonnull(net);
	ck_assert_uint_eq(mlp_net_layers(net), 3);
	for (size_t i = 0; i <= 3; i++)
		ck_assert_uint_eq(mlp_net_width(net, i), sizes3[i]);
	ck_assert_uint_eq(mlp_net_width(net, 4), 0);
	for (size_t l = 0; l < 3; l++)
		ck_assert_int_eq(mlp_net_act(net, l), acts3[l]);
	ck_assert_int_eq(mlp_net_act(net, 3), MLP_ACT_COUNT);
	ck_assert_uint_eq(mlp_net_param_count(net), 7 * 5 + 7 + 3 * 7 + 3 + 2 * 3 + 2);

	/* Every tensor 64-byte aligned, zero, and not overlapping the others. */
	for (size_t l = 0; l < 3; l++) {
		float *W = mlp_net_weights(net, l), *b = mlp_net_bias(net, l);
		size_t n_w = sizes3[l + 1] * sizes3[l];

		ck_assert_uint_eq((uintptr_t)W % 64, 0);
		ck_assert_uint_eq((uintptr_t)b % 64, 0);
		ck_assert_uint_ge((uintptr_t)W, prev_end);
		ck_assert_uint_ge((uintptr_t)b, (uintptr_t)(W + n_w));
		for (size_t i = 0; i < n_w; i++)
			ck_assert(W[i] == 0.0f);
		for (size_t i = 0; i < sizes3[l + 1]; i++)
			ck_assert(b[i] == 0.0f);
		prev_end = (uintptr_t)(b + sizes3[l + 1]);
	}
	ck_assert_ptr_null(mlp_net_weights(net, 3));
	ck_assert_ptr_null(mlp_net_bias(net, 3));
	mlp_net_free(net);
}
END_TEST

START_TEST(accessors_on_null)
{
	ck_assert_uint_eq(mlp_net_layers(NULL), 0);
	ck_assert_uint_eq(mlp_net_width(NULL, 0), 0);
	ck_assert_int_eq(mlp_net_act(NULL, 0), MLP_ACT_COUNT);
	ck_assert_uint_eq(mlp_net_param_count(NULL), 0);
	ck_assert_ptr_null(mlp_net_weights(NULL, 0));
	ck_assert_ptr_null(mlp_net_bias(NULL, 0));
	mlp_net_free(NULL);
	ck_assert_int_eq(mlp_net_init(NULL, 1), MLP_ENULL);
}
END_TEST

START_TEST(init_is_seeded)
{
	mlp_net *a, *b;

	ck_assert_int_eq(mlp_net_create(&a, 3, sizes3, acts3), MLP_OK);
	ck_assert_int_eq(mlp_net_create(&b, 3, sizes3, acts3), MLP_OK);
	ck_assert_int_eq(mlp_net_init(a, 42), MLP_OK);
	ck_assert_int_eq(mlp_net_init(b, 42), MLP_OK);
	ck_assert_uint_eq(param_hash(a), param_hash(b));
	/* Initialising again from the same seed gives the same bits. */
	mlp_net_bias(a, 1)[2] = 5.0f;
	ck_assert_int_eq(mlp_net_init(a, 42), MLP_OK);
	ck_assert_uint_eq(param_hash(a), param_hash(b));
	ck_assert_int_eq(mlp_net_init(b, 43), MLP_OK);
	ck_assert_uint_ne(param_hash(a), param_hash(b));
	/* The bits this seed gives, so that a machine or compiler that draws
	 * differently fails here (xoshiro256** with SplitMix64 seeding, uniform
	 * scaling in double, see init.c). */
	ck_assert_uint_eq(param_hash(a), 0x77afc2223dae5999u);
	mlp_net_free(a);
	mlp_net_free(b);
}
END_TEST

/* He uniform for ReLU layers, Glorot uniform otherwise: every weight within
 * [-a, a], the sample variance near a²/3, biases zero. */
START_TEST(init_scales)
{
	static const size_t sizes[] = { 400, 300, 200 };
	static const mlp_act acts[] = { MLP_RELU, MLP_TANH };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 7), MLP_OK);
	for (size_t l = 0; l < 2; l++) {
		size_t n_in = sizes[l], n_out = sizes[l + 1], n = n_in * n_out;
		double a = l == 0 ? sqrt(6.0 / n_in) : sqrt(6.0 / (n_in + n_out));
		double sum = 0, sq = 0, var;
		const float *W = mlp_net_weights(net, l);

		for (size_t i = 0; i < n; i++) {
			ck_assert(fabs(W[i]) <= a);
			sum += W[i];
			sq += (double)W[i] * W[i];
		}
		var = sq / n - (sum / n) * (sum / n);
		/* n ≥ 60000 draws: the sample variance of a uniform is within
		 * 2% of a²/3 with overwhelming probability (its standard error
		 * is about 0.5%). */
		ck_assert_msg(fabs(var / (a * a / 3) - 1) < 0.02,
			      "layer %zu: variance %g, want %g", l, var, a * a / 3);
		ck_assert_msg(fabs(sum / n) < 0.02 * a, "layer %zu: mean %g", l,
			      sum / n);
		for (size_t i = 0; i < n_out; i++)
			ck_assert(mlp_net_bias(net, l)[i] == 0.0f);
	}
	mlp_net_free(net);
}
END_TEST

/* ---- the flat parameter list and clones ------------------------------------ */

/* The flat list is W₀ b₀ W₁ b₁ … without padding, and set puts it back. */
START_TEST(params_flat_order)
{
	mlp_net *net;
	size_t n = 7 * 5 + 7 + 3 * 7 + 3 + 2 * 3 + 2, at = 0;
	float flat[74], back[74];
	struct trng g = { 3 };

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes3, acts3), MLP_OK);
	ck_assert_uint_eq(mlp_net_param_count(net), n);
	ck_assert_uint_eq(n, 74);
	for (size_t i = 0; i <= 3; i++)
		ck_assert_uint_eq(mlp_net_width(net, i), sizes3[i]);
	ck_assert_uint_eq(mlp_net_width(net, 4), 0);
	ck_assert_uint_eq(mlp_net_width(NULL, 0), 0);
	trng_fill(&g, flat, n, -1, 1);
	ck_assert_int_eq(mlp_net_set_params(net, flat, n), MLP_OK);
	for (size_t l = 0; l < 3; l++) {
		size_t nw = sizes3[l + 1] * sizes3[l], nb = sizes3[l + 1];

		ck_assert_mem_eq(mlp_net_weights(net, l), flat + at, nw * sizeof(float));
		at += nw;
		ck_assert_mem_eq(mlp_net_bias(net, l), flat + at, nb * sizeof(float));
		at += nb;
	}
	ck_assert_uint_eq(at, n);
	ck_assert_int_eq(mlp_net_get_params(net, back, n), MLP_OK);
	ck_assert_mem_eq(back, flat, sizeof(flat));
	mlp_net_free(net);
}
END_TEST

/* Bad input to get and set: a status each, and nothing changed. */
START_TEST(params_bad_input)
{
	mlp_net *net;
	float flat[74], out[74];
	uint64_t before;

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes3, acts3), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 5), MLP_OK);
	before = param_hash(net);
	for (size_t i = 0; i < 74; i++)
		flat[i] = out[i] = 0.5f;
	ck_assert_int_eq(mlp_net_set_params(NULL, flat, 74), MLP_ENULL);
	ck_assert_int_eq(mlp_net_set_params(net, NULL, 74), MLP_ENULL);
	ck_assert_int_eq(mlp_net_set_params(net, flat, 73), MLP_ESIZE);
	ck_assert_int_eq(mlp_net_set_params(net, flat, 75), MLP_ESIZE);
	flat[68] = NAN;
	ck_assert_int_eq(mlp_net_set_params(net, flat, 74), MLP_ENONFINITE);
	flat[68] = -INFINITY;
	ck_assert_int_eq(mlp_net_set_params(net, flat, 74), MLP_ENONFINITE);
	/* The network's own parameters as the list: they overlap. */
	ck_assert_int_eq(mlp_net_set_params(net, mlp_net_weights(net, 0), 74),
			 MLP_EINVAL);
	ck_assert_uint_eq(param_hash(net), before);
	ck_assert_int_eq(mlp_net_get_params(NULL, out, 74), MLP_ENULL);
	ck_assert_int_eq(mlp_net_get_params(net, NULL, 74), MLP_ENULL);
	ck_assert_int_eq(mlp_net_get_params(net, out, 0), MLP_ESIZE);
	ck_assert_int_eq(mlp_net_get_params(net, mlp_net_bias(net, 2), 74),
			 MLP_EINVAL);
	ck_assert_uint_eq(param_hash(net), before);
	for (size_t i = 0; i < 74; i++)
		ck_assert(out[i] == 0.5f);
	mlp_net_free(net);
}
END_TEST

/* A clone has the shape, activations and bits of its network, and memory
 * of its own. */
START_TEST(clone_copies_everything)
{
	mlp_net *net, *copy;
	float a[74], b[74];

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes3, acts3), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 8), MLP_OK);
	mlp_net_bias(net, 1)[2] = 0.25f;
	ck_assert_int_eq(mlp_net_clone(&copy, net), MLP_OK);
	ck_assert_uint_eq(mlp_net_layers(copy), 3);
	for (size_t i = 0; i <= 3; i++)
		ck_assert_uint_eq(mlp_net_width(copy, i), sizes3[i]);
	for (size_t l = 0; l < 3; l++) {
		ck_assert_int_eq(mlp_net_act(copy, l), acts3[l]);
		ck_assert_uint_eq((uintptr_t)mlp_net_weights(copy, l) % 64, 0);
		ck_assert_ptr_ne(mlp_net_weights(copy, l), mlp_net_weights(net, l));
	}
	ck_assert_uint_eq(param_hash(copy), param_hash(net));
	ck_assert_int_eq(mlp_net_get_params(net, a, 74), MLP_OK);
	ck_assert_int_eq(mlp_net_get_params(copy, b, 74), MLP_OK);
	ck_assert_mem_eq(a, b, sizeof(a));
	mlp_net_weights(copy, 0)[0] += 1.0f;
	ck_assert_uint_ne(param_hash(copy), param_hash(net));
	mlp_net_free(copy);
	mlp_net_free(net);
}
END_TEST

START_TEST(clone_bad_input_and_allocation_failure)
{
	mlp_net *net, *sentinel = (mlp_net *)(uintptr_t)0x1234, *copy = sentinel;
	long k;

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes3, acts3), MLP_OK);
	ck_assert_int_eq(mlp_net_clone(NULL, net), MLP_ENULL);
	ck_assert_int_eq(mlp_net_clone(&copy, NULL), MLP_ENULL);
	ck_assert_ptr_eq(copy, sentinel);
	for (k = 1; TEST_WRAP; k++) {
		mlp_status st;
		long live;

		alloc_arm(k);
		st = mlp_net_clone(&copy, net);
		live = alloc_live();
		alloc_disarm();
		if (st == MLP_OK) {
			mlp_net_free(copy);
			break;
		}
		ck_assert_int_eq(st, MLP_ENOMEM);
		ck_assert_ptr_eq(copy, sentinel);
		ck_assert_int_eq(live, 0);
	}
	if (TEST_WRAP)
		ck_assert_int_ge(k, 3);
	mlp_net_free(net);
}
END_TEST

/* ---- bad input: a status each, *out untouched, nothing allocated ---------- */

static void expect_create(size_t n_layers, const size_t *sizes,
			  const mlp_act *acts, mlp_status want)
{
	mlp_net *sentinel = (mlp_net *)(uintptr_t)0x1234, *net = sentinel;
	mlp_status st;

	if (TEST_WRAP)
		alloc_arm(0);
	st = mlp_net_create(&net, n_layers, sizes, acts);
	alloc_disarm();
	ck_assert_int_eq(st, want);
	ck_assert_ptr_eq(net, sentinel);
	if (TEST_WRAP && want != MLP_ENOMEM)
		ck_assert_int_eq(alloc_calls(), 0);
}

START_TEST(create_null)
{
	ck_assert_int_eq(mlp_net_create(NULL, 3, sizes3, acts3), MLP_ENULL);
	expect_create(3, NULL, acts3, MLP_ENULL);
	expect_create(3, sizes3, NULL, MLP_ENULL);
}
END_TEST

START_TEST(create_zero_sizes)
{
	static const size_t zero_in[] = { 0, 3, 2 }, zero_mid[] = { 2, 0, 2 },
			    zero_out[] = { 2, 3, 0 };

	expect_create(0, sizes3, acts3, MLP_ESIZE);
	expect_create(2, zero_in, acts3, MLP_ESIZE);
	expect_create(2, zero_mid, acts3, MLP_ESIZE);
	expect_create(2, zero_out, acts3, MLP_ESIZE);
}
END_TEST

START_TEST(create_too_big)
{
	static const size_t wide[] = { 2, (size_t)MLP_MAX_WIDTH + 1, 2 };
	static const size_t huge[] = { SIZE_MAX, SIZE_MAX };

	expect_create(2, wide, acts3, MLP_ETOOBIG);
	expect_create(1, huge, acts3, MLP_ETOOBIG);
	/* Too many layers is refused before the arrays are read. */
	expect_create((size_t)MLP_MAX_LAYERS + 1, sizes3, acts3, MLP_ETOOBIG);
	expect_create(SIZE_MAX, sizes3, acts3, MLP_ETOOBIG);
}
END_TEST

START_TEST(create_unknown_act)
{
	static const mlp_act bad1[] = { MLP_RELU, MLP_ACT_COUNT, MLP_RELU };
	static const mlp_act bad2[] = { (mlp_act)-1, MLP_RELU, MLP_RELU };

	expect_create(3, sizes3, bad1, MLP_EACT);
	expect_create(3, sizes3, bad2, MLP_EACT);
}
END_TEST

/* Widths within the limits whose parameters no machine can hold: the
 * allocation fails cleanly. */
START_TEST(create_enormous)
{
	static const size_t sizes[] = { MLP_MAX_WIDTH, MLP_MAX_WIDTH, MLP_MAX_WIDTH };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU };

	expect_create(2, sizes, acts, MLP_ENOMEM);
}
END_TEST

/* Fails each allocation of mlp_net_create in turn: each failure returns
 * MLP_ENOMEM with *out untouched and nothing left allocated. */
START_TEST(create_allocation_failure)
{
	long k;

	if (!TEST_WRAP)
		return;
	for (k = 1;; k++) {
		mlp_net *sentinel = (mlp_net *)(uintptr_t)0x1234, *net = sentinel;
		mlp_status st;

		alloc_arm(k);
		st = mlp_net_create(&net, 3, sizes3, acts3);
		alloc_disarm();
		if (st == MLP_OK) {
			ck_assert_int_eq(alloc_calls(), k - 1);
			mlp_net_free(net);
			break;
		}
		ck_assert_int_eq(st, MLP_ENOMEM);
		ck_assert_ptr_eq(net, sentinel);
		ck_assert_msg(alloc_live() == 0, "allocation %ld failed: %ld leaked",
			      k, alloc_live());
	}
	ck_assert_int_ge(k, 2); /* the table and the parameter block */
}
END_TEST

START_TEST(free_releases_everything)
{
	mlp_net *net = NULL;
	mlp_status st;
	long live_after_create;

	if (!TEST_WRAP)
		return;
	alloc_arm(0);
	st = mlp_net_create(&net, 3, sizes3, acts3);
	live_after_create = alloc_live();
	mlp_net_free(net);
	alloc_disarm();
	ck_assert_int_eq(st, MLP_OK);
	ck_assert_int_eq(live_after_create, 2);
	ck_assert_int_eq(alloc_live(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("net");
	TCase *bad = tcase_create("bad input");

	tcase_add_test(tc, create_and_accessors);
	tcase_add_test(tc, accessors_on_null);
	tcase_add_test(tc, init_is_seeded);
	tcase_add_test(tc, init_scales);
	tcase_add_test(tc, params_flat_order);
	tcase_add_test(tc, params_bad_input);
	tcase_add_test(tc, clone_copies_everything);
	tcase_add_test(tc, clone_bad_input_and_allocation_failure);
	suite_add_tcase(s, tc);
	tcase_add_test(bad, create_null);
	tcase_add_test(bad, create_zero_sizes);
	tcase_add_test(bad, create_too_big);
	tcase_add_test(bad, create_unknown_act);
	tcase_add_test(bad, create_enormous);
	tcase_add_test(bad, create_allocation_failure);
	tcase_add_test(bad, free_releases_everything);
	suite_add_tcase(s, bad);
	return run_suite(s);
}
