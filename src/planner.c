/*
 * planner.c — which kernel runs each layer at each rung, in the manner of
 * FFTW's planner:
 *
 *   MLP_ESTIMATE  each candidate's cost model (kernel.h), the cheapest
 *                 taken: no kernel runs, only the chosen ones are packed;
 *   MLP_MEASURE   every candidate packed and timed on the layer at each
 *                 rung, inputs cache-cold (a new stretch of a buffer larger
 *                 than the caches each run), the least of a few runs
 *                 taken, within the time limit (past it, the rest is
 *                 estimated); what it found goes into the wisdom.
 *
 * Wisdom for a layer and rung, where it names a candidate, is taken at
 * either effort. A batch-invariant plan keeps one invariant kernel per
 * layer for every rung: the one cheapest summed over the rungs per row.
 */
#define _POSIX_C_SOURCE 200809L
#include "planner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The inputs MLP_MEASURE cycles through: more than the caches hold. */
#define COLD_BYTES ((size_t)64 << 20)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* 1, 2, 4, ... up to max_batch, and max_batch. */
static void ladder(size_t max_batch, struct mlpi_rungs *r)
{
	r->n = 0;
	for (size_t rows = 1; rows <= max_batch && r->n < MLPI_MAX_RUNGS - 1;
	     rows *= 2)
		r->rows[r->n++] = rows;
	if (r->rows[r->n - 1] != max_batch)
		r->rows[r->n++] = max_batch;
}

static mlp_status check_opts(const mlp_net *net, const mlp_plan_opts *o,
			     mlp_msg *msg)
{
	if (o->struct_size < offsetof(mlp_plan_opts, time_limit) + sizeof(double) ||
	    o->struct_size > sizeof(mlp_plan_opts))
		return mlpi_fail(msg, MLP_EINVAL, "opts->struct_size is %zu: "
				 "opts must come from mlp_plan_defaults",
				 o->struct_size);
	if (o->precision != MLP_FP32 && o->precision != MLP_BF16 &&
	    o->precision != MLP_INT8)
		return mlpi_fail(msg, MLP_EINVAL, "precision %d is not one",
				 (int)o->precision);
	if (o->precision == MLP_INT8 && !mlpi_net_quantized(net))
		return mlpi_fail(msg, MLP_EINVAL, "precision int8 needs a quantised "
				 "network (mlp_net_quantize), and this one %s",
				 net->quant != NULL ? "changed since it was quantised"
						    : "is not");
	if (o->max_batch == 0)
		return mlpi_fail(msg, MLP_ESIZE, "max_batch is 0");
	if (o->max_batch > MLP_MAX_BATCH)
		return mlpi_fail(msg, MLP_ETOOBIG, "max_batch %zu is above "
				 "MLP_MAX_BATCH", o->max_batch);
	if (o->effort != MLP_ESTIMATE && o->effort != MLP_MEASURE)
		return mlpi_fail(msg, MLP_EINVAL, "effort %d is neither "
				 "MLP_ESTIMATE nor MLP_MEASURE", (int)o->effort);
	if ((o->flags & ~MLP_PLAN_BATCH_INVARIANT) != 0)
		return mlpi_fail(msg, MLP_EINVAL, "flags 0x%x: unknown bits",
				 o->flags);
	if (o->threads < 0 || o->threads > 4096)
		return mlpi_fail(msg, MLP_EINVAL, "threads %d: 0 (the OpenMP "
				 "setting) to 4096", o->threads);
	if (!(o->time_limit >= 0) || !isfinite(o->time_limit))
		return mlpi_fail(msg, MLP_EINVAL, "time_limit is seconds, 0 or "
				 "more");
	return MLP_OK;
}

/* Whether kernel i is a candidate for layer at rung k. An int8 plan
 * takes fp32 kernels too (on the dequantised weights), where they are
 * faster. */
static bool candidate(const struct mlpi_choice *c, size_t i,
		      const struct mlp_layer *layer, size_t k,
		      mlp_precision precision)
{
	size_t l = (size_t)(layer - c->layers);
	const struct mlpi_kernel *kn = c->kernels[i];

	return (kn->precision == precision ||
		(precision == MLP_INT8 && kn->precision == MLP_FP32)) &&
	       !c->refused[l * c->n_kernels + i] &&
	       (!c->rungs.invariant || kn->invariant) &&
	       kn->supports(layer, c->rungs.rows[k]);
}

