/*
 * trainer_update.c — a step's update: the gradients' norm, clipping, and
 * the optimizer's update, shared among OpenMP's threads in a bf16
 * trainer, and bounded before it is written so that an update that would
 * overflow changes nothing.
 */
#include "openmp.h"
#include "optim.h"
#include "trainer.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

/* The squared L2 norm of G[lo, hi): sixteen float partial sums, which
 * vectorise, summed in double at the end (lo and hi are multiples of 16;
 * the block is padded to 16). */
MLPI_CLONES
double mlpi_trainer_norm2(const float *G, size_t lo, size_t hi)
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
mlp_status mlpi_trainer_apply(mlp_trainer *t, double norm)
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

