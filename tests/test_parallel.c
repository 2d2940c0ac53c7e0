/*
 * test_parallel.c — data-parallel training through mlp_comm, with workers
 * as threads and a communicator of shared memory (no MPI): P workers
 * against one process with the same global batch and seed, the same run
 * twice, shards, errors that reach every worker, workers that disagree,
 * a communicator that fails; and checkpoints, resumed alone and by
 * workers to the same bits as a run that never stopped.
 */
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include "internal.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- a communicator of threads ----------------------------------------- */

enum { MAX_WORKERS = 4, SLOT = 1 << 18 };

/* Each worker writes its array into its slot; after a barrier, every worker
 * adds the slots up in rank order, so all get the same bits. */
struct group {
	int size;
	pthread_barrier_t barrier;
	double slot[MAX_WORKERS][SLOT];
	int fail_rank, fail_after; /* a broken transfer, for the tests */
	int perturb_rank;          /* a worker whose float sums come out wrong */
	int calls[MAX_WORKERS];
};

struct worker {
	struct group *g;
	int rank;
	mlp_comm comm;
};

static bool broken(struct worker *w)
{
	return w->g->fail_rank == w->rank &&
	       ++w->g->calls[w->rank] > w->g->fail_after;
}

static int group_sum_doubles(void *ctx, double *v, size_t n)
{
	struct worker *w = ctx;
	struct group *g = w->g;

	ck_assert_uint_le(n, SLOT);
	memcpy(g->slot[w->rank], v, n * sizeof(double));
	pthread_barrier_wait(&g->barrier);
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (int r = 0; r < g->size; r++)
			s += g->slot[r][i];
		v[i] = s;
	}
	pthread_barrier_wait(&g->barrier);
	return broken(w);
}

static int group_sum_floats(void *ctx, float *v, size_t n)
{
	struct worker *w = ctx;
	struct group *g = w->g;

	ck_assert_uint_le(n, SLOT);
	for (size_t i = 0; i < n; i++)
		g->slot[w->rank][i] = v[i];
	pthread_barrier_wait(&g->barrier);
	for (size_t i = 0; i < n; i++) {
		float s = 0;
		for (int r = 0; r < g->size; r++)
			s += (float)g->slot[r][i];
		v[i] = s;
	}
	for (size_t i = 0; w->rank == g->perturb_rank && i < n; i++)
		v[i] = nextafterf(v[i], INFINITY);
	pthread_barrier_wait(&g->barrier);
	return broken(w);
}

static int group_broadcast(void *ctx, float *v, size_t n)
{
	struct worker *w = ctx;
	struct group *g = w->g;

	ck_assert_uint_le(n, SLOT);
	if (w->rank == 0)
		for (size_t i = 0; i < n; i++)
			g->slot[0][i] = v[i];
	pthread_barrier_wait(&g->barrier);
	for (size_t i = 0; w->rank != 0 && i < n; i++)
		v[i] = (float)g->slot[0][i];
	pthread_barrier_wait(&g->barrier);
	return broken(w);
}

static struct group *group_new(int size)
{
	struct group *g = calloc(1, sizeof(*g));

	ck_assert_ptr_nonnull(g);
	g->size = size;
	g->fail_rank = -1;
	g->perturb_rank = -1;
	pthread_barrier_init(&g->barrier, NULL, (unsigned)size);
	return g;
}

static void group_free(struct group *g)
{
	pthread_barrier_destroy(&g->barrier);
	free(g);
}

/* ---- training jobs on threads ------------------------------------------- */

struct job {
	struct worker w;
	mlp_net *net;
	mlp_train_opts opts;
	size_t n;
	const float *X, *Y;
	float *own_X, *own_Y; /* a shard, or a copy with a bad row */
	mlp_status st;
};

static void *run_job(void *arg)
{
	struct job *j = arg;

	j->st = mlp_train(j->net, &j->opts, j->n, j->X, j->Y);
	return NULL;
}

/* Runs P jobs at once, worker r on jobs[r]. */
static void run_all(struct job *jobs, int P, struct group *g)
{
	pthread_t th[MAX_WORKERS];

	for (int r = 0; r < P; r++) {
		struct worker *w = &jobs[r].w;

		w->g = g;
		w->rank = r;
		w->comm = (mlp_comm){ sizeof(mlp_comm), r, P, w, group_sum_doubles,
				      group_sum_floats, group_broadcast };
		jobs[r].opts.comm = &w->comm;
		ck_assert_int_eq(pthread_create(&th[r], NULL, run_job, &jobs[r]), 0);
	}
	for (int r = 0; r < P; r++)
		pthread_join(th[r], NULL);
}

