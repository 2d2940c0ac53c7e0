/*
 * test_plan.c — plans: every kernel of this build, and the planner's
 * plans, against the double reference (fp32 within the float bound, bf16
 * within the bound of bf16 rounding), the choice of kernel, clones shared by threads, snapshots, bad
 * input and allocation. bf16 plans are the part "bf16", oneDNN's threads
 * the part "onednn": each skipped (77) where it cannot run.
 */
#include "support.h"

#include "planner.h"
#include "kernel_fp32.h"
#include "openmp.h"

#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A plan on kernel k alone where it runs every layer at every rung, else
 * with the packed kernel for the layers and rungs it does not. */
static mlp_status plan_on(const struct mlpi_kernel *k, mlp_plan **plan,
			  const mlp_net *net, size_t max_batch)
{
	const struct mlpi_kernel *list[2] = { k, &mlpi_kernel_packed };
	mlp_plan_opts o = mlp_plan_defaults();
	bool everywhere = true;

	for (size_t l = 0; l < net->n_layers; l++)
		for (size_t rows = 1; rows <= max_batch; rows *= 2)
			everywhere &= k->supports(&net->layers[l], rows) &&
				      k->supports(&net->layers[l], max_batch);
	o.precision = k->precision;
	o.max_batch = max_batch;
	return mlpi_plan_create_with(list, everywhere ? 1 : 2, plan, net, &o, NULL);
}

/* ---- networks ------------------------------------------------------------ */

enum { N_FIXED = 5, N_CASES = 12 };

/* The shapes (support.h): fixed ones at the extremes of width, then random
 * ones. */
static struct net_case plan_case(int i)
{
	static const struct net_case fixed[N_FIXED] = {
		{ 1, { 1, 1 }, 64 },
		{ 2, { 1024, 1024, 1024 }, 64 },
		{ 2, { 1, 1024, 1 }, 1 },
		{ 3, { 1024, 1, 1024, 3 }, 5 },
		{ 6, { 7, 300, 2, 64, 1, 33, 10 }, 100 },
	};
	static const size_t max_batches[] = { 64, 1, 5, 64, 200, 37 };

	return net_case_pick(i, fixed, N_FIXED, 4000, max_batches, 6);
}

/* Case i's network. */
static mlp_net *case_net(int i, const struct net_case *c)
{
	return net_case_build(i, c, (uint64_t)i + 7, 91u + (uint64_t)i);
}

/* The plan's outputs at batches 1, 2, 7, 64 and 150 (chunks of max_batch,
 * and sums of ladder rungs) within the reference's bound. */
static void check_plan(mlp_plan *plan, mlp_net *net, bool bf16, int i,
		       const char *engine)
{
	static const size_t batches[] = { 1, 2, 7, 64, 150 };
	size_t n_in = mlp_net_width(net, 0);
	size_t n_out = mlp_net_width(net, mlp_net_layers(net));
	struct trng g = { 55u + (uint64_t)i };

	for (size_t k = 0; k < sizeof(batches) / sizeof(batches[0]); k++) {
		size_t batch = batches[k], where;
		float *X = malloc(batch * n_in * sizeof(float));
		float *Y = malloc(batch * n_out * sizeof(float));
		double *want = malloc(batch * n_out * sizeof(double));
		double *err = malloc(batch * n_out * sizeof(double));
		double worst;

		ck_assert(X && Y && want && err);
		trng_fill(&g, X, batch * n_in, -1, 1);
		ck_assert_int_eq(mlp_plan_forward(plan, batch, X, Y), MLP_OK);
		if (bf16)
			ref_forward_bf16(net, batch, X, want, err);
		else
			ref_forward(net, batch, X, want, err);
		worst = ref_worst(batch * n_out, Y, want, err, &where);
		ck_assert_msg(worst <= 1.0,
			      "case %d on %s (%s), batch %zu: Y[%zu] = %.9g, want "
			      "%.17g ± %.3g", i, engine, mlp_plan_describe(plan),
			      batch, where, (double)Y[where], want[where], err[where]);
		free(X), free(Y), free(want), free(err);
	}
}

/* fp32 on every kernel of this build, and on the plans the planner makes
 * (estimated and measured), within the float bound the forward pass is
 * held to. */
START_TEST(fp32_plans_match_reference)
{
	struct net_case c = plan_case(_i);
	mlp_net *net = case_net(_i, &c);
	size_t n;
	const struct mlpi_kernel *const *list = mlpi_kernels(&n);
	mlp_plan_opts o = mlp_plan_defaults();
	mlp_plan *plan;

	for (size_t e = 0; e < n; e++) {
		if (list[e]->precision != MLP_FP32)
			continue;
		ck_assert_int_eq(plan_on(list[e], &plan, net, c.max_batch), MLP_OK);
		check_plan(plan, net, false, _i, list[e]->name);
		mlp_plan_free(plan);
	}
	o.max_batch = c.max_batch;
	for (int effort = MLP_ESTIMATE; effort <= MLP_MEASURE; effort++) {
		o.effort = (mlp_plan_effort)effort;
		o.time_limit = 0.05;
		ck_assert_int_eq(mlp_plan_create_opts(&plan, net, &o, NULL), MLP_OK);
		check_plan(plan, net, false, _i, "the planner's");
		mlp_plan_free(plan);
	}
	mlp_net_free(net);
}
END_TEST

