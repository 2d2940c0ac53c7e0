/*
 * batcher.c — requests from many threads run as batches through a plan.
 *
 * Requests wait in a ring of slots made at creation, one per row the
 * queue may hold, so queueing allocates nothing and a full queue is known
 * at once. A worker takes the requests at the head when max_batch rows
 * wait or the first has waited max_delay_us, gathers their rows into one
 * block, runs it on its own clone of the plan, and hands each request its
 * rows of the outputs. One request alone runs on the caller's buffers.
 * The lock is held to queue and to take, never during a pass.
 */
#define _GNU_SOURCE /* syscall, pthread_condattr_setclock */
#include "planner.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_WORKERS = 64, MAX_DELAY_US = 10000000, MAX_BATCH = 1 << 20 };

/* Times in ns in bins of 8 a doubling: 0-15 ns one a bin, then 16 ns up. */
enum { BINS = 16 + 60 * 8 };

struct request {
	size_t rows;
	const float *X;
	float *Y;
	mlp_batcher_done_fn done;
	void *user;
	uint64_t queued; /* ns */
};

struct worker {
	mlp_batcher *b;
	pthread_t thread;
	mlp_plan *plan;
	float *X, *Y;           /* the gathered block */
	struct request *taken;  /* the requests of a batch */
};

struct mlp_batcher {
	size_t n_in, n_out, max_batch, capacity;
	uint64_t delay_ns;
	unsigned n_workers;
	struct worker *workers;

	pthread_mutex_t lock;
	pthread_cond_t work;    /* requests queued, or stopping */
	atomic_uint epoch;      /* batches done, for mlp_batcher_run */
	struct request *ring;   /* capacity slots */
	size_t head, count, rows_queued;
	bool stopping;

