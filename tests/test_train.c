/*
 * test_train.c — backpropagation and training: gradients against a
 * double-precision numerical derivative for every activation and loss;
 * XOR, sin(x) and the digits data learned; determinism; bad input;
 * divergence; allocation.
 */
#include "support.h"

#include "internal.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

/* ---- the loss in double, from ref_forward's outputs ---------------------- */

static double ref_loss(mlp_net *net, mlp_loss_kind kind, size_t batch,
		       const float *X, const float *T)
{
	size_t n = mlp_net_width(net, mlp_net_layers(net));
	mlp_act out = mlp_net_act(net, mlp_net_layers(net) - 1);
	double *Y = malloc(batch * n * sizeof(double));
	double *err = malloc(batch * n * sizeof(double));
	double sum = 0;

	ck_assert(Y && err);
	ref_forward(net, batch, X, Y, err);
	for (size_t i = 0; i < batch * n; i++) {
		double y = Y[i], t = T[i];

		if (kind == MLP_LOSS_MSE)
			sum += (y - t) * (y - t) / (double)n;
		else if (out == MLP_SOFTMAX)
			sum += t > 0 ? -t * log(y) : 0;
		else
			sum += -(t * log(y) + (1 - t) * log1p(-y)) / (double)n;
	}
	free(Y);
	free(err);
	return sum / (double)batch;
}

/* ---- gradient checks --------------------------------------------------------- */

struct grad_case {
	const char *name;
	size_t n_layers;
	size_t sizes[5];
	mlp_act acts[4];
	mlp_loss_kind loss;
};

static const struct grad_case grad_cases[] = {
	/* every activation as a hidden layer, under MSE */
	{ "hidden identity", 2, { 3, 5, 4 }, { MLP_IDENTITY, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "hidden relu", 2, { 3, 5, 4 }, { MLP_RELU, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "hidden leaky_relu", 2, { 3, 5, 4 }, { MLP_LEAKY_RELU, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "hidden sigmoid", 2, { 3, 5, 4 }, { MLP_SIGMOID, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "hidden tanh", 2, { 3, 5, 4 }, { MLP_TANH, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "hidden gelu", 2, { 3, 5, 4 }, { MLP_GELU, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "hidden gelu_tanh", 2, { 3, 5, 4 }, { MLP_GELU_TANH, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "hidden silu", 2, { 3, 5, 4 }, { MLP_SILU, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "hidden softmax", 2, { 3, 5, 4 }, { MLP_SOFTMAX, MLP_IDENTITY }, MLP_LOSS_MSE },
	/* every activation as the output layer, under MSE */
	{ "output relu", 2, { 3, 5, 4 }, { MLP_TANH, MLP_RELU }, MLP_LOSS_MSE },
	{ "output leaky_relu", 2, { 3, 5, 4 }, { MLP_TANH, MLP_LEAKY_RELU }, MLP_LOSS_MSE },
	{ "output sigmoid", 2, { 3, 5, 4 }, { MLP_TANH, MLP_SIGMOID }, MLP_LOSS_MSE },
	{ "output tanh", 2, { 3, 5, 4 }, { MLP_TANH, MLP_TANH }, MLP_LOSS_MSE },
	{ "output gelu", 2, { 3, 5, 4 }, { MLP_TANH, MLP_GELU }, MLP_LOSS_MSE },
	{ "output gelu_tanh", 2, { 3, 5, 4 }, { MLP_TANH, MLP_GELU_TANH }, MLP_LOSS_MSE },
	{ "output silu", 2, { 3, 5, 4 }, { MLP_TANH, MLP_SILU }, MLP_LOSS_MSE },
	{ "output softmax", 2, { 3, 5, 4 }, { MLP_TANH, MLP_SOFTMAX }, MLP_LOSS_MSE },
	/* cross-entropy, fused gradients */
	{ "xent softmax", 2, { 3, 6, 4 }, { MLP_TANH, MLP_SOFTMAX }, MLP_LOSS_XENT },
	{ "xent sigmoid", 2, { 3, 6, 4 }, { MLP_RELU, MLP_SIGMOID }, MLP_LOSS_XENT },
	{ "xent sigmoid one output", 2, { 3, 6, 1 }, { MLP_SILU, MLP_SIGMOID }, MLP_LOSS_XENT },
	/* deeper chains */
	{ "deep mixed", 4, { 4, 6, 5, 5, 3 }, { MLP_GELU, MLP_LEAKY_RELU, MLP_SILU, MLP_SOFTMAX }, MLP_LOSS_XENT },
	{ "deep mse", 4, { 2, 7, 7, 7, 2 }, { MLP_RELU, MLP_GELU_TANH, MLP_SIGMOID, MLP_IDENTITY }, MLP_LOSS_MSE },
};
#define N_GRAD_CASES (sizeof(grad_cases) / sizeof(grad_cases[0]))

/* Targets that fit the loss: one-hot rows for softmax cross-entropy, values
 * in [0, 1] for sigmoid cross-entropy, anything for MSE. */
static void make_targets(struct trng *g, mlp_loss_kind loss, mlp_act out,
			 size_t batch, size_t n, float *T)
{
	for (size_t r = 0; r < batch; r++) {
		if (loss == MLP_LOSS_XENT && out == MLP_SOFTMAX) {
			size_t hot = trng_next(g) % n;
			for (size_t j = 0; j < n; j++)
				T[r * n + j] = j == hot ? 1.0f : 0.0f;
		} else {
			trng_fill(g, T + r * n, n, loss == MLP_LOSS_XENT ? 0 : -1, 1);
		}
	}
}

/* The analytic gradient of every parameter against the central difference
 * of the double-precision loss, (L(w + h) − L(w − h)) / (w₊ − w₋), where w₊
 * and w₋ are the float weights actually set (h = 1e-3·max(1, |w|)).
 *
 * Tolerance 2e-3·|numeric| + 1e-4·(largest numeric gradient): the float
 * backward pass carries relative errors near 1e-6 and the difference
 * quotient a truncation error near h² ≈ 1e-6; a wrong derivative (a missing
 * factor, a sign, a dropped term) is off by the order of the gradient. */
START_TEST(gradients_match_numerical)
{
	const struct grad_case *c = &grad_cases[_i];
	enum { BATCH = 5 };
	struct trng g = { 100u + (uint64_t)_i };
	size_t n_in = c->sizes[0], n_out = c->sizes[c->n_layers];
	float X[BATCH * 8], T[BATCH * 8];
	mlp_train_opts o = mlp_train_defaults();
	mlp_trainer *t;
	mlp_net *net;
	double loss, norm, worst = 0, gmax = 0;
	size_t n_params = 0;
	double *num;

	ck_assert_int_eq(mlp_net_create(&net, c->n_layers, c->sizes, c->acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, (uint64_t)_i + 1), MLP_OK);
	for (size_t l = 0; l < c->n_layers; l++)
		trng_fill(&g, mlp_net_bias(net, l), c->sizes[l + 1], -0.5, 0.5);
	trng_fill(&g, X, BATCH * n_in, -1.5, 1.5);
	make_targets(&g, c->loss, c->acts[c->n_layers - 1], BATCH, n_out, T);
	o.loss = c->loss;
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, BATCH), MLP_OK);
	ck_assert_int_eq(mlpi_trainer_grad(t, BATCH, X, T, &loss, &norm), MLP_OK);
	ck_assert_msg(fabs(loss - ref_loss(net, c->loss, BATCH, X, T)) <=
			      1e-5 * (1 + fabs(loss)),
		      "%s: loss %.9g, double %.9g", c->name, loss,
		      ref_loss(net, c->loss, BATCH, X, T));

	for (size_t l = 0; l < c->n_layers; l++)
		n_params += c->sizes[l + 1] * (c->sizes[l] + 1);
	num = malloc(n_params * sizeof(double));
	ck_assert_ptr_nonnull(num);
	/* Numerical gradients of every weight, then every bias. */
	for (size_t l = 0, k = 0; l < c->n_layers; l++) {
		for (int part = 0; part < 2; part++) {
			float *p = part == 0 ? mlp_net_weights(net, l) : mlp_net_bias(net, l);
			size_t count = part == 0 ? c->sizes[l + 1] * c->sizes[l] : c->sizes[l + 1];

			for (size_t i = 0; i < count; i++, k++) {
				float w = p[i];
				double h = 1e-3 * fmax(1.0, fabs(w)), lp, lm;
				float wp = (float)(w + h), wm = (float)(w - h);

				p[i] = wp;
				lp = ref_loss(net, c->loss, BATCH, X, T);
				p[i] = wm;
				lm = ref_loss(net, c->loss, BATCH, X, T);
				p[i] = w;
				num[k] = (lp - lm) / ((double)wp - (double)wm);
				gmax = fmax(gmax, fabs(num[k]));
			}
		}
	}
	const float *G = mlpi_trainer_gradients(t);
	const float *block = mlp_net_weights(net, 0);
	for (size_t l = 0, k = 0; l < c->n_layers; l++) {
		for (int part = 0; part < 2; part++) {
			float *p = part == 0 ? mlp_net_weights(net, l) : mlp_net_bias(net, l);
			size_t count = part == 0 ? c->sizes[l + 1] * c->sizes[l] : c->sizes[l + 1];

			for (size_t i = 0; i < count; i++, k++) {
				double got = G[(p - block) + (ptrdiff_t)i];
				double tol = 2e-3 * fabs(num[k]) + 1e-4 * gmax;
				double ratio = fabs(got - num[k]) / tol;

				worst = fmax(worst, ratio);
				ck_assert_msg(ratio <= 1.0,
					      "%s: layer %zu %s[%zu]: analytic %.7g, "
					      "numerical %.7g", c->name, l,
					      part ? "b" : "W", i, got, num[k]);
			}
		}
	}
	ck_assert(gmax > 0);
	free(num);
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

/* ---- learning ---------------------------------------------------------------- */

/* XOR with a 2-8-1 network, tanh then sigmoid, cross-entropy, Adam. */
START_TEST(learns_xor)
{
	static const size_t sizes[] = { 2, 8, 1 };
	static const mlp_act acts[] = { MLP_TANH, MLP_SIGMOID };
	static const float X[] = { 0, 0, 0, 1, 1, 0, 1, 1 }, Y[] = { 0, 1, 1, 0 };
	mlp_train_opts o = mlp_train_defaults();
	double loss, acc;
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 1), MLP_OK);
	o.loss = MLP_LOSS_XENT;
	o.lr = 0.05f;
	o.batch_size = 4;
	o.epochs = 300;
	ck_assert_int_eq(mlp_train(net, &o, 4, X, Y), MLP_OK);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 4, X, Y, &loss, &acc), MLP_OK);
	ck_assert_msg(acc == 1.0, "XOR accuracy %g", acc);
	ck_assert_msg(loss < 0.01, "XOR loss %g", loss);
	mlp_net_free(net);
}
END_TEST

/* sin(x) on [−π, π] with 1-32-32-1 tanh, MSE, Adam: the mean squared error
 * on 1000 points between the 256 training points below 1e-3 (sin's values
 * span [−1, 1]: an RMS error of about 3%). */
START_TEST(approximates_sin)
{
	static const size_t sizes[] = { 1, 32, 32, 1 };
	static const mlp_act acts[] = { MLP_TANH, MLP_TANH, MLP_IDENTITY };
	enum { N = 256, M = 1000 };
	static float X[N], Y[N], Xt[M], Yt[M];
	const double pi = 3.14159265358979323846;
	mlp_train_opts o = mlp_train_defaults();
	double mse;
	mlp_net *net;

	for (int i = 0; i < N; i++) {
		X[i] = (float)(-pi + 2 * pi * i / (N - 1));
		Y[i] = (float)sin(X[i]);
	}
	for (int i = 0; i < M; i++) {
		Xt[i] = (float)(-pi + 2 * pi * (i + 0.5) / M);
		Yt[i] = (float)sin(Xt[i]);
	}
	ck_assert_int_eq(mlp_net_create(&net, 3, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 2), MLP_OK);
	o.lr = 0.01f;
	o.batch_size = 32;
	o.epochs = 400;
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_OK);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_MSE, M, Xt, Yt, &mse, NULL), MLP_OK);
	ck_assert_msg(mse < 1e-3, "sin MSE %g", mse);
	mlp_net_free(net);
}
END_TEST