/* bf16 where the build and the CPU have it, within the bf16 bound. */
START_TEST(bf16_plans_match_reference)
{
	struct net_case c = plan_case(_i);
	mlp_net *net;
	mlp_plan *plan;

	size_t n;
	const struct mlpi_kernel *const *list = mlpi_kernels(&n);
	float w = 0, b = 0;
	struct mlp_layer one = { .n_in = 1, .n_out = 1, .act = MLP_IDENTITY,
				 .W = &w, .b = &b };

	net = case_net(_i, &c);
	ck_assert_int_eq(mlp_plan_create(&plan, net, MLP_BF16, c.max_batch), MLP_OK);
	ck_assert_ptr_nonnull(strstr(mlp_plan_describe(plan), "bf16"));
	check_plan(plan, net, true, _i, "bf16");
	mlp_plan_free(plan);
	for (size_t e = 0; e < n; e++) {
		if (list[e]->precision != MLP_BF16 || !list[e]->supports(&one, 1))
			continue;
		ck_assert_int_eq(plan_on(list[e], &plan, net, c.max_batch), MLP_OK);
		check_plan(plan, net, true, _i, list[e]->name);
		mlp_plan_free(plan);
	}
	mlp_net_free(net);
}
END_TEST

/* ---- the kernel a layer gets ---------------------------------------------- */

/* Whether name is one of mlp_engines()'s. */
static bool listed(const char *name)
{
	const char *all = mlp_engines(), *at = all;
	size_t len = strlen(name);

	while ((at = strstr(at, name)) != NULL) {
		if ((at == all || at[-1] == ' ') && (at[len] == ' ' || at[len] == '\0'))
			return true;
		at += len;
	}
	return false;
}

START_TEST(kernel_choice)
{
	static const size_t tiny[] = { 2, 3, 1 }, large[] = { 784, 256, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	mlp_plan *sentinel = (mlp_plan *)(uintptr_t)0x1234, *plan = sentinel;
	mlp_net *a, *b;

	ck_assert_int_eq(mlp_net_create(&a, 2, tiny, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_create(&b, 2, large, acts), MLP_OK);
	/* A tiny network: a BLAS call, let alone oneDNN's, costs more than
	 * its layers: mlp's own kernel, at the widest the CPU runs. */
	ck_assert_int_eq(mlp_plan_create(&plan, a, MLP_FP32, 8), MLP_OK);
	for (size_t l = 0; l < 2; l++)
		ck_assert_str_eq(mlp_plan_kernel(plan, 1, l), "packed");
	ck_assert_ptr_nonnull(strstr(mlp_plan_describe(plan),
				     mlpi_kfp32_name(mlpi_kfp32_best())));
	ck_assert_ptr_null(mlp_plan_kernel(plan, 1, 2));
	ck_assert_ptr_null(mlp_plan_kernel(plan, 0, 0));
	ck_assert_ptr_null(mlp_plan_kernel(NULL, 1, 0));
	/* Beyond max_batch: the largest rung's. */
	ck_assert_str_eq(mlp_plan_kernel(plan, 1000, 0), mlp_plan_kernel(plan, 8, 0));
	mlp_plan_free(plan);
	/* Any other: a kernel of the list, of the precision, at every rung. */
	ck_assert_int_eq(mlp_plan_create(&plan, b, MLP_FP32, 64), MLP_OK);
	for (size_t rows = 1; rows <= 64; rows++)
		for (size_t l = 0; l < 2; l++) {
			const char *k = mlp_plan_kernel(plan, rows, l);

			ck_assert_msg(k != NULL && listed(k) && strstr(k, "bf16") == NULL,
				      "%zu rows, layer %zu: %s", rows, l, k);
		}
	mlp_plan_free(plan);
	/* bf16: there, or refused, never emulated. */
	plan = sentinel;
	if (mlp_precision_supported(MLP_BF16)) {
		ck_assert_int_eq(mlp_plan_create(&plan, a, MLP_BF16, 8), MLP_OK);
		for (size_t l = 0; l < 2; l++)
			ck_assert_ptr_nonnull(strstr(mlp_plan_kernel(plan, 1, l), "bf16"));
		mlp_plan_free(plan);
	} else {
		ck_assert_int_eq(mlp_plan_create(&plan, a, MLP_BF16, 8), MLP_ENOTSUP);
		ck_assert_ptr_eq(plan, sentinel);
	}
	ck_assert(mlp_precision_supported(MLP_FP32));
	ck_assert(!mlp_precision_supported((mlp_precision)7));
	ck_assert_str_eq(mlp_plan_describe(NULL), "no plan");
	mlp_net_free(a);
	mlp_net_free(b);
}
END_TEST

/* ---- clones shared by threads ------------------------------------------------ */

enum { T_THREADS = 4, T_ROUNDS = 20, T_BATCH = 37 };

struct thread_job {
	mlp_plan *plan;
	const float *X;
	const float *want[2]; /* the single-thread outputs: batch 1, batch */
	size_t n_out;
	int failures;
};

static void *thread_run(void *arg)
{
	struct thread_job *job = arg;
	float *Y = malloc(T_BATCH * job->n_out * sizeof(float));

	if (Y == NULL) {
		job->failures++;
		return NULL;
	}
	for (int r = 0; r < T_ROUNDS; r++) {
		size_t batch = r % 2 ? T_BATCH : 1;

		if (mlp_plan_forward(job->plan, batch, job->X, Y) != MLP_OK ||
		    memcmp(Y, job->want[r % 2], batch * job->n_out * sizeof(float)) != 0)
			job->failures++;
	}
	free(Y);
	return NULL;
}

/* Four threads, each with a clone of one plan: each gets the plan's
 * single-thread outputs, bit for bit; the clones outlive the original. */
START_TEST(clones_share_across_threads)
{
	static const size_t sizes[] = { 64, 256, 256, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_TANH, MLP_SOFTMAX };
	mlp_precision prec = _i == 0 ? MLP_FP32 : MLP_BF16;
	struct thread_job jobs[T_THREADS];
	pthread_t tid[T_THREADS];
	float X[T_BATCH * 64], want1[10], want[T_BATCH * 10];
	struct trng g = { 8 };
	mlp_plan *plan;
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 8), MLP_OK);
	trng_fill(&g, X, T_BATCH * 64, -1, 1);
	ck_assert_int_eq(mlp_plan_create(&plan, net, prec, 16), MLP_OK);
	ck_assert_int_eq(mlp_plan_forward(plan, 1, X, want1), MLP_OK);
	ck_assert_int_eq(mlp_plan_forward(plan, T_BATCH, X, want), MLP_OK);
	for (int t = 0; t < T_THREADS; t++) {
		jobs[t] = (struct thread_job){ NULL, X, { want1, want }, 10, 0 };
		ck_assert_int_eq(mlp_plan_clone(&jobs[t].plan, plan), MLP_OK);
		ck_assert_str_eq(mlp_plan_describe(jobs[t].plan), mlp_plan_describe(plan));
	}
	mlp_plan_free(plan);
	mlp_net_free(net);
	for (int t = 0; t < T_THREADS; t++)
		ck_assert_int_eq(pthread_create(&tid[t], NULL, thread_run, &jobs[t]), 0);
	for (int t = 0; t < T_THREADS; t++) {
		ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
		ck_assert_msg(jobs[t].failures == 0, "thread %d: %d results differ",
			      t, jobs[t].failures);
		mlp_plan_free(jobs[t].plan);
	}
}
END_TEST

