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
#include "comm.h"
#include "elementwise.h"
#include "train_opts.h"
#include "trainer.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>


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
#if defined(MLP_HAVE_ONEDNN)
	st = opts->precision == MLP_BF16 ? mlpi_trainer_bf16_create(t) : MLP_OK;
#else
	st = opts->precision == MLP_BF16 ? MLP_ENOTSUP : MLP_OK;
#endif
	if (st != MLP_OK) {
		mlpi_free_aligned(t->mem);
		free(t);
		return st;
	}
	/* Its steps will change the parameters: a quantised network's int8
	 * weights no longer hold from here on. */
	mlpi_net_changed(net);
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

/* A float step's forward and backward pass on `batch` checked rows of a
 * step of `total` rows (more across workers): the gradient of the step's
 * mean loss, as far as these rows make it, into G; their loss summed into
 * *sum. MLP_EDIVERGED, before the backward pass, for a loss not finite. */
static mlp_status grad_fp32(mlp_trainer *t, size_t batch, size_t total,
			    const float *Y, double *sum)
{
	forward(t, batch);
	*sum = mlpi_trainer_loss_sum(t, 0, batch, Y);
	if (!isfinite(*sum))
		return MLP_EDIVERGED;
	mlpi_trainer_output_grad(t, 0, batch, total, Y);
	backward(t, batch);
	return MLP_OK;
}

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
		return mlpi_trainer_grad_bf16(t, batch, total, Y, sum);
#endif
	return grad_fp32(t, batch, total, Y, sum);
}

/* The L2 norm of the gradients. */
static double grad_norm(mlp_trainer *t)
{
#if defined(MLP_HAVE_ONEDNN)
	if (t->bf16 != NULL)
		return sqrt(mlpi_trainer_norm2_shared(t));
#endif
	return sqrt(mlpi_trainer_norm2(t->G, 0, t->net->block_floats));
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
	st = mlpi_trainer_apply(t, norm);
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
			st = mlpi_trainer_apply(t, norm);
	}
	if (st == MLP_OK && loss != NULL)
		*loss = (float)mean;
	return st;
}
