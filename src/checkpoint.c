/*
 * checkpoint.c — what a checkpoint keeps besides the network, and how far
 * it is trusted: a checkpoint is a model file (safetensors.c) with the
 * optimizer's tensors, where mlp_train was ("checkpoint.*" metadata) and
 * the options of the run ("train.*", by their names in mlp_train_opts).
 *
 * A checkpoint is untrusted input, as a model file is. Every field is
 * parsed strictly (the whole string, in range, floats exactly floats) and
 * checked against the others: the steps are the epochs' steps for the
 * rows and batch; the learning rate in force is finite and positive; SGD
 * keeps no second moment; and Adam's moments are moments of one gradient
 * sequence. For Adam (m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², from 0),
 * Cauchy–Schwarz bounds m by v after t steps:
 *
 *   m_t² ≤ (1 − β₁)² / (1 − β₂) · S_t · v_t,   S_t = Σ_{k<t} (β₁² / β₂)^k
 *
 * (S_t ≤ 1 / (1 − β₁²/β₂) when β₁² < β₂, as with the defaults: |m| ≤ 7.3√v).
 * Rounding stays within a part in 10⁴ of it; values flushed to zero (the
 * updates run with FTZ) move v by less than FLT_MIN / (1 − β₂) and m by
 * less than FLT_MIN / (1 − β₁). A first moment past the bound by more than
 * that, or a negative second moment, is not a moment of any run.
 *
 * A run that resumes must be the run that wrote the checkpoint: the same
 * rows, and the same options but for those that may change (epochs,
 * precision, patience).
 */
#include "checkpoint.h"
#include "json.h"
#include "train_opts.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a field is written: its type and its words. */
enum kind { SIZE, U64, FLOAT, FLAG, LOSS, OPTIM, PRECISION, SCHEDULE };

static const char *const loss_words[] = { [MLP_LOSS_MSE] = "mse",
					  [MLP_LOSS_XENT] = "xent" };
static const char *const optim_words[] = { [MLP_OPTIM_SGD] = "sgd",
					   [MLP_OPTIM_ADAM] = "adam" };
static const char *const precision_words[] = { [MLP_FP32] = "fp32",
					       [MLP_BF16] = "bf16" };
static const char *const schedule_words[] = {
	[MLP_SCHEDULE_CONSTANT] = "constant",
	[MLP_SCHEDULE_STEP] = "step",
	[MLP_SCHEDULE_COSINE] = "cosine",
};

/* When a field matters to a run. */
enum when { ALWAYS, SGD, MOMENTUM, ADAM, STEP_SCHEDULE };

/* The options a checkpoint records, "train.<name>". */
static const struct field {
	const char *name;
	enum kind kind;
	size_t offset;
	enum when when;
	bool may_change; /* a resumed run may give another value */
} fields[] = {
#define F(name, kind, when, may) { #name, kind, offsetof(mlp_train_opts, name), \
				  when, may }
	F(loss, LOSS, ALWAYS, false),
	F(optim, OPTIM, ALWAYS, false),
	F(lr, FLOAT, ALWAYS, false),
	F(momentum, FLOAT, SGD, false),
	F(nesterov, FLAG, MOMENTUM, false),
	F(beta1, FLOAT, ADAM, false),
	F(beta2, FLOAT, ADAM, false),
	F(eps, FLOAT, ADAM, false),
	F(weight_decay, FLOAT, ALWAYS, false),
	F(clip_norm, FLOAT, ALWAYS, false),
	F(precision, PRECISION, ALWAYS, true),
	F(batch_size, SIZE, ALWAYS, false),
	F(epochs, SIZE, ALWAYS, true),
	F(seed, U64, ALWAYS, false),
	F(drop_last, FLAG, ALWAYS, false),
	F(sharded, FLAG, ALWAYS, false),
	F(schedule, SCHEDULE, ALWAYS, false),
	F(step_every, SIZE, STEP_SCHEDULE, false),
	F(step_factor, FLOAT, STEP_SCHEDULE, false),
	F(warmup, SIZE, ALWAYS, false),
	F(val_fraction, FLOAT, ALWAYS, false),
	F(patience, SIZE, ALWAYS, true),
	F(keep_best, FLAG, ALWAYS, false),