/* 64-64-10, ReLU then softmax, cross-entropy, Adam, 40 epochs: at least 95%
 * of the 360 held-out digits right, in float (_i = 0) and in bf16 (_i = 1,
 * where the build and CPU have it). */
START_TEST(classifies_digits)
{
	static struct digits d;
	static const size_t sizes[] = { 64, 64, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	const size_t n_train = 1437, n_test = 1797 - 1437;
	mlp_train_opts o = mlp_train_defaults();
	double loss, acc_train, acc_test;
	mlp_net *net;

	o.precision = _i == 0 ? MLP_FP32 : MLP_BF16;
	digits_load(&d);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 3), MLP_OK);
	o.loss = MLP_LOSS_XENT;
	o.batch_size = 32;
	o.epochs = 40;
	o.lr = 2e-3f;
	ck_assert_int_eq(mlp_train(net, &o, n_train, d.X, d.Y), MLP_OK);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, n_train, d.X, d.Y, &loss,
				  &acc_train), MLP_OK);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, n_test, d.X + n_train * 64,
				  d.Y + n_train * 10, &loss, &acc_test), MLP_OK);
	ck_assert_msg(acc_test >= 0.95, "digits, %s: held-out accuracy %.4f (train %.4f)",
		      _i == 0 ? "fp32" : "bf16", acc_test, acc_train);
	mlp_net_free(net);
}
END_TEST

/* ---- determinism --------------------------------------------------------------- */

static void train_copy(uint64_t seed, float *params, size_t n_floats)
{
	static const size_t sizes[] = { 4, 16, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	enum { N = 100 };
	float X[N * 4], Y[N * 3];
	struct trng g = { 9 };
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net;

	trng_fill(&g, X, N * 4, -1, 1);
	make_targets(&g, MLP_LOSS_XENT, MLP_SOFTMAX, N, 3, Y);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 5), MLP_OK);
	o.loss = MLP_LOSS_XENT;
	o.batch_size = 16;
	o.epochs = 5;
	o.seed = seed;
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_OK);
	ck_assert_int_eq(mlp_net_get_params(net, params, n_floats), MLP_OK);
	mlp_net_free(net);
}

START_TEST(same_seed_same_bits)
{
	float a[131], b[131], c[131];

	train_copy(7, a, 131);
	train_copy(7, b, 131);
	train_copy(8, c, 131);
	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert(memcmp(a, c, sizeof(a)) != 0);
}
END_TEST

/* ---- the callback ---------------------------------------------------------------- */

struct epochs_seen {
	size_t count, stop_at;
	double first, last;
};

static int on_epoch(void *user, const mlp_train_progress *p)
{
	struct epochs_seen *e = user;

	e->count++;
	ck_assert_uint_eq(p->epoch, e->count);
	if (p->epoch == 1)
		e->first = p->loss;
	e->last = p->loss;
	return p->epoch == e->stop_at;
}

START_TEST(callback_sees_epochs_and_stops)
{
	static const size_t sizes[] = { 1, 8, 1 };
	static const mlp_act acts[] = { MLP_TANH, MLP_IDENTITY };
	float X[64], Y[64];
	struct epochs_seen seen = { 0, 30, 0, 0 };
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net;

	for (int i = 0; i < 64; i++) {
		X[i] = (float)i / 32 - 1;
		Y[i] = X[i] * X[i];
	}
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 1), MLP_OK);
	o.epochs = 100;
	o.lr = 0.01f;
	o.on_epoch = on_epoch;
	o.user = &seen;
	ck_assert_int_eq(mlp_train(net, &o, 64, X, Y), MLP_OK);
	ck_assert_uint_eq(seen.count, 30); /* stopped by the callback */
	ck_assert_msg(seen.last < seen.first, "loss %g after %g", seen.last, seen.first);
	mlp_net_free(net);
}
END_TEST

/* ---- bad input: a status each, and the network unchanged ------------------------ */

static const size_t bsizes[] = { 3, 4, 2 };
static const mlp_act bacts[] = { MLP_RELU, MLP_SOFTMAX };

static mlp_net *bad_net(void)
{
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, bsizes, bacts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 4), MLP_OK);
	return net;
}

#define EXPECT_TRAIN(opts_edit, want)                                       \
	do {                                                                \
		mlp_train_opts o = mlp_train_defaults();                    \
		o.loss = MLP_LOSS_XENT;                                     \
		opts_edit;                                                  \
		ck_assert_int_eq(mlp_train(net, &o, 4, X, Y), (want));      \
		ck_assert_uint_eq(param_hash(net), before);                   \
	} while (0)

