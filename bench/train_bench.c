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
#include "clock.h"
#include "data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 1024, BATCH = 64, CHECK_STEPS = 3 };
#define LR 1e-3f
#define LOSS_REL_TOL 1e-4

static const struct net_case train_case = {
	"784-256-128-10", 3, { 784, 256, 128, 10 },
	{ MLP_RELU, MLP_RELU, MLP_SOFTMAX }, true
};

struct train_setup {
	mlp_net *net;
	mlp_trainer *t;
	float *X, *Y; /* ROWS rows of inputs and one-hot targets */
	size_t at;    /* the next batch's first row */
	struct torch_proc *torch;
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

/* Seconds for `steps` steps of implementation k (a timed_fn). */
static double time_steps(void *ctx, int k, int steps)
{
	struct train_setup *s = ctx;
	char reply[256];
	double t0;

	if (k == TORCH)
		return torch_cmd(s->torch, reply, sizeof(reply), "train_time %d",
				 steps) ? atof(reply) : NAN;
	t0 = clock_seconds();
	for (int i = 0; i < steps; i++)
		mlp_step(s, NULL);
	return clock_seconds() - t0;
}

/* Sends a copy of the network taken before mlp's first step, and the data,
 * to PyTorch, and compares the first losses with mlp's. */
static void check_torch(const mlp_net *start, const struct train_setup *s,
			const char *tmpdir, const float *mlp_losses,
			struct stats *st)
{
	const struct net_case *c = &train_case;
	char p[3][600], reply[1024], *at;

	snprintf(p[0], sizeof(p[0]), "%s/train_params", tmpdir);
	snprintf(p[1], sizeof(p[1]), "%s/train_x", tmpdir);
	snprintf(p[2], sizeof(p[2]), "%s/train_y", tmpdir);
	if (!torch_write_params(p[0], start) ||
	    !torch_write_floats(p[1], s->X, ROWS * c->sizes[0]) ||
	    !torch_write_floats(p[2], s->Y, ROWS * c->sizes[3])) {
		snprintf(st->why, sizeof(st->why), "cannot write to %s", tmpdir);
		return;
	}
	st->present = true;
	if (!torch_cmd(s->torch, reply, sizeof(reply),
		       "train %s relu,relu,softmax 784,256,128,10 %g %d %s %s %d",
		       p[0], (double)LR, BATCH, p[1], p[2], ROWS) ||
	    !torch_cmd(s->torch, reply, sizeof(reply), "steps %d", CHECK_STEPS)) {
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

/* The network, its trainer and the data: inputs like pixels in [0, 1), one
 * class a row. */
static bool setup(struct train_setup *s)
{
	const struct net_case *c = &train_case;
	mlp_train_opts opts = mlp_train_defaults();
	struct bench_rng g = { 77 };

	s->X = malloc(ROWS * c->sizes[0] * sizeof(float));
	s->Y = calloc(ROWS * c->sizes[3], sizeof(float));
	opts.loss = MLP_LOSS_XENT;
	opts.lr = LR;
	if (s->X == NULL || s->Y == NULL ||
	    mlp_net_create(&s->net, c->n_layers, c->sizes, c->acts) != MLP_OK ||
	    mlp_net_init(s->net, 2026) != MLP_OK ||
	    mlp_trainer_create(&s->t, s->net, &opts, BATCH) != MLP_OK)
		return false;
	bench_fill(&g, s->X, ROWS * c->sizes[0], 0, 1);
	for (size_t r = 0; r < ROWS; r++)
		s->Y[r * c->sizes[3] + bench_below(&g, c->sizes[3])] = 1.0f;
	return true;
}

void train_bench(const struct round_plan *plan, struct torch_proc *torch,
		 const char *tmpdir, struct cell *cell)
{
	const struct net_case *c = &train_case;
	struct train_setup s = { .torch = torch };
	struct stats *mlp = &cell->s[MLP];
	float losses[CHECK_STEPS];
	mlp_net *start = NULL;

	memset(cell, 0, sizeof(*cell));
	cell->kind = CELL_TRAIN;
	cell->c = c;
	cell->batch = BATCH;
	/* Forward, dW for every layer, dA for all but the first. */
	for (size_t l = 0; l < c->n_layers; l++)
		cell->flops += 2.0 * BATCH * (double)(c->sizes[l] * c->sizes[l + 1]) *
			       (l == 0 ? 2 : 3);
	mlp->present = mlp->agree = cell->s[TORCH].agree = true;
	snprintf(cell->s[TORCH].why, sizeof(cell->s[TORCH].why), "not available");
	if (!setup(&s) || (torch != NULL && mlp_net_clone(&start, s.net) != MLP_OK)) {
		mlp->agree = false;
		snprintf(mlp->why, sizeof(mlp->why), "out of memory");
		goto done;
	}
	for (int i = 0; i < CHECK_STEPS && mlp->agree; i++) {
		if (mlp_step(&s, &losses[i]) != MLP_OK) {
			mlp->agree = false;
			snprintf(mlp->why, sizeof(mlp->why), "step %d failed", i + 1);
		}
	}
	if (mlp->agree && start != NULL)
		check_torch(start, &s, tmpdir, losses, &cell->s[TORCH]);
	if (mlp->agree)
		bench_rounds(plan, 0, N_IMPL, cell->s, time_steps, &s);
done:
	mlp_net_free(start);
	mlp_trainer_free(s.t);
	mlp_net_free(s.net);
	free(s.X);
	free(s.Y);
}
