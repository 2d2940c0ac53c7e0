/*
 * trainer.c — the trainer: backpropagation on sgemm, and a step.
 *
 * For layer l with input A_l (B × n_in), weights W (n_out × n_in) and
 * Z = A_l·Wᵀ + 1·bᵀ, A_{l+1} = act(Z), given dA_{l+1} = ∂L/∂A_{l+1}:
 *
 *   dZ      = dA_{l+1} ⊙ act'(Z)     (the fused (P − T)/count for the output
 *                                     layer under cross-entropy)
 *   dW      = dZᵀ·A_l                cblas_sgemm (Trans, NoTrans)
 *   db      = dZᵀ·1                  cblas_sgemv (Trans), the column sums
 *   dA_l    = dZ·W                   cblas_sgemm (NoTrans, NoTrans)
 *
 * Everything a step needs is allocated when the trainer is created.
 */
#include "elementwise.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>


struct mlp_trainer {
	mlp_net *net;
	mlp_train_opts opts;
	size_t max_batch;
	size_t steps;
	void *mem;      /* the one block behind every buffer below */
	float *G;       /* gradients, laid out as the parameter block */
	float *M, *V;   /* optimizer state, the same layout */
	float *D[2];    /* ∂L/∂A and ∂L/∂Z: max_batch × widest, ping-pong */
	float *ones;    /* max_batch ones, for the bias gradients */
	float **A;      /* A[l], l = 1..L: outputs of layer l − 1 */
	float **Z;      /* Z[l]: pre-activations of layer l, or NULL */
	struct mlpi_bf16 *bf16; /* MLP_BF16: the products of full steps */
	/* The largest magnitudes the last update wrote (weights; first
	 * moments or velocities; second moments), which bound the next one,
	 * while the network's version is top_version. */
	float top[3];
	bool top_known;
	uint64_t top_version;
};

/* Layer l keeps its pre-activations when act' needs them, and the output
 * layer always does (the loss is computed from logits). */
static bool keeps_z(const mlp_net *net, size_t l)
{
	return l + 1 == net->n_layers || mlpi_act_needs_z(net->layers[l].act);
}

/* Every buffer of the trainer, in one place: sizes the block, or hands
 * the buffers out of it (see struct mlpi_carver). */
static void layout(mlp_trainer *t, const mlp_net *net, size_t max_batch,
		   struct mlpi_carver *c)
{
	size_t widest = 0, F = sizeof(float);

	for (size_t l = 1; l <= net->n_layers; l++)
		widest = net->sizes[l] > widest ? net->sizes[l] : widest;
	t->G = mlpi_carve(c, net->block_floats + 16, F); /* + a loss sum */
	t->M = mlpi_carve(c, net->block_floats, F);
	t->V = mlpi_carve(c, net->block_floats, F);
	t->D[0] = mlpi_carve(c, max_batch * widest, F);
	t->D[1] = mlpi_carve(c, max_batch * widest, F);
	t->ones = mlpi_carve(c, max_batch, F);
	t->A[0] = NULL; /* the batch's X, per step */
	for (size_t l = 0; l < net->n_layers; l++) {
		size_t count = max_batch * net->sizes[l + 1];

		t->A[l + 1] = mlpi_carve(c, count, F);
		t->Z[l] = keeps_z(net, l) ? mlpi_carve(c, count, F) : NULL;
	}
	t->Z[net->n_layers] = NULL;
}

/* MLP_BF16: the products of full steps on oneDNN, writing into the
 * trainer's buffers: layer l's product where its forward keeps it, its
 * weight gradient into G, ∂L/∂A of its input into the D buffer backward
 * hands layer l − 1 (D[0] holds the output layer's ∂L/∂Z, then they take
 * turns). */
static mlp_status bf16_create(mlp_trainer *t)
{
#if defined(MLP_HAVE_ONEDNN)
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
#else
	(void)t;
	return MLP_ENOTSUP;
#endif
}