static struct mlpi_wisdom_key key_of(const struct mlpi_choice *c,
				     const struct mlp_layer *layer, size_t k,
				     mlp_precision precision)
{
	struct mlpi_wisdom_key key = {
		.precision = precision, .n_in = layer->n_in, .n_out = layer->n_out,
		.rows = c->rungs.rows[k], .act = layer->act,
		.threads = c->rungs.threads, .invariant = c->rungs.invariant,
	};
	return key;
}

/* The candidate wisdom names for layer at rung k, or -1. */
static int from_wisdom(const struct mlpi_choice *c, const struct mlp_layer *layer,
		       size_t k, mlp_precision precision)
{
	struct mlpi_wisdom_key key = key_of(c, layer, k, precision);
	char name[32];

	if (!mlpi_wisdom_lookup(&key, name, sizeof(name)))
		return -1;
	for (size_t i = 0; i < c->n_kernels; i++)
		if (strcmp(c->kernels[i]->name, name) == 0 &&
		    candidate(c, i, layer, k, precision))
			return (int)i;
	return -1;
}

/* The cheapest candidate by the cost models, or -1 for none. */
static int cheapest(const struct mlpi_choice *c, const struct mlp_layer *layer,
		    size_t k, mlp_precision precision)
{
	double best = INFINITY;
	int pick = -1;

	for (size_t i = 0; i < c->n_kernels; i++) {
		double t;

		if (!candidate(c, i, layer, k, precision))
			continue;
		t = c->kernels[i]->cost(layer, c->rungs.rows[k], c->rungs.threads);
		if (t < best) {
			best = t;
			pick = (int)i;
		}
	}
	return pick;
}

/* Invariant plans: one kernel for the layer at every rung, the cheapest
 * per row summed over the rungs; -1 for none serving every rung. */
static int cheapest_everywhere(const struct mlpi_choice *c,
			       const struct mlp_layer *layer,
			       mlp_precision precision)
{
	double best = INFINITY;
	int pick = -1;

	for (size_t i = 0; i < c->n_kernels; i++) {
		double t = 0;
		size_t k;

		for (k = 0; k < c->rungs.n && candidate(c, i, layer, k, precision); k++)
			t += c->kernels[i]->cost(layer, c->rungs.rows[k],
						 c->rungs.threads) /
			     (double)c->rungs.rows[k];
		if (k == c->rungs.n && t < best) {
			best = t;
			pick = (int)i;
		}
	}
	return pick;
}

static mlp_status prepare(struct mlpi_choice *c, const mlp_net *net, size_t l,
			  size_t i)
{
	void **slot = &c->packed[l * c->n_kernels + i];
	mlp_status st;

	if (*slot != NULL)
		return MLP_OK;
	st = c->kernels[i]->prepare(&net->layers[l], &c->rungs, slot);
	if (st == MLP_ENOTSUP)
		c->refused[l * c->n_kernels + i] = true;
	return st;
}

/* ---- MLP_MEASURE ---------------------------------------------------------- */

struct bench {
	float *cold;      /* COLD_BYTES of inputs */
	float *Y, *mid[2]; /* outputs; a chain's data between layers */
	size_t cold_floats, at;
	double deadline;  /* µs on the monotonic clock */
};

/* The least of n times: a machine shared with other work (or the BLAS's
 * threads spinning on after a call) only ever adds to a run's time. */
static double fastest(const double *t, int n)
{
	double m = t[0];

	for (int i = 1; i < n; i++)
		m = t[i] < m ? t[i] : m;
	return m;
}

/* Runs a sample is timed over: enough for 20 µs, since a tiny layer takes
 * less than the clock's own cost. */
#define SAMPLE_US 20.0

static void bench_close(struct bench *b)
{
	mlpi_free_aligned(b->cold);
	mlpi_free_aligned(b->Y);
	mlpi_free_aligned(b->mid[0]);
	mlpi_free_aligned(b->mid[1]);
}

