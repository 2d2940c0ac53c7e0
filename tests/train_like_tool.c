/*
 * train_like_tool.c — trains a network the way `mlp train` says it does,
 * through the library alone: mlp_net_init(net, SEED), then mlp_train with
 * the same options and seed, then mlp_net_save. The tool test compares the
 * two model files byte for byte.
 *
 *   train_like_tool DATA.csv OUT.safetensors SIZES ACTS mse|xent EPOCHS
 *                   BATCH LR SEED
 *
 * DATA.csv as the tool reads it: the inputs, then a class label (xent with
 * a softmax output) or the targets; numbers separated by commas.
 */
#include <mlp.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ROWS = 100000, MAX_COLS = 64 };

static void fail(const char *what, const char *why)
{
	fprintf(stderr, "train_like_tool: %s: %s\n", what, why);
	exit(1);
}

/* The rows of a CSV file of numbers into *out (rows × cols floats). */
static size_t read_csv(const char *path, size_t cols, float **out)
{
	FILE *f = fopen(path, "r");
	float *v = malloc(MAX_ROWS * cols * sizeof(float));
	char line[4096];
	size_t rows = 0;

	if (f == NULL || v == NULL)
		fail(path, "cannot read");
	while (fgets(line, sizeof(line), f) != NULL && rows < MAX_ROWS) {
		char *s = line, *end;

		for (size_t j = 0; j < cols; j++) {
			v[rows * cols + j] = strtof(s, &end);
			if (end == s)
				fail(path, "not a number");
			s = *end == ',' ? end + 1 : end;
		}
		rows++;
	}
	fclose(f);
	*out = v;
	return rows;
}

int main(int argc, char **argv)
{
	size_t sizes[MAX_COLS], n_sizes = 0, n_acts, rows, n_in, n_out, cols;
	mlp_act acts[MAX_COLS];
	mlp_train_opts o = mlp_train_defaults();
	float *data, *X, *Y;
	bool labels;
	mlp_msg msg;
	mlp_net *net;

	if (argc != 10)
		fail("usage", "DATA OUT SIZES ACTS LOSS EPOCHS BATCH LR SEED");
	for (char *s = argv[3]; n_sizes < MAX_COLS; s++) {
		sizes[n_sizes++] = strtoul(s, &s, 10);
		if (*s != ',')
			break;
	}
	if (mlp_act_parse_list(argv[4], acts, MAX_COLS, &n_acts, &msg) != MLP_OK)
		fail(argv[4], msg.text);
	o.loss = strcmp(argv[5], "xent") == 0 ? MLP_LOSS_XENT : MLP_LOSS_MSE;
	o.epochs = strtoul(argv[6], NULL, 10);
	o.batch_size = strtoul(argv[7], NULL, 10);
	o.lr = strtof(argv[8], NULL);
	o.seed = strtoull(argv[9], NULL, 10);

	n_in = sizes[0];
	n_out = sizes[n_sizes - 1];
	labels = o.loss == MLP_LOSS_XENT && acts[n_acts - 1] == MLP_SOFTMAX;
	cols = n_in + (labels ? 1 : n_out);
	rows = read_csv(argv[1], cols, &data);
	X = malloc(rows * n_in * sizeof(float));
	Y = calloc(rows * n_out, sizeof(float));
	if (X == NULL || Y == NULL)
		fail("memory", "out of memory");
	for (size_t r = 0; r < rows; r++) {
		memcpy(X + r * n_in, data + r * cols, n_in * sizeof(float));
		if (labels)
			Y[r * n_out + (size_t)data[r * cols + n_in]] = 1.0f;
		else
			memcpy(Y + r * n_out, data + r * cols + n_in,
			       n_out * sizeof(float));
	}
	if (mlp_net_create(&net, n_acts, sizes, acts) != MLP_OK ||
	    mlp_net_init(net, o.seed) != MLP_OK ||
	    mlp_train(net, &o, rows, X, Y) != MLP_OK)
		fail("training", "failed");
	if (mlp_net_save(net, argv[2], &msg) != MLP_OK)
		fail(argv[2], msg.text);
	mlp_net_free(net);
	free(data), free(X), free(Y);
	return 0;
}
