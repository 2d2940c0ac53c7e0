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

#include <float.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

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


/* The defaults, the whole of this library's struct. */
static mlp_train_opts defaults(void)
{
	mlp_train_opts o = {
		.struct_size = sizeof(mlp_train_opts),
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
		.schedule = MLP_SCHEDULE_CONSTANT,
		.step_every = 10,
		.step_factor = 0.1f,
		.warmup = 0,
		.val_fraction = 0.0f,
		.patience = 0,
		.keep_best = 0,
		.checkpoint_every = 0,
		.resume = NULL,
		.user = NULL,
		.msg = NULL,
	};
	return o;
}

/* The smallest struct_size a program may pass: mlp_train_opts as 0.3.0,
 * the first version with struct_size, published it (up to keep_best).
 * Fields added later go after it, and this stays. */
#define TRAIN_OPTS_MIN_SIZE offsetof(mlp_train_opts, msg)

mlp_status mlp_train_opts_init(mlp_train_opts *opts, size_t struct_size)
{
	mlp_train_opts full = defaults();

	if (opts == NULL)
		return MLP_ENULL;
	if (struct_size < TRAIN_OPTS_MIN_SIZE || struct_size > sizeof(full))
		return MLP_EINVAL;
	memcpy(opts, &full, struct_size);
	opts->struct_size = struct_size;
	return MLP_OK;
}

float mlpi_train_lr(const mlp_train_opts *opts, size_t epoch)
{
	const mlp_train_opts o = *opts;
	double lr = o.lr, e, t;

	if (epoch <= o.warmup)
		return (float)(lr * (double)epoch / (double)(o.warmup + 1));
	e = (double)(epoch - o.warmup - 1);
	t = (double)(o.epochs - o.warmup);
	switch (o.schedule) {
	case MLP_SCHEDULE_STEP:
		return (float)(lr * pow(o.step_factor,
					(double)((epoch - o.warmup - 1) /
						 o.step_every)));
	case MLP_SCHEDULE_COSINE:
		return (float)(lr * (1.0 + cos(3.14159265358979323846 * e / t)) /
			       2.0);
	case MLP_SCHEDULE_CONSTANT:
		break;
	}
	return (float)lr;
}

float mlp_train_lr(const mlp_train_opts *opts, size_t epoch)
{
	mlp_train_opts o;

	if (opts == NULL || mlpi_opts_read(opts, &o, NULL) != MLP_OK ||
	    mlpi_check_opts(NULL, &o, true, NULL) != MLP_OK || epoch == 0 ||
	    epoch > o.epochs)
		return 0.0f;
	return mlpi_train_lr(&o, epoch);
}

mlp_status mlpi_opts_read(const mlp_train_opts *in, mlp_train_opts *out,
			  mlp_msg *msg)
{
	size_t size;

	memcpy(&size, in, sizeof(size)); /* struct_size, first */
	if (size < TRAIN_OPTS_MIN_SIZE || size > sizeof(*out))
		return mlpi_fail(msg, MLP_EINVAL, "opts->struct_size is %zu, not "
				 "a size of mlp_train_opts this library knows "
				 "(%zu to %zu): start from mlp_train_defaults()",
				 size, (size_t)TRAIN_OPTS_MIN_SIZE, sizeof(*out));
	*out = defaults();
	memcpy(out, in, size);
	out->struct_size = sizeof(*out);
	return MLP_OK;
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

mlp_status mlpi_check_values(const mlp_train_opts *o, bool for_train,
			     mlp_msg *msg)
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
	if (o->batch_size == 0)
		return mlpi_fail(msg, MLP_EINVAL, "batch_size must be at least 1");
	if (for_train && o->epochs == 0)
		return mlpi_fail(msg, MLP_EINVAL, "epochs must be at least 1");
	if (o->schedule != MLP_SCHEDULE_CONSTANT && o->schedule != MLP_SCHEDULE_STEP &&
	    o->schedule != MLP_SCHEDULE_COSINE)
		return mlpi_fail(msg, MLP_EINVAL, "schedule %d is not a schedule",
				 (int)o->schedule);
	if (o->schedule == MLP_SCHEDULE_STEP && o->step_every == 0)
		return mlpi_fail(msg, MLP_EINVAL, "step_every must be at least 1");
	if (o->schedule == MLP_SCHEDULE_STEP &&
	    !(o->step_factor > 0.0f && o->step_factor <= 1.0f))
		return mlpi_fail(msg, MLP_EINVAL, "step_factor must be in (0, 1], "
				 "not %g", (double)o->step_factor);
	if (for_train && o->warmup >= o->epochs)
		return mlpi_fail(msg, MLP_EINVAL, "warmup (%zu epochs) must be "
				 "fewer than epochs (%zu)", o->warmup, o->epochs);
	if (!(o->val_fraction >= 0.0f && o->val_fraction < 1.0f))
		return mlpi_fail(msg, MLP_EINVAL, "val_fraction must be in [0, 1), "
				 "not %g", (double)o->val_fraction);
	if (for_train && o->val_fraction > 0.0f && o->sharded)
		return mlpi_fail(msg, MLP_EINVAL, "val_fraction holds rows out "
				 "itself: not with eval_n rows, nor sharded");
	return MLP_OK;
}

