/*
 * train_bench.c — training throughput on 784-256-128-10 (ReLU, ReLU,
 * softmax), cross-entropy, Adam (lr 1e-3): mlp's trainer in float and in
 * bf16 (mixed precision), and PyTorch's in float and under bf16 autocast,
 * from the same parameters on the same data, the same thread count.
 *
 * Agreement first: from the same parameters, the first three steps on the
 * same batches must give the same losses as mlp's float trainer, within
 * 1e-4 (relative) in float (float sums in different orders; a different
 * loss, gradient or update moves the third loss by far more) and within
 * 0.03 in bf16 (operands rounded to 8 bits, as the forward bench's rule).
 * Then steps are timed in alternating rounds, as the forward passes are:
 * mlp's two trainers together, and PyTorch's two later, on their own
 * (see bench.c, measure_torch).
 */
#include "bench.h"
#include "clock.h"
#include "data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 1024, CHECK_STEPS = 3 };
#define LR 1e-3f
#define LOSS_REL_TOL 1e-4
#define LOSS_REL_TOL_BF16 0.03

static const struct net_case train_case = {
	"784-256-128-10", 3, { 784, 256, 128, 10 },
	{ MLP_RELU, MLP_RELU, MLP_SOFTMAX }, true
};

struct train_setup {
	size_t batch;
	mlp_net *net[2];    /* float and bf16, from the same parameters */
	mlp_trainer *t[2];
	mlp_net *start;     /* the parameters before any step */
	float *X, *Y;       /* ROWS rows of inputs and one-hot targets */
	size_t at[2];       /* each trainer's next batch's first row */
	struct torch_proc *torch;
};

static int trainer_of(int k)
{
	return k == MLP16 ? 1 : 0;
}

/* One step of trainer i on its next batch, cycling through the rows as
 * PyTorch's side does. */
static mlp_status mlp_step(struct train_setup *s, int i, float *loss)
{
	size_t n_in = train_case.sizes[0], n_out = train_case.sizes[3];
	mlp_status st = mlp_trainer_step(s->t[i], s->batch, s->X + s->at[i] * n_in,
					 s->Y + s->at[i] * n_out, loss);

	s->at[i] = (s->at[i] + s->batch) % ROWS;
	return st;
}

/* Seconds for `steps` steps of implementation k (a timed_fn). */
static double time_steps(void *ctx, int k, int steps)
{
	struct train_setup *s = ctx;
	char reply[256];
	double t0;

	if (k == TORCH || k == TORCH16)
		return torch_cmd(s->torch, reply, sizeof(reply), "train_time %d%s",
				 steps, k == TORCH16 ? " bf16" : "")
			       ? atof(reply)
			       : NAN;
	t0 = clock_seconds();
	for (int i = 0; i < steps; i++)
		mlp_step(s, trainer_of(k), NULL);
	return clock_seconds() - t0;
}

/* The first losses of `got` against `want` (the float trainer's). */
static void compare_losses(const double *got, const float *want, double tol,
			   struct stats *st)
{
	for (int i = 0; i < CHECK_STEPS && st->agree; i++) {
		if (!(fabs(got[i] - want[i]) <= tol * fabs(want[i]))) {
			st->agree = false;
			snprintf(st->why, sizeof(st->why),
				 "loss of step %d: %.7g, mlp fp32 %.7g", i + 1,
				 got[i], (double)want[i]);
		}
	}
}

/* The network, its two trainers and the data: inputs like pixels in
 * [0, 1), one class a row. bf16 only where this build and CPU run it. */
static bool setup(struct train_setup *s, size_t batch)
{
	const struct net_case *c = &train_case;
	mlp_train_opts opts = mlp_train_defaults();
	struct bench_rng g = { 77 };

	memset(s->net, 0, sizeof(s->net));
	memset(s->t, 0, sizeof(s->t));
	s->batch = batch;
	s->at[0] = s->at[1] = 0;
	s->X = malloc(ROWS * c->sizes[0] * sizeof(float));
	s->Y = calloc(ROWS * c->sizes[3], sizeof(float));
	opts.loss = MLP_LOSS_XENT;
	opts.lr = LR;
	if (s->X == NULL || s->Y == NULL ||
	    mlp_net_create(&s->start, c->n_layers, c->sizes, c->acts) != MLP_OK ||
	    mlp_net_init(s->start, 2026) != MLP_OK ||
	    mlp_net_clone(&s->net[0], s->start) != MLP_OK ||
	    mlp_trainer_create(&s->t[0], s->net[0], &opts, batch) != MLP_OK)
		return false;
	opts.precision = MLP_BF16;
	if (mlp_precision_supported(MLP_BF16) &&
	    (mlp_net_clone(&s->net[1], s->start) != MLP_OK ||
	     mlp_trainer_create(&s->t[1], s->net[1], &opts, batch) != MLP_OK))
		return false;
	bench_fill(&g, s->X, ROWS * c->sizes[0], 0, 1);
	for (size_t r = 0; r < ROWS; r++)
		s->Y[r * c->sizes[3] + bench_below(&g, c->sizes[3])] = 1.0f;
	return true;
}

static void teardown(struct train_setup *s)
{
	for (int i = 0; i < 2; i++) {
		mlp_trainer_free(s->t[i]);
		mlp_net_free(s->net[i]);
	}
	mlp_net_free(s->start);
	free(s->X);
	free(s->Y);
}

