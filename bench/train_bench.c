/*
 * train_bench.c — training throughput: mlp's trainer against PyTorch on
 * 784-256-128-10 (ReLU, ReLU, softmax), cross-entropy, Adam (lr 1e-3), batch
 * 64, the same parameters and data, the same BLAS thread count.
 *
 * Agreement first: from the same parameters, the first three steps on the
 * same batches must give the same losses (within 1e-4, relative: float
 * sums in different orders; a different loss, gradient or update moves the
 * third loss by far more). Then steps are timed in alternating rounds, as the
 * forward passes are.
 */
#include "bench.h"
#include "timer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 1024, BATCH = 64, CHECK_STEPS = 3 };
#define LR 1e-3f
#define LOSS_REL_TOL 1e-4

static const struct net_case train_case = {
	"train 784-256-128-10", 3, { 784, 256, 128, 10 },
	{ MLP_RELU, MLP_RELU, MLP_SOFTMAX }, true
};

struct train_setup {
	mlp_net *net;
	mlp_trainer *t;
	float *X, *Y; /* ROWS rows of inputs and one-hot targets */
	size_t at;    /* the next batch's first row */
};

/* One step on the next batch, cycling through the rows as PyTorch's side. */
static mlp_status mlp_step(struct train_setup *s, float *loss)
{
	size_t n_in = train_case.sizes[0], n_out = train_case.sizes[3];
	mlp_status st = mlp_trainer_step(s->t, BATCH, s->X + s->at * n_in,
					 s->Y + s->at * n_out, loss);

	s->at = (s->at + BATCH) % ROWS;
	return st;
}

static bool write_floats(const char *path, const float *v, size_t n)
{
	FILE *f = fopen(path, "wb");
	bool ok = f != NULL && fwrite(v, sizeof(float), n, f) == n;

	if (f != NULL)
		ok = fclose(f) == 0 && ok;
	return ok;
}

/* Seconds for k steps of one implementation. */
static double time_steps(struct train_setup *s, struct torch_proc *torch,
			 enum impl k, int steps)
{
	char reply[256];
	double t0;

	if (k == TORCH)
		return torch_cmd(torch, reply, sizeof(reply), "train_time %d", steps)
			       ? atof(reply) : NAN;
	t0 = bench_now();
	for (int i = 0; i < steps; i++)
		mlp_step(s, NULL);
	return bench_now() - t0;
}

/* Sends the network and data to PyTorch and compares the first losses. */
static void check_torch(struct train_setup *s, struct torch_proc *torch,
			const char *tmpdir, const float *mlp_losses,
			struct stats *st)
{
	const struct net_case *c = &train_case;
	char p[3][600], reply[1024], *at;
	FILE *f;

	snprintf(p[0], sizeof(p[0]), "%s/train_params", tmpdir);
	snprintf(p[1], sizeof(p[1]), "%s/train_x", tmpdir);
	snprintf(p[2], sizeof(p[2]), "%s/train_y", tmpdir);
	f = fopen(p[0], "wb");
	for (size_t l = 0; f != NULL && l < c->n_layers; l++) {
		fwrite(mlp_net_weights(s->net, l), sizeof(float),
		       c->sizes[l] * c->sizes[l + 1], f);
		fwrite(mlp_net_bias(s->net, l), sizeof(float), c->sizes[l + 1], f);
	}
	if (f == NULL || fclose(f) != 0 ||
	    !write_floats(p[1], s->X, ROWS * c->sizes[0]) ||
	    !write_floats(p[2], s->Y, ROWS * c->sizes[3])) {
		snprintf(st->why, sizeof(st->why), "cannot write to %s", tmpdir);
		return;
	}
	st->present = true;
	if (!torch_cmd(torch, reply, sizeof(reply),
		       "train %s relu,relu,softmax 784,256,128,10 %g %d %s %s %d",
		       p[0], (double)LR, BATCH, p[1], p[2], ROWS) ||
	    !torch_cmd(torch, reply, sizeof(reply), "steps %d", CHECK_STEPS)) {
		st->agree = false;
		snprintf(st->why, sizeof(st->why), "%.150s", reply);
		return;
	}
	at = reply;
	for (int i = 0; i < CHECK_STEPS; i++) {
		double theirs = strtod(at, &at), ours = mlp_losses[i];

		if (*at == ',')
			at++;
		if (!(fabs(theirs - ours) <= LOSS_REL_TOL * fabs(theirs))) {
			st->agree = false;
			snprintf(st->why, sizeof(st->why),
				 "loss of step %d: %.7g, mlp %.7g", i + 1, theirs, ours);
			return;
		}
	}
	for (int i = 0; i < 3; i++)
		remove(p[i]);
}

