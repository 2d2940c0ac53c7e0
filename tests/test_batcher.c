/* test_batcher.c — the batcher: requests from many threads, batched. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "support.h"

#include "net.h"
#include "planner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N_IN = 13, N_HID = 37, N_OUT = 5 };

static mlp_net *small_net(void)
{
	static const size_t sizes[] = { N_IN, N_HID, N_OUT };
	static const mlp_act acts[] = { MLP_TANH, MLP_SOFTMAX };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 11), MLP_OK);
	return net;
}

static mlp_plan *plan_of(const mlp_net *net, size_t max_batch, unsigned flags)
{
	mlp_plan_opts o = mlp_plan_defaults();
	mlp_plan *plan;

	o.max_batch = max_batch;
	o.flags = flags;
	ck_assert_int_eq(mlp_plan_create_opts(&plan, net, &o, NULL), MLP_OK);
	return plan;
}

/* Row i of the inputs: values of its own. */
static void fill_row(float *x, size_t i)
{
	for (size_t j = 0; j < N_IN; j++)
		x[j] = (float)(((i * 7919 + j * 104729) % 2001) / 1000.0 - 1.0);
}

/* ---- many threads, each sending requests of 1 to 4 rows -------------- */

enum { THREADS = 24, REQUESTS = 60, ROWS_AT_MOST = 4 };

struct client {
	mlp_batcher *b;
	int id;
	float X[REQUESTS][ROWS_AT_MOST * N_IN];
	float Y[REQUESTS][ROWS_AT_MOST * N_OUT];
	size_t rows[REQUESTS];
	mlp_status st[REQUESTS];
};

static void *client_run(void *arg)
{
	struct client *c = arg;

	for (int r = 0; r < REQUESTS; r++) {
		c->rows[r] = 1 + (size_t)(c->id + r) % ROWS_AT_MOST;
		for (size_t i = 0; i < c->rows[r]; i++)
			fill_row(c->X[r] + i * N_IN,
				 ((size_t)c->id * REQUESTS + (size_t)r) * 8 + i);
		c->st[r] = mlp_batcher_run(c->b, c->rows[r], c->X[r], c->Y[r]);
	}
	return NULL;
}

/* Every request's outputs: within the float bound of the double reference
 * (any plan), or the same bits as the request run alone on the plan (a
 * batch-invariant one). */
static void check_clients(struct client *cs, mlp_net *net, mlp_plan *plan,
			  bool invariant)
{
	for (int t = 0; t < THREADS; t++)
		for (int r = 0; r < REQUESTS; r++) {
			struct client *c = &cs[t];
			size_t rows = c->rows[r];
			double want[ROWS_AT_MOST * N_OUT], err[ROWS_AT_MOST * N_OUT];
			float alone[ROWS_AT_MOST * N_OUT];
			size_t where;

			ck_assert_int_eq(c->st[r], MLP_OK);
			ref_forward(net, rows, c->X[r], want, err);
			ck_assert_double_le(ref_worst(rows * N_OUT, c->Y[r], want,
						      err, &where), 1.0);
			if (!invariant)
				continue;
			ck_assert_int_eq(mlp_plan_forward(plan, rows, c->X[r], alone),
					 MLP_OK);
			ck_assert_mem_eq(alone, c->Y[r], rows * N_OUT * sizeof(float));
		}
}

