/*
 * kernel.h — the kernels a plan runs its layers on (plan.c, planner.c).
 *
 * A kernel computes one layer, Y = act(X·Wᵀ + 1·bᵀ), float in and float
 * out, so that any kernel may follow any other. It packs the layer once
 * (weights reordered, converted, primitives made for the plan's batch
 * rungs) into a form every clone of the plan shares, and runs it with a
 * context of its own per clone. A plan is a table: rung × layer → kernel.
 */
#ifndef MLP_KERNEL_H
#define MLP_KERNEL_H

#include "dense.h"
#include "openmp.h"

/* The rungs of a plan: 1, 2, 4, ... and max_batch. */
enum { MLPI_MAX_RUNGS = 32 };

/* How a plan is prepared: the rungs it runs, whether a row's result must
 * not depend on the batch, and the threads a kernel may use. */
struct mlpi_rungs {
	size_t n, rows[MLPI_MAX_RUNGS];
	bool invariant;
	int threads;
};

struct mlpi_kernel {
	const char *name;
	mlp_precision precision;
	/* A row's result does not depend on the rows beside it or on their
	 * number (the same operations, in the same order, for any batch). */
	bool invariant;
	/* It runs any number of rows up to the largest rung, not only the
	 * rungs themselves. */
	bool any_rows;
	/* Whether it runs layer at `rows` in this build, on this CPU. */
	bool (*supports)(const struct mlp_layer *layer, size_t rows);
	/* Its estimate of the time of layer at `rows` on `threads` threads,
	 * in microseconds: the planner's cost model (MLP_ESTIMATE). */
	double (*cost)(const struct mlp_layer *layer, size_t rows, int threads);
	/* Packs layer for the rungs into *packed; MLP_ENOTSUP when it
	 * cannot (on this CPU). */
	mlp_status (*prepare)(const struct mlp_layer *layer,
			      const struct mlpi_rungs *rungs, void **packed);
	/* A context for one plan (NULL for none): its scratch, its stream. */
	mlp_status (*context)(const void *packed, void **ctx);
	/* Y = act(X·Wᵀ + b) for `rows` rows: rungs->rows[rung] of them, or
	 * any number up to the largest rung where any_rows. Allocates
	 * nothing. MLP_OK, or a failure of its own (Y unspecified then). */
	mlp_status (*run)(const void *packed, void *ctx, size_t rung,
			  size_t rows, const float *X, float *Y);
	/* The implementation in use, for mlp_plan_describe ("avx512"). */
	const char *(*describe)(const void *packed);
	void (*free_context)(void *ctx);
	void (*free_packed)(void *packed);
};

/* kernel_cblas.c: mlp_forward's step, one cblas_sgemv or cblas_sgemm. */
extern const struct mlpi_kernel mlpi_kernel_cblas;
/* kernel_packed.c: mlp's own fp32 kernel on packed weights. */
extern const struct mlpi_kernel mlpi_kernel_packed;
extern const struct mlpi_kernel mlpi_kernel_packed_cols;
/* kernel_int8.c: mlp's own int8 kernel on a quantised layer. */
extern const struct mlpi_kernel mlpi_kernel_int8;
/* kernel_bf16.c: mlp's own bf16 kernel, a row at a time. */
extern const struct mlpi_kernel mlpi_kernel_bf16_rows;
#if defined(MLP_HAVE_ONEDNN)
/* kernel_onednn.c: oneDNN matmul primitives, a ladder of them. */
extern const struct mlpi_kernel mlpi_kernel_onednn_fp32;
extern const struct mlpi_kernel mlpi_kernel_onednn_bf16;
extern const struct mlpi_kernel mlpi_kernel_onednn_int8;
#endif

/* kernel_list.c: the kernels of this build, the one list mlp_engines(),
 * mlp_precision_supported() and the planner's candidates come from. */
const struct mlpi_kernel *const *mlpi_kernels(size_t *n);

#endif /* MLP_KERNEL_H */
