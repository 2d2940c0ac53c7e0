/*
 * train.c — mlp_train: epochs of shuffled batches on a trainer, held-out
 * rows, callbacks, and the epoch's parameters kept until it succeeds; with
 * workers (opts.comm), each step's rows shared among them.
 *
 * Workers on all the rows (replicated) draw the same order from the seed
 * and split each step's rows as evenly as they go: worker r takes rows
 * [b·r/P, b·(r+1)/P) of a step of b. Each computes the gradient of the
 * step's mean loss as far as its rows make it, so that their sum is the
 * gradient one process computes for the whole step, up to the order of
 * the float sums. Workers on shards hold rows i ≡ r (mod P) of N, shuffle
 * their own, and each gives B/P rows to a step while its shard lasts.
 */
#include "comm.h"
#include "files.h"
#include "loss.h"
#include "rng.h"
#include "train_opts.h"
#include "trainer.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A uniform integer in [0, n), n ≥ 1: draws below 2⁶⁴ mod n are rejected,
 * so the modulo has no bias. */
static size_t uniform_below(struct mlpi_rng *rng, size_t n)
{
	uint64_t limit = (uint64_t)n, x, threshold = (0 - limit) % limit;

	do {
		x = mlpi_rng_next(rng);
	} while (x < threshold);
	return (size_t)(x % limit);
}

/* A run of mlp_train: its inputs, its trainer, and everything else it
 * needs, carved from one block. */
struct train_run {
	const mlp_train_opts *o;
	mlp_net *net;
	size_t n, batch, steps; /* rows here, rows a step, steps an epoch */
	const mlp_comm *comm;   /* the workers, or NULL */
	size_t rank, size;
	size_t total;           /* rows across the workers (sharded: Σ shards) */
	int vote;               /* a callback here asked to stop */
	const float *X, *Y;
	mlp_trainer *t;
	struct mlpi_rng rng;
	void *mem;
	size_t *order;          /* a permutation of the rows */
	float *Xb, *Yb;         /* the gathered batch */
	float *backup;          /* the parameters at the start of the epoch */
	const size_t *rows_used; /* the rows trained on (ascending), or NULL
				  * for all: the rest are held out */
	float *best;            /* the parameters of the best epoch (keep_best) */
	size_t best_epoch;      /* of the lowest held-out loss; 0: none yet */
	double best_loss;
	void *eval_mem;         /* the held-out rows' workspace */
	size_t eval_mem_size;
	float *eval_scratch;
};

static void run_layout(struct train_run *r, struct mlpi_carver *c)
{
	const mlp_net *net = r->net;
	size_t n_in = net->sizes[0], n_out = net->sizes[net->n_layers];
	size_t eval_rows = mlpi_eval_rows(r->o->eval_n);

	/* batch ≤ n, whose rows mlpi_check_data found to fit a size_t. */
	r->order = mlpi_carve(c, r->n > 0 ? r->n : 1, sizeof(size_t));
	r->Xb = mlpi_carve(c, r->batch * n_in, sizeof(float));
	r->Yb = mlpi_carve(c, r->batch * n_out, sizeof(float));
	r->backup = mlpi_carve(c, net->block_floats, sizeof(float));
	if (r->o->keep_best)
		r->best = mlpi_carve(c, net->block_floats, sizeof(float));
	if (eval_rows > 0) {
		r->eval_mem_size = mlp_workspace_size(net, eval_rows);
		r->eval_mem = mlpi_carve(c, r->eval_mem_size, 1);
		r->eval_scratch = mlpi_carve(c, mlpi_eval_scratch(net, eval_rows),
					     sizeof(float));
	}
}

/* The rows of shard `rank`: rows i ≡ rank (mod size) of total. */
static size_t shard_rows(const struct train_run *r, size_t rank)
{
	return r->total / r->size + (rank < r->total % r->size);
}

/* The rows this worker takes in step k: order[*first ..) for *rows; the
 * step's rows across the workers into *all. */
