/*
 * trainer_bf16.c — a bf16 step: the products on oneDNN, and the passes
 * between them on the same OpenMP threads.
 *
 * The products run on oneDNN's OpenMP threads; the passes between them
 * (bias and activation, the loss, the derivatives, the conversions to
 * bf16, the gradient norm) run on the same threads, a slice each, so that
 * no core idles while one thread works, and no BLAS thread wakes to fight
 * OpenMP's for the cores.
 */
#include "openmp.h"
#include "trainer.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* MLP_BF16: the products of full steps on oneDNN, writing into the
 * trainer's buffers: layer l's product where its forward keeps it, its
 * weight gradient into G, ∂L/∂A of its input into the D buffer backward
 * hands layer l − 1 (D[0] holds the output layer's ∂L/∂Z, then they take
 * turns). */
mlp_status mlpi_trainer_bf16_create(mlp_trainer *t)
{
	const mlp_net *net = t->net;
	size_t L = net->n_layers;
	float **p = malloc(3 * L * sizeof(float *));
	struct mlpi_bf16_buffers buf = { p, p + L, p + 2 * L };
	mlp_status st;

	if (p == NULL)
		return MLP_ENOMEM;
	for (size_t l = 0; l < L; l++) {
		buf.Z[l] = t->Z[l] != NULL ? t->Z[l] : t->A[l + 1];
		buf.dW[l] = t->G + (net->layers[l].W - net->block);
		buf.dA[l] = t->D[(L - l) & 1];
	}
	st = mlpi_bf16_create(net, t->max_batch, &buf, &t->bf16);
	free(p);
	return st;
}

/* Slices beyond this many threads are left to the first MAX_PARTS. */
enum { MAX_PARTS = 64 };

/* fn on rows [lo, hi) of `rows`, slice `part`, a slice a thread. */
struct rows_job {
	mlp_trainer *t;
	size_t rows, l;
	int cur;
	size_t total;          /* the step's rows, across workers */
	const float *Y;
	void (*fn)(struct rows_job *job, int part, size_t lo, size_t hi);
	atomic_bool nonfinite; /* set by a slice of X that is not all finite */
	int parts;
	double sum[MAX_PARTS]; /* each slice's sum, where fn makes one */
};

static void rows_part(void *arg, int part, int parts)
{
	struct rows_job *job = arg;
	size_t lo, hi;

	parts = parts < MAX_PARTS ? parts : MAX_PARTS;
	if (part >= parts)
		return;
	lo = job->rows * (size_t)part / (size_t)parts;
	hi = job->rows * (size_t)(part + 1) / (size_t)parts;
	if (part == 0)
		job->parts = parts;
	job->sum[part] = 0;
	if (lo < hi)
		job->fn(job, part, lo, hi);
}

/* Runs a job on OpenMP's threads; its slices' sums added in order. */
static double on_rows(struct rows_job *job)
{
	double sum = 0;

	mlpi_openmp_parallel(rows_part, job);
	for (int i = 0; i < job->parts; i++)
		sum += job->sum[i];
	return sum;
}

/* Rows [lo, hi) of layer l − 1's product finished (l > 0: bias and
 * activation, as forward() does), then made layer l's bf16 input (l < L);
 * X's finiteness checked on the way (l = 0). */
static void forward_rows(struct rows_job *job, int part, size_t lo, size_t hi)
{
	mlp_trainer *t = job->t;
	const mlp_net *net = t->net;
	size_t l = job->l;

	(void)part;
	if (l > 0) {
		const struct mlp_layer *layer = &net->layers[l - 1];
		size_t n = layer->n_out, at = lo * n;
		float *A = t->A[l] + at, *Z = t->Z[l - 1];

		if (Z == NULL) {
			mlpi_bias_act(layer->act, hi - lo, n, layer->b, A);
		} else {
			mlpi_bias_act(MLP_IDENTITY, hi - lo, n, layer->b, Z + at);
			memcpy(A, Z + at, (hi - lo) * n * sizeof(float));
			mlpi_bias_act(layer->act, hi - lo, n, NULL, A);
		}
	}
	if (l < net->n_layers &&
	    !mlpi_bf16_set_input(t->bf16, l, net->sizes[l], lo, hi, t->A[l]) &&
	    l == 0)
		atomic_store_explicit(&job->nonfinite, true, memory_order_relaxed);
}