/* ---- a snapshot -------------------------------------------------------------- */

/* Weights changed after the plan was made do not reach it, and the
 * network may go first. */
START_TEST(plan_is_a_snapshot)
{
	static const size_t sizes[] = { 300, 100, 5 };
	static const mlp_act acts[] = { MLP_GELU, MLP_IDENTITY };
	mlp_precision prec = _i == 0 ? MLP_FP32 : MLP_BF16;
	float X[3 * 300], before[15], after[15];
	struct trng g = { 2 };
	mlp_plan *plan;
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 1), MLP_OK);
	trng_fill(&g, X, 3 * 300, -1, 1);
	ck_assert_int_eq(mlp_plan_create(&plan, net, prec, 4), MLP_OK);
	ck_assert_int_eq(mlp_plan_forward(plan, 3, X, before), MLP_OK);
	mlp_net_weights(net, 0)[0] += 100.0f;
	mlp_net_bias(net, 1)[0] += 1.0f;
	mlp_net_free(net);
	ck_assert_int_eq(mlp_plan_forward(plan, 3, X, after), MLP_OK);
	ck_assert_mem_eq(before, after, sizeof(before));
	mlp_plan_free(plan);
}
END_TEST

/* ---- bad input, allocation ---------------------------------------------------- */

static mlp_net *small_net(void)
{
	static const size_t sizes[] = { 4, 8, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 3), MLP_OK);
	return net;
}