static void step_rows(const struct train_run *r, size_t k, size_t *first,
		      size_t *rows, size_t *all)
{
	if (r->o->sharded) {
		*all = 0;
		for (size_t w = 0; w < r->size; w++) {
			size_t n = shard_rows(r, w), at = k * r->batch;
			size_t take = n > at ? (n - at < r->batch ? n - at : r->batch) : 0;

			*all += take;
			if (w == r->rank) {
				*first = at;
				*rows = take;
			}
		}
		return;
	}
	*all = r->n - k * r->batch < r->batch ? r->n - k * r->batch : r->batch;
	*first = k * r->batch + *all * r->rank / r->size;
	*rows = k * r->batch + *all * (r->rank + 1) / r->size - *first;
}

/* Rows a step, and steps an epoch: one process's; with shards, B/P rows a
 * worker (all of them when the shards hold fewer than B), steps while the
 * largest shard lasts, or the smallest with drop_last. */
static void plan_steps(struct train_run *r)
{
	mlpi_epoch_steps(r->o->sharded ? r->total : r->n, r->o->batch_size,
			 r->o->drop_last != 0, r->o->sharded != 0, r->size,
			 &r->batch, &r->steps);
}

/* The most rows this worker takes in a step. */
static size_t rows_here(const struct train_run *r)
{
	size_t most = 0;

	for (size_t k = 0; k < r->steps; k++) {
		size_t first, rows, all;

		step_rows(r, k, &first, &rows, &all);
		most = rows > most ? rows : most;
		if (!r->o->sharded && k > 0)
			break; /* the first step is as large as any */
	}
	return most;
}

/* The trainer and the block of a run whose options and rows are checked. */
static mlp_status run_open(struct train_run *r)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);
	size_t bytes, most;
	mlp_status st;

	plan_steps(r);
	most = rows_here(r);
	run_layout(r, &c);
	if (!mlpi_carved_size(&c, &bytes))
		return MLP_ETOOBIG;
	st = mlp_trainer_create(&r->t, r->net, r->o, most > 0 ? most : 1);
	if (st != MLP_OK)
		return st;
	r->mem = mlpi_alloc_aligned(bytes);
	if (r->mem == NULL) {
		mlp_trainer_free(r->t);
		r->t = NULL;
		return MLP_ENOMEM;
	}
	c = MLPI_CARVER(r->mem);
	run_layout(r, &c);
	/* Shards shuffle apart: each its own stream of the seed. */
	mlpi_rng_seed(&r->rng, r->o->seed +
			       (r->o->sharded ? 0x9e3779b97f4a7c15u * r->rank : 0));
	for (size_t i = 0; i < r->n; i++)
		r->order[i] = r->rows_used != NULL ? r->rows_used[i] : i;
	return MLP_OK;
}

static void run_close(struct train_run *r)
{
	mlpi_free_aligned(r->mem);
	mlp_trainer_free(r->t);
}

/* A fresh order of the rows: Fisher–Yates. */
static void shuffle(struct train_run *r)
{
	for (size_t i = r->n > 0 ? r->n - 1 : 0; i > 0; i--) {
		size_t j = uniform_below(&r->rng, i + 1), k = r->order[i];

		r->order[i] = r->order[j];
		r->order[j] = k;
	}
}

/* Rows order[first .. first + rows) of X and Y into the batch. */
static void gather(struct train_run *r, size_t first, size_t rows)
{
	size_t n_in = r->net->sizes[0], n_out = r->net->sizes[r->net->n_layers];

	for (size_t i = 0; i < rows; i++) {
		size_t row = r->order[first + i];

		memcpy(r->Xb + i * n_in, r->X + row * n_in, n_in * sizeof(float));
		memcpy(r->Yb + i * n_out, r->Y + row * n_out, n_out * sizeof(float));
	}
}

/* A hash of the parameters' bits (FNV-1a over 32-bit words): the workers
 * compare theirs after each epoch. */
static uint64_t param_hash(const mlp_net *net)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < net->block_floats; i++) {
		uint32_t w;

		memcpy(&w, &net->block[i], sizeof(w));
		h = (h ^ w) * 0x100000001b3u;
	}
	return h;
}

/* The held-out rows' loss and accuracy into p. With workers, each takes
 * its share of the rows, and the sums travel with the epoch's check that
 * the workers' parameters are the same (and with a vote to stop). */
