/*
 * test_forward.c — workspaces and the forward pass: the classic small
 * networks computed by hand, random networks against the double reference,
 * the batch-1 path, placed workspaces, bad input, allocation, and threads
 * sharing a network.
 */
#include "support.h"

#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define U 0x1.0p-24 /* unit roundoff of float */

/* A network from its shape and its parameters, listed W₀ b₀ W₁ b₁ …. */
static mlp_net *make_net(size_t n_layers, const size_t *sizes,
			 const mlp_act *acts, const float *params, size_t count)
{
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, n_layers, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_set_params(net, params, count), MLP_OK);
	return net;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Runs n inputs through net one at a time and as one batch, and compares
 * both with the hand-computed outputs (one output per input), within 8 ulp:
 * every value here is a short exact sum, then at most one sigmoid. */
static void check_by_hand(mlp_net *net, size_t n, const float *X,
			  const double *want)
{
	size_t n_in = mlp_net_width(net, 0);
	mlp_workspace *ws;
	float y[16];

	ck_assert_uint_le(n, 16);
	ck_assert_int_eq(mlp_workspace_create(&ws, net, n), MLP_OK);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(mlp_forward(net, ws, 1, X + i * n_in, y), MLP_OK);
		ck_assert_msg(fabs(y[0] - want[i]) <= 8 * U * fabs(want[i]),
			      "input %zu alone: %.9g, want %.9g", i, (double)y[0],
			      want[i]);
	}
	ck_assert_int_eq(mlp_forward(net, ws, n, X, y), MLP_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(fabs(y[i] - want[i]) <= 8 * U * fabs(want[i]),
			      "input %zu in batch: %.9g, want %.9g", i,
			      (double)y[i], want[i]);
	mlp_workspace_free(ws);
}

/* One neuron: f(x) = w·x + b = 2x + 1. */
START_TEST(hand_one_neuron)
{
	static const size_t sizes[] = { 1, 1 };
	static const mlp_act acts[] = { MLP_IDENTITY };
	static const float params[] = { 2, 1 };
	static const float X[] = { -1, 0, 0.5f, 3 };
	static const double want[] = { -1, 1, 2, 7 };
	mlp_net *net = make_net(1, sizes, acts, params, COUNT(params));

	check_by_hand(net, 4, X, want);
	mlp_net_free(net);
}
END_TEST

/* One input into three ReLU neurons (weights 1, 2, 3, biases 0, 1, -1) whose
 * outputs are summed: f(2) = 2 + 5 + 5, f(-1) = 0, f(0.25) = 0.25 + 1.5. */
START_TEST(hand_three_summed)
{
	static const size_t sizes[] = { 1, 3, 1 };
	static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
	static const float params[] = { 1, 2, 3, 0, 1, -1, 1, 1, 1, 0 };
	static const float X[] = { 2, -1, 0.25f };
	static const double want[] = { 12, 0, 1.75 };
	mlp_net *net = make_net(2, sizes, acts, params, COUNT(params));

	check_by_hand(net, 3, X, want);
	mlp_net_free(net);
}
END_TEST

/* Two inputs, three hidden ReLU neurons h = relu(x₁, x₂, x₁ + x₂ − 1), one
 * output h₁ − h₂ + 2h₃ + 0.5. */
START_TEST(hand_two_three_one)
{
	static const size_t sizes[] = { 2, 3, 1 };
	static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
	static const float params[] = { 1, 0, 0, 1, 1, 1, 0, 0, -1,
					1, -1, 2, 0.5f };
	static const float X[] = { 2, 3, -1, 0.5f, 1, 1 };
	/* (2, 3): h = (2, 3, 4) → 7.5; (−1, ½): h = (0, ½, 0) → 0;
	 * (1, 1): h = (1, 1, 1) → 2.5. */
	static const double want[] = { 7.5, 0, 2.5 };
	mlp_net *net = make_net(2, sizes, acts, params, COUNT(params));

	check_by_hand(net, 3, X, want);
	mlp_net_free(net);
}
END_TEST

/* Three hidden layers, 2-3-3-3-1. With s = relu(x₁ + x₂):
 *   h₁ = (s, s, s)                       W all ones, relu
 *   h₂ = (s/2 + 1, s/2, s/2)             W = I/2, b = (1, 0, 0), relu
 *   h₃ = (1.5s + 1, 1, s)                identity
 *   y  = sigmoid(h₃₁ + h₃₂ + h₃₃ − 1) = sigmoid(2.5s + 1). */