/* False, before any product, when X is not all finite. */
static bool forward_bf16(mlp_trainer *t, size_t rows)
{
	struct rows_job job = { .t = t, .rows = rows, .fn = forward_rows };

	mlpi_bf16_weights(t->bf16, t->net);
	on_rows(&job);
	if (atomic_load_explicit(&job.nonfinite, memory_order_relaxed))
		return false;
	for (size_t l = 0; l < t->net->n_layers; l++) {
		mlpi_bf16_forward(t->bf16, l); /* into Z[l], or A[l + 1] */
		job.l = l + 1;
		on_rows(&job);
	}
	return true;
}

/* Rows [lo, hi) of the loss, summed, and of ∂L/∂Z of the output layer,
 * made bf16. */
static void loss_rows(struct rows_job *job, int part, size_t lo, size_t hi)
{
	mlp_trainer *t = job->t;
	size_t L = t->net->n_layers;

	job->sum[part] = mlpi_trainer_loss_sum(t, lo, hi, job->Y);
	mlpi_trainer_output_grad(t, lo, hi, job->total, job->Y);
	mlpi_bf16_set_grad(t->bf16, t->net->sizes[L], lo, hi, t->D[0]);
}

/* Rows [lo, hi) of ∂L/∂A of layer l's output, in D[cur], taken through
 * its activation into ∂L/∂Z, and made bf16. */
static void backward_rows(struct rows_job *job, int part, size_t lo, size_t hi)
{
	mlp_trainer *t = job->t;
	size_t l = job->l, n = t->net->sizes[l + 1], at = lo * n;
	float *D = t->D[job->cur];

	(void)part;
	mlpi_act_backward(t->net->layers[l].act, hi - lo, n,
			  t->Z[l] != NULL ? t->Z[l] + at : NULL, t->A[l + 1] + at,
			  D + at);
	mlpi_bf16_set_grad(t->bf16, n, lo, hi, D);
}

/* db = dZᵀ·1, the column sums of dZ. */
MLPI_CLONES
static void column_sums(size_t rows, size_t n, const float *restrict dZ,
			float *restrict db)
{
	memset(db, 0, n * sizeof(float));
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < n; j++)
			db[j] += dZ[r * n + j];
}

/* Backward from D[0] and its bf16 copy into t->G. */
static void backward_bf16(mlp_trainer *t, size_t rows)
{
	const mlp_net *net = t->net;
	struct rows_job job = { .t = t, .rows = rows, .fn = backward_rows };

	for (size_t l = net->n_layers; l-- > 0;) {
		const struct mlp_layer *layer = &net->layers[l];

		/* dW into G, and dA_l into D[!cur] (see bf16_create). */
		mlpi_bf16_backward(t->bf16, l);
		column_sums(rows, layer->n_out, t->D[job.cur],
			    t->G + (layer->b - net->block));
		if (l == 0)
			break;
		job.cur = !job.cur;
		job.l = l - 1;
		on_rows(&job);
	}
}

/* Groups [lo, hi) of 16 gradients, their squares summed. */
static void norm_rows(struct rows_job *job, int part, size_t lo, size_t hi)
{
	job->sum[part] = mlpi_trainer_norm2(job->t->G, lo * 16, hi * 16);
}

/* grad_fp32's bf16 twin; MLP_ENONFINITE, before any product, when X is
 * not all finite (it is checked as it is converted). */
mlp_status mlpi_trainer_grad_bf16(mlp_trainer *t, size_t batch, size_t total,
				  const float *Y, double *sum)
{
	struct rows_job loss = { .t = t, .rows = batch, .total = total, .Y = Y,
				 .fn = loss_rows };

	if (!forward_bf16(t, batch))
		return MLP_ENONFINITE;
	*sum = on_rows(&loss);
	if (!isfinite(*sum))
		return MLP_EDIVERGED;
	backward_bf16(t, batch);
	return MLP_OK;
}

/* The squared norm of G on OpenMP's threads. */
double mlpi_trainer_norm2_shared(mlp_trainer *t)
{
	struct rows_job norm2 = { .t = t, .rows = t->net->block_floats / 16,
				  .fn = norm_rows };

	return on_rows(&norm2);
}