static mlp_status bench_open(struct bench *b, const mlp_net *net,
			     size_t max_rows, double limit_s)
{
	size_t widest = 0;

	for (size_t l = 0; l <= net->n_layers; l++)
		widest = net->sizes[l] > widest ? net->sizes[l] : widest;
	b->cold_floats = COLD_BYTES / sizeof(float);
	if (b->cold_floats < max_rows * widest + 16)
		b->cold_floats = max_rows * widest + 16;
	b->cold = mlpi_alloc_aligned(b->cold_floats * sizeof(float));
	b->Y = mlpi_alloc_aligned(max_rows * widest * sizeof(float));
	b->mid[0] = mlpi_alloc_aligned(max_rows * widest * sizeof(float));
	b->mid[1] = mlpi_alloc_aligned(max_rows * widest * sizeof(float));
	if (b->cold == NULL || b->Y == NULL || b->mid[0] == NULL ||
	    b->mid[1] == NULL) {
		bench_close(b);
		return MLP_ENOMEM;
	}
	/* Values of a layer's usual range, not zeros or denormals. */
	for (size_t j = 0; j < b->cold_floats; j++)
		b->cold[j] = (float)((j * 2654435761u) % 2001) / 1000.0f - 1.0f;
	b->at = 0;
	b->deadline = now_us() + limit_s * 1e6;
	return MLP_OK;
}

/* The least time (µs) of layers [l0, l1) at rung k on the kernels picks
 * names (picks[0] for l0), over 3 to 5 samples, each input a new stretch
 * of the cold buffer; INFINITY when a kernel fails. One layer is a
 * candidate timed alone, all of them a whole pass. */
static double time_layers(struct mlpi_choice *c, struct bench *b,
			  const mlp_net *net, size_t k, size_t l0, size_t l1,
			  const unsigned char *picks)
{
	size_t rows = c->rungs.rows[k], n_in = net->layers[l0].n_in;
	void **ctx = calloc(l1 - l0, sizeof(void *));
	double t[5];
	int samples = 0;
	size_t reps = 1, made = 0;
	bool failed = ctx == NULL;

	for (; made < l1 - l0 && !failed; made++) {
		size_t j = (l0 + made) * c->n_kernels + picks[made];

		failed = c->kernels[picks[made]]->context(c->packed[j], &ctx[made]) != MLP_OK;
	}
	/* A first run sizes the samples: slow ones are timed fewer times. */
	for (int r = -1; r < samples && !failed; r++) {
		double t0 = now_us();

		for (size_t rep = 0; rep < reps && !failed; rep++) {
			const float *in;

			if (b->at + rows * n_in > b->cold_floats)
				b->at = 0;
			in = b->cold + b->at;
			b->at += rows * n_in + 16;
			for (size_t l = l0; l < l1 && !failed; l++) {
				size_t i = picks[l - l0], j = l * c->n_kernels + i;
				float *out = l + 1 == l1 ? b->Y : b->mid[l & 1];

				failed = c->kernels[i]->run(c->packed[j], ctx[l - l0], k,
							    rows, in, out) != MLP_OK;
				in = out;
			}
		}
		t0 = (now_us() - t0) / (double)reps;
		if (r >= 0) {
			t[r] = t0;
			continue;
		}
		samples = t0 > 500 ? 3 : 5;
		reps = t0 >= SAMPLE_US ? 1 : (size_t)(SAMPLE_US / (t0 + 0.01)) + 1;
		reps = reps < 10000 ? reps : 10000;
	}
	for (size_t m = 0; m < made; m++)
		c->kernels[picks[m]]->free_context(ctx[m]);
	free(ctx);
	if (failed)
		return INFINITY;
	return fastest(t, samples);
}

/* Times the candidates of layer l at rung k, records the fastest and
 * returns it; -1 if none ran. */
static int measure(struct mlpi_choice *c, struct bench *b, const mlp_net *net,
		   size_t l, size_t k, mlp_precision precision)
{
	double best = INFINITY;
	int pick = -1;

	for (size_t i = 0; i < c->n_kernels; i++) {
		unsigned char one;
		double t;

		if (!candidate(c, i, &net->layers[l], k, precision) ||
		    c->packed[l * c->n_kernels + i] == NULL)
			continue;
		one = (unsigned char)i;
		t = time_layers(c, b, net, k, l, l + 1, &one);
		if (t < best) {
			best = t;
			pick = (int)i;
		}
	}
	if (pick >= 0) {
		struct mlpi_wisdom_key key = key_of(c, &net->layers[l], k, precision);

		(void)mlpi_wisdom_record(&key, c->kernels[pick]->name, best);
	}
	return pick;
}