START_TEST(train_rejects_bad_options)
{
	mlp_net *net = bad_net();
	uint64_t before = param_hash(net);
	float X[12] = { 0 }, Y[8] = { 1, 0, 0, 1, 1, 0, 0, 1 };

	EXPECT_TRAIN(o.lr = 0, MLP_EINVAL);
	EXPECT_TRAIN(o.lr = -1e-3f, MLP_EINVAL);
	EXPECT_TRAIN(o.lr = NAN, MLP_EINVAL);
	EXPECT_TRAIN(o.lr = INFINITY, MLP_EINVAL);
	EXPECT_TRAIN(o.momentum = 1.0f, MLP_EINVAL);
	EXPECT_TRAIN(o.momentum = -0.1f, MLP_EINVAL);
	EXPECT_TRAIN(o.beta1 = 1.0f, MLP_EINVAL);
	EXPECT_TRAIN(o.beta2 = NAN, MLP_EINVAL);
	EXPECT_TRAIN(o.eps = 0, MLP_EINVAL);
	EXPECT_TRAIN(o.weight_decay = -1, MLP_EINVAL);
	EXPECT_TRAIN(o.clip_norm = -1, MLP_EINVAL);
	EXPECT_TRAIN(o.batch_size = 0, MLP_EINVAL);
	EXPECT_TRAIN(o.epochs = 0, MLP_EINVAL);
	EXPECT_TRAIN(o.optim = (mlp_optim_kind)7, MLP_EINVAL);
	EXPECT_TRAIN(o.loss = (mlp_loss_kind)7, MLP_EINVAL);
	ck_assert_int_eq(mlp_train(NULL, &(mlp_train_opts){ 0 }, 4, X, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_train(net, NULL, 4, X, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_train(net, &(mlp_train_opts){ 0 }, 4, NULL, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_train(net, &(mlp_train_opts){ 0 }, 4, X, NULL), MLP_ENULL);
	{
		mlp_train_opts o = mlp_train_defaults();
		o.loss = MLP_LOSS_XENT;
		ck_assert_int_eq(mlp_train(net, &o, 0, X, Y), MLP_ESIZE);
		ck_assert_int_eq(mlp_train(net, &o, SIZE_MAX / 2, X, Y), MLP_ETOOBIG);
	}
	ck_assert_uint_eq(param_hash(net), before);
	mlp_net_free(net);
}
END_TEST

START_TEST(train_rejects_bad_data)
{
	mlp_net *net = bad_net();
	uint64_t before = param_hash(net);
	float X[12] = { 0 }, Y[8] = { 1, 0, 0, 1, 1, 0, 0, 1 };

	X[5] = NAN;
	EXPECT_TRAIN((void)0, MLP_ENONFINITE);
	X[5] = INFINITY;
	EXPECT_TRAIN((void)0, MLP_ENONFINITE);
	X[5] = 0;
	Y[3] = NAN;
	EXPECT_TRAIN((void)0, MLP_ENONFINITE);
	Y[3] = 1;
	/* Cross-entropy targets: out of [0, 1], and a row not summing to 1. */
	Y[0] = 1.5f, Y[1] = -0.5f;
	EXPECT_TRAIN((void)0, MLP_EINVAL);
	Y[0] = 0.5f, Y[1] = 0.25f;
	EXPECT_TRAIN((void)0, MLP_EINVAL);
	Y[0] = 0.75f, Y[1] = 0.25f; /* probabilities are fine */
	{
		mlp_train_opts o = mlp_train_defaults();
		o.loss = MLP_LOSS_XENT;
		o.epochs = 1;
		ck_assert_int_eq(mlp_train(net, &o, 4, X, Y), MLP_OK);
	}
	mlp_net_free(net);
}
END_TEST

/* Cross-entropy needs a softmax or sigmoid output. */
START_TEST(train_rejects_loss_without_fitting_output)
{
	static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
	mlp_net *net;
	mlp_trainer *t = (mlp_trainer *)(uintptr_t)0x1234;
	float X[12] = { 0 }, Y[8] = { 1, 0, 0, 1, 1, 0, 0, 1 };
	mlp_train_opts o = mlp_train_defaults();
	double loss;

	ck_assert_int_eq(mlp_net_create(&net, 2, bsizes, acts), MLP_OK);
	uint64_t before = param_hash(net);
	o.loss = MLP_LOSS_XENT;
	ck_assert_int_eq(mlp_train(net, &o, 4, X, Y), MLP_ELOSS);
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 4), MLP_ELOSS);
	ck_assert_ptr_eq(t, (mlp_trainer *)(uintptr_t)0x1234);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 4, X, Y, &loss, NULL), MLP_ELOSS);
	ck_assert_uint_eq(param_hash(net), before);
	mlp_net_free(net);
}
END_TEST

START_TEST(step_rejects_bad_input)
{
	mlp_net *net = bad_net();
	uint64_t before = param_hash(net);
	mlp_train_opts o = mlp_train_defaults();
	float X[12] = { 0 }, Y[8] = { 1, 0, 0, 1, 1, 0, 0, 1 }, loss = 42;
	mlp_trainer *t;

	o.loss = MLP_LOSS_XENT;
	ck_assert_int_eq(mlp_trainer_create(NULL, net, &o, 4), MLP_ENULL);
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 0), MLP_ESIZE);
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, (size_t)MLP_MAX_BATCH + 1),
			 MLP_ETOOBIG);
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 4), MLP_OK);
	ck_assert_int_eq(mlp_trainer_step(t, 5, X, Y, &loss), MLP_ESIZE);
	ck_assert_int_eq(mlp_trainer_step(t, 0, X, Y, &loss), MLP_ESIZE);
	ck_assert_int_eq(mlp_trainer_step(NULL, 4, X, Y, &loss), MLP_ENULL);
	ck_assert_int_eq(mlp_trainer_step(t, 4, NULL, Y, &loss), MLP_ENULL);
	X[0] = NAN;
	ck_assert_int_eq(mlp_trainer_step(t, 4, X, Y, &loss), MLP_ENONFINITE);
	X[0] = 0;
	Y[0] = 2;
	ck_assert_int_eq(mlp_trainer_step(t, 4, X, Y, &loss), MLP_EINVAL);
	ck_assert(loss == 42);
	ck_assert_uint_eq(mlp_trainer_steps(t), 0);
	ck_assert_uint_eq(param_hash(net), before);
	mlp_trainer_free(t);
	mlp_trainer_free(NULL);
	mlp_net_free(net);
}
END_TEST

/* A learning rate so large that the loss overflows: the step reports it and
 * leaves the network as it was, and mlp_train restores the network to the
 * start of the epoch. */
START_TEST(divergence_is_caught)
{
	static const size_t sizes[] = { 2, 16, 2 };
	static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
	enum { N = 32 };
	float X[N * 2], Y[N * 2], loss;
	struct trng g = { 31 };
	mlp_train_opts o = mlp_train_defaults();
	mlp_status st = MLP_OK;
	mlp_trainer *t;
	mlp_net *net;
	uint64_t h;
	int steps = 0;

	trng_fill(&g, X, N * 2, -1, 1);
	trng_fill(&g, Y, N * 2, -1, 1);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 6), MLP_OK);
	o.optim = MLP_OPTIM_SGD;
	o.momentum = 0;
	o.lr = 1e18f;
	o.batch_size = 8;
	o.epochs = 3;
	h = param_hash(net);
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_EDIVERGED);
	ck_assert_uint_eq(param_hash(net), h); /* diverged in epoch 1 */

	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, N), MLP_OK);
	for (; steps < 10; steps++) {
		h = param_hash(net);
		st = mlp_trainer_step(t, N, X, Y, &loss);
		if (st != MLP_OK)
			break;
	}
	ck_assert_int_eq(st, MLP_EDIVERGED);
	ck_assert_int_ge(steps, 1);
	ck_assert_uint_eq(param_hash(net), h); /* the failed step changed nothing */
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

/* The optimizers the huge-step tests cover: SGD, with momentum, Nesterov,
 * Adam. */
static void pick_optimizer(mlp_train_opts *o, int which)
{
	o->optim = which == 3 ? MLP_OPTIM_ADAM : MLP_OPTIM_SGD;
	o->momentum = which == 0 ? 0.0f : 0.9f;
	o->nesterov = which == 2;
	o->weight_decay = 0.01f;
}

/* Rows whose targets are far from a fresh network's outputs: gradients
 * of hundreds, finite, that a huge step turns into overflowing updates. */
static mlp_net *huge_step_case(float *X, float *Y, size_t n)
{
	static const size_t sizes[] = { 3, 8, 2 };
	static const mlp_act acts[] = { MLP_TANH, MLP_IDENTITY };
	struct trng g = { 77 };
	mlp_net *net;

	trng_fill(&g, X, n * 3, -1, 1);
	trng_fill(&g, Y, n * 2, -1000, 1000);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 8), MLP_OK);
	return net;
}

/* A step whose update would overflow a parameter or a moment changes
 * nothing (parameters and optimizer state) and is MLP_EDIVERGED, for every
 * optimizer; the parameters stay finite throughout. On the first step, and
 * after three ordinary ones (when the trainer's bounds from its last
 * update must see that they no longer vouch for the next). */
