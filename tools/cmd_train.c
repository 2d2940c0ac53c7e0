/* cmd_train.c — mlp train: a network trained on CSV or IDX data. */
#include "tool.h"

#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: mlp train --sizes N,N,...,N --act LIST --out MODEL [OPTIONS] DATA\n"
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
	"  --seed N        initial weights and shuffling (default 1)\n"
	"  --test DATA     held-out data: its loss and accuracy after each epoch\n"
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
	"Progress goes to standard error: a bar on a terminal, a line an epoch\n"
	"otherwise.\n";

/* A size_t list "784,256,10" into sizes; the count, 0 when wrong. */
static size_t parse_sizes(const char *s, size_t *sizes, size_t max)
{
	size_t n = 0;
	char *end;

	while (n < max) {
		unsigned long long v = strtoull(s, &end, 10);
		if (end == s || v == 0 || v > MLP_MAX_WIDTH || (*end != ',' && *end))
			return 0;
		sizes[n++] = (size_t)v;
		if (*end == '\0')
			return n;
		s = end + 1;
	}
	return 0;
}

static bool parse_float(const char *s, float *out)
{
	char *end;
	float v = strtof(s, &end);

	if (end == s || *end != '\0' || !isfinite(v))
		return false;
	*out = v;
	return true;
}

struct train_args {
	size_t sizes[MLP_MAX_LAYERS + 1], n_sizes;
	mlp_act acts[MLP_MAX_LAYERS];
	size_t n_acts;
	mlp_train_opts opts;
	const char *out, *data, *labels, *test, *test_labels;
	bool header;
};

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
		{ "seed", required_argument, NULL, 'S' },
		{ "test", required_argument, NULL, 't' },
		{ "labels", required_argument, NULL, 'l' },
		{ "test-labels", required_argument, NULL, 'T' },
		{ "header", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->opts = mlp_train_defaults();
	a->opts.seed = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		float *f = NULL;
		long long v;

		switch (c) {
		case 's':
			a->n_sizes = parse_sizes(optarg, a->sizes, MLP_MAX_LAYERS + 1);
			if (a->n_sizes < 2)
				return die(EXIT_USAGE, "--sizes wants at least two positive "
					   "widths: 784,256,10");
			break;
		case 'a':
			a->n_acts = parse_acts(optarg, a->acts, MLP_MAX_LAYERS);
			if (a->n_acts == 0)
				return EXIT_USAGE;
			break;
		case 'o': a->out = optarg; break;
		case 't': a->test = optarg; break;
		case 'l': a->labels = optarg; break;
		case 'T': a->test_labels = optarg; break;
		case 'H': a->header = true; break;
		case 'n': a->opts.nesterov = 1; break;
		case 'L':
			if (!strcmp(optarg, "mse"))
				a->opts.loss = MLP_LOSS_MSE;
			else if (!strcmp(optarg, "xent"))
				a->opts.loss = MLP_LOSS_XENT;
			else
				return die(EXIT_USAGE, "--loss is mse or xent");
			break;
		case 'O':
			if (!strcmp(optarg, "adam"))
				a->opts.optim = MLP_OPTIM_ADAM;
			else if (!strcmp(optarg, "sgd"))
				a->opts.optim = MLP_OPTIM_SGD;
			else
				return die(EXIT_USAGE, "--optim is adam or sgd");
			break;
		case 'r': f = &a->opts.lr; break;
		case 'm': f = &a->opts.momentum; break;
		case '1': f = &a->opts.beta1; break;
		case '2': f = &a->opts.beta2; break;
		case 'e': f = &a->opts.eps; break;
		case 'w': f = &a->opts.weight_decay; break;
		case 'c': f = &a->opts.clip_norm; break;
		case 'E':
		case 'b':
		case 'S':
			v = strtoll(optarg, NULL, 10);
			if (v < (c == 'S' ? 0 : 1))
				return die(EXIT_USAGE, "--%s wants a whole number%s",
					   c == 'E' ? "epochs" : c == 'b' ? "batch" : "seed",
					   c == 'S' ? "" : " above 0");
			if (c == 'E')
				a->opts.epochs = (size_t)v;
			else if (c == 'b')
				a->opts.batch_size = (size_t)v;
			else
				a->opts.seed = (uint64_t)v;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			fputs(help, stderr);
			return EXIT_USAGE;
		}
		if (f != NULL && !parse_float(optarg, f))
			return die(EXIT_USAGE, "'%s' is not a number", optarg);
	}
	if (argc - optind != 1)
		return die(EXIT_USAGE, "give one DATA file (mlp train --help)");
	a->data = argv[optind];
	if (a->n_sizes == 0 || a->out == NULL)
		return die(EXIT_USAGE, "--sizes and --out are needed (mlp train --help)");
	if (a->n_acts != a->n_sizes - 1)
		return die(EXIT_USAGE, "--act names %zu activations for %zu layers",
			   a->n_acts, a->n_sizes - 1);
	return EXIT_OK;
}