#undef F
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* Where mlp_train was: "checkpoint.<name>". */
static const char *const state_names[] = {
	"epoch", "steps", "rows", "workers", "lr", "best_epoch", "best_loss",
};
#define N_STATE (sizeof(state_names) / sizeof(state_names[0]))

static bool matters(const struct field *f, const mlp_train_opts *o)
{
	switch (f->when) {
	case ALWAYS:
		return true;
	case SGD:
		return o->optim == MLP_OPTIM_SGD;
	case MOMENTUM:
		return o->optim == MLP_OPTIM_SGD && o->momentum > 0.0f;
	case ADAM:
		return o->optim == MLP_OPTIM_ADAM;
	case STEP_SCHEDULE:
		return o->schedule == MLP_SCHEDULE_STEP;
	}
	return true;
}

/* The words of an enumerated kind, and how many. */
static const char *const *words(enum kind kind, size_t *n)
{
	switch (kind) {
	case LOSS:
		*n = 2;
		return loss_words;
	case OPTIM:
		*n = 2;
		return optim_words;
	case PRECISION:
		*n = 2;
		return precision_words;
	case SCHEDULE:
		*n = 3;
		return schedule_words;
	default:
		*n = 0;
		return NULL;
	}
}

/* A field's value in o, as text: decimal for messages (exact: "%.9g" for
 * a float), or as the file writes it (hexadecimal floats). */
static void field_text(const struct field *f, const mlp_train_opts *o,
		       bool for_file, char *out, size_t size)
{
	const char *at = (const char *)o + f->offset;
	const char *const *w;
	size_t n;
	float x;
	int e;

	switch (f->kind) {
	case SIZE:
		snprintf(out, size, "%zu", *(const size_t *)(const void *)at);
		return;
	case U64:
		snprintf(out, size, "%" PRIu64, *(const uint64_t *)(const void *)at);
		return;
	case FLOAT:
		memcpy(&x, at, sizeof(x));
		snprintf(out, size, for_file ? "%a" : "%.9g", (double)x);
		return;
	case FLAG:
		snprintf(out, size, "%d", *(const int *)(const void *)at != 0);
		return;
	default:
		memcpy(&e, at, sizeof(e));
		w = words(f->kind, &n);
		snprintf(out, size, "%s", e >= 0 && (size_t)e < n ? w[e] : "?");
		return;
	}
}

char *mlpi_checkpoint_meta(const struct mlpi_state *s)
{
	size_t cap = 4096, len = 0;
	char *text = malloc(cap), value[64];
	int n = 0;

	if (text == NULL)
		return NULL;
	n = snprintf(text, cap, "\"checkpoint.epoch\":\"%zu\",\"checkpoint.steps\":"
		     "\"%zu\",\"checkpoint.rows\":\"%zu\",\"checkpoint.workers\":"
		     "\"%zu\",\"checkpoint.lr\":\"%a\",\"checkpoint.best_epoch\":"
		     "\"%zu\",\"checkpoint.best_loss\":\"%a\",", s->epoch,
		     s->steps, s->rows, s->workers, (double)s->lr, s->best_epoch,
		     s->best_epoch > 0 ? s->best_loss : 0.0);
	for (size_t i = 0; n >= 0 && (size_t)n < cap - len && i < N_FIELDS; i++) {
		len += (size_t)n;
		field_text(&fields[i], &s->opts, true, value, sizeof(value));
		n = snprintf(text + len, cap - len, "\"train.%s\":\"%s\",",
			     fields[i].name, value);
	}
	/* 23 fields of at most 64 bytes and their names fit in 4096. */
	if (n < 0 || (size_t)n >= cap - len) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- reading ---------------------------------------------------------- */

/* A whole number, decimal digits without sign, spaces or leading zeros,
 * at most max. */
static bool parse_whole(const char *v, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (v[0] < '0' || v[0] > '9' || (v[0] == '0' && v[1] != '\0'))
		return false;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9' || x > (max - (uint64_t)(*v - '0')) / 10)
			return false;
		x = 10 * x + (uint64_t)(*v - '0');
	}
	*out = x;
	return true;
}

/* A finite double written by printf (decimal or "%a"), all of it: no
 * spaces, no overflow or underflow. */
static bool parse_double(const char *v, double *out)
{
	char *end;

	if (v[0] != '-' && v[0] != '.' && (v[0] < '0' || v[0] > '9'))
		return false;
	errno = 0;
	*out = strtod(v, &end);
	return end != v && *end == '\0' && errno == 0 && isfinite(*out);
}

