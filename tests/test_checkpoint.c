/*
 * test_checkpoint.c — checkpoints checked as model files are: every field
 * of a checkpoint written by mlp_train, made wrong in turn, is refused
 * with a message naming it (by mlp_checkpoint_opts and by mlp_train,
 * whose network stays as it was); moments that no run of the optimizer
 * makes are refused, and those of real runs at the edges accepted; a run
 * that resumes must be the run that wrote the checkpoint, but for epochs,
 * precision and patience; a checkpoint that cannot be written is said
 * before an epoch is spent; an epoch stopped by a callback is not
 * checkpointed; the best epoch survives a resume.
 */
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

enum { N_ROWS = 1797, N_TRAIN = 1437, N_IN = 64, N_OUT = 10 };
static struct digits digits;
#define DX (digits.X)
#define DY (digits.Y)

static mlp_net *digits_net(void)
{
	static const size_t sizes[] = { N_IN, 16, N_OUT };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 11), MLP_OK);
	return net;
}

static mlp_train_opts digits_opts(void)
{
	mlp_train_opts o = mlp_train_defaults();

	o.loss = MLP_LOSS_XENT;
	o.batch_size = 60;
	o.epochs = 2;
	o.lr = 3e-3f;
	o.seed = 5;
	return o;
}

/* A checkpoint after `epochs` epochs of opts at path. */
static void write_checkpoint(const char *path, mlp_train_opts o, size_t epochs)
{
	mlp_net *net = digits_net();
	mlp_msg msg;

	digits_load(&digits);
	o.epochs = epochs;
	o.checkpoint = path;
	o.checkpoint_every = epochs;
	o.msg = &msg;
	ck_assert_msg(mlp_train(net, &o, N_TRAIN, DX, DY) == MLP_OK, "%s", msg.text);
	mlp_net_free(net);
}

/* ---- a file's bytes, and edits of its header and data ------------------- */

struct file {
	unsigned char *b;
	size_t size;
	size_t header_len; /* bytes of JSON after the 8 of its length */
};

static struct file blob_read(const char *path)
{
	struct file f = { 0 };
	FILE *in = fopen(path, "rb");

	ck_assert_ptr_nonnull(in);
	fseek(in, 0, SEEK_END);
	f.size = (size_t)ftell(in);
	rewind(in);
	f.b = malloc(f.size + 1);
	ck_assert_uint_eq(fread(f.b, 1, f.size, in), f.size);
	fclose(in);
	for (int k = 7; k >= 0; k--)
		f.header_len = f.header_len << 8 | f.b[k];
	return f;
}

static void blob_write(const struct file *f, const char *path)
{
	FILE *out = fopen(path, "wb");

	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(fwrite(f->b, 1, f->size, out), f->size);
	fclose(out);
}

/* The header replaced by text (padded with spaces to a multiple of 8). */
static void set_header(struct file *f, const char *text)
{
	size_t len = strlen(text), padded = (len + 7) / 8 * 8;
	size_t data = f->size - 8 - f->header_len;
	unsigned char *b = malloc(8 + padded + data);

	for (int k = 0; k < 8; k++)
		b[k] = (unsigned char)((uint64_t)padded >> (8 * k));
	memcpy(b + 8, text, len);
	memset(b + 8 + len, ' ', padded - len);
	memcpy(b + 8 + padded, f->b + 8 + f->header_len, data);
	free(f->b);
	f->b = b;
	f->header_len = padded;
	f->size = 8 + padded + data;
}

/* Metadata member key set to value: replaced, removed (value NULL), or
 * added (a key the file lacks). */
