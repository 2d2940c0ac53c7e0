/*
 * plan.c — plans: a network prepared for one engine and precision, its
 * packed form shared by every clone, a context of scratch per clone; and
 * the engines of this build, in one list, best first.
 */
#include "engine.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mlpi_engine *const engines[] = {
#if defined(MLP_HAVE_ONEDNN)
	&mlpi_engine_onednn,
#endif
	&mlpi_engine_packed,
	&mlpi_engine_cblas,
};
#define N_ENGINES (sizeof(engines) / sizeof(engines[0]))

const struct mlpi_engine *const *mlpi_engines(size_t *n)
{
	*n = N_ENGINES;
	return engines;
}

/* mlp_engines' names, written once when the library loads. */
static char engine_names[64];

__attribute__((constructor))
static void name_engines(void)
{
	size_t used = 0;

	for (size_t i = N_ENGINES; i-- > 0;) {
		int n = snprintf(engine_names + used, sizeof(engine_names) - used,
				 "%s%s", used > 0 ? " " : "", engines[i]->name);

		used += n > 0 ? (size_t)n : 0;
	}
}

const char *mlp_engines(void)
{
	return engine_names;
}

int mlp_precision_supported(mlp_precision precision)
{
	for (size_t i = 0; i < N_ENGINES; i++)
		if (engines[i]->supports(precision))
			return 1;
	return 0;
}

struct plan_shared {
	atomic_size_t refs; /* the plans sharing it */
	const struct mlpi_engine *engine;
	void *packed;
	mlp_precision precision;
	size_t max_batch, n_in, n_out;
};

struct mlp_plan {
	struct plan_shared *shared;
	void *ctx;
};

/* A plan of shared: a context of its own. */
static mlp_status plan_new(struct plan_shared *shared, mlp_plan **out)
{
	mlp_plan *plan = malloc(sizeof(*plan));
	mlp_status st;

	if (plan == NULL)
		return MLP_ENOMEM;
	st = shared->engine->context(shared->packed, &plan->ctx);
	if (st != MLP_OK) {
		free(plan);
		return st;
	}
	plan->shared = shared;
	*out = plan;
	return MLP_OK;
}

static void shared_release(struct plan_shared *shared)
{
	if (atomic_fetch_sub(&shared->refs, 1) == 1) {
		shared->engine->free_packed(shared->packed);
		free(shared);
	}
}

mlp_status mlpi_plan_create_on(const struct mlpi_engine *engine,
				mlp_plan **out, const mlp_net *net,
				mlp_precision precision, size_t max_batch)
{
	struct plan_shared *shared = malloc(sizeof(*shared));
	mlp_status st;

	if (shared == NULL)
		return MLP_ENOMEM;
	st = engine->prepare(net, precision, max_batch, &shared->packed);
	if (st != MLP_OK) {
		free(shared);
		return st;
	}
	atomic_init(&shared->refs, 1);
	shared->engine = engine;
	shared->precision = precision;
	shared->max_batch = max_batch;
	shared->n_in = net->sizes[0];
	shared->n_out = net->sizes[net->n_layers];
	st = plan_new(shared, out);
	if (st != MLP_OK)
		shared_release(shared);
	return st;
}

mlp_status mlp_plan_create(mlp_plan **out, const mlp_net *net,
			   mlp_precision precision, size_t max_batch)
{
	mlp_status st = MLP_ENOTSUP;

	if (out == NULL || net == NULL)
		return MLP_ENULL;
	if (precision != MLP_FP32 && precision != MLP_BF16)
		return MLP_EINVAL;
	if (max_batch == 0)
		return MLP_ESIZE;
	if (max_batch > MLP_MAX_BATCH)
		return MLP_ETOOBIG;
	for (size_t i = 0; i < N_ENGINES && st == MLP_ENOTSUP; i++) {
		const struct mlpi_engine *e = engines[i];

		if (e->supports(precision) &&
		    (e->suits == NULL || e->suits(net, precision)))
			st = mlpi_plan_create_on(e, out, net, precision, max_batch);
	}
	return st;
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
	plan->shared->engine->free_context(plan->ctx);
	shared_release(plan->shared);
	free(plan);
}

const char *mlp_plan_describe(const mlp_plan *plan)
{
	if (plan == NULL)
		return "no plan";
	return plan->shared->engine->describe(plan->shared->packed);
}

mlp_status mlp_plan_forward(mlp_plan *plan, size_t batch, const float *X,
			    float *Y)
{
	const struct plan_shared *s;
	size_t x_bytes, y_bytes;

	if (plan == NULL || X == NULL || Y == NULL)
		return MLP_ENULL;
	if (batch == 0)
		return MLP_ESIZE;
	s = plan->shared;
	if (!mlpi_mul(batch, s->n_in * sizeof(float), &x_bytes) ||
	    !mlpi_mul(batch, s->n_out * sizeof(float), &y_bytes))
		return MLP_ETOOBIG;
	if (mlpi_overlap(X, x_bytes, Y, y_bytes))
		return MLP_EINVAL;
	for (size_t r = 0; r < batch; r += s->max_batch) {
		size_t rows = batch - r < s->max_batch ? batch - r : s->max_batch;
		mlp_status st = s->engine->run(s->packed, plan->ctx, rows,
					       X + r * s->n_in, Y + r * s->n_out);

		if (st != MLP_OK)
			return st;
	}
	return MLP_OK;
}