mlp_status mlpi_check_opts(const mlp_net *net, const mlp_train_opts *o,
			   bool for_train, mlp_msg *msg)
{
	mlp_act out_act;
	mlp_status st = mlpi_check_values(o, for_train, msg);

	if (st != MLP_OK)
		return st;
	if (!mlp_precision_supported(o->precision))
		return mlpi_fail(msg, MLP_ENOTSUP, "bf16 training needs a build "
				 "with oneDNN and a CPU with AVX512_BF16 or AMX");
	if (o->comm != NULL && o->comm->struct_size != sizeof(mlp_comm))
		return mlpi_fail(msg, MLP_EINVAL, "comm->struct_size is %zu, not "
				 "%zu, the mlp_comm this library knows",
				 o->comm->struct_size, sizeof(mlp_comm));
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
	if (for_train && o->val_fraction > 0.0f && o->eval_n > 0)
		return mlpi_fail(msg, MLP_EINVAL, "val_fraction holds rows out "
				 "itself: not with eval_n rows, nor sharded");
	if (for_train && (o->patience > 0 || o->keep_best) && o->eval_n == 0 &&
	    o->val_fraction == 0.0f)
		return mlpi_fail(msg, MLP_EINVAL, "%s needs held-out rows "
				 "(eval_n or val_fraction)",
				 o->patience > 0 ? "patience" : "keep_best");
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
	mlp_train_opts full;
	mlp_status st;

	if (opts == NULL)
		return mlpi_fail(msg, MLP_ENULL, "opts is NULL");
	st = mlpi_opts_read(opts, &full, msg);
	return st != MLP_OK ? st : mlpi_check_opts(net, &full, true, msg);
}

/* The optimizers' constants for one tensor. */
struct rule {
	float scale, lr, decay, mu;     /* SGD; lr, decay and scale for both */
	bool nesterov;
	float b1, b2, step, inv_sqrt_bc2, eps, keep; /* Adam */
};

/* One SGD element: the new weight *w and velocity *v. (The constants
 * come by value: through a pointer, the compiler must assume the stores
 * may change them, and the loops would not vectorise.) */
static inline void sgd_one(const struct rule k, float g, float *w, float *v)
{
	float gi;

	if (k.mu == 0.0f) {
		*w -= k.lr * k.decay * *w + k.lr * k.scale * g;
		return;
	}
	gi = k.scale * g;
	*v = k.mu * *v + gi;
	*w -= k.lr * k.decay * *w + k.lr * (k.nesterov ? gi + k.mu * *v : *v);
}

/* One Adam element: the new weight, first and second moments. */
static inline void adam_one(const struct rule k, float g, float *w, float *m,
			    float *v)
{
	float gi = k.scale * g;

	*m = k.b1 * *m + (1.0f - k.b1) * gi;
	*v = k.b2 * *v + (1.0f - k.b2) * gi * gi;
	*w = *w * k.keep - k.step * *m / (sqrtf(*v) * k.inv_sqrt_bc2 + k.eps);
}

/* Which update a loop applies: a constant in each loop, so that each is
 * compiled for its own. */
enum rule_kind { SGD, SGD_MOMENTUM, ADAM };

/* a or b, whichever is larger; a NaN in b sticks. */
static inline float larger(float a, float b)
{
	return b > a || b != b ? b : a;
}

/* Element i's update, written, and the magnitudes it wrote folded into
 * top[0..2] (weights, first moments or velocities, second moments). */
static inline void apply_one(const struct rule k, enum rule_kind kind,
			     float *restrict w, const float *restrict g,
			     float *restrict m, float *restrict v, size_t i,
			     float *tw, float *tm, float *tv)
{
	if (kind == ADAM)
		adam_one(k, g[i], &w[i], &m[i], &v[i]);
	else
		sgd_one(k, g[i], &w[i], kind == SGD ? NULL : &m[i]);
	*tw = larger(*tw, fabsf(w[i]));
	if (kind != SGD)
		*tm = larger(*tm, fabsf(m[i]));
	if (kind == ADAM)
		*tv = larger(*tv, v[i]);
}

/* The update of n elements, written, with the largest magnitudes written
 * into top (sixteen lanes each, which vectorise). One pass over four
 * arrays: memory-bound on large layers. */
