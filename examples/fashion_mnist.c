/*
 * fashion_mnist.c — trains a 784-256-128-10 network on Fashion-MNIST with
 * mlp_train and reports per-epoch loss, accuracy and speed, and the final
 * test accuracy.
 *
 *   fashion_mnist [DIR] [EPOCHS]
 *
 * DIR holds the four IDX files of the data set, gzip-compressed as Debian's
 * dataset-fashion-mnist package installs them (the default,
 * /usr/share/datasets/fashion-mnist). Build, from this directory:
 *
 *   cc -I../tools/common fashion_mnist.c ../tools/common/clock.c \
 *      $(pkg-config --cflags --libs mlp zlib)
 *
 * (clock.c is a monotonic clock.)
 */
#include <mlp.h>

#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

static void check(mlp_status st, const char *what)
{
	if (st != MLP_OK) {
		fprintf(stderr, "%s: %s\n", what, mlp_strerror(st));
		exit(EXIT_FAILURE);
	}
}

/* Reads a gzip-compressed IDX file: a big-endian magic number (0x0803 for
 * images, 0x0801 for labels), the sizes, then unsigned bytes. Returns the
 * bytes and sets *count (items) and *item (bytes per item). */
static unsigned char *read_idx(const char *dir, const char *name,
			       unsigned magic, size_t *count, size_t *item)
{
	char path[1024];
	unsigned char head[16];
	unsigned char *data;
	gzFile f;
	int dims = (int)(magic & 0xff);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = gzopen(path, "rb");
	if (f == NULL || gzread(f, head, 4 + 4 * (unsigned)dims) != 4 + 4 * dims) {
		fprintf(stderr, "%s: cannot read (install dataset-fashion-mnist?)\n", path);
		exit(EXIT_FAILURE);
	}
	if (((unsigned)head[2] << 8 | head[3]) != magic) {
		fprintf(stderr, "%s: not an IDX file of the expected kind\n", path);
		exit(EXIT_FAILURE);
	}
	*count = (size_t)head[4] << 24 | (size_t)head[5] << 16 |
		 (size_t)head[6] << 8 | head[7];
	*item = 1;
	for (int d = 1; d < dims; d++)
		*item *= (size_t)head[4 + 4 * d] << 24 | (size_t)head[5 + 4 * d] << 16 |
			 (size_t)head[6 + 4 * d] << 8 | head[7 + 4 * d];
	data = malloc(*count * *item);
	if (data == NULL || gzread(f, data, (unsigned)(*count * *item)) !=
				    (int)(*count * *item)) {
		fprintf(stderr, "%s: truncated\n", path);
		exit(EXIT_FAILURE);
	}
	gzclose(f);
	return data;
}

struct set {
	size_t n;
	float *X; /* n × 784, pixels scaled to [0, 1] */
	float *Y; /* n × 10, one-hot */
};

static struct set load(const char *dir, const char *images, const char *labels)
{
	size_t n, px, n_labels, one;
	unsigned char *img = read_idx(dir, images, 0x0803, &n, &px);
	unsigned char *lab = read_idx(dir, labels, 0x0801, &n_labels, &one);
	struct set s = { n, malloc(n * 784 * sizeof(float)),
			 calloc(n * 10, sizeof(float)) };

	if (px != 784 || n_labels != n || s.X == NULL || s.Y == NULL) {
		fprintf(stderr, "%s: unexpected sizes\n", images);
		exit(EXIT_FAILURE);
	}
	for (size_t i = 0; i < n * 784; i++)
		s.X[i] = img[i] / 255.0f;
	for (size_t i = 0; i < n; i++)
		s.Y[i * 10 + (lab[i] < 10 ? lab[i] : 0)] = 1.0f;
	free(img);
	free(lab);
	return s;
}

/* What the callbacks of mlp_train keep between calls. */
struct run {
	const mlp_net *net;
	const struct set *train;
	float lr;
	double epoch_start, trained; /* seconds */
	double steps_secs;           /* of this epoch's steps */
};

static int on_step(void *user, const mlp_train_progress *p)
{
	struct run *run = user;

	if (p->step == p->steps)
		run->steps_secs = clock_seconds() - run->epoch_start;
	return 0;
}

/* After each epoch: the accuracies, the speed, and the learning rate of
 * the next epoch, halved every other epoch over the last half (finer steps
 * near the end gain a few tenths of a percent). */
static int on_epoch(void *user, const mlp_train_progress *p)
{
	struct run *run = user;
	size_t next = p->epoch + 1, half = p->epochs / 2;
	double loss, acc_train;

	run->trained += run->steps_secs;
	check(mlp_evaluate(run->net, MLP_LOSS_XENT, run->train->n,
			   run->train->X, run->train->Y, &loss, &acc_train),
	      "mlp_evaluate");
	printf("epoch %2zu  loss %.4f  train acc %.4f  test acc %.4f  "
	       "%.0f samples/s  (%.1f s training so far)\n", p->epoch, p->loss,
	       acc_train, p->eval_accuracy, (double)p->rows / run->steps_secs,
	       run->trained);
	fflush(stdout);
	if (next > half && (next - half) % 2 == 1) {
		run->lr /= 2;
		check(mlp_trainer_set_lr(p->trainer, run->lr), "mlp_trainer_set_lr");
	}
	run->epoch_start = clock_seconds();
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
	size_t epochs = argc > 2 ? (size_t)atoi(argv[2]) : 12;
	static const size_t sizes[] = { 784, 256, 128, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_SOFTMAX };
	mlp_train_opts opts = mlp_train_defaults();
	struct set train, test;
	struct run run = { 0 };
	double loss, acc;
	mlp_net *net;

	train = load(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
	test = load(dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
	check(mlp_net_create(&net, 3, sizes, acts), "mlp_net_create");
	check(mlp_net_init(net, 1), "mlp_net_init");
	opts.loss = MLP_LOSS_XENT;
	opts.optim = MLP_OPTIM_ADAM;
	opts.lr = 1e-3f;
	opts.batch_size = 64;
	opts.epochs = epochs;
	opts.seed = 1;
	opts.eval_n = test.n;
	opts.eval_X = test.X;
	opts.eval_Y = test.Y;
	opts.on_step = on_step;
	opts.on_epoch = on_epoch;
	opts.user = &run;
	run.net = net;
	run.train = &train;
	run.lr = opts.lr;
	printf("Fashion-MNIST: %zu training and %zu test images; 784-256-128-10, "
	       "Adam, batch %zu\nBLAS: %s\n", train.n, test.n, opts.batch_size,
	       mlp_blas_info());
	run.epoch_start = clock_seconds();
	check(mlp_train(net, &opts, train.n, train.X, train.Y), "mlp_train");
	check(mlp_evaluate(net, MLP_LOSS_XENT, test.n, test.X, test.Y, &loss, &acc),
	      "mlp_evaluate");
	printf("final test accuracy %.4f after %.1f s of training\n", acc,
	       run.trained);
	mlp_net_free(net);
	free(train.X), free(train.Y), free(test.X), free(test.Y);
	return EXIT_SUCCESS;
}