void train_bench(const struct options *o, struct torch_proc *torch,
		 const char *tmpdir, struct cell *cell)
{
	const struct net_case *c = &train_case;
	struct train_setup s = { 0 };
	mlp_train_opts opts = mlp_train_defaults();
	uint64_t g = 77;
	float losses[CHECK_STEPS];
	double *times[N_IMPL] = { 0 };
	int max_repeats = 0;
	enum impl impls[2] = { MLP, TORCH };

	memset(cell, 0, sizeof(*cell));
	cell->c = c;
	cell->batch = BATCH;
	/* Forward, dW for every layer, dA for all but the first. */
	for (size_t l = 0; l < c->n_layers; l++)
		cell->flops += 2.0 * BATCH * (double)(c->sizes[l] * c->sizes[l + 1]) *
			       (l == 0 ? 2 : 3);
	cell->s[MLP].agree = cell->s[TORCH].agree = true;
	snprintf(cell->s[TORCH].why, sizeof(cell->s[TORCH].why), "not available");

	s.X = malloc(ROWS * c->sizes[0] * sizeof(float));
	s.Y = calloc(ROWS * c->sizes[3], sizeof(float));
	opts.loss = MLP_LOSS_XENT;
	opts.lr = LR;
	if (s.X == NULL || s.Y == NULL ||
	    mlp_net_create(&s.net, c->n_layers, c->sizes, c->acts) != MLP_OK ||
	    mlp_net_init(s.net, 2026) != MLP_OK ||
	    mlp_trainer_create(&s.t, s.net, &opts, BATCH) != MLP_OK) {
		snprintf(cell->s[MLP].why, sizeof(cell->s[MLP].why), "out of memory");
		cell->s[MLP].present = true;
		cell->s[MLP].agree = false;
		goto done;
	}
	/* Inputs like pixels in [0, 1); one class per row. */
	for (size_t i = 0; i < ROWS * c->sizes[0]; i++) {
		g = g * 6364136223846793005u + 1442695040888963407u;
		s.X[i] = (float)(g >> 40) / 16777216.0f;
	}
	for (size_t r = 0; r < ROWS; r++) {
		g = g * 6364136223846793005u + 1442695040888963407u;
		s.Y[r * c->sizes[3] + (g >> 33) % c->sizes[3]] = 1.0f;
	}

	cell->s[MLP].present = true;
	{
		/* PyTorch gets a copy of the parameters before mlp's first
		 * step changes them. */
		mlp_net *copy = NULL;
		if (torch != NULL &&
		    mlp_net_create(&copy, c->n_layers, c->sizes, c->acts) == MLP_OK) {
			for (size_t l = 0; l < c->n_layers; l++) {
				memcpy(mlp_net_weights(copy, l), mlp_net_weights(s.net, l),
				       c->sizes[l] * c->sizes[l + 1] * sizeof(float));
				memcpy(mlp_net_bias(copy, l), mlp_net_bias(s.net, l),
				       c->sizes[l + 1] * sizeof(float));
			}
		}
		for (int i = 0; i < CHECK_STEPS; i++) {
			if (mlp_step(&s, &losses[i]) != MLP_OK) {
				cell->s[MLP].agree = false;
				snprintf(cell->s[MLP].why, sizeof(cell->s[MLP].why),
					 "step %d failed", i + 1);
			}
		}
		if (copy != NULL) {
			struct train_setup ts = { copy, NULL, s.X, s.Y, 0 };
			check_torch(&ts, torch, tmpdir, losses, &cell->s[TORCH]);
			mlp_net_free(copy);
		}
	}
	if (!cell->s[MLP].agree)
		goto done;

	for (int i = 0; i < 2; i++) {
		enum impl k = impls[i];
		struct stats *st = &cell->s[k];
		double t;

		if (!st->present || !st->agree)
			continue;
		time_steps(&s, torch, k, 2); /* warm-up */
		t = time_steps(&s, torch, k, 1);
		if (!(t > 0))
			t = 1e-6;
		st->inner = t >= o->target_s ? 1 : (int)ceil(o->target_s / t);
		st->repeats = (int)fmin(o->repeats, floor(o->budget_s / (t * st->inner)));
		if (st->repeats < 3)
			st->repeats = 3;
		max_repeats = st->repeats > max_repeats ? st->repeats : max_repeats;
		times[k] = malloc((size_t)st->repeats * sizeof(double));
		st->ran = times[k] != NULL;
	}
	for (int r = 0; r < max_repeats; r++) {
		for (int j = 0; j < 2; j++) {
			enum impl k = impls[(r + j) % 2];
			struct stats *st = &cell->s[k];

			if (st->ran && r < st->repeats) {
				bench_pause();
				times[k][r] = time_steps(&s, torch, k, st->inner) / st->inner;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		enum impl k = impls[i];
		if (cell->s[k].ran)
			stats_finish(&cell->s[k], times[k]);
		free(times[k]);
	}
done:
	mlp_trainer_free(s.t);
	mlp_net_free(s.net);
	free(s.X);
	free(s.Y);
}