mlp_status mlp_trainer_create(mlp_trainer **out, mlp_net *net,
			      const mlp_train_opts *given, size_t max_batch)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);
	mlp_train_opts full;
	const mlp_train_opts *opts = &full;
	size_t L, bytes;
	mlp_trainer *t;
	mlp_status st;

	if (out == NULL || net == NULL || given == NULL)
		return MLP_ENULL;
	if (max_batch == 0)
		return MLP_ESIZE;
	if (max_batch > MLP_MAX_BATCH)
		return MLP_ETOOBIG;
	st = mlpi_opts_read(given, &full, NULL);
	if (st == MLP_OK)
		st = mlpi_check_opts(net, opts, false, NULL);
	if (st != MLP_OK)
		return st;

	L = net->n_layers;
	t = malloc(sizeof(*t) + 2 * (L + 1) * sizeof(float *));
	if (t == NULL)
		return MLP_ENOMEM;
	t->A = (float **)(void *)(t + 1);
	t->Z = t->A + L + 1;
	layout(t, net, max_batch, &c);
	if (!mlpi_carved_size(&c, &bytes)) {
		free(t);
		return MLP_ETOOBIG;
	}
	t->mem = mlpi_alloc_aligned(bytes);
	if (t->mem == NULL) {
		free(t);
		return MLP_ENOMEM;
	}
	/* Gradients of the padding must stay zero, and so must the state. */
	memset(t->mem, 0, bytes);
	c = MLPI_CARVER(t->mem);
	layout(t, net, max_batch, &c);
	t->net = net;
	t->opts = *opts;
	t->max_batch = max_batch;
	t->steps = 0;
	t->bf16 = NULL;
	t->top_known = false; /* the first update is checked in full */
	t->top_version = 0;
	for (size_t i = 0; i < max_batch; i++)
		t->ones[i] = 1.0f;
	st = opts->precision == MLP_BF16 ? bf16_create(t) : MLP_OK;
	if (st != MLP_OK) {
		mlpi_free_aligned(t->mem);
		free(t);
		return st;
	}
	*out = t;
	return MLP_OK;
}

void mlp_trainer_free(mlp_trainer *t)
{
	if (t == NULL)
		return;
#if defined(MLP_HAVE_ONEDNN)
	mlpi_bf16_free(t->bf16);
#endif
	mlpi_free_aligned(t->mem);
	free(t);
}

mlp_status mlp_trainer_set_lr(mlp_trainer *t, float lr)
{
	if (t == NULL)
		return MLP_ENULL;
	if (!(isfinite(lr) && lr > 0.0f))
		return MLP_EINVAL;
	t->opts.lr = lr;
	return MLP_OK;
}

size_t mlp_trainer_steps(const mlp_trainer *t)
{
	return t != NULL ? t->steps : 0;
}

/* Forward through every layer, keeping what backpropagation needs. */
static void forward(mlp_trainer *t, size_t rows)
{
	const mlp_net *net = t->net;

	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *layer = &net->layers[l];
		float *A = t->A[l + 1], *Z = t->Z[l];

		if (Z == NULL) {
			mlpi_dense(rows, layer->n_in, layer->n_out, layer->W,
				   layer->b, layer->act, t->A[l], A);
		} else {
			mlpi_dense(rows, layer->n_in, layer->n_out, layer->W,
				   layer->b, MLP_IDENTITY, t->A[l], Z);
			memcpy(A, Z, rows * layer->n_out * sizeof(float));
			mlpi_bias_act(layer->act, rows, layer->n_out, NULL, A);
		}
	}
}

/* Backward from D[0] (= ∂L/∂Z of the output layer) into t->G. */
static void backward(mlp_trainer *t, size_t rows)
{
	const mlp_net *net = t->net;
	int cur = 0;

	for (size_t l = net->n_layers; l-- > 0;) {
		const struct mlp_layer *layer = &net->layers[l];
		int n_in = (int)layer->n_in, n_out = (int)layer->n_out;
		float *dZ = t->D[cur];
		float *dW = t->G + (layer->W - net->block);
		float *db = t->G + (layer->b - net->block);

		/* dW = dZᵀ·A_l: (n_out × rows)·(rows × n_in). */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in,
			    (int)rows, 1.0f, dZ, n_out, t->A[l], n_in, 0.0f, dW,
			    n_in);
		/* db = dZᵀ·1. */
		cblas_sgemv(CblasRowMajor, CblasTrans, (int)rows, n_out, 1.0f, dZ,
			    n_out, t->ones, 1, 0.0f, db, 1);
		if (l == 0)
			break;
		/* dA_l = dZ·W: (rows × n_out)·(n_out × n_in), then through the
		 * activation of layer l − 1. */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows,
			    n_in, n_out, 1.0f, dZ, n_out, layer->W, n_in, 0.0f,
			    t->D[!cur], n_in);
		cur = !cur;
		mlpi_act_backward(net->layers[l - 1].act, rows, layer->n_in,
				  t->Z[l - 1], t->A[l], t->D[cur]);
	}
}