/* Loss and accuracy of net on d, printed after "label". */
static void report(const mlp_net *net, mlp_loss_kind loss, const struct dataset *d,
		   const char *label)
{
	double mean, acc;

	if (mlp_loss(net, loss, d->n, d->X, d->Y, &mean, &acc) != MLP_OK)
		return;
	fprintf(stderr, ", %s loss %.4f", label, mean);
	if (!isnan(acc))
		fprintf(stderr, ", %s accuracy %.4f", label, acc);
}

int cmd_train(int argc, char **argv)
{
	struct train_args a;
	struct dataset train = { 0 }, test = { 0 };
	struct progress prog;
	mlp_trainer *t = NULL;
	mlp_net *net = NULL;
	mlp_msg msg = { { 0 } };
	mlp_status st;
	size_t *order = NULL, n_in, n_out, batch;
	float *Xb = NULL, *Yb = NULL;
	uint64_t rng;
	bool labels;
	int rc = parse_args(argc, argv, &a);

	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	n_in = a.sizes[0];
	n_out = a.sizes[a.n_sizes - 1];
	labels = a.opts.loss == MLP_LOSS_XENT && a.acts[a.n_acts - 1] == MLP_SOFTMAX;
	st = mlp_net_create(&net, a.n_acts, a.sizes, a.acts);
	if (st != MLP_OK)
		return die(st == MLP_ENOMEM ? EXIT_FAIL : EXIT_USAGE, "cannot create "
			   "the network: %s", mlp_strerror(st));
	mlp_net_init(net, a.opts.seed);
	st = mlp_trainer_create(&t, net, &a.opts, a.opts.batch_size);
	if (st != MLP_OK) {
		rc = die(st == MLP_ENOMEM ? EXIT_FAIL : EXIT_USAGE, "%s",
			 st == MLP_ELOSS ? "cross-entropy (--loss xent) needs a softmax "
					   "or sigmoid output"
					 : mlp_strerror(st));
		goto done;
	}
	rc = dataset_load(&train, a.data, a.labels, n_in, n_out, labels, a.header);
	if (rc == EXIT_OK && a.test != NULL)
		rc = dataset_load(&test, a.test, a.test_labels, n_in, n_out, labels,
				  a.header);
	if (rc != EXIT_OK)
		goto done;
	batch = a.opts.batch_size < train.n ? a.opts.batch_size : train.n;
	order = malloc(train.n * sizeof(size_t));
	Xb = malloc(batch * n_in * sizeof(float));
	Yb = malloc(batch * n_out * sizeof(float));
	if (order == NULL || Xb == NULL || Yb == NULL) {
		rc = die(EXIT_FAIL, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < train.n; i++)
		order[i] = i;
	rng = a.opts.seed * 0x9e3779b97f4a7c15u + 1;

	for (size_t e = 1; e <= a.opts.epochs; e++) {
		size_t steps = (train.n + batch - 1) / batch, b = 0;
		double sum = 0, t0;

		/* Fisher–Yates with a xorshift generator. */
		for (size_t i = train.n - 1; i > 0; i--) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			size_t j = (size_t)(rng % (i + 1)), k = order[i];
			order[i] = order[j], order[j] = k;
		}
		progress_begin(&prog);
		t0 = prog.start;
		for (size_t r = 0; r < train.n; r += batch, b++) {
			size_t rows = train.n - r < batch ? train.n - r : batch;
			float loss;

			for (size_t i = 0; i < rows; i++) {
				memcpy(Xb + i * n_in, train.X + order[r + i] * n_in,
				       n_in * sizeof(float));
				memcpy(Yb + i * n_out, train.Y + order[r + i] * n_out,
				       n_out * sizeof(float));
			}
			st = mlp_trainer_step(t, rows, Xb, Yb, &loss);
			if (st != MLP_OK) {
				progress_end(&prog);
				rc = die(st == MLP_EDIVERGED ? EXIT_TRAIN : EXIT_DATA,
					 "epoch %zu, batch %zu: %s%s", e, b + 1,
					 mlp_strerror(st),
					 st == MLP_EDIVERGED ? " (try a smaller --lr)" : "");
				goto done;
			}
			sum += (double)loss * (double)rows;
			progress_draw(&prog, e, a.opts.epochs, b + 1, steps,
				      sum / (double)(r + rows),
				      (double)(r + rows) / (now_seconds() - t0));
		}
		progress_end(&prog);
		fprintf(stderr, "epoch %zu/%zu: loss %.4f, %.0f samples/s, %.1f s",
			e, a.opts.epochs, sum / (double)train.n,
			(double)train.n / (now_seconds() - t0), now_seconds() - t0);
		if (test.n > 0)
			report(net, a.opts.loss, &test, "test");
		fputc('\n', stderr);
	}
	st = mlp_net_save(net, a.out, &msg);
	if (st != MLP_OK)
		rc = die(EXIT_FAIL, "%s", msg.text);
done:
	mlp_trainer_free(t);
	mlp_net_free(net);
	dataset_free(&train);
	dataset_free(&test);
	free(order);
	free(Xb);
	free(Yb);
	return rc;
}
