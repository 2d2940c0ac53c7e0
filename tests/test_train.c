/*
 * test_train.c — backpropagation and training: gradients against a
 * double-precision numerical derivative for every activation and loss;
 * XOR, sin(x) and the digits data learned; determinism; bad input;
 * divergence; allocation.
 */
#include "support.h"

#include "internal.h"

#include <math.h>
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

/* The digits data: 1797 8×8 images, pixels scaled to [0, 1]; a shuffled
 * split of 1437 rows to train on and 360 held out. */
struct digits {
	size_t n;
	float X[1797 * 64], Y[1797 * 10];
};

static void load_digits(struct digits *d)
{
	FILE *f = fopen(TEST_DATA_DIR "/digits.csv", "r");
	int v[65];

	ck_assert_msg(f != NULL, "cannot open %s/digits.csv", TEST_DATA_DIR);
	d->n = 0;
	while (d->n < 1797) {
		int k = 0;
		for (; k < 65; k++)
			if (fscanf(f, k ? ",%d" : "%d", &v[k]) != 1)
				break;
		if (k < 65)
			break;
		ck_assert(v[64] >= 0 && v[64] <= 9);
		for (int j = 0; j < 64; j++)
			d->X[d->n * 64 + j] = (float)v[j] / 16.0f;
		for (int j = 0; j < 10; j++)
			d->Y[d->n * 10 + j] = j == v[64] ? 1.0f : 0.0f;
		d->n++;
	}
	fclose(f);
	ck_assert_uint_eq(d->n, 1797);
	/* A fixed shuffle so that both parts hold every writer and digit. */
	struct trng g = { 2024 };
	for (size_t i = d->n - 1; i > 0; i--) {
		size_t j = trng_next(&g) % (i + 1);
		float tx[64], ty[10];
		memcpy(tx, d->X + i * 64, sizeof(tx));
		memcpy(ty, d->Y + i * 10, sizeof(ty));
		memcpy(d->X + i * 64, d->X + j * 64, sizeof(tx));
		memcpy(d->Y + i * 10, d->Y + j * 10, sizeof(ty));
		memcpy(d->X + j * 64, tx, sizeof(tx));
		memcpy(d->Y + j * 10, ty, sizeof(ty));
	}
}

/* 64-64-10, ReLU then softmax, cross-entropy, Adam, 40 epochs: at least 95%
 * of the 360 held-out digits right. */
START_TEST(classifies_digits)
{
	static struct digits d;
	static const size_t sizes[] = { 64, 64, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	const size_t n_train = 1437, n_test = 1797 - 1437;
	mlp_train_opts o = mlp_train_defaults();
	double loss, acc_train, acc_test;
	mlp_net *net;

	load_digits(&d);
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
	ck_assert_msg(acc_test >= 0.95, "digits: held-out accuracy %.4f (train %.4f)",
		      acc_test, acc_train);
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
	ck_assert_uint_eq(mlp_net_param_count(net), n_floats);
	memcpy(params, mlp_net_weights(net, 0), 16 * 4 * sizeof(float));
	memcpy(params + 64, mlp_net_bias(net, 0), 16 * sizeof(float));
	memcpy(params + 80, mlp_net_weights(net, 1), 3 * 16 * sizeof(float));
	memcpy(params + 128, mlp_net_bias(net, 1), 3 * sizeof(float));
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

static uint64_t net_hash(mlp_net *net)
{
	uint64_t h = 1469598103934665603u;

	for (size_t l = 0; l < mlp_net_layers(net); l++) {
		size_t nw = mlp_net_width(net, l) * mlp_net_width(net, l + 1);
		const unsigned char *p[2] = { (void *)mlp_net_weights(net, l),
					      (void *)mlp_net_bias(net, l) };
		size_t bytes[2] = { nw * 4, mlp_net_width(net, l + 1) * 4 };

		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < bytes[k]; i++)
				h = (h ^ p[k][i]) * 1099511628211u;
	}
	return h;
}

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
		ck_assert_uint_eq(net_hash(net), before);                   \
	} while (0)

START_TEST(train_rejects_bad_options)
{
	mlp_net *net = bad_net();
	uint64_t before = net_hash(net);
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
	ck_assert_uint_eq(net_hash(net), before);
	mlp_net_free(net);
}
END_TEST

START_TEST(train_rejects_bad_data)
{
	mlp_net *net = bad_net();
	uint64_t before = net_hash(net);
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
	uint64_t before = net_hash(net);
	o.loss = MLP_LOSS_XENT;
	ck_assert_int_eq(mlp_train(net, &o, 4, X, Y), MLP_ELOSS);
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 4), MLP_ELOSS);
	ck_assert_ptr_eq(t, (mlp_trainer *)(uintptr_t)0x1234);
	ck_assert_int_eq(mlp_evaluate(net, MLP_LOSS_XENT, 4, X, Y, &loss, NULL), MLP_ELOSS);
	ck_assert_uint_eq(net_hash(net), before);
	mlp_net_free(net);
}
END_TEST

START_TEST(step_rejects_bad_input)
{
	mlp_net *net = bad_net();
	uint64_t before = net_hash(net);
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
	ck_assert_uint_eq(net_hash(net), before);
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
	h = net_hash(net);
	ck_assert_int_eq(mlp_train(net, &o, N, X, Y), MLP_EDIVERGED);
	ck_assert_uint_eq(net_hash(net), h); /* diverged in epoch 1 */

	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, N), MLP_OK);
	for (; steps < 10; steps++) {
		h = net_hash(net);
		st = mlp_trainer_step(t, N, X, Y, &loss);
		if (st != MLP_OK)
			break;
	}
	ck_assert_int_eq(st, MLP_EDIVERGED);
	ck_assert_int_ge(steps, 1);
	ck_assert_uint_eq(net_hash(net), h); /* the failed step changed nothing */
	mlp_trainer_free(t);
	mlp_net_free(net);
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
	uint64_t before = net_hash(net);
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
		ck_assert_uint_eq(net_hash(net), before);
	}
	ck_assert_int_ge(k, 4);
	mlp_net_free(net);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("train");
	TCase *grad = tcase_create("gradients");
	TCase *learn = tcase_create("learning");
	TCase *bad = tcase_create("bad input");

	tcase_add_loop_test(grad, gradients_match_numerical, 0, N_GRAD_CASES);
	suite_add_tcase(s, grad);
	tcase_set_timeout(learn, 120);
	tcase_add_test(learn, learns_xor);
	tcase_add_test(learn, approximates_sin);
	tcase_add_test(learn, classifies_digits);
	tcase_add_test(learn, same_seed_same_bits);
	tcase_add_test(learn, callback_sees_epochs_and_stops);
	suite_add_tcase(s, learn);
	tcase_add_test(bad, train_rejects_bad_options);
	tcase_add_test(bad, train_rejects_bad_data);
	tcase_add_test(bad, train_rejects_loss_without_fitting_output);
	tcase_add_test(bad, step_rejects_bad_input);
	tcase_add_test(bad, divergence_is_caught);
	tcase_add_test(bad, step_allocates_nothing);
	tcase_add_test(bad, allocation_failures);
	suite_add_tcase(s, bad);
	return run_suite(s);
}