START_TEST(hand_three_hidden)
{
	static const size_t sizes[] = { 2, 3, 3, 3, 1 };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_IDENTITY,
					MLP_SIGMOID };
	static const float params[] = {
		1, 1, 1, 1, 1, 1, 0, 0, 0,                   /* layer 1 */
		0.5f, 0, 0, 0, 0.5f, 0, 0, 0, 0.5f, 1, 0, 0, /* layer 2 */
		1, 1, 1, 1, -1, 0, 0, 0, 2, 0, 0, 0,         /* layer 3 */
		1, 1, 1, -1,                                 /* output */
	};
	static const float X[] = { 0, 0, 1, 1, -3, 1, 0.5f, -0.1f };
	double want[4];
	mlp_net *net = make_net(4, sizes, acts, params, COUNT(params));

	for (size_t i = 0; i < 4; i++) {
		double s = fmax(0.0, (double)X[2 * i] + X[2 * i + 1]);
		want[i] = 1 / (1 + exp(-(2.5 * s + 1)));
	}
	/* sigmoid(1) and sigmoid(6), as known constants. */
	ck_assert(fabs(want[0] - 0.7310585786300049) < 1e-15);
	ck_assert(fabs(want[1] - 0.9975273768433653) < 1e-15);
	check_by_hand(net, 4, X, want);
	mlp_net_free(net);
}
END_TEST

/* ---- random networks against the double reference ------------------------ */

enum { N_FIXED = 5, N_RANDOM = 25, N_NETS = N_FIXED + N_RANDOM };

/* The shapes (support.h): fixed ones at the extremes of width, then random
 * ones. */
static struct net_case net_case(int i)
{
	static const struct net_case fixed[N_FIXED] = {
		{ 1, { 1, 1 }, 64 },
		{ 2, { 1024, 1024, 1024 }, 64 },
		{ 2, { 1, 1024, 1 }, 1 },
		{ 3, { 1024, 1, 1024, 3 }, 5 },
		{ 6, { 7, 300, 2, 64, 1, 33, 10 }, 64 },
	};
	static const size_t max_batches[] = { 64, 1, 5, 64, 200 };

	return net_case_pick(i, fixed, N_FIXED, 1000, max_batches, 5);
}

/* The network of case i. */
static mlp_net *case_net(int i, const struct net_case *c)
{
	return net_case_build(i, c, (uint64_t)i, 77u + (uint64_t)i);
}

static const char *shape_name(const struct net_case *c, char *buf, size_t n)
{
	size_t at = 0;

	for (size_t l = 0; l <= c->n_layers && at < n; l++)
		at += (size_t)snprintf(buf + at, n - at, l ? "-%zu" : "%zu",
				       c->sizes[l]);
	return buf;
}

/* Case i at batch 1, 2, 7, 64 and 150 (more than max_batch for every
 * case but one), each within the reference's error bound. */
START_TEST(random_nets_match_reference)
{
	static const size_t batches[] = { 1, 2, 7, 64, 150 };
	struct net_case c = net_case(_i);
	mlp_net *net = case_net(_i, &c);
	size_t n_in = c.sizes[0], n_out = c.sizes[c.n_layers];
	struct trng g = { 5u + (uint64_t)_i };
	mlp_workspace *ws;
	char name[128];

	shape_name(&c, name, sizeof(name));
	ck_assert_int_eq(mlp_workspace_create(&ws, net, c.max_batch), MLP_OK);
	for (size_t k = 0; k < sizeof(batches) / sizeof(batches[0]); k++) {
		size_t batch = batches[k], where;
		float *X = malloc(batch * n_in * sizeof(float));
		float *Y = malloc(batch * n_out * sizeof(float));
		double *want = malloc(batch * n_out * sizeof(double));
		double *err = malloc(batch * n_out * sizeof(double));
		double worst;

		ck_assert(X && Y && want && err);
		trng_fill(&g, X, batch * n_in, -1, 1);
		ck_assert_int_eq(mlp_forward(net, ws, batch, X, Y), MLP_OK);
		ref_forward(net, batch, X, want, err);
		worst = ref_worst(batch * n_out, Y, want, err, &where);
		ck_assert_msg(worst <= 1.0,
			      "net %d (%s, max_batch %zu), batch %zu: Y[%zu] = %.9g, "
			      "want %.17g ± %.3g", _i, name, c.max_batch, batch,
			      where, (double)Y[where], want[where], err[where]);
		free(X), free(Y), free(want), free(err);
	}
	mlp_workspace_free(ws);
	mlp_net_free(net);
}
END_TEST

/* Row r of a batch (sgemm path) equals row r alone (sgemv path), within
 * twice the reference bound. */
