/*
 * optim.c — training options and the optimizer updates, as PyTorch's SGD and
 * AdamW make them, with decoupled weight decay on the weights:
 *
 *   every weight w:  w ← w − lr·wd·w
 *   SGD:   v ← μ·v + g;  w ← w − lr·(g + μ·v) (Nesterov) or w − lr·v
 *   Adam:  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
 *          w ← w − (lr / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + eps)
 *
 * g is the gradient times the clipping factor. The parameter block's padding
 * has zero gradients and stays zero, so each update is one loop per tensor.
 */
#include "internal.h"

#include <math.h>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
/* The moments of a parameter whose gradient is zero (a dead ReLU) decay
 * geometrically through the subnormal range, where x86 arithmetic takes
 * a hundred cycles a operation: with a fifth of the moments subnormal the
 * Adam update ran 2.5 times slower. The updates flush them to zero (FTZ and
 * DAZ in MXCSR, this thread's only, restored after). */
#define FLUSH_BEGIN()                                      \
	unsigned csr_saved = _mm_getcsr();                 \
	_mm_setcsr(csr_saved | 0x8040u /* FTZ | DAZ */)
#define FLUSH_END() _mm_setcsr(csr_saved)
#else
#define FLUSH_BEGIN() (void)0
#define FLUSH_END() (void)0
#endif


mlp_train_opts mlp_train_defaults(void)
{
	mlp_train_opts o = {
		.loss = MLP_LOSS_MSE,
		.optim = MLP_OPTIM_ADAM,
		.lr = 1e-3f,
		.momentum = 0.9f,
		.nesterov = 0,
		.beta1 = 0.9f,
		.beta2 = 0.999f,
		.eps = 1e-8f,
		.weight_decay = 0.0f,
		.clip_norm = 0.0f,
		.precision = MLP_FP32,
		.comm = NULL,
		.batch_size = 32,
		.epochs = 10,
		.seed = 0,
		.drop_last = 0,
		.sharded = 0,
		.eval_n = 0,
		.eval_X = NULL,
		.eval_Y = NULL,
		.on_step = NULL,
		.on_epoch = NULL,
		.checkpoint = NULL,
		.checkpoint_every = 0,
		.resume = NULL,
		.user = NULL,
	};
	return o;
}

/* The ranges of the float options. */
enum range { POSITIVE, NON_NEGATIVE, UNIT };

static bool in_range(float x, enum range r)
{
	switch (r) {
	case POSITIVE:
		return isfinite(x) && x > 0.0f;
	case NON_NEGATIVE:
		return isfinite(x) && x >= 0.0f;
	case UNIT:
		return x >= 0.0f && x < 1.0f;
	}
	return false;
}

static const char *const range_text[] = {
	[POSITIVE] = "finite and above 0",
	[NON_NEGATIVE] = "finite and at least 0",
	[UNIT] = "in [0, 1)",
};

mlp_status mlpi_check_opts(const mlp_net *net, const mlp_train_opts *o,
			   bool for_train, mlp_msg *msg)
{
	const struct {
		const char *name;
		float value;
		enum range range;
	} floats[] = {
		{ "lr", o->lr, POSITIVE },
		{ "momentum", o->momentum, UNIT },
		{ "beta1", o->beta1, UNIT },
		{ "beta2", o->beta2, UNIT },
		{ "eps", o->eps, POSITIVE },
		{ "weight_decay", o->weight_decay, NON_NEGATIVE },
		{ "clip_norm", o->clip_norm, NON_NEGATIVE },
	};
	mlp_act out_act;

	if (o->optim != MLP_OPTIM_SGD && o->optim != MLP_OPTIM_ADAM)
		return mlpi_fail(msg, MLP_EINVAL, "optim %d is not an optimizer",
				 (int)o->optim);
	if (o->loss != MLP_LOSS_MSE && o->loss != MLP_LOSS_XENT)
		return mlpi_fail(msg, MLP_EINVAL, "loss %d is not a loss",
				 (int)o->loss);
	for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
		if (!in_range(floats[i].value, floats[i].range))
			return mlpi_fail(msg, MLP_EINVAL, "%s must be %s, not %g",
					 floats[i].name,
					 range_text[floats[i].range],
					 (double)floats[i].value);
	}
	if (o->precision != MLP_FP32 && o->precision != MLP_BF16)
		return mlpi_fail(msg, MLP_EINVAL, "precision %d is not a precision",
				 (int)o->precision);
	if (!mlp_precision_supported(o->precision))
		return mlpi_fail(msg, MLP_ENOTSUP, "bf16 training needs a build "
				 "with oneDNN and a CPU with AVX512_BF16 or AMX");
	if (o->batch_size == 0)
		return mlpi_fail(msg, MLP_EINVAL, "batch_size must be at least 1");
	if (for_train && o->epochs == 0)
		return mlpi_fail(msg, MLP_EINVAL, "epochs must be at least 1");
	if (o->comm != NULL) {
		const mlp_comm *c = o->comm;

		if (c->size < 1 || c->rank < 0 || c->rank >= c->size)
			return mlpi_fail(msg, MLP_EINVAL, "comm: rank %d of %d "
					 "workers", c->rank, c->size);
		if (c->sum_doubles == NULL || c->sum_floats == NULL ||
		    c->broadcast == NULL)
			return mlpi_fail(msg, MLP_EINVAL, "comm: a function is "
					 "NULL");
		if (for_train && o->batch_size % (size_t)c->size != 0)
			return mlpi_fail(msg, MLP_EINVAL, "batch_size %zu is not a "
					 "multiple of the %d workers",
					 o->batch_size, c->size);
	}
	if (for_train && o->sharded && o->comm == NULL)
		return mlpi_fail(msg, MLP_EINVAL, "sharded needs a comm");
	if (for_train && o->checkpoint != NULL && o->checkpoint_every == 0)
		return mlpi_fail(msg, MLP_EINVAL, "checkpoint_every must be at "
				 "least 1 with a checkpoint file");
	if (net != NULL) {
		out_act = net->layers[net->n_layers - 1].act;
		if (mlpi_loss_fits(o->loss, out_act) != MLP_OK)
			return mlpi_fail(msg, MLP_ELOSS,
					 "cross-entropy needs a softmax or "
					 "sigmoid output layer, not %s",
					 mlp_act_name(out_act));
	}
	mlpi_msg_clear(msg);
	return MLP_OK;
}

