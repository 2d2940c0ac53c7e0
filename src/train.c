/*
 * train.c — backpropagation on sgemm, the trainer, and mlp_train.
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

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>


struct mlp_trainer {
	mlp_net *net;
	mlp_train_opts opts;
	size_t max_batch;
	size_t steps;
	float *mem;     /* the one block behind every buffer below */
	float *G;       /* gradients, laid out as the parameter block */
	float *M, *V;   /* optimizer state, the same layout */
	float *D[2];    /* ∂L/∂A and ∂L/∂Z: max_batch × widest, ping-pong */
	float *ones;    /* max_batch ones, for the bias gradients */
	float **A;      /* A[l], l = 1..L: outputs of layer l − 1 */
	float **Z;      /* Z[l]: pre-activations of layer l, or NULL */
};

/* Layer l keeps its pre-activations when act' needs them, and the output
 * layer always does (the loss is computed from logits). */
static bool keeps_z(const mlp_net *net, size_t l)
{
	return l + 1 == net->n_layers || mlpi_act_needs_z(net->layers[l].act);
}

/* Carves 64-byte aligned buffers out of one block. With base NULL it only
 * counts, with overflow checks, to size the block; with the block, the same
 * calls in the same order hand out the buffers. */
struct carver {
	float *base;
	size_t used; /* floats */
	bool ok;
};

static float *carve(struct carver *c, size_t rows, size_t width)
{
	size_t n, padded, end;
	float *p;

	if (!c->ok || !mlpi_mul(rows, width, &n) ||
	    !mlpi_round_up(n, MLPI_ALIGN_FLOATS, &padded) ||
	    !mlpi_add(c->used, padded, &end)) {
		c->ok = false;
		return NULL;
	}
	p = c->base != NULL ? c->base + c->used : NULL;
	c->used = end;
	return p;
}

/* Every buffer of the trainer, in one place: sizes it or hands it out. */
static void layout(mlp_trainer *t, const mlp_net *net, size_t max_batch,
		   struct carver *c)
{
	size_t widest = 0;

	for (size_t l = 1; l <= net->n_layers; l++)
		widest = net->sizes[l] > widest ? net->sizes[l] : widest;
	t->G = carve(c, 1, net->block_floats);
	t->M = carve(c, 1, net->block_floats);
	t->V = carve(c, 1, net->block_floats);
	t->D[0] = carve(c, max_batch, widest);
	t->D[1] = carve(c, max_batch, widest);
	t->ones = carve(c, 1, max_batch);
	t->A[0] = NULL; /* the batch's X, per step */
	for (size_t l = 0; l < net->n_layers; l++) {
		t->A[l + 1] = carve(c, max_batch, net->sizes[l + 1]);
		t->Z[l] = keeps_z(net, l) ? carve(c, max_batch, net->sizes[l + 1])
					  : NULL;
	}
	t->Z[net->n_layers] = NULL;
}

mlp_status mlp_trainer_create(mlp_trainer **out, mlp_net *net,
			      const mlp_train_opts *opts, size_t max_batch)
{
	struct carver c = { NULL, 0, true };
	size_t L;
	mlp_trainer *t;
	mlp_status st;

	if (out == NULL || net == NULL || opts == NULL)
		return MLP_ENULL;
	if (max_batch == 0)
		return MLP_ESIZE;
	if (max_batch > MLP_MAX_BATCH)
		return MLP_ETOOBIG;
	st = mlpi_check_opts(net, opts);
	if (st != MLP_OK)
		return st;

	L = net->n_layers;
	t = malloc(sizeof(*t) + 2 * (L + 1) * sizeof(float *));
	if (t == NULL)
		return MLP_ENOMEM;
	t->A = (float **)(void *)(t + 1);
	t->Z = t->A + L + 1;
	layout(t, net, max_batch, &c);
	if (!c.ok || c.used > SIZE_MAX / sizeof(float)) {
		free(t);
		return MLP_ETOOBIG;
	}
	t->mem = mlpi_alloc_aligned(c.used * sizeof(float));
	if (t->mem == NULL) {
		free(t);
		return MLP_ENOMEM;
	}
	/* Gradients of the padding must stay zero, and so must the state. */
	memset(t->mem, 0, c.used * sizeof(float));
	c = (struct carver){ t->mem, 0, true };
	layout(t, net, max_batch, &c);
	t->net = net;
	t->opts = *opts;
	t->max_batch = max_batch;
	t->steps = 0;
	for (size_t i = 0; i < max_batch; i++)
		t->ones[i] = 1.0f;
	*out = t;
	return MLP_OK;
}