/* ---- data: the digits, 1437 rows to train on, 360 held out ------------- */

enum { N_ROWS = 1797, N_TRAIN = 1437, N_IN = 64, N_OUT = 10 };
static struct digits digits;
#define DX (digits.X)
#define DY (digits.Y)

static void load_digits(void)
{
	digits_load(&digits);
}

static mlp_net *digits_net(void)
{
	static const size_t sizes[] = { N_IN, 32, N_OUT };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 11), MLP_OK);
	return net;
}

static mlp_train_opts digits_opts(void)
{
	mlp_train_opts o = mlp_train_defaults();

	o.loss = MLP_LOSS_XENT;
	o.batch_size = 60;
	o.epochs = 3;
	o.lr = 3e-3f;
	o.seed = 5;
	o.eval_n = N_ROWS - N_TRAIN;
	o.eval_X = DX + N_TRAIN * N_IN;
	o.eval_Y = DY + N_TRAIN * N_OUT;
	return o;
}

static int record_eval(void *user, const mlp_train_progress *p)
{
	double *acc = user;

	acc[p->epoch - 1] = p->eval_accuracy;
	return 0;
}

/* The largest |a − b| over the parameters, and the largest |a|. */
static double max_diff(mlp_net *a, mlp_net *b, double *scale)
{
	size_t n = mlp_net_param_count(a);
	float *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float));
	double d = 0;

	ck_assert(pa && pb);
	mlp_net_get_params(a, pa, n);
	mlp_net_get_params(b, pb, n);
	*scale = 0;
	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)pa[i] - pb[i]));
		*scale = fmax(*scale, fabs((double)pa[i]));
	}
	free(pa);
	free(pb);
	return d;
}

/* ---- tests ------------------------------------------------------------------ */

/* P workers (2, 3) on all the rows against one process with the same global
 * batch and seed: the same epochs of the same batches, gradients that
 * differ only in the order of their float sums.
 *
 * Tolerance: a step's gradient then differs by a few ulps of its terms
 * (relative 1e-6 at most); Adam scales each update to about lr, and moves
 * it by that relative error: ~lr·1e-6 a step, over 72 steps ~2e-7, which
 * the network's own sensitivity can amplify. Held to 1e-5·max|w| (the
 * weights here are ~0.6; measured: 2.7e-7 with 2 workers, 6.0e-7 with 3):
 * a wrong share of rows or a missing scale moves the weights by about
 * lr = 3e-3 in the first step. The held-out accuracy is the same after
 * every epoch. */
START_TEST(workers_match_one_process)
{
	int P = _i == 0 ? 2 : 3;
	mlp_train_opts o = digits_opts();
	double acc1[3], accP[MAX_WORKERS][3], scale, d;
	struct job jobs[MAX_WORKERS];
	struct group *g = group_new(P);
	mlp_net *one = digits_net();

	load_digits();
	o.on_epoch = record_eval;
	o.user = acc1;
	ck_assert_int_eq(mlp_train(one, &o, N_TRAIN, DX, DY), MLP_OK);
	memset(jobs, 0, sizeof(jobs));
	for (int r = 0; r < P; r++) {
		jobs[r].net = digits_net();
		jobs[r].opts = digits_opts();
		jobs[r].opts.on_epoch = record_eval;
		jobs[r].opts.user = accP[r];
		jobs[r].n = N_TRAIN;
		jobs[r].X = DX;
		jobs[r].Y = DY;
	}
	/* Worker 0's start is everyone's: the others begin elsewhere. */
	for (int r = 1; r < P; r++)
		mlp_net_init(jobs[r].net, 100 + (uint64_t)r);
	run_all(jobs, P, g);
	for (int r = 0; r < P; r++) {
		ck_assert_int_eq(jobs[r].st, MLP_OK);
		ck_assert_uint_eq(param_hash(jobs[r].net), param_hash(jobs[0].net));
		for (int e = 0; e < 3; e++)
			ck_assert_msg(accP[r][e] == acc1[e], "epoch %d: accuracy %.4f, "
				      "one process %.4f", e + 1, accP[r][e], acc1[e]);
	}
	d = max_diff(jobs[0].net, one, &scale);
	printf("%d workers: parameters within %.3g of one process's (max |w| "
	       "%.3g); accuracy %.4f\n", P, d, scale, acc1[2]);
	ck_assert_msg(d <= 1e-5 * scale, "%d workers: %.3g from one process", P, d);
	for (int r = 0; r < P; r++)
		mlp_net_free(jobs[r].net);
	mlp_net_free(one);
	group_free(g);
}
END_TEST