static void many_threads(unsigned flags, unsigned workers)
{
	mlp_net *net = small_net();
	mlp_plan *plan = plan_of(net, 16, flags);
	mlp_batcher_opts o = mlp_batcher_defaults();
	struct client *cs = calloc(THREADS, sizeof(*cs));
	pthread_t th[THREADS];
	mlp_batch_stats s;
	mlp_batcher *b;
	size_t rows = 0, batches = 0;

	ck_assert_ptr_nonnull(cs);
	o.max_delay_us = 300;
	o.workers = workers;
	ck_assert_int_eq(mlp_batcher_create(&b, plan, &o, NULL), MLP_OK);
	for (int t = 0; t < THREADS; t++) {
		cs[t].b = b;
		cs[t].id = t;
		ck_assert_int_eq(pthread_create(&th[t], NULL, client_run, &cs[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	ck_assert_int_eq(mlp_batcher_stats(b, &s, sizeof(s)), MLP_OK);
	mlp_batcher_free(b);
	check_clients(cs, net, plan, flags & MLP_PLAN_BATCH_INVARIANT);
	for (int t = 0; t < THREADS; t++)
		for (int r = 0; r < REQUESTS; r++)
			rows += cs[t].rows[r];
	for (int i = 0; i < 17; i++)
		batches += s.batches_by_rows[i];
	ck_assert_uint_eq(s.requests, THREADS * REQUESTS);
	ck_assert_uint_eq(s.rows, rows);
	ck_assert_uint_eq(s.batches, batches);
	ck_assert_uint_eq(s.refused, 0);
	ck_assert_uint_eq(s.failed, 0);
	/* 24 threads at once: requests share batches */
	ck_assert_uint_lt(s.batches, s.requests);
	ck_assert_double_eq_tol(s.mean_batch, (double)s.rows / (double)s.batches,
				1e-9);
	ck_assert_double_le(s.wait_p50_us, s.wait_p99_us);
	ck_assert_double_le(s.run_p50_us, s.run_p99_us);
	ck_assert_double_gt(s.run_p50_us, 0);
	free(cs);
	mlp_plan_free(plan);
	mlp_net_free(net);
}

START_TEST(many_threads_one_worker)
{
	many_threads(0, 1);
}
END_TEST

START_TEST(many_threads_three_workers)
{
	many_threads(0, 3);
}
END_TEST

START_TEST(many_threads_invariant_bits)
{
	many_threads(MLP_PLAN_BATCH_INVARIANT, 2);
}
END_TEST

/* ---- submit: callbacks, drain on free, a full queue ------------------ */

struct done_log {
	atomic_int calls;
	atomic_int bad;
};

static void count_done(void *user, mlp_status st)
{
	struct done_log *log = user;

	if (st != MLP_OK)
		atomic_fetch_add(&log->bad, 1);
	atomic_fetch_add(&log->calls, 1);
}

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Requests waiting for companions that will never come (a delay of 10 s)
 * are run by mlp_batcher_free, at once, each called back once. */
START_TEST(free_drains_the_queue)
{
	enum { N = 40 };
	mlp_net *net = small_net();
	mlp_plan *plan = plan_of(net, 64, 0);
	mlp_batcher_opts o = mlp_batcher_defaults();
	float X[N][N_IN], Y[N][N_OUT];
	struct done_log log = { 0, 0 };
	mlp_batcher *b;
	double t0;

	o.max_delay_us = 10000000;
	ck_assert_int_eq(mlp_batcher_create(&b, plan, &o, NULL), MLP_OK);
	for (int i = 0; i < N; i++) {
		fill_row(X[i], (size_t)i);
		memset(Y[i], 0xff, sizeof(Y[i])); /* NaN until written */
		ck_assert_int_eq(mlp_batcher_submit(b, 1, X[i], Y[i], count_done,
						    &log), MLP_OK);
	}
	ck_assert_int_eq(atomic_load(&log.calls), 0); /* still waiting */
	t0 = seconds();
	mlp_batcher_free(b);
	ck_assert_double_lt(seconds() - t0, 5.0);
	ck_assert_int_eq(atomic_load(&log.calls), N);
	ck_assert_int_eq(atomic_load(&log.bad), 0);
	for (int i = 0; i < N; i++) {
		double want[N_OUT], err[N_OUT];
		size_t where;

		ref_forward(net, 1, X[i], want, err);
		ck_assert_double_le(ref_worst(N_OUT, Y[i], want, err, &where), 1.0);
	}
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

/* A queue of 6 rows holds 6: a request that would pass it is refused at
 * once with MLP_EBUSY, never called back, counted; the rest run. */
START_TEST(full_queue_busy)
{
	mlp_net *net = small_net();
	mlp_plan *plan = plan_of(net, 8, 0);
	mlp_batcher_opts o = mlp_batcher_defaults();
	float X[8 * N_IN] = { 0 }, Y[8 * N_OUT];
	struct done_log log = { 0, 0 };
	mlp_batch_stats s;
	mlp_batcher *b;

	o.max_batch = 6;
	o.queue_rows = 6;
	o.max_delay_us = 10000000;
	ck_assert_int_eq(mlp_batcher_create(&b, plan, &o, NULL), MLP_OK);
	ck_assert_int_eq(mlp_batcher_submit(b, 2, X, Y, count_done, &log), MLP_OK);
	ck_assert_int_eq(mlp_batcher_submit(b, 3, X + 2 * N_IN, Y + 2 * N_OUT,
					    count_done, &log), MLP_OK);
	ck_assert_int_eq(mlp_batcher_submit(b, 2, X + 5 * N_IN, Y + 5 * N_OUT,
					    count_done, &log), MLP_EBUSY);
	ck_assert_int_eq(mlp_batcher_stats(b, &s, sizeof(s)), MLP_OK);
	ck_assert_uint_eq(s.refused, 1);
	ck_assert_int_eq(mlp_batcher_run(b, 7, X, Y), MLP_EINVAL); /* > 6 */
	mlp_batcher_free(b);
	ck_assert_int_eq(atomic_load(&log.calls), 2);
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

/* A full batch runs at once, not after the delay; a lone request waits
 * the delay out (the bins are within 7%). */
START_TEST(full_batch_at_once_lone_one_waits)
{
	mlp_net *net = small_net();
	mlp_plan *plan = plan_of(net, 4, 0);
	mlp_batcher_opts o = mlp_batcher_defaults();
	float X[4 * N_IN] = { 0 }, Y[4 * N_OUT];
	struct done_log log = { 0, 0 };
	mlp_batch_stats s;
	mlp_batcher *b;
	double t0;

	o.max_delay_us = 10000000;
	ck_assert_int_eq(mlp_batcher_create(&b, plan, &o, NULL), MLP_OK);
	t0 = seconds();
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(mlp_batcher_submit(b, 1, X + i * N_IN, Y + i * N_OUT,
						    count_done, &log), MLP_OK);
	ck_assert_int_eq(mlp_batcher_run(b, 1, X + 3 * N_IN, Y + 3 * N_OUT), MLP_OK);
	ck_assert_double_lt(seconds() - t0, 5.0);
	ck_assert_int_eq(mlp_batcher_stats(b, &s, sizeof(s)), MLP_OK);
	ck_assert_uint_eq(s.batches, 1);
	ck_assert_uint_eq(s.batches_by_rows[2], 1); /* 3 or 4 rows */
	mlp_batcher_free(b);

	o.max_delay_us = 20000;
	ck_assert_int_eq(mlp_batcher_create(&b, plan, &o, NULL), MLP_OK);
	ck_assert_int_eq(mlp_batcher_run(b, 1, X, Y), MLP_OK);
	ck_assert_int_eq(mlp_batcher_stats(b, &s, sizeof(s)), MLP_OK);
	ck_assert_double_ge(s.wait_p50_us, 20000 * 0.93);
	ck_assert_uint_eq(s.batches_by_rows[0], 1);
	mlp_batcher_free(b);
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

/* done may submit again: a chain of requests, each queued by the last
 * one's callback, all run. */
struct chain {
	mlp_batcher *b;
	float X[N_IN], Y[N_OUT];
	atomic_int left;
	atomic_int finished;
};

static void resubmit(void *user, mlp_status st)
{
	struct chain *c = user;

	if (st == MLP_OK && atomic_fetch_sub(&c->left, 1) > 1 &&
	    mlp_batcher_submit(c->b, 1, c->X, c->Y, resubmit, c) == MLP_OK)
		return;
	atomic_store(&c->finished, 1);
}

START_TEST(done_may_submit)
{
	mlp_net *net = small_net();
	mlp_plan *plan = plan_of(net, 4, 0);
	mlp_batcher_opts o = mlp_batcher_defaults();
	struct chain c = { .left = 50, .finished = 0 };
	struct timespec pause = { 0, 1000000 };
	mlp_batch_stats s;

	o.max_delay_us = 0;
	fill_row(c.X, 3);
	ck_assert_int_eq(mlp_batcher_create(&c.b, plan, &o, NULL), MLP_OK);
	ck_assert_int_eq(mlp_batcher_submit(c.b, 1, c.X, c.Y, resubmit, &c), MLP_OK);
	for (int i = 0; i < 5000 && !atomic_load(&c.finished); i++)
		nanosleep(&pause, NULL);
	ck_assert_int_eq(atomic_load(&c.finished), 1);
	ck_assert_int_eq(atomic_load(&c.left), 0);
	ck_assert_int_eq(mlp_batcher_stats(c.b, &s, sizeof(s)), MLP_OK);
	ck_assert_uint_eq(s.requests, 50);
	mlp_batcher_free(c.b);
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

/* ---- arguments, failures --------------------------------------------- */

START_TEST(arguments_checked)
{
	mlp_net *net = small_net();
	mlp_plan *plan = plan_of(net, 8, 0);
	mlp_batcher_opts o = mlp_batcher_defaults();
	mlp_batcher *b = NULL;
	float X[8 * N_IN] = { 0 }, Y[8 * N_OUT];
	mlp_batch_stats s;
	mlp_msg msg;
	static const struct {
		size_t max_batch, queue_rows;
		unsigned delay, workers;
		const char *says;
	} bad[] = {
		{ 0, 0, 500, 0, "workers is 0, not 1 to 64" },
		{ 0, 0, 500, 65, "workers is 65, not 1 to 64" },
		{ 0, 0, 10000001, 1, "max_delay_us is 10000001" },
		{ 8, 7, 500, 1, "queue_rows is 7, below max_batch (8)" },
		{ 2000000, 0, 500, 1, "max_batch is 2000000" },
	};

	ck_assert_int_eq(mlp_batcher_create(NULL, plan, &o, &msg), MLP_ENULL);
	ck_assert_int_eq(mlp_batcher_create(&b, NULL, &o, &msg), MLP_ENULL);
	ck_assert_str_eq(msg.text, "plan is NULL");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mlp_batcher_opts w = o;

		w.max_batch = bad[i].max_batch;
		w.queue_rows = bad[i].queue_rows;
		w.max_delay_us = bad[i].delay;
		w.workers = bad[i].workers;
		mlp_status st;

		alloc_arm(0);
		st = mlp_batcher_create(&b, plan, &w, &msg);
		alloc_disarm();
		ck_assert_int_eq(st, MLP_EINVAL);
		ck_assert_int_eq(alloc_live(), 0); /* nothing left behind */
		ck_assert_ptr_null(b);
		ck_assert_ptr_nonnull(strstr(msg.text, bad[i].says));
	}
	o.struct_size--;
	ck_assert_int_eq(mlp_batcher_create(&b, plan, &o, &msg), MLP_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg.text, "struct_size"));
	ck_assert_int_eq(mlp_batcher_opts_init(&o, sizeof(o) + 1), MLP_EINVAL);
	ck_assert_int_eq(mlp_batcher_opts_init(NULL, sizeof(o)), MLP_ENULL);

	ck_assert_int_eq(mlp_batcher_create(&b, plan, NULL, NULL), MLP_OK);
	ck_assert_int_eq(mlp_batcher_run(NULL, 1, X, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_batcher_run(b, 1, NULL, Y), MLP_ENULL);
	ck_assert_int_eq(mlp_batcher_run(b, 1, X, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_batcher_run(b, 0, X, Y), MLP_ESIZE);
	ck_assert_int_eq(mlp_batcher_run(b, 9, X, Y), MLP_EINVAL);
	ck_assert_int_eq(mlp_batcher_run(b, 2, X, (float *)X + 1), MLP_EINVAL);
	ck_assert_int_eq(mlp_batcher_submit(b, 1, X, Y, NULL, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_batcher_stats(b, NULL, sizeof(s)), MLP_ENULL);
	ck_assert_int_eq(mlp_batcher_stats(b, &s, sizeof(s) - 8), MLP_EINVAL);
	ck_assert_int_eq(mlp_batcher_stats(b, &s, sizeof(s)), MLP_OK);
	ck_assert_uint_eq(s.requests, 0); /* none of those was queued */
	ck_assert_uint_eq(s.refused, 0);
	mlp_batcher_free(b);
	mlp_batcher_free(NULL);
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

/* A failure at each of the batcher's allocations: MLP_ENOMEM, nothing
 * left behind; and none at all in queueing and running a request. */
START_TEST(allocation_failures)
{
	mlp_net *net = small_net();
	mlp_plan *plan = plan_of(net, 8, 0);
	mlp_batcher_opts o = mlp_batcher_defaults();
	float X[N_IN] = { 0 }, Y[N_OUT];
	mlp_batcher *b;
	mlp_status st = MLP_ENOMEM;
	long calls;

	o.workers = 2;
	for (long at = 1; st != MLP_OK; at++) {
		b = NULL;
		alloc_arm(at);
		st = mlp_batcher_create(&b, plan, &o, NULL);
		if (st == MLP_OK)
			mlp_batcher_free(b);
		alloc_disarm();
		ck_assert_msg(st == MLP_OK || st == MLP_ENOMEM, "at %ld: %s", at,
			      mlp_strerror(st));
		ck_assert_int_eq(alloc_live(), 0);
		ck_assert_msg(at < 200, "no end to the allocations");
	}
	ck_assert_int_eq(mlp_batcher_create(&b, plan, &o, NULL), MLP_OK);
	ck_assert_int_eq(mlp_batcher_run(b, 1, X, Y), MLP_OK); /* warm */
	alloc_arm(0);
	st = mlp_batcher_run(b, 1, X, Y);
	calls = alloc_calls();
	alloc_disarm();
	ck_assert_int_eq(st, MLP_OK);
	ck_assert_int_eq(calls, 0);
	mlp_batcher_free(b);
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

/* A kernel that fails in every run after the first two: the requests of
 * the batch it fails get its status, and are counted. */
static atomic_int runs;

static mlp_status failing_run(const void *packed, void *ctx, size_t rung,
			      size_t rows, const float *X, float *Y)
{
	if (atomic_fetch_add(&runs, 1) >= 2)
		return MLP_ENOMEM;
	return mlpi_kernel_cblas.run(packed, ctx, rung, rows, X, Y);
}

START_TEST(pass_failure_returned)
{
	mlp_net *net = small_net();
	struct mlpi_kernel failing = mlpi_kernel_cblas;
	const struct mlpi_kernel *list[] = { &failing };
	mlp_plan_opts po = mlp_plan_defaults();
	float X[N_IN] = { 0 }, Y[N_OUT];
	mlp_batch_stats s;
	mlp_batcher *b;
	mlp_plan *plan;

	failing.run = failing_run;
	po.max_batch = 4;
	ck_assert_int_eq(mlpi_plan_create_with(list, 1, &plan, net, &po, NULL),
			 MLP_OK);
	atomic_store(&runs, 0);
	ck_assert_int_eq(mlp_batcher_create(&b, plan, NULL, NULL), MLP_OK);
	ck_assert_int_eq(mlp_batcher_run(b, 1, X, Y), MLP_OK); /* 2 layers */
	ck_assert_int_eq(mlp_batcher_run(b, 1, X, Y), MLP_ENOMEM);
	ck_assert_int_eq(mlp_batcher_stats(b, &s, sizeof(s)), MLP_OK);
	ck_assert_uint_eq(s.requests, 2);
	ck_assert_uint_eq(s.failed, 1);
	mlp_batcher_free(b);
	mlp_plan_free(plan);
	mlp_net_free(net);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("batcher");
	TCase *threads = tcase_create("threads");
	TCase *queue = tcase_create("queue");
	TCase *checks = tcase_create("checks");

	tcase_set_timeout(threads, 120);
	tcase_add_test(threads, many_threads_one_worker);
	tcase_add_test(threads, many_threads_three_workers);
	tcase_add_test(threads, many_threads_invariant_bits);
	tcase_set_timeout(queue, 60);
	tcase_add_test(queue, free_drains_the_queue);
	tcase_add_test(queue, full_queue_busy);
	tcase_add_test(queue, full_batch_at_once_lone_one_waits);
	tcase_add_test(queue, done_may_submit);
	tcase_add_test(checks, arguments_checked);
	tcase_add_test(checks, allocation_failures);
	tcase_add_test(checks, pass_failure_returned);
	suite_add_tcase(s, threads);
	suite_add_tcase(s, queue);
	suite_add_tcase(s, checks);
	return run_suite(s);
}
