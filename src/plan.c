/*
 * plan.c — plans: the planner's table of rung × layer → kernel, the forms
 * the kernels packed (shared by every clone), and per clone the kernels'
 * contexts and two buffers for the data between layers.
 *
 * A pass of n rows runs on the largest rung that fits; where every layer's
 * kernel at that rung takes any number of rows, up to the next rung's rows
 * less one go through at once, else the rung's own, and so on down.
 */
#include "planner.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plan_shared {
	atomic_size_t refs; /* the plans sharing it */
	struct mlpi_choice c;
	mlp_precision precision;
	size_t n_in, n_out, widest; /* widest hidden layer */
	bool flexible[MLPI_MAX_RUNGS];
	char describe[1024];
};

struct mlp_plan {
	struct plan_shared *shared;
	void **ctx;    /* [l * n_kernels + i], where packed is */
	void *mem;
	float *buf[2];
};

mlp_status mlp_plan_opts_init(mlp_plan_opts *opts, size_t struct_size)
{
	mlp_plan_opts full = {
		.struct_size = sizeof(full), .precision = MLP_FP32,
		.max_batch = 256, .effort = MLP_ESTIMATE, .flags = 0,
		.threads = 0, .time_limit = 1.0,
	};

	if (opts == NULL)
		return MLP_ENULL;
	if (struct_size != sizeof(full))
		return MLP_EINVAL;
	*opts = full;
	return MLP_OK;
}

static void free_contexts(mlp_plan *plan)
{
	const struct mlpi_choice *c = &plan->shared->c;

	for (size_t j = 0; plan->ctx != NULL && j < c->n_layers * c->n_kernels; j++)
		if (c->packed[j] != NULL)
			c->kernels[j % c->n_kernels]->free_context(plan->ctx[j]);
	free(plan->ctx);
	mlpi_free_aligned(plan->mem);
}

/* A plan of shared: contexts and buffers of its own. */
static mlp_status plan_new(struct plan_shared *shared, mlp_plan **out)
{
	const struct mlpi_choice *c = &shared->c;
	size_t count = c->rungs.rows[c->rungs.n - 1] * shared->widest;
	mlp_plan *plan = calloc(1, sizeof(*plan));
	mlp_status st = MLP_OK;

	if (plan == NULL)
		return MLP_ENOMEM;
	plan->shared = shared;
	plan->ctx = calloc(c->n_layers * c->n_kernels, sizeof(void *));
	if (count > 0)
		plan->mem = mlpi_alloc_aligned(2 * count * sizeof(float));
	if (plan->ctx == NULL || (count > 0 && plan->mem == NULL))
		st = MLP_ENOMEM;
	for (size_t j = 0; st == MLP_OK && j < c->n_layers * c->n_kernels; j++)
		if (c->packed[j] != NULL)
			st = c->kernels[j % c->n_kernels]->context(c->packed[j],
								     &plan->ctx[j]);
	if (st != MLP_OK) {
		/* Contexts not made are NULL, which every free takes. */
		free_contexts(plan);
		free(plan);
		return st;
	}
	plan->buf[0] = plan->mem;
	plan->buf[1] = count > 0 ? (float *)plan->mem + count : NULL;
	*out = plan;
	return MLP_OK;
}

static void shared_release(struct plan_shared *shared)
{
	if (atomic_fetch_sub(&shared->refs, 1) == 1) {
		mlpi_choice_free(&shared->c);
		free(shared);
	}
}

/* "fp32; 1: packed(avx512) packed(avx512); 64: ..." with runs of rungs of
 * the same kernels named once ("1-8: ..."). */
static void describe(struct plan_shared *s, const mlp_plan_opts *o)
{
	const struct mlpi_choice *c = &s->c;
	size_t used = 0, cap = sizeof(s->describe);

#define ADD(...)                                                               \
	do {                                                                   \
		int n_ = snprintf(s->describe + used, cap - used, __VA_ARGS__); \
		used += n_ > 0 ? (size_t)n_ : 0;                               \
		used = used < cap ? used : cap - 1;                            \
	} while (0)
	ADD("%s %s%s", mlpi_precision_name(o->precision),
	    o->effort == MLP_MEASURE ? "measure" : "estimate",
	    c->rungs.invariant ? " batch-invariant" : "");
	for (size_t k = 0; k < c->rungs.n;) {
		size_t to = k;

		while (to + 1 < c->rungs.n &&
		       memcmp(c->pick + (to + 1) * c->n_layers,
			      c->pick + k * c->n_layers, c->n_layers) == 0)
			to++;
		if (to > k)
			ADD("; %zu-%zu:", c->rungs.rows[k], c->rungs.rows[to]);
		else
			ADD("; %zu:", c->rungs.rows[k]);
		for (size_t l = 0; l < c->n_layers; l++) {
			size_t i = c->pick[k * c->n_layers + l];

			ADD(" %s(%s)", c->kernels[i]->name,
			    c->kernels[i]->describe(c->packed[l * c->n_kernels + i]));
		}
		k = to + 1;
	}
#undef ADD
}