/* The same run twice: the same bits. */
START_TEST(same_run_same_bits)
{
	uint64_t h[2];

	load_digits();
	for (int k = 0; k < 2; k++) {
		struct job jobs[2];
		struct group *g = group_new(2);

		memset(jobs, 0, sizeof(jobs));
		for (int r = 0; r < 2; r++) {
			jobs[r].net = digits_net();
			jobs[r].opts = digits_opts();
			jobs[r].opts.epochs = 2;
			jobs[r].n = N_TRAIN;
			jobs[r].X = DX;
			jobs[r].Y = DY;
		}
		run_all(jobs, 2, g);
		ck_assert_int_eq(jobs[0].st, MLP_OK);
		h[k] = param_hash(jobs[0].net);
		for (int r = 0; r < 2; r++)
			mlp_net_free(jobs[r].net);
		group_free(g);
	}
	ck_assert_uint_eq(h[0], h[1]);
}
END_TEST

/* Shards: one worker with a comm is mlp_train, bit for bit; two workers on
 * rows i ≡ r (mod 2) learn the digits as one process does, within 3 points
 * of its held-out accuracy after 10 epochs (their batches differ from one
 * process's: each is B/2 rows drawn from each shard). */
START_TEST(shards)
{
	mlp_train_opts o = digits_opts();
	struct group *g1 = group_new(1), *g2 = group_new(2);
	struct job jobs[2];
	mlp_net *one = digits_net(), *ten = digits_net();
	double acc1[10], accs[2][10];

	load_digits();
	ck_assert_int_eq(mlp_train(one, &o, N_TRAIN, DX, DY), MLP_OK);
	o.epochs = 10;
	o.on_epoch = record_eval;
	o.user = acc1;
	ck_assert_int_eq(mlp_train(ten, &o, N_TRAIN, DX, DY), MLP_OK);
	memset(jobs, 0, sizeof(jobs));
	jobs[0].net = digits_net();
	jobs[0].opts = digits_opts();
	jobs[0].opts.sharded = 1;
	jobs[0].n = N_TRAIN;
	jobs[0].X = DX;
	jobs[0].Y = DY;
	run_all(jobs, 1, g1);
	ck_assert_int_eq(jobs[0].st, MLP_OK);
	ck_assert_uint_eq(param_hash(jobs[0].net), param_hash(one));
	mlp_net_free(jobs[0].net);

	memset(jobs, 0, sizeof(jobs));
	for (int r = 0; r < 2; r++) {
		size_t n = (N_TRAIN - (size_t)r + 1) / 2;

		jobs[r].own_X = malloc(n * N_IN * sizeof(float));
		jobs[r].own_Y = malloc(n * N_OUT * sizeof(float));
		ck_assert(jobs[r].own_X && jobs[r].own_Y);
		for (size_t i = 0; i < n; i++) {
			memcpy(jobs[r].own_X + i * N_IN, DX + (2 * i + (size_t)r) * N_IN,
			       N_IN * sizeof(float));
			memcpy(jobs[r].own_Y + i * N_OUT, DY + (2 * i + (size_t)r) * N_OUT,
			       N_OUT * sizeof(float));
		}
		jobs[r].net = digits_net();
		jobs[r].opts = digits_opts();
		jobs[r].opts.sharded = 1;
		jobs[r].opts.epochs = 10;
		jobs[r].opts.on_epoch = record_eval;
		jobs[r].opts.user = accs[r];
		jobs[r].n = n;
		jobs[r].X = jobs[r].own_X;
		jobs[r].Y = jobs[r].own_Y;
	}
	run_all(jobs, 2, g2);
	for (int r = 0; r < 2; r++) {
		ck_assert_int_eq(jobs[r].st, MLP_OK);
		ck_assert_uint_eq(param_hash(jobs[r].net), param_hash(jobs[0].net));
		free(jobs[r].own_X);
		free(jobs[r].own_Y);
	}
	printf("2 shards: accuracy %.4f after 10 epochs, one process %.4f\n",
	       accs[0][9], acc1[9]);
	ck_assert_msg(accs[0][9] >= acc1[9] - 0.03, "2 shards: accuracy %.4f, one "
		      "process %.4f", accs[0][9], acc1[9]);
	ck_assert(accs[1][9] == accs[0][9]);
	for (int r = 0; r < 2; r++)
		mlp_net_free(jobs[r].net);
	mlp_net_free(one);
	mlp_net_free(ten);
	group_free(g1);
	group_free(g2);
}
END_TEST

