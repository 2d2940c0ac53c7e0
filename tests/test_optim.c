/*
 * test_optim.c — the optimizer updates against the same formulas evaluated
 * in double precision (the updates PyTorch's SGD and AdamW make, with
 * decoupled weight decay on weights only), over several steps, and gradient
 * clipping.
 */
#include "support.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A 3-2 network: W is 2 × 3 (6 floats), b is 2. */
static const size_t osizes[] = { 3, 2 };
static const mlp_act oacts[] = { MLP_IDENTITY };

struct case_opts {
	const char *name;
	mlp_optim_kind optim;
	float lr, momentum, wd;
	int nesterov;
};

static const struct case_opts cases[] = {
	{ "sgd", MLP_OPTIM_SGD, 0.1f, 0.0f, 0.0f, 0 },
	{ "sgd momentum", MLP_OPTIM_SGD, 0.05f, 0.9f, 0.0f, 0 },
	{ "sgd nesterov", MLP_OPTIM_SGD, 0.05f, 0.9f, 0.0f, 1 },
	{ "sgd momentum decay", MLP_OPTIM_SGD, 0.05f, 0.5f, 0.1f, 0 },
	{ "adam", MLP_OPTIM_ADAM, 0.01f, 0.0f, 0.0f, 0 },
	{ "adamw", MLP_OPTIM_ADAM, 0.01f, 0.0f, 0.1f, 0 },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

enum { NP = 8, STEPS = 4 };

/* Each step's gradient and the clipping scale. */
static void gradient(int step, double *g, double *scale)
{
	for (int i = 0; i < NP; i++)
		g[i] = sin(1.0 + 0.7 * i + 1.3 * step) * (i < 6 ? 1.0 : 0.5);
	*scale = step == 2 ? 0.5 : 1.0;
}

START_TEST(updates_match_double)
{
	float top[3] = { 0, 0, 0 }; /* the update's largest values */
	const struct case_opts *c = &cases[_i];
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net;
	double w[NP], m[NP] = { 0 }, v[NP] = { 0 }, g[NP], scale;
	float G[64] = { 0 }, M[64] = { 0 }, V[64] = { 0 };
	float *W, *b;

	ck_assert_int_eq(mlp_net_create(&net, 1, osizes, oacts), MLP_OK);
	W = mlp_net_weights(net, 0);
	b = mlp_net_bias(net, 0);
	for (int i = 0; i < NP; i++) {
		w[i] = 0.3 * i - 1;
		*(i < 6 ? &W[i] : &b[i - 6]) = (float)w[i];
	}
	o.optim = c->optim;
	o.lr = c->lr;
	o.momentum = c->momentum;
	o.nesterov = c->nesterov;
	o.weight_decay = c->wd;
	for (int t = 1; t <= STEPS; t++) {
		gradient(t, g, &scale);
		for (int i = 0; i < NP; i++)
			G[(i < 6 ? W + i : b + i - 6) - W] = (float)g[i];
		ck_assert(mlpi_optim_update(&o, net, (size_t)t, G, (float)scale, M, V, 0, 1, top));
		for (int i = 0; i < NP; i++) {
			double gi = scale * g[i], decay = i < 6 ? c->wd : 0.0;

			if (c->optim == MLP_OPTIM_SGD) {
				double step = gi;
				if (c->momentum > 0) {
					m[i] = c->momentum * m[i] + gi;
					step = c->nesterov ? gi + c->momentum * m[i] : m[i];
				}
				w[i] -= c->lr * decay * w[i] + c->lr * step;
			} else {
				double b1 = 0.9, b2 = 0.999, eps = 1e-8;
				w[i] *= 1 - c->lr * decay;
				m[i] = b1 * m[i] + (1 - b1) * gi;
				v[i] = b2 * v[i] + (1 - b2) * gi * gi;
				w[i] -= c->lr / (1 - pow(b1, t)) * m[i] /
					(sqrt(v[i]) / sqrt(1 - pow(b2, t)) + eps);
			}
		}
		/* Float against double over a few steps: within 1e-6 of the
		 * parameters' scale (about 1). */
		for (int i = 0; i < NP; i++) {
			double got = i < 6 ? W[i] : b[i - 6];
			ck_assert_msg(fabs(got - w[i]) <= 1e-6 * (1 + fabs(w[i])),
				      "%s, step %d, parameter %d: %.9g, want %.9g",
				      c->name, t, i, got, w[i]);
		}
	}
	mlp_net_free(net);
}
END_TEST

/* With plain SGD and lr 1, a step moves the parameters by −(clipped G):
 * the move's norm is clip_norm·‖G‖ / (‖G‖ + 1e-6). */
START_TEST(clipping_bounds_the_step)
{
	static const size_t sizes[] = { 4, 8, 3 };
	static const mlp_act acts[] = { MLP_TANH, MLP_IDENTITY };
	float X[4 * 6], Y[3 * 6], before[64], after[64];
	struct trng gen = { 5 };
	mlp_train_opts o = mlp_train_defaults();
	mlp_trainer *t;
	mlp_net *net;
	double loss, norm, moved = 0;
	size_t nW = 8 * 4;

	trng_fill(&gen, X, sizeof(X) / 4, -1, 1);
	trng_fill(&gen, Y, sizeof(Y) / 4, -3, 3);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 3), MLP_OK);
	o.optim = MLP_OPTIM_SGD;
	o.momentum = 0;
	o.lr = 1;
	o.clip_norm = 0.01f;
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 6), MLP_OK);
	ck_assert_int_eq(mlpi_trainer_grad(t, 6, X, Y, &loss, &norm), MLP_OK);
	ck_assert_msg(norm > 0.1, "gradient norm %g: too small to clip", norm);
	memcpy(before, mlp_net_weights(net, 0), nW * sizeof(float));
	ck_assert_int_eq(mlp_trainer_step(t, 6, X, Y, NULL), MLP_OK);
	memcpy(after, mlp_net_weights(net, 0), nW * sizeof(float));
	/* The first layer's weights alone move less than the whole. */
	for (size_t i = 0; i < nW; i++)
		moved += ((double)after[i] - before[i]) * ((double)after[i] - before[i]);
	ck_assert(sqrt(moved) <= 0.01 * (1 + 1e-5));
	ck_assert(sqrt(moved) > 0);
	ck_assert_uint_eq(mlp_trainer_steps(t), 1);
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

