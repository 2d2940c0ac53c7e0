/* cmd_train.c — mlp train: a network trained on CSV or IDX data. */
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: mlp train --sizes N,N,...,N --act LIST --out MODEL [OPTIONS] DATA\n"
	"       mlp train --resume CHECKPOINT --out MODEL [OPTIONS] DATA\n"
	"\n"
	"Trains a new network and saves it to MODEL (safetensors).\n"
	"\n"
	"  --sizes LIST    widths, input first: 784,256,128,10\n"
	"  --act LIST      one activation a layer: relu,relu,softmax\n"
	"  --out MODEL     where to save the network\n"
	"  --loss L        mse (default) or xent (cross-entropy)\n"
	"  --optim O       adam (default) or sgd\n"
	"  --lr X          learning rate (default 0.001)\n"
	"  --momentum X    SGD momentum (default 0.9); --nesterov for Nesterov's\n"
	"  --beta1 X, --beta2 X, --eps X   Adam (0.9, 0.999, 1e-8)\n"
	"  --wd X          decoupled weight decay (default 0)\n"
	"  --clip X        clip gradients to this global norm (default: off)\n"
	"  --epochs N      passes over the data (default 10)\n"
	"  --batch N       rows a step (default 32)\n"
	"  --precision P   fp32 (default) or bf16: mixed precision, the products\n"
	"                  of full batches in bf16 (oneDNN, on AVX512_BF16 or AMX)\n"
	"  --seed N        initial weights and shuffling (default 0): the network\n"
	"                  of mlp_net_init(net, N), then mlp_train with seed N\n"
	"  --test DATA     held-out data: its loss and accuracy after each epoch\n"
	"  --val-data DATA the same (held-out data for --patience)\n"
	"  --val F         hold out the fraction F of DATA, chosen by the seed\n"
	"  --patience N    stop after N epochs without a lower held-out loss, and\n"
	"                  put back the parameters of the best epoch\n"
	"  --schedule S    the learning rate over the epochs: constant (default),\n"
	"                  step:E:F (times F every E epochs) or cosine (to 0)\n"
	"  --warmup E      E epochs of linear warm-up first (default 0)\n"
	"  --standardize   scale each input (and, for a regression, each target)\n"
	"                  to mean 0 and deviation 1 on the rows trained on (not\n"
	"                  those --val holds out); the model keeps the scaling,\n"
	"                  and run and eval apply it\n"
	"  --log FILE      a CSV line an epoch: epoch, lr, loss, held-out loss\n"
	"                  and accuracy, samples/s, seconds\n"
	"  --checkpoint FILE   save a checkpoint (a model file with the optimizer's\n"
	"                  state) after every --checkpoint-every N epochs (1)\n"
	"  --resume FILE   go on from a checkpoint, to --epochs in all, as its run\n"
	"                  was made: options left out (--sizes, --act too) are\n"
	"                  the checkpoint's; one given must be its own, but\n"
	"                  --epochs, --precision and --patience may change\n"
	"  --labels FILE, --test-labels FILE   IDX labels, when not beside the images\n"
	"  --header        skip the first line of CSV files\n"
	"\n"
	"DATA is CSV (or whitespace-separated numbers), one sample a line: the\n"
	"inputs, then the class label (0, 1, ...) when the loss is xent with a\n"
	"softmax output, or else as many targets as the network has outputs.\n"
	"Or an IDX image file (\"...images-idx3-ubyte[.gz]\") with its labels\n"
	"(\"...labels-idx1-ubyte[.gz]\" beside it, or --labels): pixels are\n"
	"scaled to [0, 1].\n"
	"\n"
	"Progress goes to standard error: a line an epoch, and a bar redrawn\n"
	"during the epoch on a terminal.\n"
	"\n"
	"Under mpirun -np P, the P ranks train data-parallel: each reads DATA,\n"
	"takes its share of every batch of --batch rows (a multiple of P), and\n"
	"rank 0 alone prints progress and writes MODEL and checkpoints.\n";

struct train_args {
	size_t sizes[MLP_MAX_LAYERS + 1], n_sizes;
	mlp_act acts[MLP_MAX_LAYERS];
	size_t n_acts;
	mlp_train_opts opts;
	const char *out, *data, *labels, *test, *test_labels, *log;
	bool val_data; /* --test came as --val-data */
	bool standardize;
	bool every_given;
	bool header, help;
	bool given[256];   /* given[c]: getopt's letter c was on the line */
	struct resume ck;  /* with --resume: what the checkpoint holds */
};