/* The squared L2 norm of G[lo, hi): sixteen float partial sums, which
 * vectorise, summed in double at the end (lo and hi are multiples of 16;
 * the block is padded to 16). */
MLPI_CLONES
static double grad_norm2(const float *G, size_t lo, size_t hi)
{
	float acc[16] = { 0 };
	double sum = 0;

	for (size_t i = lo; i < hi; i += 16)
		for (size_t k = 0; k < 16; k++)
			acc[k] += G[i + k] * G[i + k];
	for (size_t k = 0; k < 16; k++)
		sum += acc[k];
	return sum;
}

/* Rows [lo, hi) of ∂L/∂Z of the output layer, into D[0], for a batch of
 * `batch` rows with targets Y. */
static void output_grad(mlp_trainer *t, size_t lo, size_t hi, size_t batch,
			const float *Y)
{
	const mlp_net *net = t->net;
	size_t L = net->n_layers, n = net->sizes[L], at = lo * n;
	mlp_act act = net->layers[L - 1].act;

	mlpi_loss_grad(t->opts.loss, act, hi - lo, n, batch, t->A[L] + at, Y + at,
		       t->D[0] + at);
	if (t->opts.loss == MLP_LOSS_MSE)
		mlpi_act_backward(act, hi - lo, n, t->Z[L - 1] + at, t->A[L] + at,
				  t->D[0] + at);
}

/* The loss summed over the rows [lo, hi) of the batch. */
static double loss_sum(const mlp_trainer *t, size_t lo, size_t hi,
		       const float *Y)
{
	const mlp_net *net = t->net;
	size_t L = net->n_layers, n = net->sizes[L], at = lo * n;

	return mlpi_loss_sum(t->opts.loss, net->layers[L - 1].act, hi - lo, n,
			     t->Z[L - 1] + at, t->A[L] + at, Y + at);
}

/* A float step's forward and backward pass on `batch` checked rows of a
 * step of `total` rows (more across workers): the gradient of the step's
 * mean loss, as far as these rows make it, into G; their loss summed into
 * *sum. MLP_EDIVERGED, before the backward pass, for a loss not finite. */
static mlp_status grad_fp32(mlp_trainer *t, size_t batch, size_t total,
			    const float *Y, double *sum)
{
	forward(t, batch);
	*sum = loss_sum(t, 0, batch, Y);
	if (!isfinite(*sum))
		return MLP_EDIVERGED;
	output_grad(t, 0, batch, total, Y);
	backward(t, batch);
	return MLP_OK;
}

#if defined(MLP_HAVE_ONEDNN)
/* ---- a bf16 step ---------------------------------------------------------
 * The products run on oneDNN's OpenMP threads; the passes between them
 * (bias and activation, the loss, the derivatives, the conversions to
 * bf16, the gradient norm) run on the same threads, a slice each, so that
 * no core idles while one thread works, and no BLAS thread wakes to fight
 * OpenMP's for the cores. */

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

	job->sum[part] = loss_sum(t, lo, hi, job->Y);
	output_grad(t, lo, hi, job->total, job->Y);
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
	job->sum[part] = grad_norm2(job->t->G, lo * 16, hi * 16);
}

/* grad_fp32's bf16 twin; MLP_ENONFINITE, before any product, when X is
 * not all finite (it is checked as it is converted). */