/* A worker fed a bad row, or a worker whose rows make the loss infinite:
 * every worker returns the same status; bad rows change no network. */
START_TEST(errors_reach_every_worker)
{
	static const mlp_status want[2] = { MLP_ENONFINITE, MLP_EDIVERGED };
	struct job jobs[3];
	struct group *g = group_new(3);
	uint64_t before[3];

	load_digits();
	memset(jobs, 0, sizeof(jobs));
	for (int r = 0; r < 3; r++) {
		jobs[r].net = digits_net();
		jobs[r].opts = digits_opts();
		jobs[r].opts.eval_n = 0;
		jobs[r].n = N_TRAIN;
		jobs[r].X = DX;
		jobs[r].Y = DY;
		before[r] = param_hash(jobs[r].net);
	}
	/* Worker 2 holds its own copy of the rows, with a NaN (_i = 0) or
	 * inputs so large the loss overflows (_i = 1). */
	jobs[2].own_X = malloc(sizeof(DX));
	ck_assert_ptr_nonnull(jobs[2].own_X);
	memcpy(jobs[2].own_X, DX, sizeof(DX));
	if (_i == 0)
		jobs[2].own_X[700 * N_IN + 3] = NAN;
	else
		for (size_t i = 0; i < N_TRAIN * N_IN; i++)
			jobs[2].own_X[i] *= 3e37f;
	jobs[2].X = jobs[2].own_X;
	run_all(jobs, 3, g);
	for (int r = 0; r < 3; r++) {
		ck_assert_msg(jobs[r].st == want[_i], "worker %d: %s", r,
			      mlp_strerror(jobs[r].st));
		if (_i == 0)
			ck_assert_uint_eq(param_hash(jobs[r].net), before[r]);
		mlp_net_free(jobs[r].net);
	}
	free(jobs[2].own_X);
	group_free(g);
}
END_TEST

/* Workers that disagree: another seed (_i = 0) or other rows (_i = 1) on
 * one worker give MLP_EWORKERS on all before anything changes; float sums
 * that differ between workers (_i = 2) are caught after the first epoch. */
START_TEST(workers_disagree)
{
	struct job jobs[2];
	struct group *g = group_new(2);

	load_digits();
	memset(jobs, 0, sizeof(jobs));
	for (int r = 0; r < 2; r++) {
		jobs[r].net = digits_net();
		jobs[r].opts = digits_opts();
		jobs[r].n = N_TRAIN;
		jobs[r].X = DX;
		jobs[r].Y = DY;
	}
	if (_i == 0)
		jobs[1].opts.seed = 6;
	else if (_i == 1)
		jobs[1].n = N_TRAIN - 1;
	else
		g->perturb_rank = 1;
	run_all(jobs, 2, g);
	for (int r = 0; r < 2; r++) {
		ck_assert_msg(jobs[r].st == MLP_EWORKERS, "case %d, worker %d: %s",
			      _i, r, mlp_strerror(jobs[r].st));
		mlp_net_free(jobs[r].net);
	}
	group_free(g);
}
END_TEST

/* A transfer that fails: MLP_ECOMM. */
START_TEST(transfer_fails)
{
	struct job jobs[1];
	struct group *g = group_new(1);

	load_digits();
	memset(jobs, 0, sizeof(jobs));
	jobs[0].net = digits_net();
	jobs[0].opts = digits_opts();
	jobs[0].n = N_TRAIN;
	jobs[0].X = DX;
	jobs[0].Y = DY;
	g->fail_rank = 0;
	g->fail_after = 5;
	run_all(jobs, 1, g);
	ck_assert_int_eq(jobs[0].st, MLP_ECOMM);
	mlp_net_free(jobs[0].net);
	group_free(g);
}
END_TEST

/* Trainers with workers (opts.comm), for callers who feed their own
 * batches: 2 workers each stepping on half of a batch of 60 (and worker 1
 * on none of the last, smaller one) against one trainer on the whole:
 * the same losses (to float rounding) and parameters within 1e-5. */
struct step_job {
	struct worker w;
	mlp_net *net;
	float losses[3];
	mlp_status st;
};