static mlp_status evaluate(struct train_run *r, mlp_train_progress *p)
{
	const mlp_train_opts *o = r->o;
	size_t n_in = r->net->sizes[0], n_out = r->net->sizes[r->net->n_layers];
	size_t lo = o->eval_n * r->rank / r->size;
	size_t hi = o->eval_n * (r->rank + 1) / r->size;
	/* Accuracy counts rows (softmax) or outputs (sigmoid). */
	double per_row = r->net->layers[r->net->n_layers - 1].act == MLP_SOFTMAX
				 ? 1.0 : (double)n_out;
	double sums[3] = { 0, 0, r->vote };
	uint64_t hash;
	mlp_status st;

	if (hi > lo) {
		mlp_workspace *ws;

		mlp_workspace_place(&ws, r->net, mlpi_eval_rows(o->eval_n),
				    r->eval_mem, r->eval_mem_size);
		mlpi_evaluate(r->net, ws, r->eval_scratch, o->loss, hi - lo,
			      o->eval_X + lo * n_in, o->eval_Y + lo * n_out,
			      &p->eval_loss, &p->eval_accuracy);
		sums[0] = p->eval_loss * (double)(hi - lo);
		sums[1] = p->eval_accuracy * (double)(hi - lo) * per_row;
	}
	if (r->comm == NULL)
		return MLP_OK;
	hash = param_hash(r->net);
	st = mlpi_agree(r->comm, MLP_OK, &hash, 1, sums, 3);
	if (st != MLP_OK)
		return st;
	if (o->eval_n > 0) {
		p->eval_loss = sums[0] / (double)o->eval_n;
		p->eval_accuracy = o->loss == MLP_LOSS_MSE
					   ? NAN
					   : sums[1] / ((double)o->eval_n * per_row);
	}
	r->vote = sums[2] > 0;
	return MLP_OK;
}

/* The best epoch so far, by the held-out loss just computed (a NaN loss is
 * never the best); its parameters kept for keep_best. */
static void keep_track(struct train_run *r, mlp_train_progress *p)
{
	if (r->o->eval_n == 0)
		return;
	if (r->best_epoch == 0 || p->eval_loss < r->best_loss) {
		if (isnan(p->eval_loss))
			return;
		r->best_epoch = p->epoch;
		r->best_loss = p->eval_loss;
		if (r->best != NULL)
			memcpy(r->best, r->net->block,
			       r->net->block_floats * sizeof(float));
	}
	p->best_epoch = r->best_epoch;
	p->best_loss = r->best_loss;
}

/* One step on this worker's rows; *stopped when a worker asked to stop. */
static mlp_status run_step(struct train_run *r, size_t rows, double *mean,
			   bool *stopped)
{
	float loss;
	mlp_status st;

	if (r->comm != NULL)
		return mlpi_trainer_step_shared(r->t, rows, r->Xb, r->Yb, r->vote,
						mean, stopped);
	st = mlp_trainer_step(r->t, rows, r->Xb, r->Yb, &loss);
	*mean = loss;
	*stopped = false;
	return st;
}

/* Whether `epoch` epochs without a better held-out loss than the best's
 * exhaust opts->patience. */
static bool out_of_patience(const struct train_run *r, size_t epoch)
{
	return r->o->patience > 0 && r->best_epoch > 0 &&
	       epoch - r->best_epoch >= r->o->patience;
}

/* One epoch: its steps, then the held-out rows and the callback. *stop is
 * set when a callback (of any worker) asks to stop, *whole when the epoch
 * ran to its end (its callback included). */