/* Sets field f of o from its text v; false when v is not a value of it.
 * A float must be exactly a float. */
static bool parse_field(const struct field *f, const char *v, mlp_train_opts *o)
{
	char *at = (char *)o + f->offset;
	const char *const *w;
	uint64_t u;
	double d;
	float x;
	size_t n;

	switch (f->kind) {
	case SIZE:
		if (!parse_whole(v, SIZE_MAX, &u))
			return false;
		*(size_t *)(void *)at = (size_t)u;
		return true;
	case U64:
		if (!parse_whole(v, UINT64_MAX, &u))
			return false;
		*(uint64_t *)(void *)at = u;
		return true;
	case FLOAT:
		if (!parse_double(v, &d) || (double)(float)d != d)
			return false;
		x = (float)d;
		memcpy(at, &x, sizeof(x));
		return true;
	case FLAG:
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return false;
		*(int *)(void *)at = v[0] == '1';
		return true;
	default:
		w = words(f->kind, &n);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(v, w[i]) == 0) {
				int e = (int)i;

				memcpy(at, &e, sizeof(e));
				return true;
			}
		}
		return false;
	}
}

/* The string value of meta's member key, or NULL. */
static const char *meta_text(const struct mlpi_json *meta, const char *key)
{
	const struct mlpi_json *v = mlpi_json_get(meta, key);

	return v != NULL && v->type == MLPI_JSON_STRING ? v->str : NULL;
}

/* Whether key is a field this library writes under the prefix. */
static bool known(const char *key)
{
	if (strncmp(key, "train.", 6) == 0) {
		for (size_t i = 0; i < N_FIELDS; i++)
			if (strcmp(key + 6, fields[i].name) == 0)
				return true;
		return false;
	}
	if (strncmp(key, "checkpoint.", 11) == 0) {
		for (size_t i = 0; i < N_STATE; i++)
			if (strcmp(key + 11, state_names[i]) == 0)
				return true;
		return false;
	}
	return true; /* another's metadata */
}

/* checkpoint.<name> as a whole number of at most max into *out. */
static mlp_status read_whole(const struct mlpi_json *meta, const char *name,
			     uint64_t max, uint64_t *out, mlp_msg *msg)
{
	char key[64];
	const char *v;

	snprintf(key, sizeof(key), "checkpoint.%s", name);
	v = meta_text(meta, key);
	if (v == NULL || !parse_whole(v, max, out))
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint metadata %s: %s%s%s",
				 key, v == NULL ? "missing" : "'", v == NULL ? "" : v,
				 v == NULL ? "" : "' is not a whole number");
	return MLP_OK;
}

mlp_status mlpi_checkpoint_marked(const struct mlpi_json *meta, mlp_msg *msg)
{
	if (meta == NULL || mlpi_json_get(meta, "checkpoint.epoch") == NULL)
		return mlpi_fail(msg, MLP_EFORMAT, "not a checkpoint: its metadata "
				 "has no checkpoint.epoch (a model file saved as "
				 "a model, not by mlp_train's checkpoint option)");
	return MLP_OK;
}

mlp_status mlpi_checkpoint_meta_read(const struct mlpi_json *meta,
				     struct mlpi_state *s, mlp_msg *msg)
{
	uint64_t u[4], best;
	mlp_status st = mlpi_checkpoint_marked(meta, msg);
	double lr;
	const char *v;