	/* statistics, under lock */
	uint64_t requests, rows, batches, refused, failed;
	uint64_t by_rows[17];
	uint64_t wait_bins[BINS], run_bins[BINS];
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static size_t bin_of(uint64_t ns)
{
	unsigned e;

	if (ns < 16)
		return (size_t)ns;
	e = 63u - (unsigned)__builtin_clzll(ns); /* 4 or more */
	return 16 + (size_t)(e - 4) * 8 + (size_t)((ns >> (e - 3)) & 7);
}

/* The middle of bin i, in µs. */
static double bin_middle_us(size_t i)
{
	unsigned e;
	double lo, width;

	if (i < 16)
		return (double)i / 1000.0;
	e = 4 + (unsigned)((i - 16) / 8);
	width = (double)(1ull << (e - 3));
	lo = (double)(1ull << e) + (double)((i - 16) % 8) * width;
	return (lo + width / 2) / 1000.0;
}

static double percentile(const uint64_t *bins, uint64_t total, double p)
{
	uint64_t want = (uint64_t)((double)total * p + 0.999999), seen = 0;

	if (total == 0)
		return 0;
	for (size_t i = 0; i < BINS; i++) {
		seen += bins[i];
		if (seen >= want)
			return bin_middle_us(i);
	}
	return bin_middle_us(BINS - 1);
}

static size_t rows_bin(size_t rows)
{
	size_t i = 0;

	while (i < 16 && ((size_t)1 << i) < rows)
		i++;
	return i;
}

mlp_status mlp_batcher_opts_init(mlp_batcher_opts *opts, size_t struct_size)
{
	mlp_batcher_opts full = {
		.struct_size = sizeof(full), .max_batch = 0,
		.max_delay_us = 0, .workers = 1, .queue_rows = 0,
	};

	if (opts == NULL)
		return MLP_ENULL;
	if (struct_size != sizeof(full))
		return MLP_EINVAL;
	*opts = full;
	return MLP_OK;
}

/* Takes the requests at the head that fit in a batch, into w->taken;
 * their number. Under the lock. */
static size_t take(mlp_batcher *b, struct worker *w, size_t *rows)
{
	size_t n = 0;

	*rows = 0;
	while (b->count > 0) {
		struct request *r = &b->ring[b->head];

		if (*rows + r->rows > b->max_batch)
			break;
		w->taken[n++] = *r;
		*rows += r->rows;
		b->head = (b->head + 1) % b->capacity;
		b->count--;
		b->rows_queued -= r->rows;
	}
	return n;
}

/* Whether the requests waiting should run now: a full batch, the first
 * one's time up, or stopping. Else *deadline is when it will be. */
static bool due(const mlp_batcher *b, uint64_t *deadline)
{
	*deadline = b->ring[b->head].queued + b->delay_ns;
	return b->stopping || b->rows_queued >= b->max_batch ||
	       now_ns() >= *deadline;
}

static void wait_until(mlp_batcher *b, uint64_t deadline)
{
	struct timespec t = {
		.tv_sec = (time_t)(deadline / 1000000000u),
		.tv_nsec = (long)(deadline % 1000000000u),
	};

	pthread_cond_timedwait(&b->work, &b->lock, &t);
}

/* Runs the batch of n requests, rows in all, and calls each back. */
static mlp_status run_batch(struct worker *w, size_t n, size_t rows)
{
	const mlp_batcher *b = w->b;
	mlp_status st;
	size_t at = 0;

	if (n == 1)
		return mlp_plan_forward(w->plan, rows, w->taken[0].X,
					w->taken[0].Y);
	for (size_t i = 0; i < n; i++) {
		memcpy(w->X + at * b->n_in, w->taken[i].X,
		       w->taken[i].rows * b->n_in * sizeof(float));
		at += w->taken[i].rows;
	}
	st = mlp_plan_forward(w->plan, rows, w->X, w->Y);
	at = 0;
	for (size_t i = 0; st == MLP_OK && i < n; i++) {
		memcpy(w->taken[i].Y, w->Y + at * b->n_out,
		       w->taken[i].rows * b->n_out * sizeof(float));
		at += w->taken[i].rows;
	}
	return st;
}

static void record(mlp_batcher *b, const struct worker *w, size_t n,
		   size_t rows, uint64_t begun, uint64_t ended, mlp_status st)
{
	b->batches++;
	b->by_rows[rows_bin(rows)]++;
	b->rows += rows;
	b->requests += n;
	if (st != MLP_OK)
		b->failed += n;
	for (size_t i = 0; i < n; i++) {
		b->wait_bins[bin_of(begun - w->taken[i].queued)]++;
		b->run_bins[bin_of(ended - begun)]++;
	}
}

static void finish(mlp_batcher *b, const struct worker *w, size_t n,
		   mlp_status st);

static void *work(void *arg)
{
	struct worker *w = arg;
	mlp_batcher *b = w->b;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		uint64_t deadline, begun, ended;
		size_t n, rows;
		mlp_status st;

		if (b->count == 0) {
			if (b->stopping)
				break;
			pthread_cond_wait(&b->work, &b->lock);
			continue;
		}
		if (!due(b, &deadline)) {
			wait_until(b, deadline);
			continue;
		}
		n = take(b, w, &rows);
		/* The rest is another worker's, if one is idle. */
		if (b->count > 0)
			pthread_cond_signal(&b->work);
		pthread_mutex_unlock(&b->lock);
		begun = now_ns();
		st = run_batch(w, n, rows);
		ended = now_ns();
		pthread_mutex_lock(&b->lock);
		record(b, w, n, rows, begun, ended, st);
		pthread_mutex_unlock(&b->lock);
		finish(b, w, n, st);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static mlp_status check_opts(const mlp_batcher_opts *o, size_t plan_batch,
			     size_t *max_batch, size_t *capacity, mlp_msg *msg)
{
	if (o->struct_size != sizeof(mlp_batcher_opts))
		return mlpi_fail(msg, MLP_EINVAL, "opts->struct_size is %zu, not "
				 "%zu, the mlp_batcher_opts this library knows",
				 o->struct_size, sizeof(mlp_batcher_opts));
	*max_batch = o->max_batch == 0 ? plan_batch : o->max_batch;
	if (*max_batch > MAX_BATCH)
		return mlpi_fail(msg, MLP_EINVAL, "max_batch is %zu, above %d",
				 *max_batch, MAX_BATCH);
	if (o->max_delay_us > MAX_DELAY_US)
		return mlpi_fail(msg, MLP_EINVAL, "max_delay_us is %u, above %d "
				 "(10 s)", o->max_delay_us, MAX_DELAY_US);
	if (o->workers < 1 || o->workers > MAX_WORKERS)
		return mlpi_fail(msg, MLP_EINVAL, "workers is %u, not 1 to %d",
				 o->workers, MAX_WORKERS);
	*capacity = o->queue_rows == 0 ? 16 * *max_batch : o->queue_rows;
	if (*capacity < *max_batch)
		return mlpi_fail(msg, MLP_EINVAL, "queue_rows is %zu, below "
				 "max_batch (%zu): a full batch could not wait",
				 *capacity, *max_batch);
	if (*capacity > 16 * (size_t)MAX_BATCH)
		return mlpi_fail(msg, MLP_EINVAL, "queue_rows is %zu, above %d",
				 *capacity, 16 * MAX_BATCH);
	return MLP_OK;
}

static void free_workers(mlp_batcher *b)
{
	for (unsigned i = 0; b->workers != NULL && i < b->n_workers; i++) {
		mlp_plan_free(b->workers[i].plan);
		free(b->workers[i].X);
		free(b->workers[i].Y);
		free(b->workers[i].taken);
	}
	free(b->workers);
	free(b->ring);
	free(b);
}

static mlp_status make_workers(mlp_batcher *b, const mlp_plan *plan)
{
	b->workers = calloc(b->n_workers, sizeof(*b->workers));
	b->ring = malloc(b->capacity * sizeof(*b->ring));
	if (b->workers == NULL || b->ring == NULL)
		return MLP_ENOMEM;
	for (unsigned i = 0; i < b->n_workers; i++) {
		struct worker *w = &b->workers[i];
		mlp_status st = mlp_plan_clone(&w->plan, plan);

		if (st != MLP_OK)
			return st;
		w->b = b;
		w->X = malloc(b->max_batch * b->n_in * sizeof(float));
		w->Y = malloc(b->max_batch * b->n_out * sizeof(float));
		w->taken = malloc(b->max_batch * sizeof(*w->taken));
		if (w->X == NULL || w->Y == NULL || w->taken == NULL)
			return MLP_ENOMEM;
	}
	return MLP_OK;
}

/* Stops the first `started` workers, once the queue is empty. */
static void stop(mlp_batcher *b, unsigned started)
{
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(b->workers[i].thread, NULL);
}

static mlp_status init_sync(mlp_batcher *b)
{
	pthread_condattr_t attr;
	bool ok;

	if (pthread_condattr_init(&attr) != 0)
		return MLP_ENOMEM;
	/* Deadlines on the clock that does not jump. */
	ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&b->work, &attr) == 0;
	pthread_condattr_destroy(&attr);
	if (!ok)
		return MLP_ENOMEM;
	if (pthread_mutex_init(&b->lock, NULL) != 0) {
		pthread_cond_destroy(&b->work);
		return MLP_ENOMEM;
	}
	return MLP_OK;
}

mlp_status mlp_batcher_create(mlp_batcher **out, const mlp_plan *plan,
			      const mlp_batcher_opts *opts, mlp_msg *msg)
{
	mlp_batcher_opts defaults;
	size_t plan_batch, max_batch = 0, capacity = 0;
	mlp_batcher *b;
	mlp_status st;
	unsigned started = 0;

	if (out == NULL || plan == NULL)
		return mlpi_fail(msg, MLP_ENULL, "%s is NULL",
				 out == NULL ? "out" : "plan");
	if (opts == NULL) {
		mlp_batcher_opts_init(&defaults, sizeof(defaults));
		opts = &defaults;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return MLP_ENOMEM;
	mlpi_plan_shape(plan, &b->n_in, &b->n_out, &plan_batch);
	st = check_opts(opts, plan_batch, &max_batch, &capacity, msg);
	if (st != MLP_OK) {
		free(b);
		return st;
	}
	b->max_batch = max_batch;
	b->capacity = capacity;
	b->delay_ns = (uint64_t)opts->max_delay_us * 1000u;
	b->n_workers = opts->workers;
	st = make_workers(b, plan);
	if (st == MLP_OK)
		st = init_sync(b);
	if (st != MLP_OK) {
		free_workers(b);
		return st;
	}
	while (started < b->n_workers &&
	       pthread_create(&b->workers[started].thread, NULL, work,
			      &b->workers[started]) == 0)
		started++;
	if (started < b->n_workers) {
		stop(b, started);
		pthread_cond_destroy(&b->work);
		pthread_mutex_destroy(&b->lock);
		free_workers(b);
		return mlpi_fail(msg, MLP_ENOTSUP, "cannot start worker %u of "
				 "%u", started + 1, opts->workers);
	}
	*out = b;
	return MLP_OK;
}

static bool overlap(const void *a, size_t a_bytes, const void *c,
		    size_t c_bytes)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)c;

