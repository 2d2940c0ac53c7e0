/*
 * test_train_bf16.c — mixed-precision training: a bf16 step's gradients
 * against a double-precision model of its rounding and against exact
 * arithmetic; a partial batch in float; the shared optimizer update; what
 * a build or CPU without bf16 answers; allocation.
 *
 * The part "bf16" holds every test but the last, and is skipped (77) where
 * the build or the CPU has no native bf16; the main part checks what such
 * a build answers, and runs on every machine.
 */
#include "support.h"

#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the double-precision model of a bf16 step ---------------------------- */

/* x rounded to bf16: 8 significant bits, ties to even. */
static double round_bf16(double x)
{
	int e;
	double m;

	if (x == 0 || !isfinite(x))
		return x;
	m = frexp(x, &e); /* |m| in [0.5, 1) */
	return ldexp(nearbyint(ldexp(m, 8)), e - 8);
}

static double maybe_round(bool bf16, double x)
{
	return bf16 ? round_bf16(x) : x;
}

/* act'(z) in double, by a central difference of ref_act (elementwise
 * activations only; the error, near h², is far below float's). */
static double ref_dact(mlp_act act, double z)
{
	double h = 1e-6 * fmax(1.0, fabs(z));

	return (ref_act(act, z + h) - ref_act(act, z - h)) / (2 * h);
}

struct model {
	size_t L, batch, widest;
	const size_t *sizes;
	double *A[5], *Z[5], *dZ;
};

/* The gradient of the loss over batch rows, in double, laid out as the
 * network's parameter block (as mlpi_trainer_gradients). With bf16, every
 * product's operands are rounded as the bf16 step rounds them: the layer
 * inputs, the weights and ∂L/∂Z; the bias, the activations and the loss
 * stay exact. Hidden activations must be elementwise; the output softmax
 * or sigmoid under cross-entropy, or anything elementwise under MSE. */
static void model_grad(mlp_net *net, mlp_loss_kind loss, size_t batch,
		       const float *X, const float *T, bool bf16, double *G)
{
	size_t L = mlp_net_layers(net), widest = 0;
	const float *block = mlp_net_weights(net, 0);
	double *A[6], *Z[6], *dZ, *dA;

	for (size_t l = 0; l <= L; l++)
		widest = mlp_net_width(net, l) > widest ? mlp_net_width(net, l) : widest;
	for (size_t l = 0; l <= L; l++) {
		A[l] = malloc(batch * widest * sizeof(double));
		Z[l] = malloc(batch * widest * sizeof(double));
		ck_assert(A[l] && Z[l]);
	}
	dZ = malloc(batch * widest * sizeof(double));
	dA = malloc(batch * widest * sizeof(double));
	ck_assert(dZ && dA);
	for (size_t i = 0; i < batch * mlp_net_width(net, 0); i++)
		A[0][i] = X[i];
	/* Forward: Z = round(A)·round(W)ᵀ + b, A' = act(Z). */
	for (size_t l = 0; l < L; l++) {
		size_t n_in = mlp_net_width(net, l), n_out = mlp_net_width(net, l + 1);
		const float *W = mlp_net_weights(net, l), *b = mlp_net_bias(net, l);
		mlp_act act = mlp_net_act(net, l);

		for (size_t r = 0; r < batch; r++) {
			double *z = Z[l + 1] + r * n_out, *a = A[l + 1] + r * n_out;
			double max = -INFINITY, sum = 0;

			for (size_t j = 0; j < n_out; j++) {
				double s = b[j];
				for (size_t k = 0; k < n_in; k++)
					s += maybe_round(bf16, W[j * n_in + k]) *
					     maybe_round(bf16, A[l][r * n_in + k]);
				z[j] = s;
				max = fmax(max, s);
			}
			for (size_t j = 0; j < n_out; j++) {
				a[j] = act == MLP_SOFTMAX ? exp(z[j] - max) : ref_act(act, z[j]);
				sum += a[j];
			}
			for (size_t j = 0; act == MLP_SOFTMAX && j < n_out; j++)
				a[j] /= sum;
		}
	}
	/* ∂L/∂Z of the output layer. */
	size_t n = mlp_net_width(net, L);
	mlp_act out = mlp_net_act(net, L - 1);
	for (size_t i = 0; i < batch * n; i++) {
		double y = A[L][i], t = T[i];

		if (loss == MLP_LOSS_XENT)
			dZ[i] = (y - t) / (double)batch / (out == MLP_SOFTMAX ? 1.0 : (double)n);
		else
			dZ[i] = 2 * (y - t) / (double)(batch * n) * ref_dact(out, Z[L][i]);
	}
	/* Backward: dW = round(dZ)ᵀ·round(A), db = Σ dZ, dA = round(dZ)·round(W). */
	for (size_t l = L; l-- > 0;) {
		size_t n_in = mlp_net_width(net, l), n_out = mlp_net_width(net, l + 1);
		const float *W = mlp_net_weights(net, l), *b = mlp_net_bias(net, l);
		double *dW = G + (W - block), *db = G + (b - block);

		for (size_t j = 0; j < n_out; j++) {
			db[j] = 0;
			for (size_t r = 0; r < batch; r++)
				db[j] += dZ[r * n_out + j];
			for (size_t k = 0; k < n_in; k++) {
				double s = 0;
				for (size_t r = 0; r < batch; r++)
					s += maybe_round(bf16, dZ[r * n_out + j]) *
					     maybe_round(bf16, A[l][r * n_in + k]);
				dW[j * n_in + k] = s;
			}
		}
		if (l == 0)
			break;
		for (size_t r = 0; r < batch; r++)
			for (size_t k = 0; k < n_in; k++) {
				double s = 0;
				for (size_t j = 0; j < n_out; j++)
					s += maybe_round(bf16, dZ[r * n_out + j]) *
					     maybe_round(bf16, W[j * n_in + k]);
				dA[r * n_in + k] = s * ref_dact(mlp_net_act(net, l - 1),
								Z[l][r * n_in + k]);
			}
		memcpy(dZ, dA, batch * n_in * sizeof(double));
	}
	for (size_t l = 0; l <= L; l++) {
		free(A[l]);
		free(Z[l]);
	}
	free(dZ);
	free(dA);
}