static void set_meta(struct file *f, const char *key, const char *value)
{
	char *h = malloc(f->header_len + strlen(key) + 256), pattern[128];
	char *at, *end, *out;

	memcpy(h, f->b + 8, f->header_len);
	h[f->header_len] = '\0';
	out = malloc(f->header_len + strlen(key) + 256);
	snprintf(pattern, sizeof(pattern), "\"%s\":\"", key);
	at = strstr(h, pattern);
	if (at == NULL) {
		at = strstr(h, "\"__metadata__\":{") + strlen("\"__metadata__\":{");
		sprintf(out, "%.*s\"%s\":\"%s\",%s", (int)(at - h), h, key, value, at);
	} else if (value == NULL) {
		end = strchr(at + strlen(pattern), '"') + 2; /* the comma */
		sprintf(out, "%.*s%s", (int)(at - h), h, end);
	} else {
		end = strchr(at + strlen(pattern), '"');
		sprintf(out, "%.*s%s%s", (int)(at - h + strlen(pattern)), h, value, end);
	}
	set_header(f, out);
	free(h);
	free(out);
}

/* Element i of tensor name set to v. */
static void set_float(struct file *f, const char *name, size_t i, float v)
{
	char *h = malloc(f->header_len + 1), pattern[128];
	const char *at;
	size_t begin;

	memcpy(h, f->b + 8, f->header_len);
	h[f->header_len] = '\0';
	snprintf(pattern, sizeof(pattern), "\"%s\":{", name);
	at = strstr(h, pattern);
	ck_assert_ptr_nonnull(at);
	at = strstr(at, "\"data_offsets\":[") + strlen("\"data_offsets\":[");
	begin = strtoul(at, NULL, 10);
	memcpy(f->b + 8 + f->header_len + begin + 4 * i, &v, 4);
	free(h);
}

/* ---- crafted checkpoints ------------------------------------------------ */

enum edit { META, FLOAT };

struct bad_checkpoint {
	const char *rule;
	bool sgd;          /* from an SGD run (with momentum), else Adam */
	enum edit edit;
	const char *key;   /* META: the member; FLOAT: the tensor */
	const char *value; /* META: the text (NULL: removed) */
	float x;           /* FLOAT: the value of element 0 */
	const char *expect;
};

