/*
 * engine_cblas.c — the CBLAS engine: mlp_forward's path, every W·X+B one
 * cblas_sgemv or cblas_sgemm, in float. Its packed form is a copy of the
 * network (a plan is a snapshot); its context a workspace.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>

struct cblas_packed {
	mlp_net *net;
	size_t max_batch;
	char describe[160];
};

static mlp_status cblas_prepare(const mlp_net *net, mlp_precision precision,
				size_t max_batch, void **out)
{
	struct cblas_packed *p;
	mlp_status st;

	if (precision != MLP_FP32)
		return MLP_ENOTSUP;
	p = malloc(sizeof(*p));
	if (p == NULL)
		return MLP_ENOMEM;
	st = mlp_net_clone(&p->net, net);
	if (st != MLP_OK) {
		free(p);
		return st;
	}
	p->max_batch = max_batch;
	snprintf(p->describe, sizeof(p->describe), "cblas fp32: %s",
		 mlp_blas_name());
	*out = p;
	return MLP_OK;
}

static mlp_status cblas_context(const void *packed, void **ctx)
{
	const struct cblas_packed *p = packed;

	return mlp_workspace_create((mlp_workspace **)ctx, p->net, p->max_batch);
}

static mlp_status cblas_run(const void *packed, void *ctx, size_t rows,
			    const float *X, float *Y)
{
	const struct cblas_packed *p = packed;

	mlpi_forward_rows(p->net, ctx, rows, X, Y, true);
	return MLP_OK;
}

static bool cblas_supports(mlp_precision precision)
{
	return precision == MLP_FP32;
}

static const char *cblas_describe(const void *packed)
{
	return ((const struct cblas_packed *)packed)->describe;
}

static void cblas_free_context(void *ctx)
{
	mlp_workspace_free(ctx);
}

static void cblas_free_packed(void *packed)
{
	struct cblas_packed *p = packed;

	mlp_net_free(p->net);
	free(p);
}

const struct mlpi_engine mlpi_engine_cblas = {
	.name = "cblas",
	.supports = cblas_supports,
	.prepare = cblas_prepare,
	.context = cblas_context,
	.run = cblas_run,
	.describe = cblas_describe,
	.free_context = cblas_free_context,
	.free_packed = cblas_free_packed,
};