/* ---- gradients ---------------------------------------------------------------- */

struct bf16_case {
	const char *name;
	size_t n_layers, batch;
	size_t sizes[5];
	mlp_act acts[4];
	mlp_loss_kind loss;
};

static const struct bf16_case cases[] = {
	{ "784-256-128-10 relu xent", 3, 64, { 784, 256, 128, 10 },
	  { MLP_RELU, MLP_RELU, MLP_SOFTMAX }, MLP_LOSS_XENT },
	{ "64-48-10 tanh xent", 2, 32, { 64, 48, 10 },
	  { MLP_TANH, MLP_SOFTMAX }, MLP_LOSS_XENT },
	{ "20-33-7 sigmoid mse", 2, 16, { 20, 33, 7 },
	  { MLP_SIGMOID, MLP_IDENTITY }, MLP_LOSS_MSE },
	{ "deep gelu silu", 4, 8, { 100, 64, 64, 32, 5 },
	  { MLP_GELU, MLP_SILU, MLP_LEAKY_RELU, MLP_SIGMOID }, MLP_LOSS_XENT },
	{ "3-1-2 thin", 2, 3, { 3, 1, 2 },
	  { MLP_GELU_TANH, MLP_TANH }, MLP_LOSS_MSE },
	{ "1-1 single", 1, 1, { 1, 1 }, { MLP_IDENTITY }, MLP_LOSS_MSE },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static mlp_net *case_net(const struct bf16_case *c, uint64_t seed, size_t batch,
			 float **X, float **T)
{
	struct trng g = { seed };
	size_t n_in = c->sizes[0], n_out = c->sizes[c->n_layers];
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, c->n_layers, c->sizes, c->acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, seed), MLP_OK);
	for (size_t l = 0; l < c->n_layers; l++)
		trng_fill(&g, mlp_net_bias(net, l), c->sizes[l + 1], -0.2, 0.2);
	*X = malloc(batch * n_in * sizeof(float));
	*T = calloc(batch * n_out, sizeof(float));
	ck_assert(*X && *T);
	trng_fill(&g, *X, batch * n_in, -1, 1);
	for (size_t r = 0; r < batch; r++) {
		if (c->loss == MLP_LOSS_XENT && c->acts[c->n_layers - 1] == MLP_SOFTMAX)
			(*T)[r * n_out + trng_next(&g) % n_out] = 1.0f;
		else
			trng_fill(&g, *T + r * n_out, n_out, 0, 1);
	}
	return net;
}

/* The distance between two gradient blocks, relative to the second's norm,
 * over the parameters (the padding between tensors left out). */