START_TEST(overflowing_update_changes_nothing)
{
	enum { N = 16 };
	float X[N * 3], Y[N * 2], loss, *M, *V, *lr;
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net = huge_step_case(X, Y, N);
	size_t n = net->block_floats, *steps, steps_before;
	float *m0 = malloc(n * sizeof(float)), *v0 = malloc(n * sizeof(float));
	mlp_status st = MLP_OK;
	mlp_trainer *t;
	uint64_t h = 0;
	int k = 0;

	pick_optimizer(&o, _i % 4);
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, N), MLP_OK);
	mlpi_trainer_state(t, &M, &V, &steps, &lr);
	for (int warm = 0; _i >= 4 && warm < 3; warm++)
		ck_assert_int_eq(mlp_trainer_step(t, N, X, Y, &loss), MLP_OK);
	ck_assert_int_eq(mlp_trainer_set_lr(t, o.optim == MLP_OPTIM_ADAM ? 1e38f
								 : 3e38f), MLP_OK);
	for (; k < 10; k++) {
		h = param_hash(net);
		memcpy(m0, M, n * sizeof(float));
		memcpy(v0, V, n * sizeof(float));
		steps_before = *steps;
		st = mlp_trainer_step(t, N, X, Y, &loss);
		ck_assert(mlpi_all_finite(n, net->block));
		if (st != MLP_OK)
			break;
	}
	ck_assert_int_eq(st, MLP_EDIVERGED);
	ck_assert_uint_eq(param_hash(net), h);
	ck_assert_mem_eq(M, m0, n * sizeof(float));
	ck_assert_mem_eq(V, v0, n * sizeof(float));
	ck_assert_uint_eq(*steps, steps_before);
	/* The update itself was caught, on the first huge step. */
	ck_assert_int_eq(k, 0);
	mlp_trainer_free(t);
	free(m0);
	free(v0);
	mlp_net_free(net);
}
END_TEST

/* A learning rate that grows eightfold each step until an update would
 * overflow, then halves, hovering about the edge for 60 steps, with a
 * parameter written through mlp_net_weights now and then: every step
 * either leaves everything finite or is MLP_EDIVERGED and changes nothing.
 * (Near the edge the trainer's cheap bounds stop vouching for the update,
 * and the full check decides.) */
START_TEST(steps_near_overflow_stay_finite)
{
	enum { N = 16 };
	float X[N * 3], Y[N * 2], loss, *M, *V, *lr;
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net = huge_step_case(X, Y, N);
	size_t n = net->block_floats, *steps;
	float *m0 = malloc(n * sizeof(float)), *v0 = malloc(n * sizeof(float));
	float rate = 1e-3f;
	mlp_trainer *t;
	int diverged = 0;

	pick_optimizer(&o, _i);
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, N), MLP_OK);
	mlpi_trainer_state(t, &M, &V, &steps, &lr);
	for (int k = 0; k < 60; k++) {
		uint64_t h;
		mlp_status st;

		if (k % 7 == 6)
			mlp_net_weights(net, 1)[k % 16] = (k % 2 ? 1 : -1) * 1e30f;
		h = param_hash(net);
		memcpy(m0, M, n * sizeof(float));
		memcpy(v0, V, n * sizeof(float));
		ck_assert_int_eq(mlp_trainer_set_lr(t, rate), MLP_OK);
		st = mlp_trainer_step(t, N, X, Y, &loss);
		ck_assert(mlpi_all_finite(n, net->block));
		ck_assert(mlpi_all_finite(n, M) && mlpi_all_finite(n, V));
		if (st == MLP_EDIVERGED) {
			ck_assert_uint_eq(param_hash(net), h);
			ck_assert_mem_eq(M, m0, n * sizeof(float));
			ck_assert_mem_eq(V, v0, n * sizeof(float));
			diverged++;
			rate /= 2;
		} else {
			ck_assert_int_eq(st, MLP_OK);
			rate = rate * 8 < 3e38f ? rate * 8 : 3e38f;
		}
	}
	ck_assert_int_ge(diverged, 5);
	mlp_trainer_free(t);
	free(m0);
	free(v0);
	mlp_net_free(net);
}
END_TEST

/* A weight written through mlp_net_weights after the trainer's last
 * update, which that update's bounds know nothing of: the next update is
 * checked in full. The weight meets an input that is always 0, so the
 * loss and the gradient stay finite; a weight decay of lr·wd = 3 makes
 * the update overflow it. */
START_TEST(external_write_is_rechecked)
{
	enum { N = 16 };
	float X[N * 3], Y[N * 2], loss;
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net = huge_step_case(X, Y, N);
	mlp_trainer *t;
	uint64_t h;

	for (size_t i = 0; i < N; i++)
		X[i * 3] = 0.0f;
	pick_optimizer(&o, _i);
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, N), MLP_OK);
	for (int warm = 0; warm < 3; warm++)
		ck_assert_int_eq(mlp_trainer_step(t, N, X, Y, &loss), MLP_OK);
	mlp_net_weights(net, 0)[0] = 3e38f; /* row 0, input 0 */
	ck_assert_int_eq(mlp_trainer_set_lr(t, 300.0f), MLP_OK);
	h = param_hash(net);
	ck_assert_int_eq(mlp_trainer_step(t, N, X, Y, &loss), MLP_EDIVERGED);
	ck_assert_uint_eq(param_hash(net), h);
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

static int on_step_blow_up_last(void *user, const mlp_train_progress *p)
{
	(void)user;
	/* Before the last step of epoch 2. */
	if (p->epoch == 2 && p->step + 1 == p->steps)
		ck_assert_int_eq(mlp_trainer_set_lr(p->trainer, 3e38f), MLP_OK);
	return 0;
}

/* mlp_train with an update that overflows on the last step of epoch 2:
 * MLP_EDIVERGED, and the network is what one epoch alone gives (finite),
 * for every optimizer; with a huge rate from the start, it is unchanged. */
START_TEST(train_never_keeps_broken_parameters)
{
	enum { N = 16 };
	float X[N * 3], Y[N * 2];
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net = huge_step_case(X, Y, N), *one, *fresh;
	uint64_t h = param_hash(net);

	ck_assert_int_eq(mlp_net_clone(&one, net), MLP_OK);
	ck_assert_int_eq(mlp_net_clone(&fresh, net), MLP_OK);
	pick_optimizer(&o, _i);
	o.lr = 1e-3f;
	o.batch_size = 4;
	o.epochs = 3;
	o.on_step = on_step_blow_up_last;
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_EDIVERGED);
	ck_assert(mlpi_all_finite(net->block_floats, net->block));
	o.epochs = 1;
	o.on_step = NULL;
	ck_assert_int_eq(mlp_train(one, &o, N, X, Y), MLP_OK);
	ck_assert_uint_eq(param_hash(net), param_hash(one));

	o.lr = o.optim == MLP_OPTIM_ADAM ? 1e38f : 3e38f;
	o.epochs = 2;
	ck_assert_int_eq(mlp_train(fresh, &o, N, X, Y), MLP_EDIVERGED);
	ck_assert_uint_eq(param_hash(fresh), h);
	mlp_net_free(net);
	mlp_net_free(one);
	mlp_net_free(fresh);
}
END_TEST

/* The options carry the size of the struct the program was compiled with:
 * one this library does not know (a newer or a broken program) is refused
 * by every call that takes them, with a message, and changes nothing;
 * mlp_train_opts_init fills only the bytes it is given. */
START_TEST(opts_struct_size_checked)
{
	static const size_t sizes[] = { 2, 3, 1 };
	static const mlp_act acts[] = { MLP_TANH, MLP_IDENTITY };
	float X[4] = { 0, 1, 1, 0 }, Y[2] = { 1, 0 };
	mlp_train_opts o = mlp_train_defaults(), big;
	unsigned char raw[sizeof(mlp_train_opts) + 16];
	mlp_trainer *t = NULL;
	mlp_net *net;
	mlp_msg msg;
	uint64_t h;

	ck_assert_uint_eq(o.struct_size, sizeof(mlp_train_opts));
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	h = param_hash(net);
	for (int k = 0; k < 3; k++) {
		o.struct_size = k == 0 ? 0 : k == 1 ? sizeof(size_t)
						: sizeof(mlp_train_opts) + 8;
		ck_assert_int_eq(mlp_train_check(net, &o, &msg), MLP_EINVAL);
		ck_assert_msg(strstr(msg.text, "struct_size") != NULL, "%s", msg.text);
		ck_assert_int_eq(mlp_train(net, &o, 2, X, Y), MLP_EINVAL);
		ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 2), MLP_EINVAL);
		ck_assert_ptr_null(t);
	}
	ck_assert_uint_eq(param_hash(net), h);
	/* A struct larger than this library's: refused, nothing written. */
	memset(raw, 0xAB, sizeof(raw));
	ck_assert_int_eq(mlp_train_opts_init((mlp_train_opts *)(void *)raw,
					     sizeof(raw)), MLP_EINVAL);
	for (size_t i = 0; i < sizeof(raw); i++)
		ck_assert_uint_eq(raw[i], 0xAB);
	ck_assert_int_eq(mlp_train_opts_init(&big, sizeof(big)), MLP_OK);
	ck_assert_uint_eq(big.struct_size, sizeof(big));
	ck_assert(big.lr == 1e-3f && big.batch_size == 32 && big.epochs == 10);
	ck_assert_int_eq(mlp_train_opts_init(NULL, sizeof(big)), MLP_ENULL);
	/* A comm of another size. */
	o = mlp_train_defaults();
	{
		mlp_comm c = { 0, 0, 1, NULL, NULL, NULL, NULL };

		o.comm = &c;
		ck_assert_int_eq(mlp_train_check(net, &o, &msg), MLP_EINVAL);
		ck_assert_msg(strstr(msg.text, "comm->struct_size") != NULL, "%s",
			      msg.text);
	}
	mlp_net_free(net);
}
END_TEST