void mlp_trainer_free(mlp_trainer *t)
{
	if (t == NULL)
		return;
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
static void forward(mlp_trainer *t, size_t rows, const float *X)
{
	const mlp_net *net = t->net;

	t->A[0] = (float *)X; /* read only */
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

/* The squared L2 norm of the gradients: sixteen float partial sums, which
 * vectorise, summed in double at the end (the block is padded to 16). */
MLPI_CLONES
static double grad_norm2(const mlp_trainer *t)
{
	float acc[16] = { 0 };
	const float *G = t->G;
	double sum = 0;

	for (size_t i = 0; i < t->net->block_floats; i += 16)
		for (size_t k = 0; k < 16; k++)
			acc[k] += G[i + k] * G[i + k];
	for (size_t k = 0; k < 16; k++)
		sum += acc[k];
	return sum;
}

mlp_status mlpi_trainer_grad(mlp_trainer *t, size_t batch, const float *X,
			     const float *Y, double *loss, double *norm)
{
	const mlp_net *net;
	size_t L, n_in, n_out;
	mlp_act out_act;
	mlp_status st;
	double sum;

	if (t == NULL || X == NULL || Y == NULL)
		return MLP_ENULL;
	if (batch == 0 || batch > t->max_batch)
		return MLP_ESIZE;
	net = t->net;
	L = net->n_layers;
	n_in = net->sizes[0];
	n_out = net->sizes[L];
	out_act = net->layers[L - 1].act;
	if (!mlpi_all_finite(batch * n_in, X) || !mlpi_all_finite(batch * n_out, Y))
		return MLP_ENONFINITE;
	st = mlpi_check_targets(t->opts.loss, out_act, batch, n_out, Y);
	if (st != MLP_OK)
		return st;

	forward(t, batch, X);
	sum = mlpi_loss_sum(t->opts.loss, out_act, batch, n_out, t->Z[L - 1],
			    t->A[L], Y);
	if (!isfinite(sum))
		return MLP_EDIVERGED;
	mlpi_loss_grad(t->opts.loss, out_act, batch, n_out, t->A[L], Y, t->D[0]);
	if (t->opts.loss == MLP_LOSS_MSE)
		mlpi_act_backward(out_act, batch, n_out, t->Z[L - 1], t->A[L],
				  t->D[0]);
	backward(t, batch);
	*norm = sqrt(grad_norm2(t));
	if (!isfinite(*norm))
		return MLP_EDIVERGED;
	*loss = sum / (double)batch;
	return MLP_OK;
}

const float *mlpi_trainer_gradients(const mlp_trainer *t)
{
	return t->G;
}

mlp_status mlp_trainer_step(mlp_trainer *t, size_t batch, const float *X,
			    const float *Y, float *loss)
{
	double mean, norm;
	float scale = 1.0f;
	mlp_status st = mlpi_trainer_grad(t, batch, X, Y, &mean, &norm);

	if (st != MLP_OK)
		return st;
	/* As torch.nn.utils.clip_grad_norm_: scale by max / (norm + 1e-6). */
	if (t->opts.clip_norm > 0.0f && norm > t->opts.clip_norm)
		scale = (float)(t->opts.clip_norm / (norm + 1e-6));
	t->steps++;
	mlpi_optim_update(&t->opts, t->net, t->steps, t->G, scale, t->M, t->V);
	if (loss != NULL)
		*loss = (float)mean;
	return MLP_OK;
}

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

/* Everything mlp_train needs beyond a trainer, in one allocation. */
struct train_bufs {
	size_t *order;  /* a permutation of the rows */
	float *Xb, *Yb; /* the gathered batch */
	float *backup;  /* the parameters at the start of the epoch */
	void *mem;
};

static mlp_status train_bufs_alloc(struct train_bufs *b, const mlp_net *net,
				   size_t n, size_t batch)
{
	size_t n_in = net->sizes[0], n_out = net->sizes[net->n_layers];
	size_t bytes[4], total = 0;

	if (!mlpi_mul(n, sizeof(size_t), &bytes[0]) ||
	    !mlpi_mul(batch, n_in * sizeof(float), &bytes[1]) ||
	    !mlpi_mul(batch, n_out * sizeof(float), &bytes[2]) ||
	    !mlpi_mul(net->block_floats, sizeof(float), &bytes[3]))
		return MLP_ETOOBIG;
	for (int i = 0; i < 4; i++)
		if (!mlpi_round_up(bytes[i], MLPI_ALIGN, &bytes[i]) ||
		    !mlpi_add(total, bytes[i], &total))
			return MLP_ETOOBIG;
	b->mem = mlpi_alloc_aligned(total);
	if (b->mem == NULL)
		return MLP_ENOMEM;
	b->order = b->mem;
	b->Xb = (float *)(void *)((char *)b->mem + bytes[0]);
	b->Yb = (float *)(void *)((char *)b->Xb + bytes[1]);
	b->backup = (float *)(void *)((char *)b->Yb + bytes[2]);
	return MLP_OK;
}

mlp_status mlp_train(mlp_net *net, const mlp_train_opts *opts, size_t n,
		     const float *X, const float *Y)
{
	struct train_bufs b;
	struct mlpi_rng rng;
	mlp_trainer *t = NULL;
	size_t n_in, n_out, batch, units;
	mlp_status st;

	if (net == NULL || opts == NULL || X == NULL || Y == NULL)
		return MLP_ENULL;
	if (n == 0)
		return MLP_ESIZE;
	st = mlpi_check_opts(net, opts);
	if (st != MLP_OK)
		return st;
	if (opts->epochs == 0)
		return MLP_EINVAL;
	n_in = net->sizes[0];
	n_out = net->sizes[net->n_layers];
	if (!mlpi_mul(n, n_in * sizeof(float), &units) ||
	    !mlpi_mul(n, n_out * sizeof(float), &units))
		return MLP_ETOOBIG;
	if (!mlpi_all_finite(n * n_in, X) || !mlpi_all_finite(n * n_out, Y))
		return MLP_ENONFINITE;
	st = mlpi_check_targets(opts->loss, net->layers[net->n_layers - 1].act, n,
				n_out, Y);
	if (st != MLP_OK)
		return st;

	batch = opts->batch_size < n ? opts->batch_size : n;
	st = mlp_trainer_create(&t, net, opts, batch);
	if (st != MLP_OK)
		return st;
	st = train_bufs_alloc(&b, net, n, batch);
	if (st != MLP_OK) {
		mlp_trainer_free(t);
		return st;
	}

	mlpi_rng_seed(&rng, opts->seed);
	for (size_t i = 0; i < n; i++)
		b.order[i] = i;
	for (size_t epoch = 1; epoch <= opts->epochs && st == MLP_OK; epoch++) {
		double sum = 0;

		memcpy(b.backup, net->block, net->block_floats * sizeof(float));
		/* Fisher–Yates. */
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = uniform_below(&rng, i + 1), k = b.order[i];
			b.order[i] = b.order[j];
			b.order[j] = k;
		}
		for (size_t r = 0; r < n && st == MLP_OK; r += batch) {
			size_t rows = n - r < batch ? n - r : batch;
			float loss;

			for (size_t i = 0; i < rows; i++) {
				memcpy(b.Xb + i * n_in, X + b.order[r + i] * n_in,
				       n_in * sizeof(float));
				memcpy(b.Yb + i * n_out, Y + b.order[r + i] * n_out,
				       n_out * sizeof(float));
			}
			st = mlp_trainer_step(t, rows, b.Xb, b.Yb, &loss);
			if (st == MLP_OK)
				sum += (double)loss * (double)rows;
		}
		if (st != MLP_OK) {
			/* Back to the start of the epoch. */
			memcpy(net->block, b.backup, net->block_floats * sizeof(float));
			break;
		}
		if (opts->on_epoch != NULL &&
		    opts->on_epoch(opts->user, epoch, sum / (double)n) != 0)
			break;
	}
	mlpi_free_aligned(b.mem);
	mlp_trainer_free(t);
	return st;
}