	return x < y + c_bytes && y < x + a_bytes;
}

mlp_status mlp_batcher_submit(mlp_batcher *b, size_t rows, const float *X,
			      float *Y, mlp_batcher_done_fn done, void *user)
{
	struct request *r;

	if (b == NULL || X == NULL || Y == NULL || done == NULL)
		return MLP_ENULL;
	if (rows == 0)
		return MLP_ESIZE;
	if (rows > b->max_batch ||
	    overlap(X, rows * b->n_in * sizeof(float), Y,
		    rows * b->n_out * sizeof(float)))
		return MLP_EINVAL;
	pthread_mutex_lock(&b->lock);
	if (b->stopping || b->rows_queued + rows > b->capacity) {
		b->refused++;
		pthread_mutex_unlock(&b->lock);
		return MLP_EBUSY;
	}
	r = &b->ring[(b->head + b->count) % b->capacity];
	*r = (struct request){ rows, X, Y, done, user, now_ns() };
	b->count++;
	b->rows_queued += rows;
	/* A worker starts the first request's clock, and runs a full batch
	 * at once; in between, requests join without a wake-up. */
	if (b->count == 1 || b->rows_queued >= b->max_batch)
		pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->lock);
	return MLP_OK;
}

/* mlp_batcher_run's wait, on its caller's stack. */
struct waiter {
	mlp_status status;
	unsigned lane;          /* a bit: which callers a wake-up reaches */
	atomic_uint finished;
};