START_TEST(batch1_agrees_with_batched)
{
	static const size_t sizes[] = { 50, 200, 100, 10 };
	static const mlp_act acts[] = { MLP_GELU, MLP_SIGMOID, MLP_SOFTMAX };
	enum { BATCH = 11 };
	mlp_net *net;
	mlp_workspace *ws;
	float X[BATCH * 50], Yb[BATCH * 10], y1[10];
	double want[10], err[10];
	struct trng g = { 3 };

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 3), MLP_OK);
	ck_assert_int_eq(mlp_workspace_create(&ws, net, BATCH), MLP_OK);
	trng_fill(&g, X, BATCH * 50, -2, 2);
	ck_assert_int_eq(mlp_forward(net, ws, BATCH, X, Yb), MLP_OK);
	for (size_t r = 0; r < BATCH; r++) {
		ck_assert_int_eq(mlp_forward(net, ws, 1, X + r * 50, y1), MLP_OK);
		ref_forward(net, 1, X + r * 50, want, err);
		for (size_t j = 0; j < 10; j++)
			ck_assert_msg(fabs((double)y1[j] - Yb[r * 10 + j]) <= 2 * err[j],
				      "row %zu, output %zu: %.9g alone, %.9g batched",
				      r, j, (double)y1[j], (double)Yb[r * 10 + j]);
	}
	mlp_workspace_free(ws);
	mlp_net_free(net);
}
END_TEST

/* ---- workspaces ---------------------------------------------------------- */

static const size_t wsizes[] = { 4, 8, 6, 3 };
static const mlp_act wacts[] = { MLP_TANH, MLP_RELU, MLP_IDENTITY };

static mlp_net *small_net(uint64_t seed)
{
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 3, wsizes, wacts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, seed), MLP_OK);
	return net;
}

/* A workspace placed at an odd address of caller memory gives the same
 * results as a created one, and freeing it does nothing (the sanitizers
 * would catch a free of memory the library does not own). */
START_TEST(placed_workspace)
{
	enum { BATCH = 10, MAXB = 4 };
	mlp_net *net = small_net(1);
	mlp_workspace *made, *placed;
	size_t need = mlp_workspace_size(net, MAXB);
	unsigned char *mem = malloc(need + 1);
	float X[BATCH * 4], Ya[BATCH * 3], Yb[BATCH * 3];
	struct trng g = { 11 };

	ck_assert_uint_gt(need, 2 * MAXB * 8 * sizeof(float));
	ck_assert_ptr_nonnull(mem);
	ck_assert_int_eq(mlp_workspace_place(&placed, net, MAXB, mem + 1, need - 1),
			 MLP_ESIZE);
	ck_assert_int_eq(mlp_workspace_place(&placed, net, MAXB, mem + 1, need),
			 MLP_OK);
	ck_assert_uint_eq(mlp_workspace_max_batch(placed), MAXB);
	ck_assert_int_eq(mlp_workspace_create(&made, net, MAXB), MLP_OK);
	trng_fill(&g, X, BATCH * 4, -1, 1);
	ck_assert_int_eq(mlp_forward(net, made, BATCH, X, Ya), MLP_OK);
	ck_assert_int_eq(mlp_forward(net, placed, BATCH, X, Yb), MLP_OK);
	ck_assert_mem_eq(Ya, Yb, sizeof(Ya));
	mlp_workspace_free(placed);
	mlp_workspace_free(made);
	mlp_workspace_free(NULL);
	free(mem);
	mlp_net_free(net);
}
END_TEST

/* A one-layer network needs no buffers, only the header. */
START_TEST(one_layer_workspace)
{
	static const size_t sizes[] = { 3, 2 };
	static const mlp_act acts[] = { MLP_SOFTMAX };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 1, sizes, acts), MLP_OK);
	ck_assert_uint_eq(mlp_workspace_size(net, 1000), mlp_workspace_size(net, 1));
	mlp_net_free(net);
}
END_TEST

