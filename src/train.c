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
	void *mem;      /* the one block behind every buffer below */
	float *G;       /* gradients, laid out as the parameter block */
	float *M, *V;   /* optimizer state, the same layout */
	float *D[2];    /* ∂L/∂A and ∂L/∂Z: max_batch × widest, ping-pong */
	float *ones;    /* max_batch ones, for the bias gradients */
	float **A;      /* A[l], l = 1..L: outputs of layer l − 1 */
	float **Z;      /* Z[l]: pre-activations of layer l, or NULL */
	struct mlpi_bf16 *bf16; /* MLP_BF16: the products of full steps */
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
	t->G = mlpi_carve(c, net->block_floats, F);
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
			      const mlp_train_opts *opts, size_t max_batch)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);
	size_t L, bytes;
	mlp_trainer *t;
	mlp_status st;

	if (out == NULL || net == NULL || opts == NULL)
		return MLP_ENULL;
	if (max_batch == 0)
		return MLP_ESIZE;
	if (max_batch > MLP_MAX_BATCH)
		return MLP_ETOOBIG;
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

/* Whether a step of `rows` rows runs its products in bf16. */
static bool in_bf16(const mlp_trainer *t, size_t rows)
{
	return t->bf16 != NULL && rows == t->max_batch;
}

/* Layer l's product A_l·Wᵀ + b into out, with the activation when act is
 * not MLP_IDENTITY. */
static void layer_product(mlp_trainer *t, size_t l, size_t rows, mlp_act act,
			  float *out)
{
	const struct mlp_layer *layer = &t->net->layers[l];

#if defined(MLP_HAVE_ONEDNN)
	if (in_bf16(t, rows)) {
		mlpi_bf16_forward(t->bf16, l, layer->n_in, t->A[l]);
		mlpi_bias_act(act, rows, layer->n_out, layer->b, out);
		return;
	}
#endif
	mlpi_dense(rows, layer->n_in, layer->n_out, layer->W, layer->b, act,
		   t->A[l], out);
}

/* Forward through every layer, keeping what backpropagation needs. */
static void forward(mlp_trainer *t, size_t rows, const float *X)
{
	const mlp_net *net = t->net;

#if defined(MLP_HAVE_ONEDNN)
	if (in_bf16(t, rows))
		mlpi_bf16_weights(t->bf16);
#endif
	t->A[0] = (float *)X; /* read only */
	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *layer = &net->layers[l];
		float *A = t->A[l + 1], *Z = t->Z[l];

		if (Z == NULL) {
			layer_product(t, l, rows, layer->act, A);
		} else {
			layer_product(t, l, rows, MLP_IDENTITY, Z);
			memcpy(A, Z, rows * layer->n_out * sizeof(float));
			mlpi_bias_act(layer->act, rows, layer->n_out, NULL, A);
		}
	}
}

/* Backward from D[0] (= ∂L/∂Z of the output layer) into t->G. */
static void backward(mlp_trainer *t, size_t rows)
{
	const mlp_net *net = t->net;
	bool bf16 = in_bf16(t, rows);
	int cur = 0;

	for (size_t l = net->n_layers; l-- > 0;) {
		const struct mlp_layer *layer = &net->layers[l];
		int n_in = (int)layer->n_in, n_out = (int)layer->n_out;
		float *dZ = t->D[cur];
		float *dW = t->G + (layer->W - net->block);
		float *db = t->G + (layer->b - net->block);

#if defined(MLP_HAVE_ONEDNN)
		/* dW, and dA_l into D[!cur] (see bf16_create). */
		if (bf16)
			mlpi_bf16_backward(t->bf16, l, layer->n_out, dZ);
#endif
		/* dW = dZᵀ·A_l: (n_out × rows)·(rows × n_in). */
		if (!bf16)
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out,
				    n_in, (int)rows, 1.0f, dZ, n_out, t->A[l], n_in,
				    0.0f, dW, n_in);
		/* db = dZᵀ·1. */
		cblas_sgemv(CblasRowMajor, CblasTrans, (int)rows, n_out, 1.0f, dZ,
			    n_out, t->ones, 1, 0.0f, db, 1);
		if (l == 0)
			break;
		/* dA_l = dZ·W: (rows × n_out)·(n_out × n_in), then through the
		 * activation of layer l − 1. */
		if (!bf16)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
				    (int)rows, n_in, n_out, 1.0f, dZ, n_out,
				    layer->W, n_in, 0.0f, t->D[!cur], n_in);
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
	size_t L, n_out;
	mlp_act out_act;
	mlp_status st;
	double sum;

	if (t == NULL)
		return MLP_ENULL;
	if (batch > t->max_batch)
		return MLP_ESIZE;
	st = mlpi_check_data(t->net, t->opts.loss, batch, X, Y);
	if (st != MLP_OK)
		return st;
	net = t->net;
	L = net->n_layers;
	n_out = net->sizes[L];
	out_act = net->layers[L - 1].act;

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

/* The optimizer's update. A bf16 trainer shares it among oneDNN's threads:
 * the update reads and writes four arrays the size of the network, and
 * alone it took as long as the bf16 products of the step. */
struct update_job {
	mlp_trainer *t;
	float scale;
};

static void update_part(void *arg, int part, int parts)
{
	struct update_job *job = arg;
	mlp_trainer *t = job->t;

	mlpi_optim_update(&t->opts, t->net, t->steps, t->G, job->scale, t->M,
			  t->V, part, parts);
}

static void update(mlp_trainer *t, float scale)
{
	struct update_job job = { t, scale };

#if defined(MLP_HAVE_ONEDNN)
	if (t->bf16 != NULL) {
		mlpi_openmp_parallel(update_part, &job);
		return;
	}
#endif
	update_part(&job, 0, 1);
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
	update(t, scale);
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