/* After an option's value is parsed (rc), the library checks the options
 * as mlp_train will check them: the options before this one passed, so a
 * failure is this one's. */
static int check_option(const mlp_train_opts *o, const char *name,
			const char *text, int rc)
{
	mlp_msg msg;

	if (rc == EXIT_OK && mlp_train_check(NULL, o, &msg) != MLP_OK)
		rc = report_error(EXIT_USAGE, "--%s %s: %s", name, text, msg.text);
	return rc;
}

static int train_float(mlp_train_opts *o, const char *name, const char *text,
		       float *field)
{
	return check_option(o, name, text, option_float(name, text, field));
}

static int train_size(mlp_train_opts *o, const char *name, const char *text,
		      size_t *field)
{
	return check_option(o, name, text,
			    option_size(name, text, 0, SIZE_MAX, field));
}

static int choice(const char *name, const char *text, const char *a,
		  const char *b, int *out)
{
	if (strcmp(text, a) == 0)
		*out = 0;
	else if (strcmp(text, b) == 0)
		*out = 1;
	else
		return report_error(EXIT_USAGE, "--%s '%s': want %s or %s", name,
				    text, a, b);
	return EXIT_OK;
}

/* --schedule constant, cosine or step:E:F into o. */
static int option_schedule(mlp_train_opts *o, const char *text)
{
	char copy[64];
	char *factor;
	int rc;

	if (strcmp(text, "constant") == 0 || strcmp(text, "cosine") == 0) {
		o->schedule = strcmp(text, "cosine") == 0 ? MLP_SCHEDULE_COSINE
							  : MLP_SCHEDULE_CONSTANT;
		return EXIT_OK;
	}
	if (strncmp(text, "step:", 5) != 0 || strlen(text) >= sizeof(copy))
		return report_error(EXIT_USAGE, "--schedule '%s': want constant, "
				    "cosine or step:E:F (times F every E epochs)",
				    text);
	strcpy(copy, text + 5);
	factor = strchr(copy, ':');
	if (factor == NULL)
		return report_error(EXIT_USAGE, "--schedule '%s': want step:E:F, "
				    "E epochs and a factor F", text);
	*factor++ = '\0';
	o->schedule = MLP_SCHEDULE_STEP;
	rc = option_size("schedule", copy, 1, SIZE_MAX, &o->step_every);
	if (rc == EXIT_OK)
		rc = option_float("schedule", factor, &o->step_factor);
	return check_option(o, "schedule", text, rc);
}

/* --resume: the options and network of the checkpoint's run into *a,
 * where the command line leaves them out (resume.c); the network's
 * widths and activations, where given, must be the checkpoint's. */
static int resume_network(struct train_args *a)
{
	struct resume *r = &a->ck;
	const char *path = a->opts.resume;
	int rc = resume_read(path, &a->opts, a->given, r);

	if (rc != EXIT_OK)
		return rc;
	if (a->n_sizes == 0) {
		memcpy(a->sizes, r->sizes, r->n_sizes * sizeof(size_t));
		a->n_sizes = r->n_sizes;
	} else if (a->n_sizes != r->n_sizes ||
		   memcmp(a->sizes, r->sizes, r->n_sizes * sizeof(size_t)) != 0) {
		rc = report_error(EXIT_USAGE, "--sizes: the checkpoint %s is of "
				  "another network; leave --sizes out to go on "
				  "with its own", path);
	}
	if (rc == EXIT_OK && a->n_acts == 0) {
		memcpy(a->acts, r->acts, (r->n_sizes - 1) * sizeof(mlp_act));
		a->n_acts = r->n_sizes - 1;
	} else if (rc == EXIT_OK && (a->n_acts != r->n_sizes - 1 ||
				     memcmp(a->acts, r->acts,
					    a->n_acts * sizeof(mlp_act)) != 0)) {
		rc = report_error(EXIT_USAGE, "--act: the checkpoint %s has other "
				  "activations; leave --act out to go on with "
				  "its own", path);
	}
	/* --standardize comes with the checkpoint. */
	if (rc == EXIT_OK && a->standardize && r->scaling == NULL)
		rc = report_error(EXIT_USAGE, "--standardize: the checkpoint %s "
				  "was made without it", path);
	a->standardize = r->scaling != NULL;
	return rc;
}

/* Everything on the command line into *a; an exit code. After --help,
 * EXIT_OK with a->help set. */