static void *run_steps(void *arg)
{
	struct step_job *j = arg;
	mlp_train_opts o = digits_opts();
	mlp_trainer *t;
	size_t half = 30, rank = (size_t)j->w.rank;

	o.comm = &j->w.comm;
	j->st = mlp_trainer_create(&t, j->net, &o, half);
	for (int k = 0; j->st == MLP_OK && k < 3; k++) {
		size_t rows = k < 2 ? half : (rank == 0 ? 10 : 0);
		size_t at = (size_t)k * 60 + rank * half;

		j->st = mlp_trainer_step(t, rows, DX + at * N_IN, DY + at * N_OUT,
					 &j->losses[k]);
	}
	mlp_trainer_free(t);
	return NULL;
}

START_TEST(trainer_steps_with_workers)
{
	struct group *g = group_new(2);
	struct step_job jobs[2];
	pthread_t th[2];
	mlp_train_opts o = digits_opts();
	mlp_net *one = digits_net();
	mlp_trainer *t;
	float loss[3];
	double scale, d;

	load_digits();
	ck_assert_int_eq(mlp_trainer_create(&t, one, &o, 60), MLP_OK);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(mlp_trainer_step(t, k < 2 ? 60 : 10,
						  DX + (size_t)k * 60 * N_IN,
						  DY + (size_t)k * 60 * N_OUT, &loss[k]),
				 MLP_OK);
	mlp_trainer_free(t);
	memset(jobs, 0, sizeof(jobs));
	for (int r = 0; r < 2; r++) {
		jobs[r].net = digits_net();
		jobs[r].w = (struct worker){ g, r, { sizeof(mlp_comm), r, 2,
				&jobs[r].w, group_sum_doubles, group_sum_floats,
				group_broadcast } };
		jobs[r].w.comm.ctx = &jobs[r].w;
		ck_assert_int_eq(pthread_create(&th[r], NULL, run_steps, &jobs[r]), 0);
	}
	for (int r = 0; r < 2; r++)
		pthread_join(th[r], NULL);
	for (int r = 0; r < 2; r++) {
		ck_assert_int_eq(jobs[r].st, MLP_OK);
		for (int k = 0; k < 3; k++)
			ck_assert_msg(fabsf(jobs[r].losses[k] - loss[k]) <=
					      1e-6f * fabsf(loss[k]),
				      "worker %d, step %d: loss %.9g, one trainer "
				      "%.9g", r, k, (double)jobs[r].losses[k],
				      (double)loss[k]);
	}
	ck_assert_uint_eq(param_hash(jobs[0].net), param_hash(jobs[1].net));
	d = max_diff(jobs[0].net, one, &scale);
	ck_assert_msg(d <= 1e-5 * scale, "%.3g from one trainer", d);
	for (int r = 0; r < 2; r++)
		mlp_net_free(jobs[r].net);
	mlp_net_free(one);
	group_free(g);
}
END_TEST

/* ---- checkpoints --------------------------------------------------------- */

/* A directory of its own for a test's files. */
static char *temp_dir(void)
{
	char *dir = strdup("/tmp/mlp-test-ckpt-XXXXXX");

	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

/* The files in dir, removed; their number. */
static int clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		remove(path);
		n++;
	}
	closedir(d);
	return n;
}

/* Trains on P workers (P = 1: mlp_train itself), each from a network of
 * its own, all with opts; worker 0's network's hash. */
static uint64_t train_hash(int P, const mlp_train_opts *opts, uint64_t init)
{
	struct job jobs[MAX_WORKERS];
	uint64_t h;

	memset(jobs, 0, sizeof(jobs));
	for (int r = 0; r < P; r++) {
		jobs[r].net = digits_net();
		mlp_net_init(jobs[r].net, init + (uint64_t)r);
		jobs[r].opts = *opts;
		jobs[r].n = N_TRAIN;
		jobs[r].X = DX;
		jobs[r].Y = DY;
	}
	if (P == 1) {
		jobs[0].st = mlp_train(jobs[0].net, opts, N_TRAIN, DX, DY);
	} else {
		struct group *g = group_new(P);

		run_all(jobs, P, g);
		group_free(g);
	}
	for (int r = 0; r < P; r++)
		ck_assert_msg(jobs[r].st == MLP_OK, "worker %d: %s", r,
			      mlp_strerror(jobs[r].st));
	h = param_hash(jobs[0].net);
	for (int r = 0; r < P; r++)
		mlp_net_free(jobs[r].net);
	return h;
}