START_TEST(plan_bad_input)
{
	mlp_net *net = small_net();
	mlp_plan *sentinel = (mlp_plan *)(uintptr_t)0x1234, *plan = sentinel, *ok;
	float X[2 * 4] = { 0 }, Y[2 * 3], buf[16] = { 0 };

	ck_assert_int_eq(mlp_plan_create(NULL, net, MLP_FP32, 4), MLP_ENULL);
	ck_assert_int_eq(mlp_plan_create(&plan, NULL, MLP_FP32, 4), MLP_ENULL);
	ck_assert_int_eq(mlp_plan_create(&plan, net, (mlp_precision)7, 4), MLP_EINVAL);
	ck_assert_int_eq(mlp_plan_create(&plan, net, MLP_FP32, 0), MLP_ESIZE);
	ck_assert_int_eq(mlp_plan_create(&plan, net, MLP_FP32,
					 (size_t)MLP_MAX_BATCH + 1), MLP_ETOOBIG);
	ck_assert_int_eq(mlp_plan_clone(&plan, NULL), MLP_ENULL);
	ck_assert_ptr_eq(plan, sentinel);
	ck_assert_int_eq(mlp_plan_create(&ok, net, MLP_FP32, 2), MLP_OK);
	ck_assert_int_eq(mlp_plan_clone(NULL, ok), MLP_ENULL);
	for (size_t i = 0; i < 6; i++)
		Y[i] = 777.0f;
	ck_assert_int_eq(mlp_plan_forward(NULL, 2, X, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_plan_forward(ok, 2, NULL, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_plan_forward(ok, 2, X, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_plan_forward(ok, 0, X, Y), MLP_ESIZE);
	ck_assert_int_eq(mlp_plan_forward(ok, SIZE_MAX / 4, X, Y), MLP_ETOOBIG);
	ck_assert_int_eq(mlp_plan_forward(ok, 2, buf, buf + 7), MLP_EINVAL);
	for (size_t i = 0; i < 6; i++)
		ck_assert(Y[i] == 777.0f);
	ck_assert_int_eq(mlp_plan_forward(ok, 2, buf, buf + 8), MLP_OK);
	mlp_plan_free(ok);
	mlp_plan_free(NULL);
	mlp_net_free(net);
}
END_TEST

/* No heap allocation of mlp's in a plan's forward pass: batch 1, a batch
 * within max_batch, and one in chunks. */
START_TEST(plan_forward_allocates_nothing)
{
	mlp_precision prec = _i == 0 ? MLP_FP32 : MLP_BF16;
	static const size_t sizes[] = { 200, 300, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	float X[9 * 200] = { 0 }, Y[9 * 10];
	mlp_status st[3];
	mlp_plan *plan;
	mlp_net *net;

	if (!TEST_WRAP)
		return;
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_plan_create(&plan, net, prec, 4), MLP_OK);
	ck_assert_int_eq(mlp_plan_forward(plan, 9, X, Y), MLP_OK); /* warm-up */
	alloc_arm(0);
	st[0] = mlp_plan_forward(plan, 1, X, Y);
	st[1] = mlp_plan_forward(plan, 3, X, Y);
	st[2] = mlp_plan_forward(plan, 9, X, Y);
	alloc_disarm();
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(st[i], MLP_OK);
	ck_assert_int_eq(alloc_calls(), 0);
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

/* A kernel that fails in its run from the third layer it runs on, the
 * CBLAS kernel otherwise: how many layers it was given. */
static atomic_int failing_runs;

static mlp_status failing_run(const void *packed, void *ctx, size_t rung,
			      size_t rows, const float *X, float *Y)
{
	if (atomic_fetch_add(&failing_runs, 1) >= 2)
		return MLP_ENOMEM;
	return mlpi_kernel_cblas.run(packed, ctx, rung, rows, X, Y);
}

/* A kernel's failure in a forward pass is the pass's status, and no layer
 * runs after it. */
START_TEST(kernel_failure_returned)
{
	static const size_t sizes[] = { 5, 7, 3 };
	static const mlp_act acts[] = { MLP_TANH, MLP_IDENTITY };
	struct mlpi_kernel failing = mlpi_kernel_cblas;
	float X[10 * 5] = { 0 }, Y[10 * 3];
	mlp_plan *plan;
	mlp_net *net;

	failing.run = failing_run;
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(plan_on(&failing, &plan, net, 4), MLP_OK);
	ck_assert_str_eq(mlp_plan_kernel(plan, 4, 1), "cblas");
	atomic_store(&failing_runs, 0);
	ck_assert_int_eq(mlp_plan_forward(plan, 4, X, Y), MLP_OK);
	ck_assert_int_eq(mlp_plan_forward(plan, 10, X, Y), MLP_ENOMEM);
	ck_assert_int_eq(atomic_load(&failing_runs), 3); /* none after it */
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

/* The kernels are one list: mlp_engines() names each, and a precision is
 * supported exactly where one of them runs it at any batch. */
START_TEST(one_list_of_kernels)
{
	size_t n;
	const struct mlpi_kernel *const *list = mlpi_kernels(&n);
	char names[256] = "";
	float w = 0, b = 0;
	struct mlp_layer one = { .n_in = 1, .n_out = 1, .act = MLP_IDENTITY,
				 .W = &w, .b = &b };

	ck_assert_uint_ge(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (names[0] != '\0')
			strcat(names, " ");
		strcat(names, list[i]->name);
	}
	ck_assert_str_eq(mlp_engines(), names);
	for (int p = MLP_FP32; p <= MLP_BF16; p++) {
		int any = 0;

		for (size_t i = 0; i < n; i++)
			any |= list[i]->precision == (mlp_precision)p &&
			       list[i]->supports(&one, 1) && list[i]->supports(&one, 64);
		ck_assert_int_eq(mlp_precision_supported((mlp_precision)p), any);
	}
	ck_assert(mlp_precision_supported(MLP_FP32));
}
END_TEST

/* A failure at each of mlp's allocations in creating a plan on each kernel,
 * and in cloning one: MLP_ENOMEM, nothing left behind. */
START_TEST(plan_allocation_failure)
{
	static const size_t sizes[] = { 100, 300, 10 };
	static const mlp_act acts[] = { MLP_TANH, MLP_SOFTMAX };
	mlp_net *net;
	long k;
	size_t n_kernels;
	const struct mlpi_kernel *const *kernels = mlpi_kernels(&n_kernels);

	if (!TEST_WRAP)
		return;
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	for (size_t e = 0; e <= n_kernels; e++) {
		mlp_plan *plan = NULL, *copy;
		mlp_plan_opts o = mlp_plan_defaults();

		o.max_batch = 8;
		if (e < n_kernels && kernels[e]->precision != MLP_FP32)
			continue;

		for (k = 1;; k++) {
			mlp_status st;
			long live;

			alloc_arm(k);
			/* Each kernel alone, then the planner's choice. */
			st = e < n_kernels ? plan_on(kernels[e], &plan, net, 8)
					   : mlp_plan_create_opts(&plan, net, &o, NULL);
			live = alloc_live();
			alloc_disarm();
			if (st == MLP_OK)
				break;
			ck_assert_int_eq(st, MLP_ENOMEM);
			ck_assert_int_eq(live, 0);
		}
		ck_assert_int_ge(k, 3);
		for (k = 1;; k++) {
			mlp_status st;
			long live;

			copy = NULL;
			alloc_arm(k);
			st = mlp_plan_clone(&copy, plan);
			live = alloc_live();
			alloc_disarm();
			if (st == MLP_OK)
				break;
			ck_assert_int_eq(st, MLP_ENOMEM);
			ck_assert_ptr_null(copy);
			ck_assert_int_eq(live, 0);
		}
		ck_assert_int_ge(k, 2);
		mlp_plan_free(plan);
		mlp_plan_free(copy);
	}
	mlp_net_free(net);
}
END_TEST

/* ---- the planner ---------------------------------------------------------- */

/* A kernel that claims to cost nothing and is slow: the CBLAS kernel after
 * a wait of 300 µs. */
static double free_cost(const struct mlp_layer *layer, size_t rows, int threads)
{
	(void)layer, (void)rows, (void)threads;
	return 0.0;
}

static mlp_status slow_run(const void *packed, void *ctx, size_t rung,
			   size_t rows, const float *X, float *Y)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) <
	       300000L);
	return mlpi_kernel_cblas.run(packed, ctx, rung, rows, X, Y);
}

static struct mlpi_kernel slow_kernel(void)
{
	struct mlpi_kernel k = mlpi_kernel_cblas;

	k.name = "slow";
	k.cost = free_cost;
	k.run = slow_run;
	return k;
}

static mlp_net *planner_net(void)
{
	static const size_t sizes[] = { 20, 30, 4 };
	static const mlp_act acts[] = { MLP_TANH, MLP_SOFTMAX };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 5), MLP_OK);
	return net;
}