static mlp_status run_epoch(struct train_run *r, size_t epoch, bool *stop,
			    bool *whole)
{
	const mlp_train_opts *o = r->o;
	mlp_train_progress p = { epoch, o->epochs, 0, r->steps, 0, 0.0, NAN, NAN,
				 r->t, 0.0f, 0, NAN };
	double sum = 0;
	mlp_status st;
	size_t *steps;
	float *M, *V, *lr;

	mlpi_trainer_state(r->t, &M, &V, &steps, &lr);
	if (o->schedule != MLP_SCHEDULE_CONSTANT || o->warmup > 0)
		*lr = mlpi_train_lr(o, epoch);
	p.lr = *lr;
	shuffle(r);
	for (size_t k = 0; k < r->steps; k++) {
		size_t first, rows, all;
		double mean;

		step_rows(r, k, &first, &rows, &all);
		gather(r, first, rows);
		st = run_step(r, rows, &mean, stop);
		if (st != MLP_OK || *stop)
			return st;
		sum += mean * (double)all;
		p.step = k + 1;
		p.rows += all;
		p.loss = sum / (double)p.rows;
		if (o->on_step != NULL && o->on_step(o->user, &p) != 0) {
			r->vote = 1;
			if (r->comm == NULL) {
				*stop = true;
				return MLP_OK;
			}
		}
	}
	st = evaluate(r, &p);
	if (st != MLP_OK || r->vote) {
		*stop = r->vote != 0;
		return st;
	}
	keep_track(r, &p);
	r->vote = o->on_epoch != NULL && o->on_epoch(o->user, &p) != 0;
	*stop = r->comm == NULL && r->vote;
	*whole = true;
	/* Every worker saw the same held-out loss: they stop alike. */
	if (out_of_patience(r, epoch))
		*stop = true;
	return MLP_OK;
}

/* With workers: they agree on the checks' outcome and on the options and
 * rows being the same (shards: on their count), then take worker 0's
 * parameters. */
static mlp_status join(struct train_run *r, mlp_status st)
{
	const mlp_train_opts *o = r->o;
	/* The rows too, when every worker holds them all. */
	uint64_t same[8] = { o->batch_size, o->epochs, o->seed,
			     r->net->block_floats, o->eval_n,
			     (uint64_t)o->loss << 8 | (uint64_t)o->optim << 4 |
				     (uint64_t)(o->drop_last != 0) << 1 |
				     (uint64_t)(o->sharded != 0),
			     o->sharded ? 0 : r->n, mlpi_opts_hash(o) };
	double rows = (double)r->n;

	if (r->comm == NULL) {
		r->total = r->n;
		return st;
	}
	st = mlpi_agree(r->comm, st, same, 8, &rows, 1);
	if (st != MLP_OK)
		return st;
	r->total = (size_t)rows;
	if (o->sharded)
		st = mlpi_agree(r->comm, r->n == shard_rows(r, r->rank)
						 ? MLP_OK : MLP_EWORKERS,
				NULL, 0, NULL, 0);
	else
		r->total = r->n;
	if (st == MLP_OK && r->comm->broadcast(r->comm->ctx, r->net->block,
					       r->net->block_floats) != 0)
		st = MLP_ECOMM;
	mlpi_net_changed(r->net);
	return st;
}

/* ---- checkpoints -------------------------------------------------------- */

/* Worker 0 saves the run after `epoch` epochs; all agree on how it went. */
static mlp_status save_checkpoint(struct train_run *r, size_t epoch)
{
	struct mlpi_state s = { .epoch = epoch, .rows = r->total,
				.workers = r->size, .opts = *r->o,
				.best_epoch = r->best_epoch,
				.best_loss = r->best_loss };
	mlp_status st = MLP_OK;
	size_t *steps;
	float *lr;

	if (r->rank == 0) {
		mlpi_trainer_state(r->t, &s.M, &s.V, &steps, &lr);
		s.steps = *steps;
		s.lr = *lr;
		if (r->o->keep_best && r->best_epoch > 0)
			s.best = r->best;
		st = mlpi_checkpoint_save(r->net, &s, r->o->checkpoint, r->o->msg);
	}
	return mlpi_agree(r->comm, st, NULL, 0, NULL, 0);
}

/* Whether a and b have the same layers. */
static bool same_shape(const mlp_net *a, const mlp_net *b)
{
	if (a->n_layers != b->n_layers)
		return false;
	for (size_t l = 0; l < a->n_layers; l++)
		if (a->sizes[l + 1] != b->sizes[l + 1] ||
		    a->layers[l].act != b->layers[l].act)
			return false;
	return a->sizes[0] == b->sizes[0];
}