	if (st != MLP_OK)
		return st;
	for (const struct mlpi_json *m = meta->first; m != NULL; m = m->next)
		if (!known(m->key))
			return mlpi_fail(msg, MLP_EFORMAT, "checkpoint metadata: "
					 "unknown field %.60s", m->key);
	for (int i = 0; st == MLP_OK && i < 4; i++)
		st = read_whole(meta, state_names[i], SIZE_MAX, &u[i], msg);
	if (st == MLP_OK)
		st = read_whole(meta, "best_epoch", SIZE_MAX, &best, msg);
	if (st != MLP_OK)
		return st;
	s->epoch = (size_t)u[0];
	s->steps = (size_t)u[1];
	s->rows = (size_t)u[2];
	s->workers = (size_t)u[3];
	s->best_epoch = (size_t)best;
	v = meta_text(meta, "checkpoint.lr");
	if (v == NULL || !parse_double(v, &lr) || (double)(float)lr != lr)
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint metadata "
				 "checkpoint.lr: '%s' is not a finite float",
				 v != NULL ? v : "(missing)");
	s->lr = (float)lr;
	v = meta_text(meta, "checkpoint.best_loss");
	if (v == NULL || !parse_double(v, &s->best_loss))
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint metadata "
				 "checkpoint.best_loss: '%s' is not a finite "
				 "number", v != NULL ? v : "(missing)");
	/* Every field a checkpoint records comes from the file. */
	s->opts = (mlp_train_opts){ .struct_size = sizeof(mlp_train_opts) };
	for (size_t i = 0; i < N_FIELDS; i++) {
		char key[64];

		snprintf(key, sizeof(key), "train.%s", fields[i].name);
		v = meta_text(meta, key);
		if (v == NULL || !parse_field(&fields[i], v, &s->opts))
			return mlpi_fail(msg, MLP_EFORMAT, "checkpoint metadata "
					 "%s: %s%.40s%s", key,
					 v == NULL ? "missing" : "'", v == NULL ? "" : v,
					 v == NULL ? "" : "' is not one of its values");
	}
	return MLP_OK;
}

/* ---- consistency ------------------------------------------------------ */

/* The bound on m² / v of Adam after t steps (see the top), or INFINITY
 * where there is none to check. */
static double adam_ratio(double b1, double b2, size_t t)
{
	double r, sum;

	if (b2 == 0.0)
		return b1 == 0.0 ? 1.0 : INFINITY;
	r = b1 * b1 / b2;
	if (r < 1.0)
		sum = (1.0 - pow(r, (double)t)) / (1.0 - r);
	else if (r == 1.0)
		sum = (double)t;
	else
		sum = (pow(r, (double)t) - 1.0) / (r - 1.0);
	return (1.0 - b1) * (1.0 - b1) / (1.0 - b2) * sum;
}

/* A tensor of net's laid out in a block (M, V): its name for messages. */
struct tensor {
	size_t layer, n, at; /* at: its offset in the block */
	bool weight;
};

static size_t tensors_of(const mlp_net *net, struct tensor *t)
{
	size_t k = 0;

	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *ly = &net->layers[l];

		t[k++] = (struct tensor){ l, ly->n_out * ly->n_in,
					  (size_t)(ly->W - net->block), true };
		t[k++] = (struct tensor){ l, ly->n_out,
					  (size_t)(ly->b - net->block), false };
	}
	return k;
}

/* The optimizer's tensors against the rules of its optimizer. */
static mlp_status check_moments(const mlp_net *net, const struct mlpi_state *s,
				mlp_msg *msg)
{
	struct tensor t[2 * MLP_MAX_LAYERS];
	const mlp_train_opts *o = &s->opts;
	double b1 = o->beta1, b2 = o->beta2, ratio, slack;
	size_t n = tensors_of(net, t);

	ratio = adam_ratio(b1, b2, s->steps);
	/* A part in 10⁴ for rounding, and more to spare. */
	slack = 1.0 + 0.01 + 64.0 * 0x1p-24 * (1.0 / (1.0 - b1) + 1.0 / (1.0 - b2));
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < t[k].n; i++) {
			double m = s->M[t[k].at + i], v = s->V[t[k].at + i];
			const char *rule = NULL;

			if (o->optim == MLP_OPTIM_SGD && v != 0.0)
				rule = "SGD keeps no second moment";
			else if (o->optim == MLP_OPTIM_SGD && o->momentum == 0.0f &&
				 m != 0.0)
				rule = "SGD without momentum keeps no velocity";
			else if (o->optim == MLP_OPTIM_ADAM && v < 0.0)
				rule = "a second moment is never negative";
			else if (o->optim == MLP_OPTIM_ADAM && isfinite(ratio) &&
				 fabs(m) > sqrt(ratio * (v + FLT_MIN / (1.0 - b2)) *
						slack) + FLT_MIN / (1.0 - b1))
				rule = "a first moment this large beside its second "
				       "moment is not Adam's";
			if (rule != NULL)
				return mlpi_fail(msg, MLP_EFORMAT, "optimizer tensors "
						 "of layers.%zu.%s[%zu]: m = %g, v = "
						 "%g: %s", t[k].layer,
						 t[k].weight ? "weight" : "bias", i,
						 m, v, rule);
		}
	}
	return MLP_OK;
}