/* Callers of mlp_batcher_run sleep on the batcher's epoch, each in one of
 * 32 lanes; after a batch the worker advances it and wakes the lanes of
 * that batch's callers with one call (Linux: a futex with a bit set;
 * elsewhere the callers nap). A call a caller cost the worker more than
 * the batch on small networks; waking every caller, more than the batch
 * when batches are small. */
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void epoch_wait(atomic_uint *epoch, unsigned seen, unsigned lane)
{
	syscall(SYS_futex, (unsigned *)epoch, FUTEX_WAIT_BITSET_PRIVATE, seen,
		NULL, NULL, lane);
}

static void epoch_advance(atomic_uint *epoch, unsigned lanes)
{
	atomic_fetch_add(epoch, 1);
	syscall(SYS_futex, (unsigned *)epoch, FUTEX_WAKE_BITSET_PRIVATE,
		INT_MAX, NULL, NULL, lanes);
}
#else
static void epoch_wait(atomic_uint *epoch, unsigned seen, unsigned lane)
{
	struct timespec pause = { 0, 20000 };

	(void)lane;
	if (atomic_load(epoch) == seen)
		nanosleep(&pause, NULL);
}

static void epoch_advance(atomic_uint *epoch, unsigned lanes)
{
	(void)lanes;
	atomic_fetch_add(epoch, 1);
}
#endif

/* The done of mlp_batcher_run: the worker wakes the caller after the
 * batch (finish). Once `finished` is set the waiter may be gone. */
static void wake(void *user, mlp_status status)
{
	struct waiter *w = user;

	w->status = status;
	atomic_store_explicit(&w->finished, 1, memory_order_release);
}

static void finish(mlp_batcher *b, const struct worker *w, size_t n,
		   mlp_status st)
{
	unsigned lanes = 0;

	for (size_t i = 0; i < n; i++) {
		if (w->taken[i].done == wake)
			lanes |= ((const struct waiter *)w->taken[i].user)->lane;
		w->taken[i].done(w->taken[i].user, st);
	}
	if (lanes != 0)
		epoch_advance(&b->epoch, lanes);
}

mlp_status mlp_batcher_run(mlp_batcher *b, size_t rows, const float *X,
			   float *Y)
{
	static atomic_uint next_lane;
	struct waiter w = { .status = MLP_OK };
	mlp_status st;

	w.lane = 1u << (atomic_fetch_add(&next_lane, 1) % 32);
	atomic_init(&w.finished, 0);
	st = mlp_batcher_submit(b, rows, X, Y, wake, &w);
	if (st != MLP_OK)
		return st;
	for (;;) {
		unsigned seen = atomic_load(&b->epoch);

		if (atomic_load_explicit(&w.finished, memory_order_acquire))
			return w.status;
		epoch_wait(&b->epoch, seen, w.lane);
	}
}

mlp_status mlp_batcher_stats(mlp_batcher *b, mlp_batch_stats *stats,
			     size_t stats_size)
{
	mlp_batch_stats s = { 0 };

	if (b == NULL || stats == NULL)
		return MLP_ENULL;
	if (stats_size != sizeof(s))
		return MLP_EINVAL;
	pthread_mutex_lock(&b->lock);
	s.requests = b->requests;
	s.rows = b->rows;
	s.batches = b->batches;
	s.refused = b->refused;
	s.failed = b->failed;
	s.mean_batch = b->batches > 0 ? (double)b->rows / (double)b->batches : 0;
	s.wait_p50_us = percentile(b->wait_bins, b->requests, 0.50);
	s.wait_p99_us = percentile(b->wait_bins, b->requests, 0.99);
	s.run_p50_us = percentile(b->run_bins, b->requests, 0.50);
	s.run_p99_us = percentile(b->run_bins, b->requests, 0.99);
	memcpy(s.batches_by_rows, b->by_rows, sizeof(s.batches_by_rows));
	pthread_mutex_unlock(&b->lock);
	*stats = s;
	return MLP_OK;
}

void mlp_batcher_free(mlp_batcher *b)
{
	if (b == NULL)
		return;
	stop(b, b->n_workers);
	pthread_cond_destroy(&b->work);
	pthread_mutex_destroy(&b->lock);
	free_workers(b);
}