/* ---- schedules, held-out rows, early stopping --------------------------- */

struct lr_record {
	float lr[32];
	size_t epochs;
};

static int on_epoch_lr(void *user, const mlp_train_progress *p)
{
	struct lr_record *rec = user;

	rec->lr[p->epoch - 1] = p->lr;
	rec->epochs = p->epoch;
	return 0;
}

/* Each schedule's rate, epoch by epoch, as the steps ran it, against its
 * formula in double: constant with warm-up, step, cosine, cosine with
 * warm-up. */
START_TEST(schedules_follow_their_formulas)
{
	static const size_t sizes[] = { 2, 4, 1 };
	static const mlp_act acts[] = { MLP_TANH, MLP_IDENTITY };
	enum { N = 16, EPOCHS = 12 };
	const double pi = 3.14159265358979323846, lr0 = 0.01;
	float X[N * 2], Y[N];
	struct trng g = { 5 };
	struct lr_record rec = { { 0 }, 0 };
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net;
	size_t W;

	trng_fill(&g, X, N * 2, -1, 1);
	trng_fill(&g, Y, N, -1, 1);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 1), MLP_OK);
	o.lr = (float)lr0;
	o.epochs = EPOCHS;
	o.batch_size = 4;
	o.on_epoch = on_epoch_lr;
	o.user = &rec;
	o.schedule = _i == 0 ? MLP_SCHEDULE_CONSTANT : _i == 1 ? MLP_SCHEDULE_STEP
							     : MLP_SCHEDULE_COSINE;
	o.warmup = _i == 0 ? 3 : _i == 3 ? 2 : 0;
	o.step_every = 4;
	o.step_factor = 0.5f;
	W = o.warmup;
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_OK);
	ck_assert_uint_eq(rec.epochs, EPOCHS);
	for (size_t e = 1; e <= EPOCHS; e++) {
		double want, k = (double)(e - W - 1), T = (double)(EPOCHS - W);

		if (e <= W)
			want = lr0 * (double)e / (double)(W + 1);
		else if (_i == 1)
			want = lr0 * pow(0.5, (double)((e - 1) / 4));
		else if (_i >= 2)
			want = lr0 * (1 + cos(pi * k / T)) / 2;
		else
			want = lr0;
		ck_assert_msg(fabs(rec.lr[e - 1] - want) <= 1e-6 * want,
			      "schedule %d, epoch %zu: %.9g, formula %.9g", _i, e,
			      (double)rec.lr[e - 1], want);
		ck_assert(mlp_train_lr(&o, e) == rec.lr[e - 1]);
	}
	ck_assert(mlp_train_lr(&o, 0) == 0.0f);
	ck_assert(mlp_train_lr(&o, EPOCHS + 1) == 0.0f);
	ck_assert(mlp_train_lr(NULL, 1) == 0.0f);
	mlp_net_free(net);
}
END_TEST

struct best_record {
	mlp_net *net;
	uint64_t hash[256];
	double loss[256];
	size_t last, best;
};

static int on_epoch_best(void *user, const mlp_train_progress *p)
{
	struct best_record *rec = user;

	rec->hash[p->epoch] = param_hash(rec->net);
	rec->loss[p->epoch] = p->eval_loss;
	rec->last = p->epoch;
	rec->best = p->best_epoch;
	return 0;
}

/* Early stopping on random labels, where the held-out loss soon rises:
 * training stops `patience` epochs after the best one, which is the epoch
 * of the lowest held-out loss seen, and the network ends with that
 * epoch's parameters, bit for bit. */