/* The estimate believes the slow kernel's cost model; the measurement
 * does not, and its wisdom then steers the estimate too. */
START_TEST(slow_kernel_not_measured)
{
	struct mlpi_kernel slow = slow_kernel();
	const struct mlpi_kernel *list[] = { &slow, &mlpi_kernel_packed };
	mlp_plan_opts o = mlp_plan_defaults();
	mlp_net *net = planner_net();
	mlp_plan *plan;

	mlp_wisdom_forget();
	o.max_batch = 8;
	ck_assert_int_eq(mlpi_plan_create_with(list, 2, &plan, net, &o, NULL), MLP_OK);
	ck_assert_str_eq(mlp_plan_kernel(plan, 1, 0), "slow");
	mlp_plan_free(plan);
	o.effort = MLP_MEASURE;
	ck_assert_int_eq(mlpi_plan_create_with(list, 2, &plan, net, &o, NULL), MLP_OK);
	for (size_t rows = 1; rows <= 8; rows++)
		for (size_t l = 0; l < 2; l++)
			ck_assert_str_eq(mlp_plan_kernel(plan, rows, l), "packed");
	ck_assert_ptr_nonnull(strstr(mlp_plan_describe(plan), "measure"));
	mlp_plan_free(plan);
	o.effort = MLP_ESTIMATE;
	ck_assert_int_eq(mlpi_plan_create_with(list, 2, &plan, net, &o, NULL), MLP_OK);
	ck_assert_str_eq(mlp_plan_kernel(plan, 1, 0), "packed");
	mlp_plan_free(plan);
	mlp_wisdom_forget();
	mlp_net_free(net);
}
END_TEST