START_TEST(workspace_bad_input)
{
	mlp_net *net = small_net(1);
	mlp_workspace *sentinel = (mlp_workspace *)(uintptr_t)0x1234, *ws = sentinel;
	unsigned char mem[64];

	ck_assert_int_eq(mlp_workspace_create(NULL, net, 4), MLP_ENULL);
	ck_assert_int_eq(mlp_workspace_create(&ws, NULL, 4), MLP_ENULL);
	ck_assert_int_eq(mlp_workspace_create(&ws, net, 0), MLP_ESIZE);
	ck_assert_int_eq(mlp_workspace_create(&ws, net, (size_t)MLP_MAX_BATCH + 1),
			 MLP_ETOOBIG);
	ck_assert_int_eq(mlp_workspace_create(&ws, net, SIZE_MAX), MLP_ETOOBIG);
	ck_assert_int_eq(mlp_workspace_place(&ws, net, 4, NULL, 100000), MLP_ENULL);
	ck_assert_int_eq(mlp_workspace_place(NULL, net, 4, mem, sizeof(mem)),
			 MLP_ENULL);
	ck_assert_int_eq(mlp_workspace_place(&ws, net, 4, mem, sizeof(mem)),
			 MLP_ESIZE);
	ck_assert_int_eq(mlp_workspace_place(&ws, net, 0, mem, sizeof(mem)),
			 MLP_ESIZE);
	ck_assert_ptr_eq(ws, sentinel);
	ck_assert_uint_eq(mlp_workspace_size(NULL, 4), 0);
	ck_assert_uint_eq(mlp_workspace_size(net, 0), 0);
	ck_assert_uint_eq(mlp_workspace_size(net, SIZE_MAX), 0);
	ck_assert_uint_eq(mlp_workspace_max_batch(NULL), 0);
	mlp_net_free(net);
}
END_TEST

START_TEST(workspace_allocation_failure)
{
	mlp_net *net = small_net(1);
	long k;

	if (!TEST_WRAP) {
		mlp_net_free(net);
		return;
	}
	for (k = 1;; k++) {
		mlp_workspace *sentinel = (mlp_workspace *)(uintptr_t)0x1234;
		mlp_workspace *ws = sentinel;
		mlp_status st;

		alloc_arm(k);
		st = mlp_workspace_create(&ws, net, 16);
		alloc_disarm();
		if (st == MLP_OK) {
			ck_assert_int_eq(alloc_calls(), k - 1);
			mlp_workspace_free(ws);
			break;
		}
		ck_assert_int_eq(st, MLP_ENOMEM);
		ck_assert_ptr_eq(ws, sentinel);
		ck_assert_int_eq(alloc_live(), 0);
	}
	ck_assert_int_ge(k, 2);
	mlp_net_free(net);
}
END_TEST

/* ---- the forward pass on bad input: a status each, Y untouched ---------- */