mlp_status mlpi_checkpoint_check(const mlp_net *net, const struct mlpi_state *s,
				 mlp_msg *msg)
{
	const mlp_train_opts *o = &s->opts;
	size_t batch, steps;
	mlp_msg why;

	if (mlpi_check_values(o, true, &why) != MLP_OK)
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint options: %s",
				 why.text);
	if (s->epoch == 0 || s->epoch > o->epochs)
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint.epoch %zu is not an "
				 "epoch of the run's %zu", s->epoch, o->epochs);
	if (s->rows == 0 || s->workers == 0 ||
	    (s->workers > 1 && o->batch_size % s->workers != 0))
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint.rows %zu, .workers "
				 "%zu and train.batch_size %zu do not fit",
				 s->rows, s->workers, o->batch_size);
	mlpi_epoch_steps(s->rows, o->batch_size, o->drop_last != 0,
			 o->sharded != 0, s->workers, &batch, &steps);
	if (steps == 0 || s->steps / steps != s->epoch || s->steps % steps != 0)
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint.steps %zu is not "
				 "%zu epochs of %zu steps (%zu rows, batches of "
				 "%zu)", s->steps, s->epoch, steps, s->rows,
				 o->batch_size);
	if (!(s->lr > 0.0f))
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint.lr %g: the learning "
				 "rate in force must be above 0", (double)s->lr);
	if (s->best_epoch > s->epoch)
		return mlpi_fail(msg, MLP_EFORMAT, "checkpoint.best_epoch %zu is "
				 "past checkpoint.epoch %zu", s->best_epoch,
				 s->epoch);
	return check_moments(net, s, msg);
}

uint64_t mlpi_opts_hash(const mlp_train_opts *o)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < N_FIELDS; i++) {
		char text[64];

		if (fields[i].may_change || !matters(&fields[i], o))
			continue;
		field_text(&fields[i], o, true, text, sizeof(text));
		for (const char *c = text; *c != '\0'; c++)
			h = (h ^ (unsigned char)*c) * 0x100000001b3u;
		h = (h ^ ';') * 0x100000001b3u;
	}
	return h;
}

mlp_status mlpi_checkpoint_fits(const struct mlpi_state *s,
				const mlp_train_opts *o, size_t rows,
				size_t workers, const char *path, mlp_msg *msg)
{
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];
		char was[64], is[64];

		if (f->may_change || !matters(f, &s->opts))
			continue;
		field_text(f, &s->opts, false, was, sizeof(was));
		field_text(f, o, false, is, sizeof(is));
		if (strcmp(was, is) != 0)
			return mlpi_fail(msg, MLP_EINVAL, "checkpoint %s was made "
					 "with %s %s, not %s", path, f->name, was,
					 is);
	}
	if (s->rows != rows)
		return mlpi_fail(msg, MLP_EINVAL, "checkpoint %s was made on %zu "
				 "rows (those trained on), not %zu", path, s->rows,
				 rows);
	if (o->sharded && s->workers != workers)
		return mlpi_fail(msg, MLP_EINVAL, "checkpoint %s was made by %zu "
				 "workers on shards, not %zu", path, s->workers,
				 workers);
	if (s->epoch > o->epochs)
		return mlpi_fail(msg, MLP_EINVAL, "checkpoint %s has done %zu "
				 "epochs, past epochs %zu", path, s->epoch,
				 o->epochs);
	if (o->keep_best && s->best_epoch > 0 && s->best == NULL)
		return mlpi_fail(msg, MLP_EINVAL, "checkpoint %s keeps no best "
				 "parameters", path);
	return MLP_OK;
}

void mlpi_checkpoint_copy_opts(const struct mlpi_state *s, mlp_train_opts *opts,
			       size_t struct_size)
{
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];
		size_t bytes = f->kind == SIZE ? sizeof(size_t)
			       : f->kind == U64 ? sizeof(uint64_t)
			       : f->kind == FLOAT ? sizeof(float) : sizeof(int);

		if (f->offset + bytes <= struct_size)
			memcpy((char *)opts + f->offset,
			       (const char *)&s->opts + f->offset, bytes);
	}
}