/* The scalars of a checkpoint that travel to every worker. */
enum { DONE, STEPS, LR, BEST_EPOCH, BEST_LOSS, N_SCALARS };

/* Worker 0's checkpoint file, checked against this run, into its network
 * and trainer (and best parameters). */
static mlp_status read_checkpoint(struct train_run *r, double *scalars)
{
	const mlp_train_opts *o = r->o;
	struct mlpi_state s = { 0 };
	mlp_net *saved = NULL;
	mlp_status st = mlpi_checkpoint_load(o->resume, &saved, &s, o->msg);
	size_t *steps;
	float *M, *V, *lr;

	if (st != MLP_OK) {
		/* The loader's message, with the file it is about. */
		if (o->msg != NULL && strstr(o->msg->text, o->resume) == NULL) {
			mlp_msg why = *o->msg;

			mlpi_fail(o->msg, st, "checkpoint %s: %s", o->resume,
				  why.text);
		}
		return st;
	}
	if (!same_shape(saved, r->net))
		st = mlpi_fail(o->msg, MLP_EINVAL, "checkpoint %s is of another "
			       "network (widths or activations)", o->resume);
	else
		st = mlpi_checkpoint_fits(&s, o, r->total, r->size, o->resume,
					  o->msg);
	if (st == MLP_OK) {
		size_t bytes = r->net->block_floats * sizeof(float);

		mlpi_trainer_state(r->t, &M, &V, &steps, &lr);
		memcpy(r->net->block, saved->block, bytes);
		mlpi_net_changed(r->net);
		memcpy(M, s.M, bytes);
		memcpy(V, s.V, bytes);
		if (r->best != NULL && s.best != NULL)
			memcpy(r->best, s.best, bytes);
		scalars[DONE] = (double)s.epoch;
		scalars[STEPS] = (double)s.steps;
		scalars[LR] = (double)s.lr;
		scalars[BEST_EPOCH] = (double)s.best_epoch;
		scalars[BEST_LOSS] = s.best_loss;
	}
	free(s.M);
	free(s.V);
	free(s.best);
	mlp_net_free(saved);
	return st;
}

/* Goes on from opts.resume: every worker takes worker 0's parameters,
 * optimizer state and best epoch, and replays the shuffles of the epochs
 * done, so that the order of the next is the one the run had; the epochs
 * done into *done. */
static mlp_status resume(struct train_run *r, size_t *done)
{
	double scalars[N_SCALARS] = { 0 };
	mlp_status st = r->rank == 0 ? read_checkpoint(r, scalars) : MLP_OK;
	size_t *steps;
	float *M, *V, *lr;

	st = mlpi_agree(r->comm, st, NULL, 0, scalars, N_SCALARS);
	if (st != MLP_OK)
		return st;
	mlpi_trainer_state(r->t, &M, &V, &steps, &lr);
	if (r->comm != NULL) {
		const mlp_comm *c = r->comm;
		size_t n = r->net->block_floats;

		if (c->broadcast(c->ctx, r->net->block, n) != 0 ||
		    c->broadcast(c->ctx, M, n) != 0 ||
		    c->broadcast(c->ctx, V, n) != 0 ||
		    (r->best != NULL && c->broadcast(c->ctx, r->best, n) != 0))
			return mlpi_fail(r->o->msg, MLP_ECOMM, "a transfer "
					 "between the workers failed");
	}
	mlpi_net_changed(r->net);
	*done = (size_t)scalars[DONE];
	*steps = (size_t)scalars[STEPS];
	*lr = (float)scalars[LR];
	r->best_epoch = (size_t)scalars[BEST_EPOCH];
	r->best_loss = scalars[BEST_LOSS];
	for (size_t e = 0; e < *done; e++)
		shuffle(r);
	return MLP_OK;
}

/* How many of n rows val_fraction holds out: at least 1, and fewer than
 * n (0 when it cannot). */
static size_t held_count(float val_fraction, size_t n)
{
	size_t n_val = (size_t)((double)n * (double)val_fraction);

	n_val = n_val > 0 ? n_val : 1;
	return n_val < n ? n_val : 0;
}