/* Layers timed alone miss what they do to each other (the weights of one
 * evicting the next one's from the caches, threads started per layer), so
 * rung k's picks are timed as a whole pass against each kernel that runs
 * every layer there (mlp_forward's chain, oneDNN's, mlp's own), and the
 * fastest pass kept, and recorded. */
static mlp_status check_chains(struct mlpi_choice *c, struct bench *b,
			       const mlp_net *net, size_t k, mlp_precision precision)
{
	unsigned char *picks = c->pick + k * c->n_layers;
	unsigned char *best = malloc(2 * c->n_layers), *uniform;
	double best_t;

	if (best == NULL)
		return MLP_ENOMEM;
	uniform = best + c->n_layers;
	best_t = time_layers(c, b, net, k, 0, c->n_layers, picks);
	memcpy(best, picks, c->n_layers);
	/* The cost models' picks, where they are prepared, as one more. */
	{
		bool ready = true;
		double t;

		for (size_t l = 0; l < c->n_layers && ready; l++) {
			int i = cheapest(c, &net->layers[l], k, precision);

			ready = i >= 0 && c->packed[l * c->n_kernels + (size_t)i] != NULL;
			uniform[l] = (unsigned char)(ready ? i : 0);
		}
		if (ready && memcmp(uniform, picks, c->n_layers) != 0 &&
		    (t = time_layers(c, b, net, k, 0, c->n_layers, uniform)) < best_t) {
			best_t = t;
			memcpy(best, uniform, c->n_layers);
		}
	}
	for (size_t i = 0; i < c->n_kernels; i++) {
		bool every = true;
		double t;

		for (size_t l = 0; l < c->n_layers && every; l++)
			every = candidate(c, i, &net->layers[l], k, precision) &&
				c->packed[l * c->n_kernels + i] != NULL;
		if (!every)
			continue;
		memset(uniform, (int)i, c->n_layers);
		if (memcmp(uniform, picks, c->n_layers) == 0)
			continue;
		t = time_layers(c, b, net, k, 0, c->n_layers, uniform);
		if (t < best_t) {
			best_t = t;
			memcpy(best, uniform, c->n_layers);
		}
	}
	if (memcmp(best, picks, c->n_layers) != 0) {
		memcpy(picks, best, c->n_layers);
		for (size_t l = 0; l < c->n_layers; l++) {
			struct mlpi_wisdom_key key = key_of(c, &net->layers[l], k,
							     precision);

			(void)mlpi_wisdom_record(&key, c->kernels[best[l]]->name,
						 best_t / (double)c->n_layers);
		}
	}
	free(best);
	return MLP_OK;
}

/* Every candidate of every layer packed, for timing; one that cannot be
 * (ENOTSUP on this CPU) is left out. */
static mlp_status prepare_all(struct mlpi_choice *c, const mlp_net *net,
			      mlp_precision precision)
{
	for (size_t l = 0; l < c->n_layers; l++)
		for (size_t i = 0; i < c->n_kernels; i++) {
			bool any = false;
			mlp_status st;

			for (size_t k = 0; k < c->rungs.n && !any; k++)
				any = candidate(c, i, &net->layers[l], k, precision);
			if (!any)
				continue;
			st = prepare(c, net, l, i);
			if (st != MLP_OK && st != MLP_ENOTSUP)
				return st;
		}
	return MLP_OK;
}

/* ---- the choice ---------------------------------------------------------- */

void mlpi_choice_free(struct mlpi_choice *c)
{
	if (c->packed != NULL)
		for (size_t j = 0; j < c->n_layers * c->n_kernels; j++)
			if (c->packed[j] != NULL)
				c->kernels[j % c->n_kernels]->free_packed(c->packed[j]);
	free(c->packed);
	free(c->pick);
	free(c->refused);
	free(c->kernels);
	c->kernels = NULL;
	c->packed = NULL;
	c->pick = NULL;
	c->refused = NULL;
}