/* A plan on the kernels given (the tests pass their own). */
mlp_status mlpi_plan_create_with(const struct mlpi_kernel *const *kernels,
				 size_t n_kernels, mlp_plan **out,
				 const mlp_net *net, const mlp_plan_opts *opts,
				 mlp_msg *msg)
{
	struct plan_shared *shared;
	mlp_status st;

	if (out == NULL || net == NULL || opts == NULL)
		return MLP_ENULL;
	shared = calloc(1, sizeof(*shared));
	if (shared == NULL)
		return MLP_ENOMEM;
	st = mlpi_plan_choose(kernels, n_kernels, net, opts, &shared->c, msg);
	if (st != MLP_OK) {
		free(shared);
		return st;
	}
	atomic_init(&shared->refs, 1);
	shared->precision = opts->precision;
	shared->n_in = net->sizes[0];
	shared->n_out = net->sizes[net->n_layers];
	shared->widest = net->max_hidden;
	for (size_t k = 0; k < shared->c.rungs.n; k++) {
		shared->flexible[k] = true;
		for (size_t l = 0; l < net->n_layers; l++)
			shared->flexible[k] &=
				kernels[shared->c.pick[k * net->n_layers + l]]->any_rows;
	}
	describe(shared, opts);
	st = plan_new(shared, out);
	if (st != MLP_OK)
		shared_release(shared);
	return st;
}

mlp_status mlp_plan_create_opts(mlp_plan **out, const mlp_net *net,
				const mlp_plan_opts *opts, mlp_msg *msg)
{
	size_t n;
	const struct mlpi_kernel *const *kernels = mlpi_kernels(&n);

	return mlpi_plan_create_with(kernels, n, out, net, opts, msg);
}

mlp_status mlp_plan_create(mlp_plan **out, const mlp_net *net,
			   mlp_precision precision, size_t max_batch)
{
	mlp_plan_opts o = mlp_plan_defaults();

	o.precision = precision;
	o.max_batch = max_batch;
	return mlp_plan_create_opts(out, net, &o, NULL);
}

mlp_status mlp_plan_clone(mlp_plan **out, const mlp_plan *plan)
{
	mlp_status st;

	if (out == NULL || plan == NULL)
		return MLP_ENULL;
	atomic_fetch_add(&plan->shared->refs, 1);
	st = plan_new(plan->shared, out);
	if (st != MLP_OK)
		shared_release(plan->shared);
	return st;
}

void mlp_plan_free(mlp_plan *plan)
{
	if (plan == NULL)
		return;
	free_contexts(plan);
	shared_release(plan->shared);
	free(plan);
}

const char *mlp_plan_describe(const mlp_plan *plan)
{
	if (plan == NULL)
		return "no plan";
	return plan->shared->describe;
}

/* The rung a pass of `rows` (≤ max_batch) starts on, and how many of its
 * rows go through it at once. */
static size_t rung_of(const struct plan_shared *s, size_t rows, size_t *take)
{
	const struct mlpi_rungs *r = &s->c.rungs;
	size_t k = r->n - 1;

	while (r->rows[k] > rows)
		k--;
	if (!s->flexible[k])
		*take = r->rows[k];
	else if (k + 1 < r->n && rows >= r->rows[k + 1])
		*take = r->rows[k + 1] - 1;
	else
		*take = rows;
	return k;
}

const char *mlp_plan_kernel(const mlp_plan *plan, size_t rows, size_t layer)
{
	const struct plan_shared *s;
	size_t take, k;

	if (plan == NULL || rows == 0)
		return NULL;
	s = plan->shared;
	if (layer >= s->c.n_layers)
		return NULL;
	if (rows > s->c.rungs.rows[s->c.rungs.n - 1])
		rows = s->c.rungs.rows[s->c.rungs.n - 1];
	k = rung_of(s, rows, &take);
	return s->c.kernels[s->c.pick[k * s->c.n_layers + layer]]->name;
}

void mlpi_plan_shape(const mlp_plan *plan, size_t *n_in, size_t *n_out,
		     size_t *max_batch)
{
	const struct plan_shared *s = plan->shared;

	*n_in = s->n_in;
	*n_out = s->n_out;
	*max_batch = s->c.rungs.rows[s->c.rungs.n - 1];
}

mlp_status mlp_plan_forward(mlp_plan *plan, size_t batch, const float *X,
			    float *Y)
{
	const struct plan_shared *s;
	const struct mlpi_choice *c;
	size_t x_bytes, y_bytes, max;

	if (plan == NULL || X == NULL || Y == NULL)
		return MLP_ENULL;
	if (batch == 0)
		return MLP_ESIZE;
	s = plan->shared;
	c = &s->c;
	if (!mlpi_mul(batch, s->n_in * sizeof(float), &x_bytes) ||
	    !mlpi_mul(batch, s->n_out * sizeof(float), &y_bytes))
		return MLP_ETOOBIG;
	if (mlpi_overlap(X, x_bytes, Y, y_bytes))
		return MLP_EINVAL;
	max = c->rungs.rows[c->rungs.n - 1];
	for (size_t r = 0; r < batch;) {
		size_t left = batch - r < max ? batch - r : max, rows;
		size_t k = rung_of(s, left, &rows);
		const float *in = X + r * s->n_in;

		for (size_t l = 0; l < c->n_layers; l++) {
			size_t i = c->pick[k * c->n_layers + l], j = l * c->n_kernels + i;
			float *out = l + 1 == c->n_layers ? Y + r * s->n_out
							  : plan->buf[l & 1];
			mlp_status st = c->kernels[i]->run(c->packed[j], plan->ctx[j],
							   k, rows, in, out);

			if (st != MLP_OK)
				return st;
			in = out;
		}
		r += rows;
	}
	return MLP_OK;
}