static const struct bad_checkpoint bad[] = {
	{ "a negative rate in force", false, META, "checkpoint.lr", "-0x1p-10",
	  0, "the learning rate in force must be above 0" },
	{ "a rate in force of 0", false, META, "checkpoint.lr", "0", 0,
	  "the learning rate in force must be above 0" },
	{ "a rate in force that underflows", false, META, "checkpoint.lr",
	  "0x1p-1000", 0, "checkpoint.lr: '0x1p-1000' is not a finite float" },
	{ "a rate in force not exactly a float", false, META, "checkpoint.lr",
	  "0.1", 0, "checkpoint.lr: '0.1' is not a finite float" },
	{ "a rate in force of NaN", false, META, "checkpoint.lr", "nan", 0,
	  "is not a finite float" },
	{ "epoch 2^64 - 1", false, META, "checkpoint.epoch",
	  "18446744073709551615", 0, "checkpoint.epoch 18446744073709551615 is "
	  "not an epoch of the run's 2" },
	{ "epoch 2^64", false, META, "checkpoint.epoch", "18446744073709551616",
	  0, "is not a whole number" },
	{ "epoch 0", false, META, "checkpoint.epoch", "0", 0,
	  "checkpoint.epoch 0 is not an epoch" },
	{ "an epoch past the run's", false, META, "checkpoint.epoch", "3", 0,
	  "checkpoint.epoch 3 is not an epoch of the run's 2" },
	{ "an epoch with a leading zero", false, META, "checkpoint.epoch", "02",
	  0, "'02' is not a whole number" },
	{ "an epoch with a sign", false, META, "checkpoint.epoch", "+2", 0,
	  "is not a whole number" },
	{ "an epoch with a space", false, META, "checkpoint.epoch", " 2", 0,
	  "is not a whole number" },
	{ "steps 2^64 - 1", false, META, "checkpoint.steps",
	  "18446744073709551615", 0, "is not 2 epochs of 24 steps" },
	{ "steps of another batch", false, META, "checkpoint.steps", "47", 0,
	  "checkpoint.steps 47 is not 2 epochs of 24 steps" },
	{ "rows of another data set", false, META, "checkpoint.rows", "1000", 0,
	  "is not 2 epochs of 17 steps" },
	{ "no workers", false, META, "checkpoint.workers", "0", 0,
	  ".workers 0 and train.batch_size 60 do not fit" },
	{ "a best epoch past the epoch", false, META, "checkpoint.best_epoch",
	  "5", 0, "checkpoint.best_epoch 5 is past checkpoint.epoch 2" },
	{ "a best loss of infinity", false, META, "checkpoint.best_loss", "inf",
	  0, "checkpoint.best_loss: 'inf' is not a finite number" },
	{ "no rate in force", false, META, "checkpoint.lr", NULL, 0,
	  "checkpoint.lr: '(missing)'" },
	{ "no epoch", false, META, "checkpoint.epoch", NULL, 0,
	  "not a checkpoint" },
	{ "an unknown field", false, META, "checkpoint.momentum", "0", 0,
	  "unknown field checkpoint.momentum" },
	{ "an unknown option", false, META, "train.lookahead", "1", 0,
	  "unknown field train.lookahead" },
	{ "no optimizer", false, META, "train.optim", NULL, 0,
	  "train.optim: missing" },
	{ "an unknown optimizer", false, META, "train.optim", "lbfgs", 0,
	  "train.optim: 'lbfgs' is not one of its values" },
	{ "a learning rate of 0", false, META, "train.lr", "0x0p+0", 0,
	  "checkpoint options: lr must be finite and above 0" },
	{ "beta2 of 1", false, META, "train.beta2", "0x1p+0", 0,
	  "checkpoint options: beta2 must be in [0, 1)" },
	{ "epochs 0", false, META, "train.epochs", "0", 0,
	  "checkpoint options: epochs must be at least 1" },
	{ "a flag of 2", false, META, "train.drop_last", "2", 0,
	  "train.drop_last: '2' is not one of its values" },
	{ "a first moment of 3e38", false, FLOAT, "optimizer.m.0.weight", NULL,
	  3e38f, "a first moment this large beside its second moment is not "
	  "Adam's" },
	{ "a first moment of 1 beside v = 0", false, FLOAT, "optimizer.m.1.bias",
	  NULL, 1.0f, "layers.1.bias[0]: m = 1, v = " },
	{ "a negative second moment", false, FLOAT, "optimizer.v.0.bias", NULL,
	  -1e-6f, "a second moment is never negative" },
	{ "a second moment in SGD", true, FLOAT, "optimizer.v.0.weight", NULL,
	  1e-3f, "SGD keeps no second moment" },
	{ "a moment of infinity", false, FLOAT, "optimizer.m.0.weight", NULL,
	  INFINITY, "not a finite optimizer tensor" },
};
#define N_BAD (sizeof(bad) / sizeof(bad[0]))

/* Each crafted checkpoint: refused by mlp_checkpoint_opts (the options
 * untouched) and by mlp_train (the network untouched), with the rule; the
 * file still loads as a plain model. */
START_TEST(crafted_checkpoint_refused)
{
	const struct bad_checkpoint *b = &bad[_i];
	const char *dir = test_dir();
	char path[512];
	mlp_train_opts o = digits_opts(), got, before;
	mlp_net *net = digits_net(), *plain;
	struct file f;
	uint64_t hash = param_hash(net);
	mlp_msg msg = { { 0 } };
	mlp_status st;

	snprintf(path, sizeof(path), "%s/c.st", dir);
	if (b->sgd) {
		o.optim = MLP_OPTIM_SGD;
		o.lr = 0.05f;
	}
	write_checkpoint(path, o, 2);
	f = blob_read(path);
	if (b->edit == META)
		set_meta(&f, b->key, b->value);
	else
		set_float(&f, b->key, 0, b->x);
	blob_write(&f, path);
	free(f.b);

	got = before = mlp_train_defaults();
	st = mlp_checkpoint_opts(path, &got, NULL, &msg);
	ck_assert_msg(st == MLP_EFORMAT, "%s: %s (%s)", b->rule, mlp_strerror(st),
		      msg.text);
	ck_assert_msg(strstr(msg.text, b->expect) != NULL,
		      "%s: \"%s\" does not say \"%s\"", b->rule, msg.text, b->expect);
	ck_assert_mem_eq(&got, &before, sizeof(got));

	o.epochs = 4;
	o.resume = path;
	o.msg = &msg;
	st = mlp_train(net, &o, N_TRAIN, DX, DY);
	ck_assert_msg(st == MLP_EFORMAT, "%s: mlp_train: %s (%s)", b->rule,
		      mlp_strerror(st), msg.text);
	ck_assert_msg(strstr(msg.text, b->expect) != NULL && strstr(msg.text, path),
		      "%s: mlp_train says \"%s\"", b->rule, msg.text);
	ck_assert_uint_eq(param_hash(net), hash);
	ck_assert_int_eq(mlp_net_load(&plain, path, NULL, &msg), MLP_OK);
	mlp_net_free(plain);
	mlp_net_free(net);
	remove(path);
	rmdir(dir);
}
END_TEST