/* 4 epochs straight; 2 epochs with a checkpoint after the second, then a
 * run that resumes from it for the 2 left, from another network: the same
 * bits. Alone with Adam (_i = 0), on 2 workers with SGD and Nesterov
 * momentum (_i = 1). The checkpoint loads as a plain network, the one
 * after 2 epochs; no temporary file is left beside it. */
START_TEST(resume_gives_the_same_bits)
{
	int P = _i == 0 ? 1 : 2;
	char *dir = temp_dir(), path[512];
	mlp_train_opts o = digits_opts();
	uint64_t straight, two, resumed;
	mlp_net *saved;
	mlp_msg msg;

	load_digits();
	snprintf(path, sizeof(path), "%s/run.ckpt", dir);
	o.epochs = 4;
	if (_i == 1) {
		o.optim = MLP_OPTIM_SGD;
		o.nesterov = 1;
		o.lr = 0.05f;
	}
	straight = train_hash(P, &o, 11);
	o.epochs = 2;
	o.checkpoint = path;
	o.checkpoint_every = 2;
	two = train_hash(P, &o, 11);
	ck_assert_int_eq(mlp_net_load(&saved, path, NULL, &msg), MLP_OK);
	ck_assert_uint_eq(param_hash(saved), two);
	mlp_net_free(saved);
	o.epochs = 4;
	o.checkpoint = NULL;
	o.resume = path;
	resumed = train_hash(P, &o, 77);
	ck_assert_uint_eq(resumed, straight);
	ck_assert_uint_ne(two, straight);
	ck_assert_int_eq(clear_dir(dir), 1);
	rmdir(dir);
	free(dir);
}
END_TEST

/* A checkpoint of other options or of another network, a model file that
 * is not a checkpoint, a file that is not there: refused, the network
 * unchanged; a checkpoint without checkpoint_every: MLP_EINVAL. */
START_TEST(resume_refuses)
{
	char *dir = temp_dir(), ckpt[512], model[512];
	mlp_train_opts o = digits_opts();
	static const size_t sizes[] = { N_IN, 16, N_OUT };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	mlp_net *net = digits_net(), *other;
	uint64_t before;
	mlp_msg msg;

	load_digits();
	snprintf(ckpt, sizeof(ckpt), "%s/run.ckpt", dir);
	snprintf(model, sizeof(model), "%s/model.st", dir);
	o.epochs = 1;
	o.checkpoint = ckpt;
	o.checkpoint_every = 1;
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN, DX, DY), MLP_OK);
	ck_assert_int_eq(mlp_net_save(net, model, &msg), MLP_OK);
	before = param_hash(net);
	o.checkpoint = NULL;
	o.epochs = 3;
	o.resume = ckpt;
	o.seed = 6;
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN, DX, DY), MLP_EINVAL);
	o.seed = 5;
	o.batch_size = 30;
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN, DX, DY), MLP_EINVAL);
	o.batch_size = 60;
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN - 1, DX, DY), MLP_EINVAL);
	ck_assert_int_eq(mlp_net_create(&other, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_train(other, &o, N_TRAIN, DX, DY), MLP_EINVAL);
	mlp_net_free(other);
	o.resume = model;
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN, DX, DY), MLP_EFORMAT);
	o.resume = "/nonexistent/run.ckpt";
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN, DX, DY), MLP_EIO);
	ck_assert_uint_eq(param_hash(net), before);
	o.resume = NULL;
	o.checkpoint = ckpt;
	o.checkpoint_every = 0;
	ck_assert_int_eq(mlp_train_check(net, &o, &msg), MLP_EINVAL);
	ck_assert_str_eq(msg.text, "checkpoint_every must be at least 1 with a "
				   "checkpoint file");
	ck_assert_int_eq(clear_dir(dir), 2);
	rmdir(dir);
	free(dir);
	mlp_net_free(net);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("parallel");
	TCase *tc = tcase_create("workers");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, workers_match_one_process, 0, 2);
	tcase_add_test(tc, same_run_same_bits);
	tcase_add_test(tc, shards);
	tcase_add_loop_test(tc, errors_reach_every_worker, 0, 2);
	tcase_add_loop_test(tc, workers_disagree, 0, 3);
	tcase_add_test(tc, transfer_fails);
	tcase_add_test(tc, trainer_steps_with_workers);
	suite_add_tcase(s, tc);
	TCase *ck = tcase_create("checkpoints");
	tcase_set_timeout(ck, 120);
	tcase_add_loop_test(ck, resume_gives_the_same_bits, 0, 2);
	tcase_add_test(ck, resume_refuses);
	suite_add_tcase(s, ck);
	return run_suite(s);
}