mlp_status mlp_train_check(const mlp_net *net, const mlp_train_opts *opts,
			   mlp_msg *msg)
{
	if (opts == NULL)
		return mlpi_fail(msg, MLP_ENULL, "opts is NULL");
	return mlpi_check_opts(net, opts, true, msg);
}

MLPI_CLONES
static void sgd(size_t n, float *restrict w, const float *restrict g,
		float *restrict v, float scale, float lr, float decay, float mu,
		bool nesterov)
{
	if (mu == 0.0f) {
		for (size_t i = 0; i < n; i++)
			w[i] -= lr * decay * w[i] + lr * scale * g[i];
		return;
	}
	for (size_t i = 0; i < n; i++) {
		float gi = scale * g[i];

		v[i] = mu * v[i] + gi;
		w[i] -= lr * decay * w[i] + lr * (nesterov ? gi + mu * v[i] : v[i]);
	}
}

MLPI_CLONES
static void adam(size_t n, float *restrict w, const float *restrict g,
		 float *restrict m, float *restrict v, float scale, float lr,
		 float decay, float b1, float b2, float step, float inv_sqrt_bc2,
		 float eps)
{
	/* One pass over four arrays: memory-bound on large layers. */
	float keep = 1.0f - lr * decay;

	for (size_t i = 0; i < n; i++) {
		float gi = scale * g[i];
		float mi = b1 * m[i] + (1.0f - b1) * gi;
		float vi = b2 * v[i] + (1.0f - b2) * gi * gi;

		m[i] = mi;
		v[i] = vi;
		w[i] = w[i] * keep - step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
	}
}

void mlpi_optim_update(const mlp_train_opts *o, mlp_net *net, size_t t,
		       const float *G, float g_scale, float *M, float *V,
		       int part, int parts)
{
	/* This part's slice of the block, in whole 16-float groups (the block
	 * is padded to 16 floats). */
	size_t groups = net->block_floats / 16;
	size_t lo = groups * (size_t)part / (size_t)parts * 16;
	size_t hi = groups * (size_t)(part + 1) / (size_t)parts * 16;
	/* Bias corrections in double: β^t for large t underflows cleanly. */
	double bc1 = 1.0 - pow(o->beta1, (double)t);
	double bc2 = 1.0 - pow(o->beta2, (double)t);
	float step = (float)(o->lr / bc1);
	float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));

	FLUSH_BEGIN();
	for (size_t l = 0; l < net->n_layers; l++) {
		struct mlp_layer *layer = &net->layers[l];
		/* The weights, with decay, then the biases, without. */
		float *p[2] = { layer->W, layer->b };
		size_t count[2] = { layer->n_out * layer->n_in, layer->n_out };
		float decay[2] = { o->weight_decay, 0.0f };

		for (int k = 0; k < 2; k++) {
			/* The tensor [begin, end) within the slice. */
			size_t begin = (size_t)(p[k] - net->block);
			size_t end = begin + count[k], at, n;

			begin = begin > lo ? begin : lo;
			end = end < hi ? end : hi;
			if (begin >= end)
				continue;
			at = begin;
			n = end - begin;
			if (o->optim == MLP_OPTIM_SGD)
				sgd(n, net->block + at, G + at, M + at, g_scale, o->lr,
				    decay[k], o->momentum, o->nesterov != 0);
			else
				adam(n, net->block + at, G + at, M + at, V + at,
				     g_scale, o->lr, decay[k], o->beta1, o->beta2,
				     step, inv_sqrt_bc2, o->eps);
		}
	}
	FLUSH_END();
}