/* The checkpoint an untouched run writes: its options read back as they
 * were given, and its epochs. */
START_TEST(options_read_back)
{
	const char *dir = test_dir();
	char path[512];
	mlp_train_opts o = digits_opts(), got = mlp_train_defaults();
	size_t epoch = 0;
	mlp_msg msg;

	snprintf(path, sizeof(path), "%s/c.st", dir);
	o.optim = MLP_OPTIM_SGD;
	o.momentum = 0.8f;
	o.nesterov = 1;
	o.lr = 0.02f;
	o.weight_decay = 1e-4f;
	o.clip_norm = 5;
	o.schedule = MLP_SCHEDULE_STEP;
	o.step_every = 1;
	o.step_factor = 0.5f;
	o.drop_last = 1;
	o.seed = 0xfedcba9876543210u;
	o.val_fraction = 0.25f;
	o.patience = 9;
	o.keep_best = 1;
	write_checkpoint(path, o, 2);
	ck_assert_msg(mlp_checkpoint_opts(path, &got, &epoch, &msg) == MLP_OK, "%s",
		      msg.text);
	ck_assert_uint_eq(epoch, 2);
	ck_assert_int_eq(got.optim, MLP_OPTIM_SGD);
	ck_assert_int_eq(got.loss, MLP_LOSS_XENT);
	ck_assert(got.momentum == 0.8f && got.nesterov == 1 && got.lr == 0.02f);
	ck_assert(got.weight_decay == 1e-4f && got.clip_norm == 5);
	ck_assert_int_eq(got.schedule, MLP_SCHEDULE_STEP);
	ck_assert(got.step_every == 1 && got.step_factor == 0.5f);
	ck_assert(got.drop_last == 1 && got.seed == o.seed);
	ck_assert(got.val_fraction == 0.25f && got.patience == 9 && got.keep_best);
	ck_assert_uint_eq(got.batch_size, 60);
	ck_assert_uint_eq(got.epochs, 2);
	ck_assert_ptr_null(got.checkpoint);
	/* Not a checkpoint: said so. */
	{
		char model[512];
		mlp_net *net = digits_net();

		snprintf(model, sizeof(model), "%s/m.st", dir);
		ck_assert_int_eq(mlp_net_save(net, model, &msg), MLP_OK);
		ck_assert_int_eq(mlp_checkpoint_opts(model, &got, NULL, &msg),
				 MLP_EFORMAT);
		ck_assert_msg(strncmp(msg.text, "not a checkpoint", 16) == 0, "%s",
			      msg.text);
		ck_assert_int_eq(mlp_checkpoint_opts(dir, &got, NULL, &msg), MLP_EIO);
		ck_assert_int_eq(mlp_checkpoint_opts(NULL, &got, NULL, &msg),
				 MLP_ENULL);
		remove(model);
		mlp_net_free(net);
	}
	remove(path);
	rmdir(dir);
}
END_TEST

/* An option that a resumed run may not change, changed: MLP_EINVAL naming
 * it and both values, the network untouched; those that may change
 * (epochs, patience) resume. */
