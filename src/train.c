/*
 * train.c — mlp_train: epochs of shuffled batches on a trainer, held-out
 * rows, callbacks, and the epoch's parameters kept until it succeeds.
 */
#include "internal.h"

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
	size_t n, batch, steps; /* rows, rows a step, steps an epoch */
	const float *X, *Y;
	mlp_trainer *t;
	struct mlpi_rng rng;
	void *mem;
	size_t *order;          /* a permutation of the rows */
	float *Xb, *Yb;         /* the gathered batch */
	float *backup;          /* the parameters at the start of the epoch */
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
	r->order = mlpi_carve(c, r->n, sizeof(size_t));
	r->Xb = mlpi_carve(c, r->batch * n_in, sizeof(float));
	r->Yb = mlpi_carve(c, r->batch * n_out, sizeof(float));
	r->backup = mlpi_carve(c, net->block_floats, sizeof(float));
	if (eval_rows > 0) {
		r->eval_mem_size = mlp_workspace_size(net, eval_rows);
		r->eval_mem = mlpi_carve(c, r->eval_mem_size, 1);
		r->eval_scratch = mlpi_carve(c, mlpi_eval_scratch(net, eval_rows),
					     sizeof(float));
	}
}

/* The trainer and the block of a run whose options and rows are checked. */
static mlp_status run_open(struct train_run *r)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);
	size_t bytes;
	mlp_status st;

	r->batch = r->o->batch_size < r->n ? r->o->batch_size : r->n;
	r->steps = r->o->drop_last ? r->n / r->batch
				   : r->n / r->batch + (r->n % r->batch != 0);
	run_layout(r, &c);
	if (!mlpi_carved_size(&c, &bytes))
		return MLP_ETOOBIG;
	st = mlp_trainer_create(&r->t, r->net, r->o, r->batch);
	if (st != MLP_OK)
		return st;
	r->mem = mlpi_alloc_aligned(bytes);
	if (r->mem == NULL) {
		mlp_trainer_free(r->t);
		return MLP_ENOMEM;
	}
	c = MLPI_CARVER(r->mem);
	run_layout(r, &c);
	mlpi_rng_seed(&r->rng, r->o->seed);
	for (size_t i = 0; i < r->n; i++)
		r->order[i] = i;
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
	for (size_t i = r->n - 1; i > 0; i--) {
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

/* One epoch: its steps, then the held-out rows and the callback. *stop is
 * set when a callback asks to stop. */
static mlp_status run_epoch(struct train_run *r, size_t epoch, bool *stop)
{
	const mlp_train_opts *o = r->o;
	mlp_train_progress p = { epoch, o->epochs, 0, r->steps, 0, 0.0, NAN, NAN,
				 r->t };
	double sum = 0;

	shuffle(r);
	for (size_t k = 0; k < r->steps; k++) {
		size_t first = k * r->batch;
		size_t rows = r->n - first < r->batch ? r->n - first : r->batch;
		float loss;
		mlp_status st;

		gather(r, first, rows);
		st = mlp_trainer_step(r->t, rows, r->Xb, r->Yb, &loss);
		if (st != MLP_OK)
			return st;
		sum += (double)loss * (double)rows;
		p.step = k + 1;
		p.rows += rows;
		p.loss = sum / (double)p.rows;
		if (o->on_step != NULL && o->on_step(o->user, &p) != 0) {
			*stop = true;
			return MLP_OK;
		}
	}
	if (o->eval_n > 0) {
		mlp_workspace *ws;

		mlp_workspace_place(&ws, r->net, mlpi_eval_rows(o->eval_n),
				    r->eval_mem, r->eval_mem_size);
		mlpi_evaluate(r->net, ws, r->eval_scratch, o->loss, o->eval_n,
			      o->eval_X, o->eval_Y, &p.eval_loss,
			      &p.eval_accuracy);
	}
	*stop = o->on_epoch != NULL && o->on_epoch(o->user, &p) != 0;
	return MLP_OK;
}

mlp_status mlp_train(mlp_net *net, const mlp_train_opts *opts, size_t n,
		     const float *X, const float *Y)
{
	struct train_run r = { .o = opts, .net = net, .n = n, .X = X, .Y = Y };
	size_t block_bytes;
	bool stop = false;
	mlp_status st;

	if (net == NULL || opts == NULL || X == NULL || Y == NULL)
		return MLP_ENULL;
	st = mlpi_check_opts(net, opts, true, NULL);
	if (st == MLP_OK)
		st = mlpi_check_data(net, opts->loss, n, X, Y);
	if (st == MLP_OK && opts->eval_n > 0)
		st = mlpi_check_data(net, opts->loss, opts->eval_n, opts->eval_X,
				     opts->eval_Y);
	if (st == MLP_OK)
		st = run_open(&r);
	if (st != MLP_OK)
		return st;

	block_bytes = net->block_floats * sizeof(float);
	for (size_t epoch = 1; epoch <= opts->epochs && !stop; epoch++) {
		memcpy(r.backup, net->block, block_bytes);
		st = run_epoch(&r, epoch, &stop);
		if (st != MLP_OK) {
			/* Back to the start of the epoch. */
			memcpy(net->block, r.backup, block_bytes);
			break;
		}
	}
	run_close(&r);
	return st;
}