/* The wisdom as text. */
static char *export_text(void)
{
	size_t len = 0;
	char *text;

	ck_assert_int_eq(mlp_wisdom_export(NULL, 0, &len), MLP_ESIZE);
	text = malloc(len + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(mlp_wisdom_export(text, len + 1, NULL), MLP_OK);
	ck_assert_uint_eq(strlen(text), len);
	return text;
}

/* Exported, forgotten, imported: the same text, and plans follow it. */
START_TEST(wisdom_round_trip)
{
	struct mlpi_kernel slow = slow_kernel();
	const struct mlpi_kernel *list[] = { &slow, &mlpi_kernel_packed };
	mlp_plan_opts o = mlp_plan_defaults();
	mlp_net *net = planner_net();
	char *text, *again, small[8] = "unset";
	size_t len;
	mlp_plan *plan;
	mlp_msg msg;

	mlp_wisdom_forget();
	o.max_batch = 4;
	o.effort = MLP_MEASURE;
	ck_assert_int_eq(mlpi_plan_create_with(list, 2, &plan, net, &o, NULL), MLP_OK);
	mlp_plan_free(plan);
	text = export_text();
	ck_assert_ptr_nonnull(strstr(text, "fp32 20 30 tanh 4 "));
	ck_assert_ptr_nonnull(strstr(text, " packed "));
	/* Too small a buffer: the length, the buffer untouched. */
	ck_assert_int_eq(mlp_wisdom_export(small, sizeof(small), &len), MLP_ESIZE);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_str_eq(small, "unset");
	mlp_wisdom_forget();
	o.effort = MLP_ESTIMATE;
	ck_assert_int_eq(mlpi_plan_create_with(list, 2, &plan, net, &o, NULL), MLP_OK);
	ck_assert_str_eq(mlp_plan_kernel(plan, 4, 1), "slow");
	mlp_plan_free(plan);
	ck_assert_int_eq(mlp_wisdom_import(text, strlen(text), &msg), MLP_OK);
	again = export_text();
	ck_assert_str_eq(again, text);
	ck_assert_int_eq(mlpi_plan_create_with(list, 2, &plan, net, &o, NULL), MLP_OK);
	for (size_t rows = 1; rows <= 4; rows++)
		ck_assert_str_eq(mlp_plan_kernel(plan, rows, 1), "packed");
	mlp_plan_free(plan);
	free(text), free(again);
	mlp_wisdom_forget();
	mlp_net_free(net);
}
END_TEST

/* Wisdom of another CPU or version is taken without error and ignored. */
START_TEST(stale_wisdom_ignored)
{
	static const char *const other[] = {
		"cpu=OtherVendor/1/2/base mlp=0.0.1 blas=x onednn=none",
		NULL, /* this machine but another mlp version */
	};
	struct mlpi_kernel slow = slow_kernel();
	const struct mlpi_kernel *list[] = { &slow, &mlpi_kernel_packed };
	mlp_plan_opts o = mlp_plan_defaults();
	mlp_net *net = planner_net();
	char *ours, text[2048], machine[1024];
	mlp_plan *plan;

	mlp_wisdom_forget();
	ours = export_text(); /* the machine line alone */
	ck_assert(sscanf(ours, "mlp-wisdom 1\nmachine %1023[^\n]", machine) == 1);
	for (int v = 0; v < 2; v++) {
		char key[1100];
		const char *at = strstr(machine, " mlp=");

		if (other[v] != NULL)
			snprintf(key, sizeof(key), "%s", other[v]);
		else
			snprintf(key, sizeof(key), "%.*s mlp=99.0.0%s",
				 (int)(at - machine), machine, strchr(at + 1, ' '));
		snprintf(text, sizeof(text), "mlp-wisdom 1\nmachine %s\n"
			 "fp32 20 30 tanh 1 %d 0 packed 1.0\n"
			 "fp32 30 4 softmax 1 %d 0 packed 1.0\nend\n", key,
			 mlpi_kernel_threads(0), mlpi_kernel_threads(0));
		ck_assert_int_eq(mlp_wisdom_import(text, strlen(text), NULL), MLP_OK);
		o.max_batch = 1;
		ck_assert_int_eq(mlpi_plan_create_with(list, 2, &plan, net, &o, NULL),
				 MLP_OK);
		ck_assert_str_eq(mlp_plan_kernel(plan, 1, 0), "slow");
		mlp_plan_free(plan);
	}
	/* The same entries under this machine's line are followed. */
	snprintf(text, sizeof(text), "mlp-wisdom 1\nmachine %s\n"
		 "fp32 20 30 tanh 1 %d 0 packed 1.0\nend\n", machine,
		 mlpi_kernel_threads(0));
	ck_assert_int_eq(mlp_wisdom_import(text, strlen(text), NULL), MLP_OK);
	ck_assert_int_eq(mlpi_plan_create_with(list, 2, &plan, net, &o, NULL), MLP_OK);
	ck_assert_str_eq(mlp_plan_kernel(plan, 1, 0), "packed");
	ck_assert_str_eq(mlp_plan_kernel(plan, 1, 1), "slow");
	mlp_plan_free(plan);
	free(ours);
	mlp_wisdom_forget();
	mlp_net_free(net);
}
END_TEST

/* Malformed or truncated wisdom is refused whole, with the line named, and
 * what was there stays. */
START_TEST(bad_wisdom_refused)
{
	static const char *const bad[] = {
		"",
		"mlp-wisdom 2\nend\n",
		"fp32 1 1 relu 1 1 0 packed 1\nend\n",
		"mlp-wisdom 1\nfp32 1 1 relu 1 1 0 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp16 1 1 relu 1 1 0 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 0 1 relu 1 1 0 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 -1 relu 1 1 0 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relux 1 1 0 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 0 1 0 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 1 0 0 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 1 1 2 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 1 1 0 Packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 1 1 0 packed -1\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 1 1 0 packed nan\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 1 1 0 packed 1e999\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 1 1 0 packed\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 1 1 relu 1 1 0 packed 1 x\nend\n",
		"mlp-wisdom 1\nmachine x\nfp32 99999999999 1 relu 1 1 0 packed 1\nend\n",
		"mlp-wisdom 1\nmachine x\nend\nfp32 1 1 relu 1 1 0 packed 1\n",
	};
	const char good[] = "mlp-wisdom 1\nmachine x\n"
			    "fp32 3 4 relu 8 2 1 packed 0.5\nend\n";
	char *before, *after;
	mlp_msg msg;

	mlp_wisdom_forget();
	before = export_text();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg.text[0] = '\0';
		ck_assert_msg(mlp_wisdom_import(bad[i], strlen(bad[i]), &msg) ==
				      MLP_EFORMAT, "case %zu taken", i);
		ck_assert_msg(strstr(msg.text, "wisdom line") != NULL, "case %zu: %s",
			      i, msg.text);
	}
	/* Every truncation of good text, down to the closing "end". */
	for (size_t n = 0; n + 4 < sizeof(good) - 1; n++)
		ck_assert_msg(mlp_wisdom_import(good, n, &msg) == MLP_EFORMAT,
			      "%zu bytes taken", n);
	ck_assert_int_eq(mlp_wisdom_import("mlp-wisdom 1\nend\0", 17, &msg),
			 MLP_EFORMAT);
	ck_assert_int_eq(mlp_wisdom_import(NULL, 1, &msg), MLP_ENULL);
	after = export_text();
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(mlp_wisdom_import(good, sizeof(good) - 1, &msg), MLP_OK);
	ck_assert_int_eq(mlp_wisdom_import(good, sizeof(good) - 2, &msg), MLP_OK);
	free(before), free(after);
}
END_TEST