START_TEST(resume_with_other_options)
{
	const char *dir = test_dir();
	char path[512];
	mlp_train_opts o = digits_opts(), r;
	mlp_net *net = digits_net();
	uint64_t hash = param_hash(net);
	mlp_msg msg;

	snprintf(path, sizeof(path), "%s/c.st", dir);
	o.val_fraction = 0.2f;
	write_checkpoint(path, o, 2);
	o.epochs = 4;
	o.resume = path;
	o.msg = &msg;
	for (int k = 0; k < 14; k++) {
		const char *says = NULL;

		r = o;
		switch (k) {
		case 0: r.lr = 0.5f; says = "with lr 0.00300000003, not 0.5"; break;
		case 1: r.optim = MLP_OPTIM_SGD; says = "with optim adam, not sgd"; break;
		case 2: r.beta1 = 0.8f; says = "with beta1 0.899999976, not 0.800000012"; break;
		case 3: r.beta2 = 0.99f; says = "with beta2 0.999000013, not 0.99000001"; break;
		case 4: r.eps = 1e-6f; says = "with eps 9.99999994e-09, not 9.99999997e-07"; break;
		case 5: r.weight_decay = 0.1f; says = "with weight_decay 0, not 0.100000001"; break;
		case 6: r.clip_norm = 1; says = "with clip_norm 0, not 1"; break;
		case 7: r.batch_size = 30; says = "with batch_size 60, not 30"; break;
		case 8: r.seed = 6; says = "with seed 5, not 6"; break;
		case 9: r.drop_last = 1; says = "with drop_last 0, not 1"; break;
		case 10: r.schedule = MLP_SCHEDULE_COSINE; says = "with schedule constant, not cosine"; break;
		case 11: r.warmup = 1; says = "with warmup 0, not 1"; break;
		case 12: r.val_fraction = 0.1f; says = "with val_fraction 0.200000003, not 0.100000001"; break;
		case 13: r.loss = MLP_LOSS_MSE; says = "with loss xent, not mse"; break;
		}
		ck_assert_int_eq(mlp_train(net, &r, N_TRAIN, DX, DY), MLP_EINVAL);
		ck_assert_msg(strstr(msg.text, says) != NULL && strstr(msg.text, path),
			      "case %d: \"%s\"", k, msg.text);
		ck_assert_uint_eq(param_hash(net), hash);
	}
	/* Momentum is not Adam's: it may differ. Patience and epochs may. */
	r = o;
	r.momentum = 0.5f;
	r.patience = 3;
	r.epochs = 3;
	ck_assert_msg(mlp_train(net, &r, N_TRAIN, DX, DY) == MLP_OK, "%s", msg.text);
	/* Fewer epochs than it has done. */
	r = o;
	r.epochs = 1;
	ck_assert_int_eq(mlp_train(net, &r, N_TRAIN, DX, DY), MLP_EINVAL);
	ck_assert_msg(strstr(msg.text, "has done 2 epochs, past epochs 1"), "%s",
		      msg.text);
	/* Other rows: the count trained on (the held-out fifth aside). */
	r = o;
	ck_assert_int_eq(mlp_train(net, &r, N_TRAIN - 10, DX, DY), MLP_EINVAL);
	ck_assert_msg(strstr(msg.text, "was made on 1150 rows (those trained on), "
				       "not 1142"), "%s", msg.text);
	mlp_net_free(net);
	remove(path);
	rmdir(dir);
}
END_TEST

static int count_epochs(void *user, const mlp_train_progress *p)
{
	(void)p;
	++*(int *)user;
	return 0;
}

/* A checkpoint that cannot be written: MLP_EIO before the first epoch,
 * the message naming the file and the cause (a missing directory, the
 * file size limit). */