START_TEST(early_stopping_restores_best)
{
	static const size_t sizes[] = { 8, 32, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	enum { N = 60, V = 30 };
	float X[N * 8], Y[N * 3], Xv[V * 8], Yv[V * 3];
	struct trng g = { 9 };
	struct best_record rec = { 0 };
	mlp_train_opts o = mlp_train_defaults();
	size_t best = 1;

	trng_fill(&g, X, N * 8, -1, 1);
	trng_fill(&g, Xv, V * 8, -1, 1);
	memset(Y, 0, sizeof(Y));
	memset(Yv, 0, sizeof(Yv));
	for (size_t i = 0; i < N; i++)
		Y[i * 3 + (size_t)(trng_next(&g) % 3)] = 1;
	for (size_t i = 0; i < V; i++)
		Yv[i * 3 + (size_t)(trng_next(&g) % 3)] = 1;
	ck_assert_int_eq(mlp_net_create(&rec.net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(rec.net, 3), MLP_OK);
	o.loss = MLP_LOSS_XENT;
	o.lr = 0.02f;
	o.epochs = 200;
	o.batch_size = 10;
	o.eval_n = V;
	o.eval_X = Xv;
	o.eval_Y = Yv;
	o.patience = 3;
	o.keep_best = 1;
	o.on_epoch = on_epoch_best;
	o.user = &rec;
	ck_assert_int_eq(mlp_train(rec.net, &o, N, X, Y), MLP_OK);
	ck_assert_uint_lt(rec.last, 200);             /* it stopped early */
	for (size_t e = 2; e <= rec.last; e++)
		if (rec.loss[e] < rec.loss[best])
			best = e;
	ck_assert_uint_eq(rec.best, best);
	ck_assert_uint_eq(rec.last, best + 3);
	ck_assert_uint_eq(param_hash(rec.net), rec.hash[best]);
	ck_assert_uint_ne(rec.hash[rec.last], rec.hash[best]);
	mlp_net_free(rec.net);
}
END_TEST

/* val_fraction: the held-out rows are the seed's, the same bits twice;
 * another seed holds out others; the options that cannot go with it. */
START_TEST(val_fraction_holds_rows_out)
{
	static const size_t sizes[] = { 8, 16, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	enum { N = 50 };
	float X[N * 8], Y[N * 3];
	struct trng g = { 11 };
	struct best_record rec[3] = { { 0 } };
	mlp_train_opts o = mlp_train_defaults();
	mlp_msg msg;

	trng_fill(&g, X, N * 8, -1, 1);
	memset(Y, 0, sizeof(Y));
	for (size_t i = 0; i < N; i++)
		Y[i * 3 + (size_t)(trng_next(&g) % 3)] = 1;
	o.loss = MLP_LOSS_XENT;
	o.epochs = 4;
	o.batch_size = 8;
	o.val_fraction = 0.2f;
	o.on_epoch = on_epoch_best;
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(mlp_net_create(&rec[k].net, 2, sizes, acts), MLP_OK);
		ck_assert_int_eq(mlp_net_init(rec[k].net, 3), MLP_OK);
		o.seed = k == 2 ? 99 : 1;
		o.user = &rec[k];
		ck_assert_int_eq(mlp_train(rec[k].net, &o, N, X, Y), MLP_OK);
		ck_assert(isfinite(rec[k].loss[4]));
	}
	ck_assert_uint_eq(param_hash(rec[0].net), param_hash(rec[1].net));
	ck_assert(rec[0].loss[4] == rec[1].loss[4]);
	ck_assert(rec[0].loss[1] != rec[2].loss[1]);
	/* What val_fraction cannot go with. */
	o.val_fraction = 1.0f;
	ck_assert_int_eq(mlp_train_check(rec[0].net, &o, &msg), MLP_EINVAL);
	ck_assert_msg(strstr(msg.text, "val_fraction") != NULL, "%s", msg.text);
	o.val_fraction = 0.2f;
	o.eval_n = 2;
	o.eval_X = X;
	o.eval_Y = Y;
	ck_assert_int_eq(mlp_train_check(rec[0].net, &o, &msg), MLP_EINVAL);
	o.eval_n = 0;
	o.val_fraction = 0.99f; /* 49 of 50 held out: 1 row left */
	ck_assert_int_eq(mlp_train(rec[0].net, &o, N, X, Y), MLP_OK);
	o.val_fraction = 0.0f;
	o.patience = 2;
	ck_assert_int_eq(mlp_train_check(rec[0].net, &o, &msg), MLP_EINVAL);
	ck_assert_msg(strstr(msg.text, "patience needs held-out rows") != NULL,
		      "%s", msg.text);
	o.patience = 0;
	o.warmup = 4;
	ck_assert_int_eq(mlp_train_check(rec[0].net, &o, &msg), MLP_EINVAL);
	o.warmup = 0;
	o.schedule = MLP_SCHEDULE_STEP;
	o.step_factor = 0.0f;
	ck_assert_int_eq(mlp_train_check(rec[0].net, &o, &msg), MLP_EINVAL);
	for (int k = 0; k < 3; k++)
		mlp_net_free(rec[k].net);
}
END_TEST

/* mlp_train_held_out names the rows mlp_train holds out: their loss is the
 * held-out loss it reports, a held-out row changed leaves the trained
 * parameters as they were, and a row trained on changed does not. */
START_TEST(held_out_rows_named)
{
	static const size_t sizes[] = { 8, 16, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	enum { N = 50 };
	float X[N * 8], Y[N * 3], Xh[N * 8], Yh[N * 3];
	unsigned char held[N];
	struct trng g = { 12 };
	struct best_record rec = { 0 };
	mlp_train_opts o = mlp_train_defaults();
	size_t n_held = 0, k = 0, first_held = N, first_kept = N;
	uint64_t base;
	double loss;

	trng_fill(&g, X, N * 8, -1, 1);
	memset(Y, 0, sizeof(Y));
	for (size_t i = 0; i < N; i++)
		Y[i * 3 + (size_t)(trng_next(&g) % 3)] = 1;
	o.loss = MLP_LOSS_XENT;
	o.epochs = 2;
	o.batch_size = 8;
	o.val_fraction = 0.2f;
	o.seed = 5;
	o.on_epoch = on_epoch_best;
	o.user = &rec;
	ck_assert_int_eq(mlp_train_held_out(&o, N, held, &n_held), MLP_OK);
	ck_assert_uint_eq(n_held, 10); /* ⌊50 · 0.2⌋ */
	for (size_t i = 0; i < N; i++) {
		ck_assert_uint_le(held[i], 1);
		if (!held[i]) {
			first_kept = first_kept < N ? first_kept : i;
			continue;
		}
		first_held = first_held < N ? first_held : i;
		memcpy(Xh + k * 8, X + i * 8, 8 * sizeof(float));
		memcpy(Yh + k * 3, Y + i * 3, 3 * sizeof(float));
		k++;
	}
	ck_assert_uint_eq(k, n_held);
	ck_assert_int_eq(mlp_net_create(&rec.net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(rec.net, 3), MLP_OK);
	ck_assert_int_eq(mlp_train(rec.net, &o, N, X, Y), MLP_OK);
	ck_assert_int_eq(mlp_evaluate(rec.net, MLP_LOSS_XENT, n_held, Xh, Yh, &loss,
				      NULL), MLP_OK);
	ck_assert_msg(fabs(loss - rec.loss[2]) <= 1e-6 * (1 + fabs(loss)),
		      "loss of the rows named %.9g, held-out loss reported %.9g",
		      loss, rec.loss[2]);
	base = param_hash(rec.net);
	/* A held-out row changed: trained on nothing else, the same bits. */
	for (int changed = 0; changed < 2; changed++) {
		size_t row = changed == 0 ? first_held : first_kept;
		float keep = X[row * 8];

		X[row * 8] = 1e3f;
		ck_assert_int_eq(mlp_net_init(rec.net, 3), MLP_OK);
		ck_assert_int_eq(mlp_train(rec.net, &o, N, X, Y), MLP_OK);
		if (changed == 0)
			ck_assert_uint_eq(param_hash(rec.net), base);
		else
			ck_assert_uint_ne(param_hash(rec.net), base);
		X[row * 8] = keep;
	}
	/* No fraction: no row held out. Bad input: held unchanged. */
	o.val_fraction = 0.0f;
	ck_assert_int_eq(mlp_train_held_out(&o, N, held, &n_held), MLP_OK);
	ck_assert_uint_eq(n_held, 0);
	for (size_t i = 0; i < N; i++)
		ck_assert_uint_eq(held[i], 0);
	memset(held, 7, sizeof(held));
	ck_assert_int_eq(mlp_train_held_out(NULL, N, held, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_train_held_out(&o, N, NULL, NULL), MLP_ENULL);
	o.val_fraction = 1.0f;
	ck_assert_int_eq(mlp_train_held_out(&o, N, held, NULL), MLP_EINVAL);
	o.val_fraction = -0.5f;
	ck_assert_int_eq(mlp_train_held_out(&o, N, held, NULL), MLP_EINVAL);
	o.val_fraction = 0.5f; /* one row: none left to train on */
	ck_assert_int_eq(mlp_train_held_out(&o, 1, held, NULL), MLP_EINVAL);
	o.struct_size = 3;
	ck_assert_int_eq(mlp_train_held_out(&o, N, held, NULL), MLP_EINVAL);
	for (size_t i = 0; i < N; i++)
		ck_assert_uint_eq(held[i], 7);
	mlp_net_free(rec.net);
}
END_TEST

/* ---- mlp_train_check ------------------------------------------------------------ */

/* Each option out of range: its status, and a message naming the field, its
 * value and the rule; the options alone with net NULL. */
START_TEST(train_check_names_each_rule)
{
	static const struct {
		size_t field; /* its offset in mlp_train_opts */
		float value;
		const char *says;
	} bad[] = {
		{ offsetof(mlp_train_opts, lr), 0.0f, "lr must be finite and above 0, not 0" },
		{ offsetof(mlp_train_opts, lr), INFINITY, "lr must be finite and above 0, not inf" },
		{ offsetof(mlp_train_opts, momentum), 1.0f, "momentum must be in [0, 1), not 1" },
		{ offsetof(mlp_train_opts, beta1), -0.5f, "beta1 must be in [0, 1), not -0.5" },
		{ offsetof(mlp_train_opts, beta2), NAN, "beta2 must be in [0, 1), not nan" },
		{ offsetof(mlp_train_opts, eps), 0.0f, "eps must be finite and above 0, not 0" },
		{ offsetof(mlp_train_opts, weight_decay), -1.0f,
		  "weight_decay must be finite and at least 0, not -1" },
		{ offsetof(mlp_train_opts, clip_norm), -2.0f,
		  "clip_norm must be finite and at least 0, not -2" },
	};
	static const mlp_act relu_out[] = { MLP_RELU, MLP_RELU };
	mlp_train_opts o;
	mlp_net *net;
	mlp_msg msg;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = mlp_train_defaults();
		memcpy((char *)&o + bad[i].field, &bad[i].value, sizeof(float));
		ck_assert_int_eq(mlp_train_check(NULL, &o, &msg), MLP_EINVAL);
		ck_assert_str_eq(msg.text, bad[i].says);
	}
	o = mlp_train_defaults();
	o.batch_size = 0;
	ck_assert_int_eq(mlp_train_check(NULL, &o, &msg), MLP_EINVAL);
	ck_assert_str_eq(msg.text, "batch_size must be at least 1");
	o = mlp_train_defaults();
	o.epochs = 0;
	ck_assert_int_eq(mlp_train_check(NULL, &o, &msg), MLP_EINVAL);
	ck_assert_str_eq(msg.text, "epochs must be at least 1");
	o = mlp_train_defaults();
	o.optim = (mlp_optim_kind)9;
	ck_assert_int_eq(mlp_train_check(NULL, &o, &msg), MLP_EINVAL);
	ck_assert_str_eq(msg.text, "optim 9 is not an optimizer");
	o = mlp_train_defaults();
	o.loss = (mlp_loss_kind)-1;
	ck_assert_int_eq(mlp_train_check(NULL, &o, &msg), MLP_EINVAL);
	ck_assert_str_eq(msg.text, "loss -1 is not a loss");
	/* The fit of the loss to the network's output needs the network. */
	ck_assert_int_eq(mlp_net_create(&net, 2, bsizes, relu_out), MLP_OK);
	o = mlp_train_defaults();
	o.loss = MLP_LOSS_XENT;
	ck_assert_int_eq(mlp_train_check(NULL, &o, &msg), MLP_OK);
	ck_assert_str_eq(msg.text, "");
	ck_assert_int_eq(mlp_train_check(net, &o, &msg), MLP_ELOSS);
	ck_assert_str_eq(msg.text, "cross-entropy needs a softmax or sigmoid "
				   "output layer, not relu");
	ck_assert_int_eq(mlp_train_check(net, NULL, &msg), MLP_ENULL);
	ck_assert_str_eq(msg.text, "opts is NULL");
	o.loss = MLP_LOSS_MSE;
	ck_assert_int_eq(mlp_train_check(net, &o, NULL), MLP_OK);
	mlp_net_free(net);
}
END_TEST

/* ---- mlp_train against its own description ------------------------------------ */

/* A uniform draw below n as mlp_train documents it: xoshiro256** draws
 * below 2⁶⁴ mod n rejected, then the remainder. */
static size_t ref_below(struct mlpi_rng *rng, size_t n)
{
	uint64_t limit = n, threshold = (0 - limit) % limit, x;

	do {
		x = mlpi_rng_next(rng);
	} while (x < threshold);
	return (size_t)(x % limit);
}

/* The learning rate of a schedule after epoch e: lr₀ / (e + 1). */
static float schedule(float lr0, size_t epoch)
{
	return lr0 / (float)(epoch + 1);
}

/* mlp_train written out on a trainer, from its description: each epoch a
 * Fisher–Yates shuffle of a running permutation, then steps of
 * min(batch_size, n) rows in that order (the last partial step left out
 * with drop_last); with a schedule, the rate changed after each epoch. */
static void ref_train(mlp_net *net, const mlp_train_opts *o, size_t n,
		      const float *X, const float *Y, bool scheduled)
{
	size_t n_in = mlp_net_width(net, 0), n_out = mlp_net_width(net, 2);
	size_t batch = o->batch_size < n ? o->batch_size : n;
	size_t *order = malloc(n * sizeof(size_t));
	float *Xb = malloc(batch * n_in * sizeof(float));
	float *Yb = malloc(batch * n_out * sizeof(float));
	struct mlpi_rng rng;
	mlp_trainer *t;

	ck_assert(order && Xb && Yb);
	ck_assert_int_eq(mlp_trainer_create(&t, net, o, batch), MLP_OK);
	mlpi_rng_seed(&rng, o->seed);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t e = 1; e <= o->epochs; e++) {
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = ref_below(&rng, i + 1), k = order[i];
			order[i] = order[j];
			order[j] = k;
		}
		for (size_t r = 0; r < n; r += batch) {
			size_t rows = n - r < batch ? n - r : batch;

			if (rows < batch && o->drop_last)
				break;
			for (size_t i = 0; i < rows; i++) {
				memcpy(Xb + i * n_in, X + order[r + i] * n_in,
				       n_in * sizeof(float));
				memcpy(Yb + i * n_out, Y + order[r + i] * n_out,
				       n_out * sizeof(float));
			}
			ck_assert_int_eq(mlp_trainer_step(t, rows, Xb, Yb, NULL), MLP_OK);
		}
		if (scheduled)
			ck_assert_int_eq(mlp_trainer_set_lr(t, schedule(o->lr, e)),
					 MLP_OK);
	}
	mlp_trainer_free(t);
	free(order), free(Xb), free(Yb);
}

static int on_epoch_schedule(void *user, const mlp_train_progress *p)
{
	const mlp_train_opts *o = user;

	ck_assert_int_eq(mlp_trainer_set_lr(p->trainer, schedule(o->lr, p->epoch)),
			 MLP_OK);
	return 0;
}

/* mlp_train gives the bits of the loop above: with and without the last
 * partial batch, with and without a schedule set from the callback. */
START_TEST(train_is_the_documented_loop)
{
	static const size_t sizes[] = { 3, 9, 4 };
	static const mlp_act acts[] = { MLP_TANH, MLP_SOFTMAX };
	enum { N = 37 };
	float X[N * 3], Y[N * 4], got[9 * 3 + 9 + 4 * 9 + 4], want[sizeof(got) / 4];
	size_t count = sizeof(got) / sizeof(got[0]);
	struct trng g = { 12 };
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *a, *b;

	trng_fill(&g, X, N * 3, -1, 1);
	make_targets(&g, MLP_LOSS_XENT, MLP_SOFTMAX, N, 4, Y);
	o.loss = MLP_LOSS_XENT;
	o.batch_size = 8;
	o.epochs = 4;
	o.seed = 1234567;
	o.drop_last = _i & 1;
	o.lr = 0.01f;
	if (_i & 2) {
		o.on_epoch = on_epoch_schedule;
		o.user = &o;
	}
	ck_assert_int_eq(mlp_net_create(&a, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(a, 3), MLP_OK);
	ck_assert_int_eq(mlp_net_clone(&b, a), MLP_OK);
	ck_assert_int_eq(mlp_train(a, &o, N, X, Y), MLP_OK);
	ref_train(b, &o, N, X, Y, _i & 2);
	ck_assert_int_eq(mlp_net_get_params(a, got, count), MLP_OK);
	ck_assert_int_eq(mlp_net_get_params(b, want, count), MLP_OK);
	ck_assert_mem_eq(got, want, sizeof(got));
	mlp_net_free(a);
	mlp_net_free(b);
}
END_TEST

/* ---- what the callbacks see ------------------------------------------------------ */

struct seen {
	size_t steps, epochs, stop_step;
	size_t rows_in_epoch;
	size_t n, batch; /* rows, rows a step */
	const mlp_net *net;
	const float *eval_X, *eval_Y;
	size_t eval_n;
	int failures;
};

static int on_step_record(void *user, const mlp_train_progress *p)
{
	struct seen *s = user;

	s->steps++;
	s->rows_in_epoch = p->rows;
	s->failures += p->rows != (p->step * s->batch < s->n ? p->step * s->batch
							      : s->n);
	s->failures += !(p->loss > 0) || p->epoch < 1 || p->epoch > p->epochs;
	s->failures += !isnan(p->eval_loss) || !isnan(p->eval_accuracy);
	s->failures += p->trainer == NULL ||
		       mlp_trainer_steps(p->trainer) != s->steps;
	return s->steps == s->stop_step;
}

static int on_epoch_record(void *user, const mlp_train_progress *p)
{
	struct seen *s = user;
	double loss, acc;

	s->epochs++;
	s->failures += p->epoch != s->epochs || p->step != p->steps ||
		       p->rows != s->rows_in_epoch;
	if (s->eval_n > 0) {
		/* The held-out figures are mlp_evaluate's, bit for bit. */
		ck_assert_int_eq(mlp_evaluate(s->net, MLP_LOSS_XENT, s->eval_n,
					      s->eval_X, s->eval_Y, &loss, &acc),
				 MLP_OK);
		s->failures += p->eval_loss != loss || p->eval_accuracy != acc;
	} else {
		s->failures += !isnan(p->eval_loss) || !isnan(p->eval_accuracy);
	}
	return 0;
}

/* Steps, rows and epochs as counted; the held-out rows evaluated after each
 * epoch; the last partial batch kept or dropped; a stop from on_step. */
START_TEST(callbacks_see_progress)
{
	static const size_t sizes[] = { 4, 6, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	enum { N = 50, M = 300 };
	static float X[N * 4], Y[N * 3], Xe[M * 4], Ye[M * 3];
	struct trng g = { 21 };
	mlp_train_opts o = mlp_train_defaults();
	struct seen s = { 0 };
	mlp_net *net;

	trng_fill(&g, X, N * 4, -1, 1);
	make_targets(&g, MLP_LOSS_XENT, MLP_SOFTMAX, N, 3, Y);
	trng_fill(&g, Xe, M * 4, -1, 1);
	make_targets(&g, MLP_LOSS_XENT, MLP_SOFTMAX, M, 3, Ye);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 2), MLP_OK);
	o.loss = MLP_LOSS_XENT;
	o.batch_size = 16;
	o.epochs = 3;
	o.on_step = on_step_record;
	o.on_epoch = on_epoch_record;
	o.user = &s;
	s = (struct seen){ .net = net, .n = N, .batch = 16 };

	/* 50 rows in steps of 16: 4 steps, the last of 2 rows. */
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_OK);
	ck_assert_uint_eq(s.steps, 12);
	ck_assert_uint_eq(s.epochs, 3);
	ck_assert_uint_eq(s.rows_in_epoch, 50);
	ck_assert_int_eq(s.failures, 0);
	/* drop_last: 3 steps of 16; and held-out rows (more than one chunk
	 * of the evaluation's 256). */
	s = (struct seen){ .net = net, .n = N, .batch = 16, .eval_X = Xe,
			   .eval_Y = Ye, .eval_n = M };
	o.drop_last = 1;
	o.eval_n = M;
	o.eval_X = Xe;
	o.eval_Y = Ye;
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_OK);
	ck_assert_uint_eq(s.steps, 9);
	ck_assert_uint_eq(s.rows_in_epoch, 48);
	ck_assert_int_eq(s.failures, 0);
	/* Stopped by on_step in the middle of epoch 2: no more steps, and
	 * no callback for the epoch it stopped in. */
	s = (struct seen){ .net = net, .n = N, .batch = 16, .eval_X = Xe,
			   .eval_Y = Ye, .eval_n = M, .stop_step = 5 };
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_OK);
	ck_assert_uint_eq(s.steps, 5);
	ck_assert_uint_eq(s.epochs, 1);
	ck_assert_int_eq(s.failures, 0);
	mlp_net_free(net);
}
END_TEST