/* A batch-invariant plan: each row's outputs the same bits alone and in
 * batches of every size, with narrow layers, wide ones, and chunks. */
START_TEST(batch_invariant_bits)
{
	static const size_t shapes[][5] = {
		{ 2, 8, 8, 1, 0 }, { 64, 64, 64, 64, 10 }, { 300, 257, 3, 0, 0 },
	};
	static const mlp_act acts[] = { MLP_RELU, MLP_TANH, MLP_GELU, MLP_SOFTMAX };
	const size_t *sz = shapes[_i];
	size_t n_layers = sz[4] ? 4 : sz[3] ? 3 : 2, n_in = sz[0];
	size_t n_out = sz[n_layers];
	mlp_plan_opts o = mlp_plan_defaults();
	enum { ROWS = 150 };
	float *X = malloc(ROWS * n_in * sizeof(float));
	float *alone = malloc(ROWS * n_out * sizeof(float));
	float *Y = malloc(ROWS * n_out * sizeof(float));
	struct trng g = { 31 };
	mlp_act a[4];
	mlp_plan *plan;
	mlp_net *net;

	ck_assert(X && alone && Y);
	for (size_t l = 0; l < n_layers; l++)
		a[l] = acts[(l + (size_t)_i) % 3];
	ck_assert_int_eq(mlp_net_create(&net, n_layers, sz, a), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 9), MLP_OK);
	trng_fill(&g, X, ROWS * n_in, -2, 2);
	o.max_batch = 64;
	o.flags = MLP_PLAN_BATCH_INVARIANT;
	ck_assert_int_eq(mlp_plan_create_opts(&plan, net, &o, NULL), MLP_OK);
	ck_assert_ptr_nonnull(strstr(mlp_plan_describe(plan), "batch-invariant"));
	for (size_t r = 0; r < ROWS; r++)
		ck_assert_int_eq(mlp_plan_forward(plan, 1, X + r * n_in,
						  alone + r * n_out), MLP_OK);
	for (size_t batch = 2; batch <= ROWS; batch += batch < 20 ? 1 : 13) {
		ck_assert_int_eq(mlp_plan_forward(plan, batch, X, Y), MLP_OK);
		ck_assert_msg(memcmp(Y, alone, batch * n_out * sizeof(float)) == 0,
			      "shape %d, batch %zu: a row differs from itself alone",
			      _i, batch);
	}
	for (size_t l = 0; l < n_layers; l++)
		ck_assert_str_eq(mlp_plan_kernel(plan, 64, l), "packed");
	mlp_plan_free(plan);
	free(X), free(alone), free(Y);
	mlp_net_free(net);
}
END_TEST