/* The float trainer's first losses, from the start. */
static bool first_losses(struct train_setup *s, float *losses)
{
	for (int i = 0; i < CHECK_STEPS; i++)
		if (mlp_step(s, 0, &losses[i]) != MLP_OK)
			return false;
	return true;
}

static void cell_init(struct cell *cell, size_t batch)
{
	const struct net_case *c = &train_case;

	memset(cell, 0, sizeof(*cell));
	cell->kind = CELL_TRAIN;
	cell->c = c;
	cell->batch = batch;
	/* Forward, dW for every layer, dA for all but the first. */
	for (size_t l = 0; l < c->n_layers; l++)
		cell->flops += 2.0 * (double)batch *
			       (double)(c->sizes[l] * c->sizes[l + 1]) *
			       (l == 0 ? 2 : 3);
	snprintf(cell->s[MLP16].why, sizeof(cell->s[MLP16].why),
		 "no native bf16 in this build or CPU");
	snprintf(cell->s[TORCH].why, sizeof(cell->s[TORCH].why), "not available");
	snprintf(cell->s[TORCH16].why, sizeof(cell->s[TORCH16].why),
		 "not available");
}

void train_bench(const struct round_plan *plan, size_t batch, struct cell *cell)
{
	struct train_setup s = { 0 };
	struct stats *mlp = &cell->s[MLP], *mlp16 = &cell->s[MLP16];
	float losses[CHECK_STEPS];
	double theirs[CHECK_STEPS];

	cell_init(cell, batch);
	mlp->present = mlp->agree = true;
	if (!setup(&s, batch)) {
		mlp->agree = false;
		snprintf(mlp->why, sizeof(mlp->why), "out of memory");
		teardown(&s);
		return;
	}
	if (!first_losses(&s, losses)) {
		mlp->agree = false;
		snprintf(mlp->why, sizeof(mlp->why), "a step failed");
	}
	if (s.t[1] != NULL && mlp->agree) {
		mlp16->present = mlp16->agree = true;
		for (int i = 0; i < CHECK_STEPS && mlp16->agree; i++) {
			float l;

			mlp16->agree = mlp_step(&s, 1, &l) == MLP_OK;
			theirs[i] = l;
		}
		if (mlp16->agree)
			compare_losses(theirs, losses, LOSS_REL_TOL_BF16, mlp16);
		else
			snprintf(mlp16->why, sizeof(mlp16->why), "a step failed");
	}
	if (mlp->agree)
		bench_rounds(plan, 0, TORCH, cell->s, time_steps, &s);
	teardown(&s);
}

/* Reads "L1,L2,..." into losses. */
static bool parse_losses(const char *reply, double *losses)
{
	char *at = (char *)reply;

	for (int i = 0; i < CHECK_STEPS; i++) {
		losses[i] = strtod(at, &at);
		if (*at == ',')
			at++;
	}
	return *at == '\0';
}

/* PyTorch trains from mlp's starting parameters on the same data; its
 * first losses in float and in bf16 against mlp's float ones. */
static void check_torch(struct train_setup *s, const char *tmpdir,
			const float *mlp_losses, struct cell *cell)
{
	const struct net_case *c = &train_case;
	char p[3][600], reply[1024];
	double losses[CHECK_STEPS];

	snprintf(p[0], sizeof(p[0]), "%s/train_params", tmpdir);
	snprintf(p[1], sizeof(p[1]), "%s/train_x", tmpdir);
	snprintf(p[2], sizeof(p[2]), "%s/train_y", tmpdir);
	if (!torch_write_params(p[0], s->start) ||
	    !torch_write_floats(p[1], s->X, ROWS * c->sizes[0]) ||
	    !torch_write_floats(p[2], s->Y, ROWS * c->sizes[3])) {
		snprintf(cell->s[TORCH].why, sizeof(cell->s[TORCH].why),
			 "cannot write to %s", tmpdir);
		return;
	}
	for (int k = TORCH; k <= TORCH16; k++) {
		struct stats *st = &cell->s[k];

		st->present = st->agree = true;
		if (!torch_cmd(s->torch, reply, sizeof(reply),
			       "train %s relu,relu,softmax 784,256,128,10 %g %zu %s "
			       "%s %d", p[0], (double)LR, s->batch, p[1], p[2],
			       ROWS) ||
		    !torch_cmd(s->torch, reply, sizeof(reply), "steps %d%s",
			       CHECK_STEPS, k == TORCH16 ? " bf16" : "") ||
		    !parse_losses(reply, losses)) {
			st->agree = false;
			snprintf(st->why, sizeof(st->why), "%.150s", reply);
			continue;
		}
		compare_losses(losses, mlp_losses, k == TORCH ? LOSS_REL_TOL
							      : LOSS_REL_TOL_BF16, st);
	}
	for (int i = 0; i < 3; i++)
		remove(p[i]);
}

void train_bench_torch(const struct round_plan *plan, struct torch_proc *torch,
		       const char *tmpdir, struct cell *cell)
{
	struct train_setup s = { .torch = torch };
	float losses[CHECK_STEPS];

	if (!cell->s[MLP].agree || !setup(&s, cell->batch) ||
	    !first_losses(&s, losses)) {
		teardown(&s);
		return;
	}
	check_torch(&s, tmpdir, losses, cell);
	bench_rounds(plan, TORCH, N_IMPL, cell->s, time_steps, &s);
	teardown(&s);
}