/* held[i] = 1 for the n_val of n rows held out, 0 for the others: the
 * first n_val of a Fisher–Yates permutation drawn from a stream of the
 * seed of their own. perm: n entries of scratch. */
static void choose_held(uint64_t seed, size_t n, size_t n_val, size_t *perm,
			size_t *held)
{
	struct mlpi_rng rng;

	mlpi_rng_seed(&rng, seed ^ 0x6d6c702d76616c00u);
	for (size_t i = 0; i < n; i++) {
		perm[i] = i;
		held[i] = 0;
	}
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = uniform_below(&rng, i + 1), k = perm[i];

		perm[i] = perm[j];
		perm[j] = k;
	}
	for (size_t i = 0; i < n_val; i++)
		held[perm[i]] = 1;
}

mlp_status mlp_train_held_out(const mlp_train_opts *opts, size_t n,
			      unsigned char *held, size_t *n_held)
{
	mlp_train_opts full;
	size_t n_val = 0, *scratch;
	mlp_status st;

	if (opts == NULL || held == NULL)
		return MLP_ENULL;
	st = mlpi_opts_read(opts, &full, NULL);
	if (st != MLP_OK)
		return st;
	if (!(full.val_fraction >= 0.0f && full.val_fraction < 1.0f))
		return MLP_EINVAL;
	if (full.val_fraction > 0.0f) {
		n_val = held_count(full.val_fraction, n);
		if (n_val == 0)
			return MLP_EINVAL;
		if (n > SIZE_MAX / (2 * sizeof(size_t)))
			return MLP_ETOOBIG;
		scratch = malloc(2 * n * sizeof(size_t));
		if (scratch == NULL)
			return MLP_ENOMEM;
		choose_held(full.seed, n, n_val, scratch, scratch + n);
		for (size_t i = 0; i < n; i++)
			held[i] = (unsigned char)scratch[n + i];
		free(scratch);
	} else {
		memset(held, 0, n);
	}
	if (n_held != NULL)
		*n_held = n_val;
	return MLP_OK;
}

/* Holds opts->val_fraction of the n rows out (those mlp_train_held_out
 * names): they become the held-out rows (copied into *mem, after the list
 * of the rows trained on, ascending), and r trains on the others.
 * MLP_EINVAL when the fraction leaves no row to train on. */
static mlp_status hold_out(struct train_run *r, mlp_train_opts *o, size_t n,
			   void **mem)
{
	size_t n_in = r->net->sizes[0], n_out = r->net->sizes[r->net->n_layers];
	size_t n_val = held_count(o->val_fraction, n), used = 0;
	struct mlpi_carver c = MLPI_CARVER(NULL);
	size_t *rows, *perm, bytes;
	float *Xv, *Yv;

	if (n_val == 0)
		return MLP_EINVAL;
	for (int pass = 0; pass < 2; pass++) {
		rows = mlpi_carve(&c, n, sizeof(size_t));
		perm = mlpi_carve(&c, n, sizeof(size_t));
		Xv = mlpi_carve(&c, n_val * n_in, sizeof(float));
		Yv = mlpi_carve(&c, n_val * n_out, sizeof(float));
		if (pass == 1)
			break;
		if (!mlpi_carved_size(&c, &bytes))
			return MLP_ETOOBIG;
		*mem = mlpi_alloc_aligned(bytes);
		if (*mem == NULL)
			return MLP_ENOMEM;
		c = MLPI_CARVER(*mem);
	}
	choose_held(o->seed, n, n_val, perm, rows);
	for (size_t i = 0, v = 0; i < n; i++) {
		if (rows[i] == 0) {
			perm[used++] = i; /* the rows trained on, ascending */
			continue;
		}
		memcpy(Xv + v * n_in, r->X + i * n_in, n_in * sizeof(float));
		memcpy(Yv + v * n_out, r->Y + i * n_out, n_out * sizeof(float));
		v++;
	}
	r->rows_used = perm;
	r->n = used;
	o->eval_n = n_val;
	o->eval_X = Xv;
	o->eval_Y = Yv;
	return MLP_OK;
}