/* The held-out rows are checked as the training rows are, before any
 * step. */
START_TEST(train_rejects_bad_eval_rows)
{
	mlp_net *net = bad_net();
	uint64_t before = param_hash(net);
	float X[12] = { 0 }, Y[8] = { 1, 0, 0, 1, 1, 0, 0, 1 };
	float Xe[6] = { 0 }, Ye[4] = { 1, 0, 0, 1 };

	EXPECT_TRAIN((o.eval_n = 2, o.eval_X = NULL, o.eval_Y = Ye), MLP_ENULL);
	EXPECT_TRAIN((o.eval_n = 2, o.eval_X = Xe, o.eval_Y = NULL), MLP_ENULL);
	Xe[4] = NAN;
	EXPECT_TRAIN((o.eval_n = 2, o.eval_X = Xe, o.eval_Y = Ye), MLP_ENONFINITE);
	Xe[4] = 0;
	Ye[3] = 0.5f;
	EXPECT_TRAIN((o.eval_n = 2, o.eval_X = Xe, o.eval_Y = Ye), MLP_EINVAL);
	EXPECT_TRAIN((o.eval_n = SIZE_MAX / 2, o.eval_X = Xe, o.eval_Y = Ye),
		     MLP_ETOOBIG);
	/* No held-out rows: their pointers are not read. */
	EXPECT_TRAIN((o.eval_n = 0, o.eval_X = Xe, o.eval_Y = Ye, o.lr = 0),
		     MLP_EINVAL);
	mlp_net_free(net);
}
END_TEST

