/*
 * train_opts.c — training options: the defaults, the caller's struct read
 * by its size, every rule checked with its message, the learning rate of
 * each epoch, and the steps of an epoch.
 */
#include "loss.h"
#include "net.h"
#include "train_opts.h"

#include <float.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

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
	if (o->precision == MLP_INT8)
		return mlpi_fail(msg, MLP_EINVAL, "precision int8 is for plans of a "
				 "quantised network: training runs in fp32 or bf16");
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
#if defined(MLP_HAVE_ONEDNN)
	bool trains = mlp_precision_supported(o->precision);
#else
	bool trains = o->precision == MLP_FP32;
#endif
	if (!trains)
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

void mlpi_epoch_steps(size_t total, size_t batch_size, bool drop_last,
		      bool sharded, size_t workers, size_t *batch, size_t *steps)
{
	/* Shards: rows i ≡ r (mod P); the first is the largest. */
	size_t big = total / workers + (total % workers != 0);
	size_t small = total / workers;

	if (!sharded) {
		*batch = batch_size < total ? batch_size : total;
		*steps = *batch == 0 ? 0
			 : drop_last ? total / *batch
				     : total / *batch + (total % *batch != 0);
		return;
	}
	*batch = total <= batch_size ? big : batch_size / workers;
	if (total <= batch_size)
		*steps = 1;
	else if (drop_last)
		*steps = small / *batch;
	else
		*steps = big / *batch + (big % *batch != 0);
}