/* A status of the rows, said in *msg. */
static mlp_status rows_fail(mlp_msg *msg, mlp_status st, const char *which)
{
	if (st == MLP_OK)
		return st;
	return mlpi_fail(msg, st, "the %s rows: %s", which, mlp_strerror(st));
}

/* Before the first epoch: worker 0 makes sure the checkpoint can be
 * written, so that no epoch is spent on a run that cannot keep it. */
static mlp_status probe_checkpoint(struct train_run *r)
{
	mlp_status st = MLP_OK;

	if (r->rank == 0)
		st = mlpi_checkpoint_probe(r->net, r->o->keep_best != 0,
					   r->o->checkpoint, r->o->msg);
	return mlpi_agree(r->comm, st, NULL, 0, NULL, 0);
}

mlp_status mlp_train(mlp_net *net, const mlp_train_opts *given, size_t n,
		     const float *X, const float *Y)
{
	void *held_out = NULL;
	mlp_train_opts full;
	const mlp_train_opts *opts = &full;
	struct train_run r = { .o = opts, .net = net, .n = n, .X = X, .Y = Y,
			       .size = 1 };
	size_t block_bytes, done = 0;
	bool stop = false;
	mlp_status st;

	if (net == NULL || given == NULL || X == NULL || Y == NULL)
		return MLP_ENULL;
	st = mlpi_opts_read(given, &full, NULL);
	if (st == MLP_OK)
		st = mlpi_check_opts(net, opts, true, opts->msg);
	if (st == MLP_OK && opts->comm != NULL) {
		r.comm = opts->comm;
		r.rank = (size_t)opts->comm->rank;
		r.size = (size_t)opts->comm->size;
	}
	/* A shard may hold no rows. */
	if (st == MLP_OK && !(opts->sharded && n == 0))
		st = rows_fail(opts->msg, mlpi_check_data(net, opts->loss, n, X, Y),
			       "training");
	if (st == MLP_OK && opts->eval_n > 0)
		st = rows_fail(opts->msg, mlpi_check_data(net, opts->loss,
							  opts->eval_n,
							  opts->eval_X,
							  opts->eval_Y),
			       "held-out");
	if (st == MLP_OK && opts->val_fraction > 0.0f)
		st = rows_fail(opts->msg, hold_out(&r, &full, n, &held_out),
			       "held-out");
	st = join(&r, st);
	if (st == MLP_OK)
		st = mlpi_agree(r.comm, run_open(&r), NULL, 0, NULL, 0);
	if (st != MLP_OK) {
		if (r.t != NULL)
			run_close(&r);
		mlpi_free_aligned(held_out);
		return st;
	}

	block_bytes = net->block_floats * sizeof(float);
	if (opts->resume != NULL)
		st = resume(&r, &done);
	if (st == MLP_OK && opts->checkpoint != NULL)
		st = probe_checkpoint(&r);
	/* A run that stopped for want of patience stays stopped. */
	stop = out_of_patience(&r, done);
	for (size_t epoch = done + 1; st == MLP_OK && epoch <= opts->epochs &&
				      !stop; epoch++) {
		bool whole = false;

		memcpy(r.backup, net->block, block_bytes);
		st = run_epoch(&r, epoch, &stop, &whole);
		if (st != MLP_OK) {
			/* Back to the start of the epoch. */
			memcpy(net->block, r.backup, block_bytes);
			mlpi_net_changed(net);
			break;
		}
		if (whole && opts->checkpoint != NULL &&
		    epoch % opts->checkpoint_every == 0)
			st = save_checkpoint(&r, epoch);
	}
	if (st == MLP_OK && opts->keep_best && r.best_epoch > 0) {
		memcpy(net->block, r.best, block_bytes);
		mlpi_net_changed(net);
	}
	/* Failures that say no more than their status. */
	if (st != MLP_OK && opts->msg != NULL && opts->msg->text[0] == '\0')
		mlpi_fail(opts->msg, st, "%s", mlp_strerror(st));
	else if (st == MLP_OK)
		mlpi_msg_clear(opts->msg);
	run_close(&r);
	mlpi_free_aligned(held_out);
	return st;
}