/* After epoch 2, a rate that makes the loss of epoch 3 overflow. */
static int on_epoch_blow_up(void *user, const mlp_train_progress *p)
{
	size_t *last_epoch = user;

	*last_epoch = p->epoch;
	if (p->epoch == 2)
		ck_assert_int_eq(mlp_trainer_set_lr(p->trainer, 1e18f), MLP_OK);
	return 0;
}

/* The exception the header states: MLP_EDIVERGED in epoch 3 undoes epoch
 * 3 and keeps epochs 1 and 2. */
START_TEST(diverged_keeps_earlier_epochs)
{
	static const size_t sizes[] = { 2, 16, 2 };
	static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
	enum { N = 32 };
	float X[N * 2], Y[N * 2];
	struct trng g = { 31 };
	size_t last_epoch = 0;
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net, *two;

	trng_fill(&g, X, N * 2, -1, 1);
	trng_fill(&g, Y, N * 2, -1, 1);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 6), MLP_OK);
	ck_assert_int_eq(mlp_net_clone(&two, net), MLP_OK);
	o.optim = MLP_OPTIM_SGD;
	o.momentum = 0;
	o.lr = 0.01f;
	o.batch_size = 8;
	o.epochs = 5;
	o.on_epoch = on_epoch_blow_up;
	o.user = &last_epoch;
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_EDIVERGED);
	ck_assert_uint_eq(last_epoch, 2); /* epoch 3 never ended */
	/* The same two epochs without the callback: the same bits. */
	o.epochs = 2;
	o.on_epoch = NULL;
	ck_assert_int_eq(mlp_train(two, &o, N, X, Y), MLP_OK);
	ck_assert_uint_eq(param_hash(net), param_hash(two));
	mlp_net_free(net);
	mlp_net_free(two);
}
END_TEST

/* ---- allocation ---------------------------------------------------------------- */

START_TEST(step_allocates_nothing)
{
	mlp_net *net = bad_net();
	mlp_train_opts o = mlp_train_defaults();
	float X[12] = { 0.5f }, Y[8] = { 1, 0, 0, 1, 1, 0, 0, 1 }, loss;
	mlp_trainer *t;
	mlp_status st[2];

	if (!TEST_WRAP) {
		mlp_net_free(net);
		return;
	}
	o.loss = MLP_LOSS_XENT;
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 4), MLP_OK);
	alloc_arm(0);
	st[0] = mlp_trainer_step(t, 4, X, Y, &loss);
	st[1] = mlp_trainer_step(t, 1, X, Y, &loss);
	alloc_disarm();
	ck_assert_int_eq(st[0], MLP_OK);
	ck_assert_int_eq(st[1], MLP_OK);
	ck_assert_int_eq(alloc_calls(), 0);
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

/* A failure at each allocation of mlp_trainer_create and of mlp_train:
 * MLP_ENOMEM, nothing leaked, the network unchanged. */
START_TEST(allocation_failures)
{
	mlp_net *net = bad_net();
	uint64_t before = param_hash(net);
	mlp_train_opts o = mlp_train_defaults();
	float X[12] = { 0.5f }, Y[8] = { 1, 0, 0, 1, 1, 0, 0, 1 };
	long k;

	if (!TEST_WRAP) {
		mlp_net_free(net);
		return;
	}
	o.loss = MLP_LOSS_XENT;
	o.epochs = 1;
	for (k = 1;; k++) {
		mlp_trainer *t = NULL;
		mlp_status st;

		alloc_arm(k);
		st = mlp_trainer_create(&t, net, &o, 4);
		alloc_disarm();
		if (st == MLP_OK) {
			mlp_trainer_free(t);
			break;
		}
		ck_assert_int_eq(st, MLP_ENOMEM);
		ck_assert_ptr_null(t);
		ck_assert_int_eq(alloc_live(), 0);
	}
	ck_assert_int_ge(k, 3);
	for (k = 1;; k++) {
		mlp_status st;
		long live;

		alloc_arm(k);
		st = mlp_train(net, &o, 4, X, Y);
		live = alloc_live();
		alloc_disarm();
		if (st == MLP_OK)
			break;
		ck_assert_int_eq(st, MLP_ENOMEM);
		ck_assert_int_eq(live, 0);
		ck_assert_uint_eq(param_hash(net), before);
	}
	ck_assert_int_ge(k, 4);
	mlp_net_free(net);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s;
	TCase *grad, *learn, *bad;

	/* The part "bf16": the digits learnt in bf16, where it runs. */
	if (test_part(argc, argv, "bf16")) {
		if (!bf16_trains())
			return test_skip("bf16 training needs oneDNN and a CPU "
					 "with AVX512_BF16 or AMX");
		s = suite_create("train bf16 digits");
		learn = tcase_create("learning");
		tcase_set_timeout(learn, 120);
		tcase_add_loop_test(learn, classifies_digits, 1, 2);
		suite_add_tcase(s, learn);
		return run_suite(s);
	}
	s = suite_create("train");
	grad = tcase_create("gradients");
	learn = tcase_create("learning");
	bad = tcase_create("bad input");
	tcase_add_loop_test(grad, gradients_match_numerical, 0, N_GRAD_CASES);
	suite_add_tcase(s, grad);
	tcase_set_timeout(learn, 120);
	tcase_add_test(learn, learns_xor);
	tcase_add_test(learn, approximates_sin);
	tcase_add_loop_test(learn, classifies_digits, 0, 1);
	tcase_add_test(learn, same_seed_same_bits);
	tcase_add_test(learn, callback_sees_epochs_and_stops);
	tcase_add_loop_test(learn, train_is_the_documented_loop, 0, 4);
	tcase_add_test(learn, callbacks_see_progress);
	tcase_add_loop_test(learn, schedules_follow_their_formulas, 0, 4);
	tcase_add_test(learn, early_stopping_restores_best);
	tcase_add_test(learn, val_fraction_holds_rows_out);
	tcase_add_test(learn, held_out_rows_named);
	suite_add_tcase(s, learn);
	tcase_add_test(bad, train_rejects_bad_options);
	tcase_add_test(bad, opts_struct_size_checked);
	tcase_add_test(bad, train_rejects_bad_data);
	tcase_add_test(bad, train_rejects_loss_without_fitting_output);
	tcase_add_test(bad, step_rejects_bad_input);
	tcase_add_test(bad, divergence_is_caught);
	tcase_add_test(bad, diverged_keeps_earlier_epochs);
	tcase_add_loop_test(bad, overflowing_update_changes_nothing, 0, 8);
	tcase_add_loop_test(bad, train_never_keeps_broken_parameters, 0, 4);
	tcase_add_loop_test(bad, steps_near_overflow_stay_finite, 0, 4);
	tcase_add_loop_test(bad, external_write_is_rechecked, 0, 4);
	tcase_add_test(bad, train_rejects_bad_eval_rows);
	tcase_add_test(bad, train_check_names_each_rule);
	tcase_add_test(bad, step_allocates_nothing);
	tcase_add_test(bad, allocation_failures);
	suite_add_tcase(s, bad);
	return run_suite(s);
}