START_TEST(unwritable_checkpoint_said_first)
{
	mlp_train_opts o = digits_opts();
	mlp_net *net = digits_net();
	uint64_t hash = param_hash(net);
	int epochs = 0;
	mlp_msg msg;
	pid_t pid;
	int status;

	digits_load(&digits);
	o.checkpoint = "/nonexistent/dir/c.st";
	o.checkpoint_every = 1;
	o.on_epoch = count_epochs;
	o.user = &epochs;
	o.msg = &msg;
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN, DX, DY), MLP_EIO);
	ck_assert_int_eq(epochs, 0);
	ck_assert_uint_eq(param_hash(net), hash);
	ck_assert_msg(strstr(msg.text, "cannot write /nonexistent/dir/c.st: cannot "
				       "create a file in /nonexistent/dir"),
		      "%s", msg.text);
	/* Under ulimit -f, in a child: the limit named, no epoch run. */
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 4096, 4096 };
		const char *dir = test_dir();
		char path[512];

		snprintf(path, sizeof(path), "%s/c.st", dir);
		o.checkpoint = path;
		setrlimit(RLIMIT_FSIZE, &rl);
		if (mlp_train(net, &o, N_TRAIN, DX, DY) != MLP_EIO || epochs != 0 ||
		    strstr(msg.text, "file size limit (ulimit -f) of 4096 bytes") == NULL)
			_exit(1);
		rmdir(dir);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "under ulimit -f: not refused before the first epoch");
	mlp_net_free(net);
}
END_TEST

static int stop_at_step_3_of_epoch_2(void *user, const mlp_train_progress *p)
{
	(void)user;
	return p->epoch == 2 && p->step == 3;
}

/* A callback that stops training within an epoch: the checkpoint is the
 * last whole epoch's, and resuming from it gives the bits of a run that
 * never stopped. */
START_TEST(stopped_epoch_not_checkpointed)
{
	const char *dir = test_dir();
	char path[512];
	mlp_train_opts o = digits_opts();
	mlp_net *net = digits_net(), *straight = digits_net();
	size_t epoch = 0;
	mlp_train_opts got = mlp_train_defaults();
	mlp_msg msg;

	digits_load(&digits);
	snprintf(path, sizeof(path), "%s/c.st", dir);
	o.epochs = 3;
	ck_assert_int_eq(mlp_train(straight, &o, N_TRAIN, DX, DY), MLP_OK);
	o.checkpoint = path;
	o.checkpoint_every = 1;
	o.on_step = stop_at_step_3_of_epoch_2;
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN, DX, DY), MLP_OK);
	ck_assert_int_eq(mlp_checkpoint_opts(path, &got, &epoch, &msg), MLP_OK);
	ck_assert_uint_eq(epoch, 1);
	o.on_step = NULL;
	o.checkpoint = NULL;
	o.resume = path;
	ck_assert_int_eq(mlp_train(net, &o, N_TRAIN, DX, DY), MLP_OK);
	ck_assert_uint_eq(param_hash(net), param_hash(straight));
	mlp_net_free(net);
	mlp_net_free(straight);
	remove(path);
	rmdir(dir);
}
END_TEST

static int stop_after_epoch(void *user, const mlp_train_progress *p)
{
	return p->epoch == *(size_t *)user;
}

/* With held-out rows, patience and keep_best: a run stopped after epoch k
 * with a checkpoint, then resumed, ends with the bits of a run that never
 * stopped (the best epoch and its parameters travel in the checkpoint),
 * for every k, before and after the best epoch, and after patience ran
 * out (the run stays stopped). */
