/*
 * engine.h — the engines a plan runs on (plan.c).
 *
 * An engine prepares a network once, into a packed form it shares between
 * threads (weights reordered or converted, and whatever else never changes),
 * and runs it with a context of its own per plan (scratch, streams). Where
 * that memory lives and who owns a stream is the engine's business: a plan
 * hands it host floats in and out, a chunk of rows at a time.
 */
#ifndef MLP_ENGINE_H
#define MLP_ENGINE_H

#include "dense.h"

struct mlpi_engine {
	const char *name;
	/* Whether it runs `precision` in this build, on this CPU. */
	bool (*supports)(mlp_precision precision);
	/* Whether mlp_plan_create picks it for net at `precision`, where it
	 * runs it (NULL: always); the list's first that suits is taken. */
	bool (*suits)(const mlp_net *net, mlp_precision precision);
	/* Prepares net for rows ≤ max_batch at `precision` into *packed;
	 * MLP_ENOTSUP when this engine cannot (on this CPU). */
	mlp_status (*prepare)(const mlp_net *net, mlp_precision precision,
			      size_t max_batch, void **packed);
	/* A context for one plan: the scratch of its forward passes. */
	mlp_status (*context)(const void *packed, void **ctx);
	/* Y = net(X) for rows ≤ max_batch. Allocates nothing. MLP_OK, or the
	 * status of a failure of the engine's own (Y unspecified then). */
	mlp_status (*run)(const void *packed, void *ctx, size_t rows,
			  const float *X, float *Y);
	/* The engine, precision and kernels, for mlp_plan_describe. */
	const char *(*describe)(const void *packed);
	void (*free_context)(void *ctx);
	void (*free_packed)(void *packed);
};

/* A plan on one engine, arguments checked (mlp_plan_create picks the
 * engine; the tests ask for each). */
mlp_status mlpi_plan_create_on(const struct mlpi_engine *engine,
				mlp_plan **out, const mlp_net *net,
				mlp_precision precision, size_t max_batch);

/* engine_cblas.c: mlp_forward's path, fp32 only. */
extern const struct mlpi_engine mlpi_engine_cblas;

/* engine_packed.c: mlp's own fp32 kernel on packed weights. */
extern const struct mlpi_engine mlpi_engine_packed;

#if defined(MLP_HAVE_ONEDNN)
/* engine_onednn.c: oneDNN matmul primitives, fp32 and bf16. */
extern const struct mlpi_engine mlpi_engine_onednn;
#endif

/* plan.c: the engines of this build, the one list mlp_engines(),
 * mlp_precision_supported() and mlp_plan_create all read: n of them. */
const struct mlpi_engine *const *mlpi_engines(size_t *n);

#endif /* MLP_ENGINE_H */
