/*
 * resume.c — mlp train --resume (see tool.h): the run goes on as the
 * checkpoint's run was made. Options left out take the checkpoint's
 * values; one given that the run may not change must be the checkpoint's,
 * or it is refused with both values, before any data is read.
 */
#include "tool.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum kind { FLOAT, SIZE, U64, INT, SCHEDULE };

/* The options of mlp train a checkpoint records: the option's name, its
 * getopt letter, the field, and whether a resumed run may change it. */
static const struct option_field {
	const char *name;
	int letter;
	enum kind kind;
	size_t offset;
	bool may_change;
} options[] = {
#define O(name, letter, kind, field, may) \
	{ name, letter, kind, offsetof(mlp_train_opts, field), may }
	O("loss", 'L', INT, loss, false),
	O("optim", 'O', INT, optim, false),
	O("lr", 'r', FLOAT, lr, false),
	O("momentum", 'm', FLOAT, momentum, false),
	O("nesterov", 'n', INT, nesterov, false),
	O("beta1", '1', FLOAT, beta1, false),
	O("beta2", '2', FLOAT, beta2, false),
	O("eps", 'e', FLOAT, eps, false),
	O("wd", 'w', FLOAT, weight_decay, false),
	O("clip", 'c', FLOAT, clip_norm, false),
	O("batch", 'b', SIZE, batch_size, false),
	O("seed", 'S', U64, seed, false),
	O("schedule", 'C', SCHEDULE, schedule, false),
	O("warmup", 'W', SIZE, warmup, false),
	O("val", 'v', FLOAT, val_fraction, false),
	O("epochs", 'E', SIZE, epochs, true),
	O("precision", 'P', INT, precision, true),
	O("patience", 'p', SIZE, patience, true),
#undef O
};

/* An option's value in o, as the command line writes it. */
static void option_text(const struct option_field *f, const mlp_train_opts *o,
			char *out, size_t size)
{
	const char *at = (const char *)o + f->offset;
	float x;
	int e;

	switch (f->kind) {
	case FLOAT:
		memcpy(&x, at, sizeof(x));
		snprintf(out, size, "%g", (double)x);
		/* Values apart beyond %g's digits are shown to all of them. */
		return;
	case SIZE:
		snprintf(out, size, "%zu", *(const size_t *)(const void *)at);
		return;
	case U64:
		snprintf(out, size, "%llu",
			 (unsigned long long)*(const uint64_t *)(const void *)at);
		return;
	case SCHEDULE:
		if (o->schedule == MLP_SCHEDULE_STEP)
			snprintf(out, size, "step:%zu:%g", o->step_every,
				 (double)o->step_factor);
		else
			snprintf(out, size, "%s", o->schedule == MLP_SCHEDULE_COSINE
						  ? "cosine" : "constant");
		return;
	case INT:
		break;
	}
	memcpy(&e, at, sizeof(e));
	if (f->letter == 'L')
		snprintf(out, size, "%s", e == MLP_LOSS_XENT ? "xent" : "mse");
	else if (f->letter == 'O')
		snprintf(out, size, "%s", e == MLP_OPTIM_SGD ? "sgd" : "adam");
	else if (f->letter == 'P')
		snprintf(out, size, "%s", e == MLP_BF16 ? "bf16" : "fp32");
	else
		snprintf(out, size, "%s", e ? "on" : "off");
}

/* Whether option f holds the same value in a and b. */
static bool same(const struct option_field *f, const mlp_train_opts *a,
		 const mlp_train_opts *b)
{
	size_t bytes = f->kind == FLOAT ? sizeof(float)
		       : f->kind == SIZE ? sizeof(size_t)
		       : f->kind == U64 ? sizeof(uint64_t) : sizeof(int);

	if (f->kind == SCHEDULE && a->schedule == MLP_SCHEDULE_STEP &&
	    b->schedule == MLP_SCHEDULE_STEP &&
	    (a->step_every != b->step_every || a->step_factor != b->step_factor))
		return false;
	return memcmp((const char *)a + f->offset, (const char *)b + f->offset,
		      bytes) == 0;
}

/* Takes option f's value from `from` into `to` (a schedule whole). */
static void take(const struct option_field *f, mlp_train_opts *to,
		 const mlp_train_opts *from)
{
	size_t bytes = f->kind == FLOAT ? sizeof(float)
		       : f->kind == SIZE ? sizeof(size_t)
		       : f->kind == U64 ? sizeof(uint64_t) : sizeof(int);

	memcpy((char *)to + f->offset, (const char *)from + f->offset, bytes);
	if (f->kind == SCHEDULE) {
		to->step_every = from->step_every;
		to->step_factor = from->step_factor;
	}
}