static double rel_dist(mlp_net *net, const double *a, const double *b)
{
	const float *block = mlp_net_weights(net, 0);
	double d = 0, s = 0;

	for (size_t l = 0; l < mlp_net_layers(net); l++) {
		size_t n_in = mlp_net_width(net, l), n_out = mlp_net_width(net, l + 1);
		size_t at[2] = { (size_t)(mlp_net_weights(net, l) - block),
				 (size_t)(mlp_net_bias(net, l) - block) };
		size_t count[2] = { n_out * n_in, n_out };

		for (int k = 0; k < 2; k++)
			for (size_t i = at[k]; i < at[k] + count[k]; i++) {
				d += (a[i] - b[i]) * (a[i] - b[i]);
				s += b[i] * b[i];
			}
	}
	return s > 0 ? sqrt(d / s) : sqrt(d);
}

/* The gradients of a full bf16 step, g, against the model of its rounding,
 * m, and against exact arithmetic, x:
 *
 *   - |g − m| ≤ |m − x| / 100: the step rounds what the model rounds, no
 *     more and no less (a float product, a missed rounding or a transposed
 *     operand moves g away from m by as much as m is from x);
 *   - |g − x| / |x| ≤ 0.1: 8-bit operands give each product an error
 *     near 2⁻⁸ of its terms, more of the sum where the batch's terms
 *     cancel (3% in the first case);
 *   - |g − x| / |x| ≥ 1e-5, a hundred times float's error: the products did
 *     run in bf16.
 *
 * g and m still differ: float sums in another order, and operands whose
 * float value and double value round to neighbouring bf16 numbers. */
START_TEST(gradients_follow_bf16_rounding)
{
	const struct bf16_case *c = &cases[_i];
	mlp_train_opts o = mlp_train_defaults();
	size_t block_floats;
	double *g, *m, *x, loss, norm, d_gx, d_gm, d_mx;
	mlp_trainer *t;
	mlp_net *net;
	float *X, *T;

	net = case_net(c, 50u + (uint64_t)_i, c->batch, &X, &T);
	o.loss = c->loss;
	o.precision = MLP_BF16;
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, c->batch), MLP_OK);
	ck_assert_int_eq(mlpi_trainer_grad(t, c->batch, X, T, &loss, &norm), MLP_OK);
	block_floats = net->block_floats;
	g = calloc(block_floats, sizeof(double));
	m = calloc(block_floats, sizeof(double));
	x = calloc(block_floats, sizeof(double));
	ck_assert(g && m && x);
	for (size_t i = 0; i < block_floats; i++)
		g[i] = mlpi_trainer_gradients(t)[i];
	model_grad(net, c->loss, c->batch, X, T, true, m);
	model_grad(net, c->loss, c->batch, X, T, false, x);
	d_gx = rel_dist(net, g, x);
	d_gm = rel_dist(net, g, m);
	d_mx = rel_dist(net, m, x);
	printf("%-26s |g-x|/|x| %.2e  |g-m|/|m| %.2e  |m-x|/|x| %.2e\n", c->name,
	       d_gx, d_gm, d_mx);
	ck_assert_msg(d_gm <= d_mx / 100, "%s: %.3g from the bf16 model, which is "
		      "%.3g from exact", c->name, d_gm, d_mx);
	ck_assert_msg(d_gx <= 0.1, "%s: bf16 gradients %.3g from exact", c->name, d_gx);
	ck_assert_msg(d_gx >= 1e-5, "%s: %.3g from exact: not bf16", c->name, d_gx);
	free(g);
	free(m);
	free(x);
	free(X);
	free(T);
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

/* ---- a partial batch, and the update ------------------------------------------ */

/* A step of fewer rows than the trainer's batch runs in float: its
 * gradients are the float trainer's, bit for bit; a full step's are not. */
START_TEST(partial_batch_runs_in_float)
{
	const struct bf16_case *c = &cases[1];
	mlp_train_opts o = mlp_train_defaults();
	mlp_trainer *t16, *t32;
	double loss, norm;
	mlp_net *net;
	float *X, *T;
	size_t bytes;

	net = case_net(c, 7, c->batch, &X, &T);
	bytes = net->block_floats * sizeof(float);
	o.loss = c->loss;
	ck_assert_int_eq(mlp_trainer_create(&t32, net, &o, c->batch), MLP_OK);
	o.precision = MLP_BF16;
	ck_assert_int_eq(mlp_trainer_create(&t16, net, &o, c->batch), MLP_OK);
	ck_assert_int_eq(mlpi_trainer_grad(t32, c->batch - 5, X, T, &loss, &norm), MLP_OK);
	ck_assert_int_eq(mlpi_trainer_grad(t16, c->batch - 5, X, T, &loss, &norm), MLP_OK);
	ck_assert_mem_eq(mlpi_trainer_gradients(t16), mlpi_trainer_gradients(t32), bytes);
	ck_assert_int_eq(mlpi_trainer_grad(t32, c->batch, X, T, &loss, &norm), MLP_OK);
	ck_assert_int_eq(mlpi_trainer_grad(t16, c->batch, X, T, &loss, &norm), MLP_OK);
	ck_assert(memcmp(mlpi_trainer_gradients(t16), mlpi_trainer_gradients(t32),
			 bytes) != 0);
	free(X);
	free(T);
	mlp_trainer_free(t16);
	mlp_trainer_free(t32);
	mlp_net_free(net);
}
END_TEST