static int parse_args(int argc, char **argv, struct train_args *a)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "act", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "loss", required_argument, NULL, 'L' },
		{ "optim", required_argument, NULL, 'O' },
		{ "lr", required_argument, NULL, 'r' },
		{ "momentum", required_argument, NULL, 'm' },
		{ "nesterov", no_argument, NULL, 'n' },
		{ "beta1", required_argument, NULL, '1' },
		{ "beta2", required_argument, NULL, '2' },
		{ "eps", required_argument, NULL, 'e' },
		{ "wd", required_argument, NULL, 'w' },
		{ "clip", required_argument, NULL, 'c' },
		{ "epochs", required_argument, NULL, 'E' },
		{ "batch", required_argument, NULL, 'b' },
		{ "precision", required_argument, NULL, 'P' },
		{ "seed", required_argument, NULL, 'S' },
		{ "test", required_argument, NULL, 't' },
		{ "val-data", required_argument, NULL, 'V' },
		{ "val", required_argument, NULL, 'v' },
		{ "patience", required_argument, NULL, 'p' },
		{ "schedule", required_argument, NULL, 'C' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "log", required_argument, NULL, 'g' },
		{ "standardize", no_argument, NULL, 'z' },
		{ "labels", required_argument, NULL, 'l' },
		{ "test-labels", required_argument, NULL, 'T' },
		{ "header", no_argument, NULL, 'H' },
		{ "checkpoint", required_argument, NULL, 'k' },
		{ "checkpoint-every", required_argument, NULL, 'K' },
		{ "resume", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	mlp_train_opts *o = &a->opts;
	int c, rc = EXIT_OK, pick = 0;

	memset(a, 0, sizeof(*a));
	*o = mlp_train_defaults();
	if (o->struct_size == 0)
		return report_error(EXIT_FAIL, "this libmlp (%s) does not know the "
				    "training options of the mlp program (%s)",
				    mlp_version_string(), MLP_VERSION_STRING);
	optind = 1;
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		a->given[(unsigned char)c] = true;
		switch (c) {
		case 's': rc = option_widths("sizes", optarg, a->sizes, &a->n_sizes); break;
		case 'a':
			rc = option_acts("act", optarg, a->acts, MLP_MAX_LAYERS,
					 &a->n_acts);
			break;
		case 'o': a->out = optarg; break;
		case 't': a->test = optarg; break;
		case 'l': a->labels = optarg; break;
		case 'T': a->test_labels = optarg; break;
		case 'H': a->header = true; break;
		case 'k': o->checkpoint = optarg; break;
		case 'V':
			if (a->test != NULL)
				return report_error(EXIT_USAGE, "--val-data and "
						    "--test name the same held-out "
						    "data: give one");
			a->test = optarg;
			a->val_data = true;
			break;
		case 'v': rc = train_float(o, "val", optarg, &o->val_fraction); break;
		case 'p':
			rc = option_size("patience", optarg, 1, SIZE_MAX, &o->patience);
			o->keep_best = 1;
			break;
		case 'C': rc = option_schedule(o, optarg); break;
		case 'W': rc = train_size(o, "warmup", optarg, &o->warmup); break;
		case 'g': a->log = optarg; break;
		case 'z': a->standardize = true; break;
		case 'R': o->resume = optarg; break;
		case 'K':
			rc = option_size("checkpoint-every", optarg, 1, SIZE_MAX,
					 &o->checkpoint_every);
			a->every_given = true;
			break;
		case 'n': o->nesterov = 1; break;
		case 'L':
			rc = choice("loss", optarg, "mse", "xent", &pick);
			o->loss = pick ? MLP_LOSS_XENT : MLP_LOSS_MSE;
			break;
		case 'O':
			rc = choice("optim", optarg, "adam", "sgd", &pick);
			o->optim = pick ? MLP_OPTIM_SGD : MLP_OPTIM_ADAM;
			break;
		case 'r': rc = train_float(o, "lr", optarg, &o->lr); break;
		case 'm': rc = train_float(o, "momentum", optarg, &o->momentum); break;
		case '1': rc = train_float(o, "beta1", optarg, &o->beta1); break;
		case '2': rc = train_float(o, "beta2", optarg, &o->beta2); break;
		case 'e': rc = train_float(o, "eps", optarg, &o->eps); break;
		case 'w': rc = train_float(o, "wd", optarg, &o->weight_decay); break;
		case 'c': rc = train_float(o, "clip", optarg, &o->clip_norm); break;
		case 'E': rc = train_size(o, "epochs", optarg, &o->epochs); break;
		case 'b': rc = train_size(o, "batch", optarg, &o->batch_size); break;
		case 'S': rc = option_u64("seed", optarg, &o->seed); break;
		case 'P':
			rc = option_precision("precision", optarg, &o->precision);
			break;
		case 'h':
			fputs(help, stdout);
			a->help = true;
			return EXIT_OK;
		default:
			return report_usage("train", argv, c);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (argc - optind != 1)
		return report_error(EXIT_USAGE, "give one DATA file (mlp train --help)");
	a->data = argv[optind];
	if (o->resume != NULL)
		rc = resume_network(a);
	if (rc != EXIT_OK)
		return rc;
	if (a->n_sizes == 0 || a->out == NULL)
		return report_error(EXIT_USAGE, "--sizes and --out are needed "
				    "(mlp train --help)");
	if (a->n_acts != a->n_sizes - 1)
		return report_error(EXIT_USAGE, "--act names %zu activations for "
				    "the %zu layers of --sizes", a->n_acts,
				    a->n_sizes - 1);
	if (o->val_fraction > 0.0f && a->test != NULL)
		return report_error(EXIT_USAGE, "--val holds rows of DATA out; "
				    "--test and --val-data name other held-out "
				    "data: give one");
	if (o->patience > 0 && o->val_fraction == 0.0f && a->test == NULL)
		return report_error(EXIT_USAGE, "--patience %zu needs held-out "
				    "data: --val FRACTION, --val-data FILE or "
				    "--test FILE", o->patience);
	if (a->every_given && o->checkpoint == NULL)
		return report_error(EXIT_USAGE, "--checkpoint-every needs "
				    "--checkpoint FILE");
	if (o->checkpoint != NULL && !a->every_given)
		o->checkpoint_every = 1;
	return EXIT_OK;
}

/* What the callbacks of mlp_train draw on. */
struct train_view {
	struct progress progress;
	size_t epoch; /* the last one that began */
	struct log_file log; /* --log, when log.path */
	int log_rc;   /* EXIT_OK, or the failure to write the log */
	mlp_train_progress last; /* the last epoch's progress */
};

static int on_step(void *user, const mlp_train_progress *p)
{
	struct train_view *v = user;

	v->epoch = p->epoch;
	progress_step(&v->progress, p);
	return 0;
}

static int on_epoch(void *user, const mlp_train_progress *p)
{
	struct train_view *v = user;

	progress_epoch(&v->progress, p);
	v->last = *p;
	v->epoch = p->epoch + 1;
	if (v->log.path != NULL) {
		char line[256];

		snprintf(line, sizeof(line), "%zu,%.9g,%.9g,%.9g,%.9g,%.1f,%.3f\n",
			 p->epoch, (double)p->lr, p->loss, p->eval_loss,
			 p->eval_accuracy, (double)p->rows / v->progress.epoch_secs,
			 v->progress.epoch_secs);
		/* A log that cannot be written stops training. */
		v->log_rc = log_line(&v->log, line);
	}
	return v->log_rc != EXIT_OK;
}

/* The exit code for a status of mlp_train (which every rank shares: rank 0
 * alone says it), with the library's message. */
static int train_failed(mlp_status st, const struct train_view *v,
			const mlp_train_opts *o, size_t net_params)
{
	const char *why = o->msg->text;

	if (rank_id() != 0)
		return st == MLP_EDIVERGED ? EXIT_TRAIN : EXIT_FAIL;
	switch (st) {
	case MLP_EDIVERGED:
		return report_error(EXIT_TRAIN, "epoch %zu: %s (try a smaller --lr)",
				    v->epoch, mlp_strerror(st));
	case MLP_EINVAL:
		if (o->resume != NULL && strstr(why, "checkpoint") != NULL)
			return report_error(EXIT_USAGE, "--resume %s: %s",
					    o->resume, why);
		return report_error(EXIT_DATA, "%s", why);
	case MLP_ENOMEM:
		return report_error(EXIT_FAIL, "out of memory for training: the "
				    "trainer keeps the gradients and the "
				    "optimizer's state, three more copies of the "
				    "network's %zu parameters (%.0f MB), and a "
				    "--batch of activations", net_params,
				    3.0 * 4.0 * (double)net_params / 1e6);
	case MLP_EFORMAT:
		return report_error(EXIT_MODEL, "--resume %s: %s", o->resume, why);
	case MLP_EIO:
		return report_error(EXIT_FAIL, "%s", why);
	case MLP_EWORKERS:
		return report_error(EXIT_DATA, "the ranks disagree: each must read "
				    "the same data with the same options");
	case MLP_ECOMM:
		return report_error(EXIT_FAIL, "a transfer between the ranks failed");
	default:
		return report_error(EXIT_FAIL, "training failed: %s", why);
	}
}

/* n rows of width w in v: each column's mean and deviation over the rows
 * not held out (population, in double; 1 for a constant column, which
 * then only shifts) into mean and dev, and every row of v and the k rows
 * of u standardised by them. */
static void standardize_columns(float *v, size_t n, const unsigned char *held,
				float *u, size_t k, size_t w, float *mean,
				float *dev)
{
	for (size_t j = 0; j < w; j++) {
		double s = 0, ss = 0, m, d;
		size_t used = 0;

		for (size_t i = 0; i < n; i++)
			if (!held[i]) {
				s += v[i * w + j];
				used++;
			}
		m = s / (double)used;
		for (size_t i = 0; i < n; i++)
			if (!held[i])
				ss += (v[i * w + j] - m) * (v[i * w + j] - m);
		d = sqrt(ss / (double)used);
		mean[j] = (float)m;
		dev[j] = d > 0 && (float)d > 0.0f ? (float)d : 1.0f;
		for (size_t i = 0; i < n; i++)
			v[i * w + j] = (v[i * w + j] - mean[j]) / dev[j];
		for (size_t i = 0; i < k; i++)
			u[i * w + j] = (u[i * w + j] - mean[j]) / dev[j];
	}
}

/* --standardize: the inputs (and, with targets, the targets) of the rows
 * trained on to mean 0 and deviation 1, and the rows --val holds out (the
 * library says which) and the --test rows by the same numbers; the
 * numbers into *scaling (in_mean, in_std, out_mean, out_std) for the
 * model. */
static int standardize(const mlp_train_opts *o, struct dataset *train,
		       struct dataset *test, bool targets, float **scaling)
{
	size_t a = train->n_in, b = train->n_out;
	float *s = malloc(2 * (a + b) * sizeof(float));
	unsigned char *held = calloc(train->n > 0 ? train->n : 1, 1);
	int rc = EXIT_OK;

	if (s == NULL || held == NULL)
		rc = report_error(EXIT_FAIL, "out of memory");
	if (rc == EXIT_OK)
		rc = report_status(mlp_train_held_out(o, train->n, held, NULL),
				   "--val: the rows held out");
	if (rc == EXIT_OK) {
		standardize_columns(train->X, train->n, held, test->X, test->n,
				    a, s, s + a);
		if (targets)
			standardize_columns(train->Y, train->n, held, test->Y,
					    test->n, b, s + 2 * a, s + 2 * a + b);
		*scaling = s;
		s = NULL;
	}
	free(held);
	free(s);
	return rc;
}

/* After training with --patience: where it stopped, and which epoch's
 * parameters it kept. */
static void report_best(const mlp_train_progress *last,
			const mlp_train_opts *o)
{
	if (last->epoch < o->epochs)
		fprintf(stderr, "stopped after epoch %zu: no lower held-out loss "
			"for %zu epochs\n", last->epoch, o->patience);
	fprintf(stderr, "kept the parameters of epoch %zu (held-out loss %.4f)\n",
		last->best_epoch, last->best_loss);
}

/* Creates the network the arguments describe, checked against the
 * options, and initialises it from the seed. */
static int make_net(const struct train_args *a, mlp_net **out)
{
	mlp_msg msg;
	mlp_status st = mlp_net_create(out, a->n_acts, a->sizes, a->acts);
	/* The held-out data is read later: --patience is checked then. */
	mlp_train_opts probe = a->opts;

	probe.patience = 0;
	probe.keep_best = 0;
	if (st != MLP_OK)
		return report_error(EXIT_FAIL, "cannot create the network: %s",
				    mlp_strerror(st));
	if (mlp_train_check(*out, &probe, &msg) != MLP_OK) {
		mlp_net_free(*out);
		return report_error(EXIT_USAGE, "--loss %s: %s",
				    a->opts.loss == MLP_LOSS_XENT ? "xent" : "mse",
				    msg.text);
	}
	st = mlp_net_init(*out, a->opts.seed);
	if (st != MLP_OK) {
		mlp_net_free(*out);
		*out = NULL;
		return report_status(st, "cannot initialise the network");
	}
	return EXIT_OK;
}

/* --standardize: the scaling onto the network before training, so that
 * checkpoints keep it; with --resume, it must be the checkpoint's. */
static int apply_scaling(struct train_args *a, mlp_net *net,
			 const float *scaling, bool targets)
{
	size_t n_in = a->sizes[0], n_out = a->sizes[a->n_sizes - 1];
	int rc = EXIT_OK;

	if (a->opts.resume != NULL)
		rc = resume_same_scaling(&a->ck, a->opts.resume, scaling, targets);
	if (rc == EXIT_OK)
		rc = report_status(mlp_net_set_scaling(net, scaling, scaling + n_in,
						       targets ? scaling + 2 * n_in
							       : NULL,
						       targets ? scaling + 2 * n_in +
								 n_out : NULL),
				   "the standardisation");
	return rc;
}

int cmd_train(int argc, char **argv)
{
	struct train_args a;
	struct dataset train = { 0 }, test = { 0 };
	struct train_view view = { .epoch = 1, .log = { .fd = -1 } };
	mlp_net *net = NULL;
	mlp_msg msg;
	mlp_status st;
	enum targets targets;
	float *scaling = NULL;
	int rc = parse_args(argc, argv, &a);

	if (rc == EXIT_OK && !a.help)
		rc = make_net(&a, &net);
	if (rc != EXIT_OK || a.help) {
		resume_free(&a.ck);
		return rc;
	}
	/* Where the model cannot go, say so before training it. */
	if (rank_id() == 0)
		rc = output_check(a.out, 4 * (uint64_t)mlp_net_param_count(net));
	targets = a.opts.loss != MLP_LOSS_XENT ? TARGETS_VALUES
		  : a.acts[a.n_acts - 1] == MLP_SOFTMAX ? TARGETS_LABELS
							: TARGETS_UNIT;
	if (rc == EXIT_OK)
		rc = dataset_load(&train, a.data, a.labels, a.sizes[0],
				  a.sizes[a.n_sizes - 1], targets, a.header);
	if (rc == EXIT_OK && a.test != NULL)
		rc = dataset_load(&test, a.test, a.test_labels, a.sizes[0],
				  a.sizes[a.n_sizes - 1], targets, a.header);
	if (rc == EXIT_OK && a.standardize)
		rc = standardize(&a.opts, &train, &test, targets != TARGETS_LABELS,
				 &scaling);
	if (rc == EXIT_OK && a.standardize)
		rc = apply_scaling(&a, net, scaling, targets != TARGETS_LABELS);
	a.opts.comm = ranks_comm();
	a.opts.eval_n = test.n;
	a.opts.eval_X = test.X;
	a.opts.eval_Y = test.Y;
	a.opts.msg = &msg;
	if (rc == EXIT_OK && a.log != NULL && rank_id() == 0)
		rc = log_open(&view.log, a.log, "epoch,lr,loss,val_loss,"
			      "val_accuracy,samples_per_s,seconds\n");
	if (rc == EXIT_OK && a.opts.comm != NULL &&
	    mlp_train_check(net, &a.opts, &msg) != MLP_OK)
		rc = report_error(EXIT_USAGE, "--batch %zu: %s", a.opts.batch_size,
				  msg.text);
	/* Under mpirun, every rank has read its data and found its options
	 * good, or none trains. */
	rc = ranks_agree(rc);
	if (rc == EXIT_OK) {
		if (rank_id() == 0) {
			a.opts.on_step = on_step;
			a.opts.on_epoch = on_epoch;
			a.opts.user = &view;
		}
		progress_init(&view.progress);
		st = mlp_train(net, &a.opts, train.n, train.X, train.Y);
		if (st != MLP_OK)
			rc = train_failed(st, &view, &a.opts,
					  mlp_net_param_count(net));
		else if (a.opts.keep_best && rank_id() == 0)
			report_best(&view.last, &a.opts);
	}
	if (rc == EXIT_OK)
		rc = view.log_rc;
	if (log_close(&view.log) != EXIT_OK && rc == EXIT_OK)
		rc = EXIT_FAIL;
	if (rc == EXIT_OK && rank_id() == 0 &&
	    mlp_net_save(net, a.out, &msg) != MLP_OK)
		rc = report_error(EXIT_FAIL, "%s", msg.text);
	mlp_net_free(net);
	dataset_free(&train);
	dataset_free(&test);
	free(scaling);
	resume_free(&a.ck);
	return rc;
}