/* The checkpoint's network: widths, activations and scaling into r. */
static int read_network(const char *path, struct resume *r)
{
	const float *s[4];
	mlp_net *net;
	int rc = load_model(path, NULL, &net);
	size_t n_in, n_out;

	if (rc != EXIT_OK)
		return rc;
	r->n_sizes = mlp_net_layers(net) + 1;
	for (size_t l = 0; l < r->n_sizes; l++)
		r->sizes[l] = mlp_net_width(net, l);
	for (size_t l = 0; l + 1 < r->n_sizes; l++)
		r->acts[l] = mlp_net_act(net, l);
	n_in = r->sizes[0];
	n_out = r->sizes[r->n_sizes - 1];
	rc = report_status(mlp_net_get_scaling(net, &s[0], &s[1], &s[2], &s[3]),
			   "%s: the scaling", path);
	if (rc == EXIT_OK && s[0] != NULL) {
		r->scaling = malloc(2 * (n_in + n_out) * sizeof(float));
		if (r->scaling == NULL) {
			rc = report_error(EXIT_FAIL, "out of memory");
		} else {
			memcpy(r->scaling, s[0], n_in * sizeof(float));
			memcpy(r->scaling + n_in, s[1], n_in * sizeof(float));
			r->targets_scaled = s[2] != NULL;
			if (s[2] != NULL) {
				memcpy(r->scaling + 2 * n_in, s[2],
				       n_out * sizeof(float));
				memcpy(r->scaling + 2 * n_in + n_out, s[3],
				       n_out * sizeof(float));
			}
		}
	}
	mlp_net_free(net);
	return rc;
}

int resume_read(const char *path, mlp_train_opts *o, const bool *given,
		struct resume *r)
{
	mlp_train_opts ck = mlp_train_defaults();
	mlp_msg msg;
	mlp_status st;
	int rc;

	memset(r, 0, sizeof(*r));
	st = mlp_checkpoint_opts(path, &ck, &r->epoch, &msg);
	if (st != MLP_OK)
		return report_error(st == MLP_EFORMAT ? EXIT_MODEL : EXIT_FAIL,
				    "--resume %s: %s", path, msg.text);
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const struct option_field *f = &options[i];
		char was[64], is[64];

		if (!given[f->letter]) {
			take(f, o, &ck);
			continue;
		}
		if (f->may_change || same(f, o, &ck))
			continue;
		option_text(f, &ck, was, sizeof(was));
		option_text(f, o, is, sizeof(is));
		if (strcmp(was, is) == 0 && f->kind == FLOAT) {
			float a, b;

			memcpy(&a, (const char *)&ck + f->offset, sizeof(a));
			memcpy(&b, (const char *)o + f->offset, sizeof(b));
			snprintf(was, sizeof(was), "%.9g", (double)a);
			snprintf(is, sizeof(is), "%.9g", (double)b);
		}
		return report_error(EXIT_USAGE, "--%s %s: the checkpoint %s was "
				    "made with --%s %s; leave --%s out to go on "
				    "with it, or start a new run", f->name, is,
				    path, f->name, was, f->name);
	}
	/* The best epoch's parameters come with --patience. */
	if (given['p'] && !ck.keep_best)
		return report_error(EXIT_USAGE, "--patience %zu: the checkpoint %s "
				    "was made without --patience, and keeps no "
				    "best epoch", o->patience, path);
	o->keep_best = ck.keep_best;
	if (given['E'] && o->epochs < r->epoch)
		return report_error(EXIT_USAGE, "--epochs %zu: the checkpoint %s "
				    "has done %zu epochs", o->epochs, path,
				    r->epoch);
	if (!given['P'] && !mlp_precision_supported(o->precision))
		return report_error(EXIT_USAGE, "--resume %s: the checkpoint was "
				    "made with --precision bf16, which this build "
				    "or CPU does not run: give --precision fp32 to "
				    "go on in fp32", path);
	rc = read_network(path, r);
	if (rc != EXIT_OK)
		resume_free(r);
	return rc;
}

void resume_free(struct resume *r)
{
	free(r->scaling);
	r->scaling = NULL;
}

int resume_same_scaling(const struct resume *r, const char *path,
			const float *scaling, bool targets)
{
	size_t n_in = r->sizes[0], n_out = r->sizes[r->n_sizes - 1];
	size_t n = 2 * n_in + (targets ? 2 * n_out : 0);

	if (r->scaling == NULL || targets != r->targets_scaled ||
	    memcmp(r->scaling, scaling, n * sizeof(float)) != 0)
		return report_error(EXIT_DATA, "--resume %s: the data's means and "
				    "deviations are not those the checkpoint's "
				    "run standardised by: not the data it was "
				    "made on", path);
	return EXIT_OK;
}