/* Frees the forms no rung picks. */
static void drop_unpicked(struct mlpi_choice *c)
{
	for (size_t l = 0; l < c->n_layers; l++)
		for (size_t i = 0; i < c->n_kernels; i++) {
			bool used = false;

			for (size_t k = 0; k < c->rungs.n; k++)
				used |= c->pick[k * c->n_layers + l] == i;
			if (!used && c->packed[l * c->n_kernels + i] != NULL) {
				c->kernels[i]->free_packed(c->packed[l * c->n_kernels + i]);
				c->packed[l * c->n_kernels + i] = NULL;
			}
		}
}

/* Picks every layer at every rung; the kernels picked are prepared (those
 * that cannot be are ruled out and the choice made again). */
static mlp_status choose(struct mlpi_choice *c, const mlp_net *net,
			 const mlp_plan_opts *o, mlp_msg *msg)
{
	struct bench b = { 0 };
	bool measuring = o->effort == MLP_MEASURE;
	bool measured[MLPI_MAX_RUNGS] = { false };
	mlp_status st = MLP_OK;

	if (measuring) {
		st = prepare_all(c, net, o->precision);
		if (st == MLP_OK)
			st = bench_open(&b, net, c->rungs.rows[c->rungs.n - 1],
					o->time_limit);
		if (st != MLP_OK)
			return st;
	}
	for (size_t l = 0; l < c->n_layers && st == MLP_OK; l++) {
		const struct mlp_layer *layer = &net->layers[l];
		int every = c->rungs.invariant
				    ? cheapest_everywhere(c, layer, o->precision)
				    : -1;

		for (size_t k = 0; k < c->rungs.n && st == MLP_OK; k++) {
			int pick = every;

			if (!c->rungs.invariant) {
				pick = from_wisdom(c, layer, k, o->precision);
				if (pick < 0 && measuring && now_us() < b.deadline) {
					pick = measure(c, &b, net, l, k, o->precision);
					measured[k] |= pick >= 0;
				}
				if (pick < 0)
					pick = cheapest(c, layer, k, o->precision);
			}
			if (pick < 0) {
				st = mlpi_fail(msg, MLP_ENOTSUP, "no kernel of this "
					       "build and CPU runs layer %zu at %zu "
					       "rows%s", l, c->rungs.rows[k],
					       c->rungs.invariant ? " batch-invariantly" : "");
				break;
			}
			st = prepare(c, net, l, (size_t)pick);
			c->pick[k * c->n_layers + l] = (unsigned char)pick;
			/* A kernel that cannot pack the layer here is ruled out,
			 * and the layer chosen again from the start. */
			if (st == MLP_ENOTSUP) {
				st = MLP_OK;
				l--;
				break;
			}
		}
	}
	if (st == MLP_OK && measuring)
		for (size_t k = 0; k < c->rungs.n && now_us() < b.deadline; k++)
			if (measured[k])
				st = check_chains(c, &b, net, k, o->precision);
	if (measuring)
		bench_close(&b);
	if (st == MLP_OK)
		drop_unpicked(c);
	return st;
}

mlp_status mlpi_plan_choose(const struct mlpi_kernel *const *kernels,
			    size_t n_kernels, const mlp_net *net,
			    const mlp_plan_opts *opts, struct mlpi_choice *c,
			    mlp_msg *msg)
{
	mlp_status st = check_opts(net, opts, msg);

	if (st != MLP_OK)
		return st;
	memset(c, 0, sizeof(*c));
	ladder(opts->max_batch, &c->rungs);
	c->rungs.invariant = (opts->flags & MLP_PLAN_BATCH_INVARIANT) != 0;
	c->rungs.threads = mlpi_kernel_threads(opts->threads);
	c->n_layers = net->n_layers;
	c->n_kernels = n_kernels;
	c->kernels = malloc(n_kernels * sizeof(*c->kernels));
	if (c->kernels != NULL)
		memcpy(c->kernels, kernels, n_kernels * sizeof(*c->kernels));
	c->pick = calloc(c->rungs.n * c->n_layers, 1);
	c->packed = calloc(c->n_layers * n_kernels, sizeof(void *));
	c->refused = calloc(c->n_layers * n_kernels, sizeof(bool));
	c->layers = net->layers;
	if (c->kernels == NULL || c->pick == NULL || c->packed == NULL ||
	    c->refused == NULL) {
		mlpi_choice_free(c);
		return MLP_ENOMEM;
	}
	st = choose(c, net, opts, msg);
	if (st != MLP_OK)
		mlpi_choice_free(c);
	return st;
}