START_TEST(best_epoch_survives_resume)
{
	const char *dir = test_dir();
	char path[512];
	mlp_train_opts o = digits_opts();
	mlp_net *straight = digits_net();
	size_t stop_at;
	mlp_msg msg;

	digits_load(&digits);
	snprintf(path, sizeof(path), "%s/c.st", dir);
	o.epochs = 12;
	o.lr = 0.05f; /* large: the held-out loss turns up early */
	o.val_fraction = 0.2f;
	o.patience = 2;
	o.keep_best = 1;
	o.msg = &msg;
	ck_assert_int_eq(mlp_train(straight, &o, N_TRAIN, DX, DY), MLP_OK);
	for (stop_at = 1; stop_at <= 12; stop_at++) {
		mlp_net *net = digits_net();
		mlp_train_opts a = o;
		size_t done = 0;
		mlp_train_opts got = mlp_train_defaults();

		a.checkpoint = path;
		a.checkpoint_every = 1;
		a.on_epoch = stop_after_epoch;
		a.user = &stop_at;
		ck_assert_int_eq(mlp_train(net, &a, N_TRAIN, DX, DY), MLP_OK);
		ck_assert_int_eq(mlp_checkpoint_opts(path, &got, &done, &msg), MLP_OK);
		mlp_net_free(net);
		net = digits_net();
		a = o;
		a.resume = path;
		ck_assert_msg(mlp_train(net, &a, N_TRAIN, DX, DY) == MLP_OK, "%s",
			      msg.text);
		ck_assert_msg(param_hash(net) == param_hash(straight),
			      "stopped after epoch %zu (checkpoint of epoch %zu): "
			      "other bits", stop_at, done);
		mlp_net_free(net);
		remove(path);
		if (done < stop_at)
			break; /* patience ran out before stop_at */
	}
	mlp_net_free(straight);
	rmdir(dir);
}
END_TEST

/* After epoch 1, half the hidden units die (biases of −100): their
 * gradients are zero from then on. */
static int kill_units(void *user, const mlp_train_progress *p)
{
	if (p->epoch == 1) {
		float *b = mlp_net_bias(user, 0);

		for (size_t j = 0; j < 8; j++)
			b[j] = -100;
	}
	return 0;
}

/* Moments of real runs at the edges load: Adam whose moments decay
 * through the subnormal range to zero (units that died after an epoch;
 * the updates flush subnormals), Adam with beta1² ≥ beta2 (no geometric
 * bound), beta1 = beta2 = 0 (m = g, v = g²), and SGD without momentum. */
START_TEST(real_moments_accepted)
{
	const char *dir = test_dir();
	char path[512];
	mlp_train_opts o = digits_opts();
	mlp_msg msg;

	digits_load(&digits);
	snprintf(path, sizeof(path), "%s/c.st", dir);
	for (int k = 0; k < 4; k++) {
		mlp_train_opts a = o, got = mlp_train_defaults();
		mlp_net *net = digits_net();

		if (k == 0) {
			/* 0.5 a step: from 1e-3 to below 2^-126 in 120 steps. */
			a.beta1 = 0.5f;
			a.beta2 = 0.5f;
			a.epochs = 12;
			a.on_epoch = kill_units;
			a.user = net;
		} else if (k == 1) {
			a.beta1 = 0.99f;
			a.beta2 = 0.9f;
		} else if (k == 2) {
			a.beta1 = 0;
			a.beta2 = 0;
		} else {
			a.optim = MLP_OPTIM_SGD;
			a.momentum = 0;
			a.lr = 0.05f;
		}
		a.checkpoint = path;
		a.checkpoint_every = a.epochs;
		ck_assert_int_eq(mlp_train(net, &a, N_TRAIN, DX, DY), MLP_OK);
		ck_assert_msg(mlp_checkpoint_opts(path, &got, NULL, &msg) == MLP_OK,
			      "case %d: %s", k, msg.text);
		if (k == 0) {
			/* The dead units' moments did reach zero. */
			struct mlpi_state st = { 0 };
			mlp_net *back;

			ck_assert_int_eq(mlpi_checkpoint_load(path, &back, &st, &msg),
					 MLP_OK);
			ck_assert(st.V[mlp_net_bias(back, 0) - mlp_net_weights(back, 0)] == 0);
			free(st.M);
			free(st.V);
			free(st.best);
			mlp_net_free(back);
		}
		mlp_net_free(net);
	}
	remove(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc = tcase_create("checked");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, crafted_checkpoint_refused, 0, N_BAD);
	tcase_add_test(tc, options_read_back);
	tcase_add_test(tc, resume_with_other_options);
	tcase_add_test(tc, unwritable_checkpoint_said_first);
	tcase_add_test(tc, stopped_epoch_not_checkpointed);
	tcase_add_test(tc, best_epoch_survives_resume);
	tcase_add_test(tc, real_moments_accepted);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