/* Options out of range are refused, naming the field. */
START_TEST(plan_opts_refused)
{
	mlp_net *net = small_net();
	mlp_plan *sentinel = (mlp_plan *)(uintptr_t)0x1234, *plan = sentinel;
	mlp_plan_opts o;
	mlp_msg msg;
	ck_assert_int_eq(mlp_plan_opts_init(NULL, sizeof(o)), MLP_ENULL);
	ck_assert_int_eq(mlp_plan_opts_init(&o, sizeof(o) + 8), MLP_EINVAL);
	o = mlp_plan_defaults();
	ck_assert_uint_eq(o.struct_size, sizeof(o));
	ck_assert_int_eq(o.precision, MLP_FP32);
	ck_assert_int_eq(o.effort, MLP_ESTIMATE);
	ck_assert_uint_eq(o.max_batch, 256);
	ck_assert(o.time_limit == 1.0);
#define REFUSED(field, value, status, word)                                      \
	do {                                                                     \
		o = mlp_plan_defaults();                                         \
		o.field = value;                                                 \
		msg.text[0] = '\0';                                              \
		ck_assert_int_eq(mlp_plan_create_opts(&plan, net, &o, &msg), status); \
		ck_assert_msg(strstr(msg.text, word) != NULL, "%s", msg.text);   \
		ck_assert_ptr_eq(plan, sentinel);                                \
	} while (0)
	REFUSED(struct_size, 8, MLP_EINVAL, "struct_size");
	REFUSED(precision, (mlp_precision)9, MLP_EINVAL, "precision");
	REFUSED(max_batch, 0, MLP_ESIZE, "max_batch");
	REFUSED(max_batch, (size_t)MLP_MAX_BATCH + 1, MLP_ETOOBIG, "max_batch");
	REFUSED(effort, (mlp_plan_effort)5, MLP_EINVAL, "effort");
	REFUSED(flags, 6u, MLP_EINVAL, "flags");
	REFUSED(threads, -1, MLP_EINVAL, "threads");
	REFUSED(time_limit, -1.0, MLP_EINVAL, "time_limit");
	REFUSED(time_limit, NAN, MLP_EINVAL, "time_limit");
#undef REFUSED
	ck_assert_int_eq(mlp_plan_create_opts(&plan, net, NULL, &msg), MLP_ENULL);
	mlp_net_free(net);
}
END_TEST

/* mlp_set_threads sets oneDNN's OpenMP threads too, and a refused count
 * changes nothing. */
#if defined(MLP_HAVE_ONEDNN)
START_TEST(set_threads_reaches_openmp)
{
	int before = mlpi_openmp_threads();

	mlp_set_threads(3);
	ck_assert_int_eq(mlpi_openmp_threads(), 3);
	ck_assert_int_eq(mlp_set_threads(0), MLP_EINVAL);
	ck_assert_int_eq(mlpi_openmp_threads(), 3);
	mlp_set_threads(before);
	ck_assert_int_eq(mlpi_openmp_threads(), before);
}
END_TEST
#endif

/* The part "bf16": plans in bf16, where the build and the CPU have it. */
static int bf16_part(void)
{
	Suite *s;
	TCase *ref, *use;

	if (!mlp_precision_supported(MLP_BF16))
		return test_skip("this build or CPU has no native bf16 (oneDNN "
				 "with AVX512_BF16 or AMX)");
	s = suite_create("plan bf16");
	ref = tcase_create("reference");
	use = tcase_create("use");
	tcase_set_timeout(ref, 120);
	tcase_add_loop_test(ref, bf16_plans_match_reference, 0, N_CASES);
	suite_add_tcase(s, ref);
	tcase_set_timeout(use, 60);
	tcase_add_loop_test(use, clones_share_across_threads, 1, 2);
	tcase_add_loop_test(use, plan_is_a_snapshot, 1, 2);
	tcase_add_loop_test(use, plan_forward_allocates_nothing, 1, 2);
	suite_add_tcase(s, use);
	return run_suite(s);
}

/* The part "onednn": oneDNN's OpenMP threads, in a build with it. */
static int onednn_part(void)
{
#if defined(MLP_HAVE_ONEDNN)
	Suite *s = suite_create("plan onednn");
	TCase *use = tcase_create("use");

	tcase_add_test(use, set_threads_reaches_openmp);
	suite_add_tcase(s, use);
	return run_suite(s);
#else
	return test_skip("this build has no oneDNN (libdnnl-dev)");
#endif
}

int main(int argc, char **argv)
{
	Suite *s;
	TCase *ref, *use;

	if (test_part(argc, argv, "bf16"))
		return bf16_part();
	if (test_part(argc, argv, "onednn"))
		return onednn_part();
	s = suite_create("plan");
	ref = tcase_create("reference");
	use = tcase_create("use");
	tcase_set_timeout(ref, 120);
	tcase_add_loop_test(ref, fp32_plans_match_reference, 0, N_CASES);
	suite_add_tcase(s, ref);
	tcase_set_timeout(use, 60);
	tcase_add_test(use, kernel_choice);
	tcase_add_loop_test(use, clones_share_across_threads, 0, 1);
	tcase_add_loop_test(use, plan_is_a_snapshot, 0, 1);
	tcase_add_test(use, plan_bad_input);
	tcase_add_loop_test(use, plan_forward_allocates_nothing, 0, 1);
	tcase_add_test(use, plan_allocation_failure);
	tcase_add_test(use, kernel_failure_returned);
	tcase_add_test(use, one_list_of_kernels);
	tcase_add_test(use, slow_kernel_not_measured);
	tcase_add_test(use, wisdom_round_trip);
	tcase_add_test(use, stale_wisdom_ignored);
	tcase_add_test(use, bad_wisdom_refused);
	tcase_add_loop_test(use, batch_invariant_bits, 0, 3);
	tcase_add_test(use, plan_opts_refused);
	suite_add_tcase(s, use);
	return run_suite(s);
}