/* A bf16 trainer shares the optimizer's update among OpenMP's threads: its
 * step leaves the parameters, bit for bit, where one whole update from the
 * same gradients puts them (Adam with weight decay, SGD with Nesterov). */
START_TEST(shared_update_equals_whole)
{
	float top[3] = { 0, 0, 0 }; /* the update's largest values */
	const struct bf16_case *c = &cases[0];
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net, *copy;
	mlp_trainer *t;
	float *X, *T, *M, *V, loss;

#if defined(MLP_HAVE_ONEDNN)
	/* OpenMP's threads themselves: a BLAS without a thread count of its
	 * own makes mlp_set_threads say MLP_ENOTSUP. */
	mlpi_openmp_set_threads(2);
	ck_assert_int_eq(mlpi_openmp_threads(), 2);
#endif
	net = case_net(c, 9, c->batch, &X, &T);
	ck_assert_int_eq(mlp_net_clone(&copy, net), MLP_OK);
	M = calloc(net->block_floats, sizeof(float));
	V = calloc(net->block_floats, sizeof(float));
	ck_assert(M && V);
	o.loss = c->loss;
	o.precision = MLP_BF16;
	o.weight_decay = 0.01f;
	if (_i == 1) {
		o.optim = MLP_OPTIM_SGD;
		o.nesterov = 1;
		o.lr = 0.05f;
	}
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, c->batch), MLP_OK);
	ck_assert_int_eq(mlp_trainer_step(t, c->batch, X, T, &loss), MLP_OK);
	ck_assert(mlpi_optim_update(&o, copy, 1, mlpi_trainer_gradients(t), 1.0f, M, V, 0, 1, top));
	ck_assert_uint_eq(param_hash(net), param_hash(copy));
	ck_assert_int_eq(mlp_trainer_step(t, c->batch, X, T, &loss), MLP_OK);
	ck_assert(mlpi_optim_update(&o, copy, 2, mlpi_trainer_gradients(t), 1.0f, M, V, 0, 1, top));
	ck_assert_uint_eq(param_hash(net), param_hash(copy));
	free(M);
	free(V);
	free(X);
	free(T);
	mlp_trainer_free(t);
	mlp_net_free(copy);
	mlp_net_free(net);
}
END_TEST

/* A full bf16 step checks X as it converts it: a NaN or an infinity in X
 * is MLP_ENONFINITE, with the network and the step count unchanged. */
START_TEST(nonfinite_input_refused)
{
	const struct bf16_case *c = &cases[1];
	mlp_train_opts o = mlp_train_defaults();
	const float bad[2] = { NAN, -INFINITY };
	mlp_trainer *t;
	mlp_net *net;
	float *X, *T, loss;
	uint64_t before;

	net = case_net(c, 17, c->batch, &X, &T);
	before = param_hash(net);
	o.loss = c->loss;
	o.precision = MLP_BF16;
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, c->batch), MLP_OK);
	for (int k = 0; k < 2; k++) {
		size_t at = k == 0 ? 0 : c->batch * c->sizes[0] - 1; /* first, last */
		float keep = X[at];

		X[at] = bad[k];
		ck_assert_int_eq(mlp_trainer_step(t, c->batch, X, T, &loss),
				 MLP_ENONFINITE);
		X[at] = keep;
	}
	ck_assert_uint_eq(param_hash(net), before);
	ck_assert_uint_eq(mlp_trainer_steps(t), 0);
	ck_assert_int_eq(mlp_trainer_step(t, c->batch, X, T, &loss), MLP_OK);
	free(X);
	free(T);
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

/* ---- allocation ---------------------------------------------------------------- */