START_TEST(forward_bad_input)
{
	mlp_net *net = small_net(1), *other = small_net(1);
	mlp_workspace *ws, *other_ws;
	float X[2 * 4] = { 0 }, Y[2 * 3], buf[16] = { 0 };

	ck_assert_int_eq(mlp_workspace_create(&ws, net, 2), MLP_OK);
	ck_assert_int_eq(mlp_workspace_create(&other_ws, other, 2), MLP_OK);
	for (size_t i = 0; i < 6; i++)
		Y[i] = 777.0f;
	ck_assert_int_eq(mlp_forward(NULL, ws, 2, X, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_forward(net, NULL, 2, X, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_forward(net, ws, 2, NULL, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_forward(net, ws, 2, X, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_forward(net, ws, 0, X, Y), MLP_ESIZE);
	/* A workspace made for another network of the same shape. */
	ck_assert_int_eq(mlp_forward(net, other_ws, 2, X, Y), MLP_EWORKSPACE);
	ck_assert_int_eq(mlp_forward(net, ws, SIZE_MAX / 4, X, Y), MLP_ETOOBIG);
	/* Y overlapping X. */
	ck_assert_int_eq(mlp_forward(net, ws, 2, buf, buf + 7), MLP_EINVAL);
	for (size_t i = 0; i < 6; i++)
		ck_assert(Y[i] == 777.0f);
	ck_assert_int_eq(mlp_forward(net, ws, 2, buf, buf + 8), MLP_OK);
	/* Y over the network's own weights or biases, and over the
	 * workspace's buffers: refused, the network unchanged. */
	{
		uint64_t h = param_hash(net);
		float *w1 = mlp_net_weights(net, 1), *b0 = mlp_net_bias(net, 0);

		ck_assert_int_eq(mlp_forward(net, ws, 1, X, w1), MLP_EINVAL);
		ck_assert_int_eq(mlp_forward(net, ws, 2, X, b0 + 1), MLP_EINVAL);
		ck_assert_int_eq(mlp_forward(net, ws, 1, X, ws->buf[1] + 1),
				 MLP_EINVAL);
		ck_assert_int_eq(mlp_forward(net, ws, 1, X, ws->buf[0]),
				 MLP_EINVAL);
		ck_assert_uint_eq(param_hash(net), h);
	}
	mlp_workspace_free(ws);
	mlp_workspace_free(other_ws);
	mlp_net_free(net);
	mlp_net_free(other);
}
END_TEST

/* No heap allocation in a forward pass: batch 1, a batch within max_batch,
 * and a batch run in chunks. */
START_TEST(forward_allocates_nothing)
{
	mlp_net *net = small_net(2);
	mlp_workspace *ws;
	float X[9 * 4] = { 0 }, Y[9 * 3];

	ck_assert_int_eq(mlp_workspace_create(&ws, net, 4), MLP_OK);
	ck_assert_int_eq(mlp_forward(net, ws, 9, X, Y), MLP_OK); /* warm-up */
	if (TEST_WRAP) {
		mlp_status st[3];

		/* No Check call while armed: Check allocates to record a
		 * passed assertion. */
		alloc_arm(0);
		st[0] = mlp_forward(net, ws, 1, X, Y);
		st[1] = mlp_forward(net, ws, 3, X, Y);
		st[2] = mlp_forward(net, ws, 9, X, Y);
		alloc_disarm();
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(st[i], MLP_OK);
		ck_assert_int_eq(alloc_calls(), 0);
	}
	mlp_workspace_free(ws);
	mlp_net_free(net);
}
END_TEST

/* ---- threads -------------------------------------------------------------- */

enum { T_THREADS = 4, T_ROUNDS = 25, T_BATCH = 37 };

struct thread_job {
	mlp_net *net;
	const float *X;
	const double *want, *err;
	int failures;
};

static void *thread_run(void *arg)
{
	struct thread_job *job = arg;
	size_t n_out = mlp_net_width(job->net, mlp_net_layers(job->net));
	float *Y = malloc(T_BATCH * n_out * sizeof(float));
	mlp_workspace *ws;

	if (Y == NULL || mlp_workspace_create(&ws, job->net, 16) != MLP_OK) {
		job->failures++;
		free(Y);
		return NULL;
	}
	for (int r = 0; r < T_ROUNDS; r++) {
		/* Alternate the sgemm path (chunks of 16) and the sgemv path. */
		size_t batch = r % 2 ? T_BATCH : 1;
		size_t where;

		if (mlp_forward(job->net, ws, batch, job->X, Y) != MLP_OK ||
		    ref_worst(batch * n_out, Y, job->want, job->err, &where) > 1.0)
			job->failures++;
	}
	mlp_workspace_free(ws);
	free(Y);
	return NULL;
}

/* Several threads share one network, each with its own workspace, and every
 * result stays within the reference bound of the single-threaded answer. */
START_TEST(threads_share_a_network)
{
	static const size_t sizes[] = { 64, 256, 256, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_TANH, MLP_SOFTMAX };
	struct thread_job jobs[T_THREADS];
	pthread_t tid[T_THREADS];
	float X[T_BATCH * 64];
	double want[T_BATCH * 10], err[T_BATCH * 10];
	struct trng g = { 8 };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 8), MLP_OK);
	trng_fill(&g, X, T_BATCH * 64, -1, 1);
	ref_forward(net, T_BATCH, X, want, err);
	for (int t = 0; t < T_THREADS; t++) {
		jobs[t] = (struct thread_job){ net, X, want, err, 0 };
		ck_assert_int_eq(pthread_create(&tid[t], NULL, thread_run, &jobs[t]), 0);
	}
	for (int t = 0; t < T_THREADS; t++) {
		ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
		ck_assert_msg(jobs[t].failures == 0, "thread %d: %d bad results", t,
			      jobs[t].failures);
	}
	mlp_net_free(net);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("forward");
	TCase *hand = tcase_create("networks by hand");
	TCase *rnd = tcase_create("random networks");
	TCase *ws = tcase_create("workspaces");
	TCase *thr = tcase_create("threads");

	tcase_add_test(hand, hand_one_neuron);
	tcase_add_test(hand, hand_three_summed);
	tcase_add_test(hand, hand_two_three_one);
	tcase_add_test(hand, hand_three_hidden);
	suite_add_tcase(s, hand);
	tcase_set_timeout(rnd, 120);
	tcase_add_loop_test(rnd, random_nets_match_reference, 0, N_NETS);
	tcase_add_test(rnd, batch1_agrees_with_batched);
	suite_add_tcase(s, rnd);
	tcase_add_test(ws, placed_workspace);
	tcase_add_test(ws, one_layer_workspace);
	tcase_add_test(ws, workspace_bad_input);
	tcase_add_test(ws, workspace_allocation_failure);
	tcase_add_test(ws, forward_bad_input);
	tcase_add_test(ws, forward_allocates_nothing);
	suite_add_tcase(s, ws);
	tcase_set_timeout(thr, 60);
	tcase_add_test(thr, threads_share_a_network);
	suite_add_tcase(s, thr);
	return run_suite(s);
}