static mlp_status grad_bf16(mlp_trainer *t, size_t batch, size_t total,
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
static double grad_norm2_shared(mlp_trainer *t)
{
	struct rows_job norm2 = { .t = t, .rows = t->net->block_floats / 16,
				  .fn = norm_rows };

	return on_rows(&norm2);
}
#endif

/* Whether a step of `batch` rows runs its products in bf16: one of the
 * rows the bf16 products serve; a smaller one runs in float. */
static bool in_bf16(const mlp_trainer *t, size_t batch)
{
	return t->bf16 != NULL && batch == t->max_batch;
}

/* The checks of a step's rows. A bf16 step alone checks X's finiteness as
 * it converts X; with workers, every check comes before the exchange. */
static mlp_status check_rows(const mlp_trainer *t, size_t batch,
			     const float *X, const float *Y)
{
	if (batch > t->max_batch)
		return MLP_ESIZE;
	if (in_bf16(t, batch) && t->opts.comm == NULL)
		return mlpi_check_data_but_x(t->net, t->opts.loss, batch, X, Y);
	return mlpi_check_data(t->net, t->opts.loss, batch, X, Y);
}

/* Forward and backward on `batch` checked rows of a step of `total`. */
static mlp_status backprop(mlp_trainer *t, size_t batch, size_t total,
			   const float *X, const float *Y, double *sum)
{
	t->A[0] = (float *)X; /* read only */
#if defined(MLP_HAVE_ONEDNN)
	if (in_bf16(t, batch))
		return grad_bf16(t, batch, total, Y, sum);
#endif
	return grad_fp32(t, batch, total, Y, sum);
}

/* The L2 norm of the gradients. */
static double grad_norm(mlp_trainer *t)
{
#if defined(MLP_HAVE_ONEDNN)
	if (t->bf16 != NULL)
		return sqrt(grad_norm2_shared(t));
#endif
	return sqrt(grad_norm2(t->G, 0, t->net->block_floats));
}

mlp_status mlpi_trainer_grad(mlp_trainer *t, size_t batch, const float *X,
			     const float *Y, double *loss, double *norm)
{
	mlp_status st;
	double sum;

	if (t == NULL)
		return MLP_ENULL;
	st = check_rows(t, batch, X, Y);
	if (st == MLP_OK)
		st = backprop(t, batch, batch, X, Y, &sum);
	if (st != MLP_OK)
		return st;
	*norm = grad_norm(t);
	if (!isfinite(*norm))
		return MLP_EDIVERGED;
	*loss = sum / (double)batch;
	return MLP_OK;
}

const float *mlpi_trainer_gradients(const mlp_trainer *t)
{
	return t->G;
}

void mlpi_trainer_state(mlp_trainer *t, float **M, float **V, size_t **steps,
			float **lr)
{
	*M = t->M;
	*V = t->V;
	*steps = &t->steps;
	*lr = &t->opts.lr;
}

/* The optimizer's update. A bf16 trainer shares it among oneDNN's threads:
 * the update reads and writes four arrays the size of the network, and
 * alone it took as long as the bf16 products of the step. */
struct update_job {
	mlp_trainer *t;
	float scale;
	bool write;
	atomic_bool bad;            /* a part's check found a value not finite */
	atomic_uint_least32_t top[3]; /* the parts' largest magnitudes, as bits
				     * (non-negative floats order as their
				     * bits; a NaN above all) */
};

static void update_part(void *arg, int part, int parts)
{
	struct update_job *job = arg;
	mlp_trainer *t = job->t;
	float top[3] = { 0, 0, 0 };

	if (!mlpi_optim_update(&t->opts, t->net, t->steps + 1, t->G, job->scale,
			       t->M, t->V, part, parts, job->write ? top : NULL))
		atomic_store_explicit(&job->bad, true, memory_order_relaxed);
	for (int k = 0; job->write && k < 3; k++) {
		uint32_t bits, seen;

		memcpy(&bits, &top[k], sizeof(bits));
		seen = atomic_load_explicit(&job->top[k], memory_order_relaxed);
		while (bits > seen &&
		       !atomic_compare_exchange_weak_explicit(&job->top[k], &seen,
							      bits,
							      memory_order_relaxed,
							      memory_order_relaxed))
			;
	}
}

static void update_pass(struct update_job *job)
{
#if defined(MLP_HAVE_ONEDNN)
	if (job->t->bf16 != NULL) {
		mlpi_openmp_parallel(update_part, job);
		return;
	}
#endif
	update_part(job, 0, 1);
}

/* Whether the update from gradients of norm `norm`, scaled by `scale`,
 * cannot overflow: bounds of every value it computes, from the largest
 * magnitudes the last update wrote (t->top), each well below FLT_MAX (a
 * margin of 16 for the roundings). In double: the bounds themselves
 * cannot overflow. Then no check pass is needed. */
static bool update_is_safe(const mlp_trainer *t, double norm, float scale)
{
	const mlp_train_opts *o = &t->opts;
	const double big = FLT_MAX / 16.0;
	double g = norm * scale, w = t->top[0], m = t->top[1], v = t->top[2];
	double lr = o->lr, keep = 1.0 + lr * o->weight_decay;

	if (!t->top_known || t->top_version != mlpi_net_version(t->net))
		return false;
	if (o->optim == MLP_OPTIM_ADAM) {
		double bc1 = 1.0 - pow(o->beta1, (double)(t->steps + 1));
		double step = lr / bc1;
		double m1 = o->beta1 * m + (1.0 - o->beta1) * g;
		double v1 = o->beta2 * v + (1.0 - o->beta2) * g * g;

		/* |m / (√v·c + eps)| ≤ |m| / eps. */
		return g * g < big && m1 < big && v1 < big && step < big &&
		       step * m1 < big && w * keep + step * m1 / o->eps < big;
	}
	/* SGD: the velocity, then the weight (Nesterov's step the larger). */
	m = o->momentum * m + g;
	return lr * g < big && m < big &&
	       w * keep + lr * (g + o->momentum * m) < big;
}

/* The update from the gradients in G, whose norm is `norm`; MLP_EDIVERGED,
 * with nothing changed, when a parameter or a moment would stop being
 * finite. Where the bounds of update_is_safe do not show that it cannot,
 * the update is first computed in full without being written. */
static mlp_status apply(mlp_trainer *t, double norm)
{
	struct update_job job = { .t = t, .scale = 1.0f };
	uint64_t version = mlpi_net_version(t->net);
	bool finite = true;

	/* As torch.nn.utils.clip_grad_norm_: scale by max / (norm + 1e-6). */
	if (t->opts.clip_norm > 0.0f && norm > t->opts.clip_norm)
		job.scale = (float)(t->opts.clip_norm / (norm + 1e-6));
	atomic_init(&job.bad, false);
	for (int k = 0; k < 3; k++)
		atomic_init(&job.top[k], 0);
	if (!update_is_safe(t, norm, job.scale)) {
		update_pass(&job);
		if (atomic_load(&job.bad))
			return MLP_EDIVERGED;
	}
	job.write = true;
	update_pass(&job);
	t->steps++;
	for (int k = 0; k < 3; k++) {
		uint32_t bits = atomic_load(&job.top[k]);

		memcpy(&t->top[k], &bits, sizeof(bits));
		finite &= t->top[k] <= FLT_MAX;
	}
	t->top_known = finite;
	t->top_version = version;
	/* Only parameters changed through a pointer kept from before the last
	 * step can get here: the check saw finite values, the write did not. */
	return finite ? MLP_OK : MLP_EDIVERGED;
}

/* A step with workers: the workers agree on the rows' checks and count
 * (and on a vote to stop, which ends training before the step), each
 * computes the gradient of its rows, the gradients and the loss are summed
 * across them, and each applies the same update. */
mlp_status mlpi_trainer_step_shared(mlp_trainer *t, size_t batch,
				    const float *X, const float *Y,
				    int vote, double *mean, bool *stopped)
{
	const mlp_comm *comm = t->opts.comm;
	size_t n = t->net->block_floats;
	double sums[2] = { (double)batch, vote != 0 };
	double sum = 0, norm;
	mlp_status st = batch > 0 ? check_rows(t, batch, X, Y) : MLP_OK;

	*stopped = false;
	st = mlpi_agree(comm, st, NULL, 0, sums, 2);
	if (st != MLP_OK)
		return st;
	if (sums[1] > 0) {
		*stopped = true;
		return MLP_OK;
	}
	if (sums[0] == 0)
		return MLP_ESIZE;
	if (batch == 0)
		memset(t->G, 0, n * sizeof(float));
	else if (backprop(t, batch, (size_t)sums[0], X, Y, &sum) != MLP_OK)
		sum = NAN; /* a loss not finite: every worker learns of it */
	t->G[n] = (float)sum;
	if (comm->sum_floats(comm->ctx, t->G, n + 1) != 0)
		return MLP_ECOMM;
	if (!isfinite(t->G[n]))
		return MLP_EDIVERGED;
	norm = grad_norm(t);
	if (!isfinite(norm))
		return MLP_EDIVERGED;
	st = apply(t, norm);
	if (st == MLP_OK)
		*mean = (double)t->G[n] / sums[0];
	return st;
}

mlp_status mlp_trainer_step(mlp_trainer *t, size_t batch, const float *X,
			    const float *Y, float *loss)
{
	double mean = 0, norm = 0;
	bool stopped;
	mlp_status st;

	if (t == NULL)
		return MLP_ENULL;
	if (t->opts.comm != NULL) {
		st = mlpi_trainer_step_shared(t, batch, X, Y, 0, &mean, &stopped);
	} else {
		st = mlpi_trainer_grad(t, batch, X, Y, &mean, &norm);
		if (st == MLP_OK)
			st = apply(t, norm);
	}
	if (st == MLP_OK && loss != NULL)
		*loss = (float)mean;
	return st;
}