START_TEST(step_allocates_nothing)
{
	const struct bf16_case *c = &cases[1];
	mlp_train_opts o = mlp_train_defaults();
	mlp_status st[2];
	mlp_trainer *t;
	mlp_net *net;
	float *X, *T, loss;

	if (!TEST_WRAP)
		return;
	net = case_net(c, 11, c->batch, &X, &T);
	o.loss = c->loss;
	o.precision = MLP_BF16;
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, c->batch), MLP_OK);
	alloc_arm(0);
	st[0] = mlp_trainer_step(t, c->batch, X, T, &loss);
	st[1] = mlp_trainer_step(t, 3, X, T, &loss);
	alloc_disarm();
	ck_assert_int_eq(st[0], MLP_OK);
	ck_assert_int_eq(st[1], MLP_OK);
	ck_assert_int_eq(alloc_calls(), 0);
	free(X);
	free(T);
	mlp_trainer_free(t);
	mlp_net_free(net);
}
END_TEST

/* A failure at each allocation of a bf16 trainer: MLP_ENOMEM, nothing
 * leaked. */
START_TEST(allocation_failures)
{
	const struct bf16_case *c = &cases[3];
	mlp_train_opts o = mlp_train_defaults();
	mlp_net *net;
	float *X, *T;
	long k;

	if (!TEST_WRAP)
		return;
	net = case_net(c, 13, c->batch, &X, &T);
	o.loss = c->loss;
	o.precision = MLP_BF16;
	for (k = 1;; k++) {
		mlp_trainer *t = NULL;
		mlp_status st;

		alloc_arm(k);
		st = mlp_trainer_create(&t, net, &o, c->batch);
		alloc_disarm();
		if (st == MLP_OK) {
			mlp_trainer_free(t);
			break;
		}
		ck_assert_int_eq(st, MLP_ENOMEM);
		ck_assert_ptr_null(t);
		ck_assert_int_eq(alloc_live(), 0);
	}
	ck_assert_int_ge(k, 5);
	free(X);
	free(T);
	mlp_net_free(net);
}
END_TEST

/* ---- where there is no bf16 ---------------------------------------------------- */

/* A precision that is not one is MLP_EINVAL everywhere; bf16 where the
 * build or CPU lacks it is MLP_ENOTSUP from the trainer, mlp_train and
 * mlp_train_check alike, with the network unchanged. */
START_TEST(precision_checked)
{
	const struct bf16_case *c = &cases[2];
	mlp_train_opts o = mlp_train_defaults();
	mlp_trainer *t = NULL;
	mlp_net *net;
	mlp_msg msg;
	uint64_t before;
	float *X, *T;

	net = case_net(c, 15, c->batch, &X, &T);
	before = param_hash(net);
	o.precision = (mlp_precision)7;
	ck_assert_int_eq(mlp_train_check(net, &o, &msg), MLP_EINVAL);
	ck_assert_str_eq(msg.text, "precision 7 is not a precision");
	ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 4), MLP_EINVAL);
	ck_assert_ptr_null(t);
	o.precision = MLP_BF16;
	if (bf16_trains()) {
		ck_assert_int_eq(mlp_train_check(net, &o, &msg), MLP_OK);
	} else {
		printf("bf16 unsupported here: checking MLP_ENOTSUP\n");
		ck_assert_int_eq(mlp_train_check(net, &o, &msg), MLP_ENOTSUP);
		ck_assert_ptr_nonnull(strstr(msg.text, "bf16"));
		ck_assert_int_eq(mlp_trainer_create(&t, net, &o, 4), MLP_ENOTSUP);
		ck_assert_ptr_null(t);
		o.epochs = 1;
		ck_assert_int_eq(mlp_train(net, &o, c->batch, X, T), MLP_ENOTSUP);
		ck_assert_uint_eq(param_hash(net), before);
	}
	free(X);
	free(T);
	mlp_net_free(net);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s;
	TCase *grad, *step;

	if (!test_part(argc, argv, "bf16")) {
		s = suite_create("train bf16 checks");
		step = tcase_create("step");
		tcase_add_test(step, precision_checked);
		suite_add_tcase(s, step);
		return run_suite(s);
	}
	if (!bf16_trains())
		return test_skip("bf16 training needs oneDNN and a CPU with "
				 "AVX512_BF16 or AMX");
	s = suite_create("train bf16");
	grad = tcase_create("gradients");
	step = tcase_create("step");
	tcase_add_loop_test(grad, gradients_follow_bf16_rounding, 0, N_CASES);
	suite_add_tcase(s, grad);
	tcase_add_test(step, partial_batch_runs_in_float);
	tcase_add_loop_test(step, shared_update_equals_whole, 0, 2);
	tcase_add_test(step, nonfinite_input_refused);
	tcase_add_test(step, step_allocates_nothing);
	tcase_add_test(step, allocation_failures);
	suite_add_tcase(s, step);
	return run_suite(s);
}
