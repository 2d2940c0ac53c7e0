/*
 * fashion_mnist.c — trains a 784-256-128-10 network on Fashion-MNIST and
 * reports per-epoch loss, accuracy and speed, and the final test accuracy.
 *
 *   fashion_mnist [DIR] [EPOCHS]
 *
 * DIR holds the four IDX files of the data set, gzip-compressed as Debian's
 * dataset-fashion-mnist package installs them (the default,
 * /usr/share/datasets/fashion-mnist). Build: cc fashion_mnist.c
 * $(pkg-config --cflags --libs mlp zlib).
 */
#define _POSIX_C_SOURCE 200809L
#include <mlp.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

/* OpenBLAS 0.3.21 does not know CPUs newer than it and runs its slowest
 * (Prescott) kernels on them; OPENBLAS_CORETYPE picks better ones, but only
 * from the start of the process: so set it and start again. */
static void prefer_fast_blas(char **argv)
{
#if defined(__x86_64__) && defined(__GNUC__)
	const char *core = NULL;

	if (getenv("OPENBLAS_CORETYPE") != NULL ||
	    strstr(mlp_blas_info(), " Prescott ") == NULL)
		return;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		core = "SkylakeX";
	else if (__builtin_cpu_supports("avx2"))
		core = "Haswell";
	if (core != NULL) {
		setenv("OPENBLAS_CORETYPE", core, 1);
		execv("/proc/self/exe", argv);
	}
#else
	(void)argv;
#endif
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
	size_t epochs = argc > 2 ? (size_t)atoi(argv[2]) : 12;
	static const size_t sizes[] = { 784, 256, 128, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_SOFTMAX };
	enum { BATCH = 64 };
	mlp_train_opts opts = mlp_train_defaults();
	uint64_t rng = 42;
	double trained = 0;
	mlp_trainer *trainer;
	mlp_net *net;

	prefer_fast_blas(argv);
	struct set train = load(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
	struct set test = load(dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
	size_t *order = malloc(train.n * sizeof(size_t));
	float *Xb = malloc(BATCH * 784 * sizeof(float)), *Yb = malloc(BATCH * 10 * sizeof(float));

	if (order == NULL || Xb == NULL || Yb == NULL)
		return EXIT_FAILURE;
	check(mlp_net_create(&net, 3, sizes, acts), "mlp_net_create");
	check(mlp_net_init(net, 1), "mlp_net_init");
	opts.loss = MLP_LOSS_XENT;
	opts.optim = MLP_OPTIM_ADAM;
	opts.lr = 1e-3f;
	check(mlp_trainer_create(&trainer, net, &opts, BATCH), "mlp_trainer_create");
	printf("Fashion-MNIST: %zu training and %zu test images; 784-256-128-10, "
	       "Adam, batch %d\nBLAS: %s\n", train.n, test.n, BATCH, mlp_blas_info());
	for (size_t i = 0; i < train.n; i++)
		order[i] = i;

	for (size_t epoch = 1; epoch <= epochs; epoch++) {
		double sum = 0, t0 = now(), secs, loss, acc_train, acc_test;

		/* A fresh order each epoch (Fisher–Yates, xorshift64). */
		for (size_t i = train.n - 1; i > 0; i--) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			size_t j = (size_t)(rng % (i + 1)), k = order[i];
			order[i] = order[j], order[j] = k;
		}
		/* Halve the learning rate every other epoch over the last
		 * half: finer steps near the end gain a few tenths of a
		 * percent. */
		if (epoch > epochs / 2 && (epoch - epochs / 2) % 2 == 1) {
			opts.lr /= 2;
			check(mlp_trainer_set_lr(trainer, opts.lr), "set_lr");
		}
		for (size_t r = 0; r + BATCH <= train.n; r += BATCH) {
			float l;
			for (size_t i = 0; i < BATCH; i++) {
				memcpy(Xb + i * 784, train.X + order[r + i] * 784, 784 * sizeof(float));
				memcpy(Yb + i * 10, train.Y + order[r + i] * 10, 10 * sizeof(float));
			}
			check(mlp_trainer_step(trainer, BATCH, Xb, Yb, &l), "mlp_trainer_step");
			sum += l;
		}
		secs = now() - t0;
		trained += secs;
		check(mlp_loss(net, MLP_LOSS_XENT, train.n, train.X, train.Y, &loss,
			       &acc_train), "mlp_loss");
		check(mlp_loss(net, MLP_LOSS_XENT, test.n, test.X, test.Y, &loss,
			       &acc_test), "mlp_loss");
		printf("epoch %2zu  loss %.4f  train acc %.4f  test acc %.4f  "
		       "%.0f samples/s  (%.1f s training so far)\n", epoch,
		       sum / (double)(train.n / BATCH), acc_train, acc_test,
		       (double)(train.n / BATCH * BATCH) / secs, trained);
		fflush(stdout);
	}
	double loss, acc;
	check(mlp_loss(net, MLP_LOSS_XENT, test.n, test.X, test.Y, &loss, &acc), "mlp_loss");
	printf("final test accuracy %.4f after %.1f s of training\n", acc, trained);
	mlp_trainer_free(trainer);
	mlp_net_free(net);
	free(order), free(Xb), free(Yb);
	free(train.X), free(train.Y), free(test.X), free(test.Y);
	return EXIT_SUCCESS;
}
