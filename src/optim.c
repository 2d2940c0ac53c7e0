/*
 * optim.c — the optimizer updates, as PyTorch's SGD and AdamW make them,
 * with decoupled weight decay on the weights:
 *
 *   every weight w:  w ← w − lr·wd·w
 *   SGD:   v ← μ·v + g;  w ← w − lr·(g + μ·v) (Nesterov) or w − lr·v
 *   Adam:  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
 *          w ← w − (lr / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + eps)
 *
 * g is the gradient times the clipping factor. The parameter block's padding
 * has zero gradients and stays zero, so each update is one loop per tensor.
 */
#include "optim.h"

#include <float.h>
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