MLPI_CLONES
static void apply_n(const struct rule k, enum rule_kind kind, size_t n,
		    float *restrict w, const float *restrict g,
		    float *restrict m, float *restrict v, float top[3])
{
	float tw[16] = { 0 }, tm[16] = { 0 }, tv[16] = { 0 };
	size_t i = 0;

	/* One loop for each kind: the kind is a constant within each. */
	if (kind == ADAM) {
		for (; i + 16 <= n; i += 16)
			for (size_t j = 0; j < 16; j++)
				apply_one(k, ADAM, w, g, m, v, i + j, &tw[j],
					  &tm[j], &tv[j]);
	} else if (kind == SGD) {
		for (; i + 16 <= n; i += 16)
			for (size_t j = 0; j < 16; j++)
				apply_one(k, SGD, w, g, m, v, i + j, &tw[j],
					  &tm[j], &tv[j]);
	} else {
		for (; i + 16 <= n; i += 16)
			for (size_t j = 0; j < 16; j++)
				apply_one(k, SGD_MOMENTUM, w, g, m, v, i + j,
					  &tw[j], &tm[j], &tv[j]);
	}
	for (; i < n; i++)
		apply_one(k, kind, w, g, m, v, i, &tw[0], &tm[0], &tv[0]);
	for (size_t j = 0; j < 16; j++) {
		top[0] = larger(top[0], tw[j]);
		top[1] = larger(top[1], tm[j]);
		top[2] = larger(top[2], tv[j]);
	}
}

/* x − x over what element i's update would write: 0 when all is finite,
 * NaN otherwise. */
static inline float check_one(const struct rule k, bool adam, const float *w,
			      const float *g, const float *m, const float *v,
			      size_t i)
{
	float wi = w[i], mi = m[i], vi = v[i];

	if (adam)
		adam_one(k, g[i], &wi, &mi, &vi);
	else
		sgd_one(k, g[i], &wi, &mi);
	return (wi - wi) + (mi - mi) + (vi - vi);
}

/* The update of n elements, computed and not written: 0 when every new
 * value is finite, NaN otherwise (in sixteen independent sums, which
 * vectorise, as mlpi_all_finite). */
MLPI_CLONES
static float check_n(const struct rule k, bool adam, size_t n,
		     const float *restrict w, const float *restrict g,
		     const float *restrict m, const float *restrict v)
{
	float acc[16] = { 0 };
	size_t i = 0;

	if (adam) {
		for (; i + 16 <= n; i += 16)
			for (size_t j = 0; j < 16; j++)
				acc[j] += check_one(k, true, w, g, m, v, i + j);
	} else {
		for (; i + 16 <= n; i += 16)
			for (size_t j = 0; j < 16; j++)
				acc[j] += check_one(k, false, w, g, m, v, i + j);
	}
	for (; i < n; i++)
		acc[0] += check_one(k, adam, w, g, m, v, i);
	for (size_t j = 1; j < 16; j++)
		acc[0] += acc[j];
	return acc[0];
}

bool mlpi_optim_update(const mlp_train_opts *o, mlp_net *net, size_t t,
		       const float *G, float g_scale, float *M, float *V,
		       int part, int parts, float top[3])
{
	/* This part's slice of the block, in whole 16-float groups (the block
	 * is padded to 16 floats). */
	size_t groups = net->block_floats / 16;
	size_t lo = groups * (size_t)part / (size_t)parts * 16;
	size_t hi = groups * (size_t)(part + 1) / (size_t)parts * 16;
	/* Bias corrections in double: β^t for large t underflows cleanly. */
	double bc1 = 1.0 - pow(o->beta1, (double)t);
	double bc2 = 1.0 - pow(o->beta2, (double)t);
	bool adam = o->optim == MLP_OPTIM_ADAM;
	enum rule_kind kind = adam ? ADAM : o->momentum == 0.0f ? SGD
								 : SGD_MOMENTUM;
	struct rule k = {
		.scale = g_scale, .lr = o->lr, .mu = o->momentum,
		.nesterov = o->nesterov != 0, .b1 = o->beta1, .b2 = o->beta2,
		.step = (float)(o->lr / bc1),
		.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2)), .eps = o->eps,
	};
	float bad = 0.0f;

	FLUSH_BEGIN();
	for (size_t l = 0; l < net->n_layers; l++) {
		struct mlp_layer *layer = &net->layers[l];
		/* The weights, with decay, then the biases, without. */
		float *p[2] = { layer->W, layer->b };
		size_t count[2] = { layer->n_out * layer->n_in, layer->n_out };
		float decay[2] = { o->weight_decay, 0.0f };

		for (int j = 0; j < 2; j++) {
			/* The tensor [begin, end) within the slice. */
			size_t begin = (size_t)(p[j] - net->block);
			size_t end = begin + count[j], at;

			begin = begin > lo ? begin : lo;
			end = end < hi ? end : hi;
			if (begin >= end)
				continue;
			at = begin;
			k.decay = decay[j];
			k.keep = 1.0f - o->lr * decay[j];
			if (top != NULL)
				apply_n(k, kind, end - begin, net->block + at,
					G + at, M + at, V + at, top);
			else
				bad += check_n(k, adam, end - begin,
					       net->block + at, G + at, M + at,
					       V + at);
		}
	}
	FLUSH_END();
	if (top != NULL)
		return top[0] <= FLT_MAX && top[1] <= FLT_MAX && top[2] <= FLT_MAX;
	return bad == 0.0f;
}