/* The same, measured over every parameter, against the exact figure. */
START_TEST(clipping_scales_to_the_norm)
{
	static const size_t sizes[] = { 2, 3 };
	static const mlp_act acts[] = { MLP_IDENTITY };
	const float X[] = { 1, 2, -1, 3 }, Y[] = { 10, -10, 5, 7, 8, -9 };
	mlp_train_opts o = mlp_train_defaults();
	float before[9], after[9];
	mlp_trainer *t;
	mlp_net *net;
	double loss, norm, moved = 0;

	ck_assert_int_eq(mlp_net_create(&net, 1, sizes, acts), MLP_OK);
	o.optim = MLP_OPTIM_SGD;
	o.momentum = 0;
	o.lr = 1;
	o.clip_norm = 0.5f;
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 2), MLP_OK);
	ck_assert_int_eq(mlpi_trainer_grad(t, 2, X, Y, &loss, &norm), MLP_OK);
	ck_assert(norm > 1);
	memcpy(before, mlp_net_weights(net, 0), 6 * 4);
	memcpy(before + 6, mlp_net_bias(net, 0), 3 * 4);
	ck_assert_int_eq(mlp_trainer_step(t, 2, X, Y, NULL), MLP_OK);
	memcpy(after, mlp_net_weights(net, 0), 6 * 4);
	memcpy(after + 6, mlp_net_bias(net, 0), 3 * 4);
	for (int i = 0; i < 9; i++)
		moved += ((double)after[i] - before[i]) * ((double)after[i] - before[i]);
	ck_assert_double_eq_tol(sqrt(moved), 0.5 * norm / (norm + 1e-6), 1e-6);
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

/* An update done in parts (as threads share it) equals the whole update,
 * bit for bit, whatever the parts: 1 to 7 of a 50-37-29-3 network's
 * 3,500 parameters, tensors split at 16-float bounds. */
START_TEST(update_in_parts_equals_whole)
{
	float top[3] = { 0, 0, 0 }; /* the update's largest values */
	static const size_t sizes[] = { 50, 37, 29, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_TANH, MLP_IDENTITY };
	const struct case_opts *c = &cases[_i];
	mlp_train_opts o = mlp_train_defaults();
	struct trng g = { 77 };
	mlp_net *whole, *parts;
	float *G, *M[2], *V[2];
	size_t n;

	ck_assert_int_eq(mlp_net_create(&whole, 3, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(whole, 5), MLP_OK);
	n = whole->block_floats;
	G = malloc(n * sizeof(float));
	for (int k = 0; k < 2; k++) {
		M[k] = calloc(n, sizeof(float));
		V[k] = calloc(n, sizeof(float));
		ck_assert(M[k] && V[k]);
	}
	ck_assert_ptr_nonnull(G);
	o.optim = c->optim;
	o.lr = c->lr;
	o.momentum = c->momentum;
	o.weight_decay = c->wd;
	o.nesterov = c->nesterov;
	for (int count = 1; count <= 7; count++) {
		ck_assert_int_eq(mlp_net_clone(&parts, whole), MLP_OK);
		memcpy(M[1], M[0], n * sizeof(float));
		memcpy(V[1], V[0], n * sizeof(float));
		trng_fill(&g, G, n, -1, 1);
		ck_assert(mlpi_optim_update(&o, whole, (size_t)count, G, 0.5f, M[0], V[0], 0, 1, top));
		for (int part = count; part-- > 0;) /* in any order */
			mlpi_optim_update(&o, parts, (size_t)count, G, 0.5f, M[1], V[1],
					  part, count, top);
		ck_assert_uint_eq(param_hash(parts), param_hash(whole));
		ck_assert_mem_eq(M[1], M[0], n * sizeof(float));
		ck_assert_mem_eq(V[1], V[0], n * sizeof(float));
		mlp_net_free(parts);
	}
	for (int k = 0; k < 2; k++) {
		free(M[k]);
		free(V[k]);
	}
	free(G);
	mlp_net_free(whole);
}
END_TEST

START_TEST(defaults)
{
	mlp_train_opts o = mlp_train_defaults();

	ck_assert_int_eq(o.loss, MLP_LOSS_MSE);
	ck_assert_int_eq(o.optim, MLP_OPTIM_ADAM);
	ck_assert(o.lr == 1e-3f && o.beta1 == 0.9f && o.beta2 == 0.999f &&
		  o.eps == 1e-8f && o.momentum == 0.9f);
	ck_assert(o.weight_decay == 0 && o.clip_norm == 0 && o.nesterov == 0);
	ck_assert_uint_eq(o.batch_size, 32);
	ck_assert_uint_eq(o.epochs, 10);
	ck_assert_ptr_null(o.on_epoch);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("optim");
	TCase *tc = tcase_create("optim");

	tcase_add_loop_test(tc, updates_match_double, 0, N_CASES);
	tcase_add_test(tc, clipping_bounds_the_step);
	tcase_add_test(tc, clipping_scales_to_the_norm);
	tcase_add_loop_test(tc, update_in_parts_equals_whole, 0, N_CASES);
	tcase_add_test(tc, defaults);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
