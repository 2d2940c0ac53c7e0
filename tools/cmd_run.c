/* cmd_run.c — mlp run: the network's outputs for rows of inputs. */
#include "tool.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: mlp run [--argmax] [--batch N] [--precision P] [--header] [--act LIST]\n"
	"               MODEL [INPUT]\n"
	"\n"
	"Reads rows of inputs from INPUT (or standard input, also for '-'): CSV,\n"
	"or numbers separated by spaces or tabs, one sample a line; empty lines\n"
	"and lines starting with '#' are skipped. INPUT may also be an IDX image\n"
	"file (\"...idx3-ubyte[.gz]\", pixels scaled to [0, 1]). Runs the rows\n"
	"through the network in MODEL in batches, on a plan (the engine fastest\n"
	"for the network), and writes one CSV line of outputs a row.\n"
	"\n"
	"  --argmax       write the index of the largest output (the class) instead\n"
	"  --batch N      rows a forward pass, 1 to 1048576 (default 256)\n"
	"  --precision P  fp32, bf16 (on AVX512_BF16 or AMX: outputs about 1%\n"
	"                 from fp32's) or int8 (a model from mlp quantize);\n"
	"                 default: int8 for a quantised model, else fp32\n"
	"  --header       skip the first line of INPUT\n"
	"  --act LIST     the activations, for a file that names none\n"
	"\n"
	"A row of the wrong width, or a value that is not a number, stops with a\n"
	"message naming the line (exit status 4).\n"
	"\n"
	"Under mpirun -np P, rank 0 reads all the rows, the ranks share the\n"
	"batches out, and rank 0 writes the outputs in the rows' order: the\n"
	"same bytes one process writes.\n";

/* The largest --batch: 2²⁰ rows. */
#define MAX_RUN_BATCH ((size_t)1 << 20)

static void write_rows(const float *Y, size_t rows, size_t n_out, bool argmax)
{
	for (size_t r = 0; r < rows; r++) {
		const float *y = Y + r * n_out;

		if (argmax) {
			size_t best = 0;
			for (size_t j = 1; j < n_out; j++)
				best = y[j] > y[best] ? j : best;
			printf("%zu\n", best);
			continue;
		}
		for (size_t j = 0; j < n_out; j++)
			printf(j ? ",%.9g" : "%.9g", (double)y[j]);
		putchar('\n');
	}
}

/* Y = the network's outputs for k rows of X, in the targets' units: the
 * rows standardised first (in place) and the outputs back after, where the
 * model keeps a scaling (mlp train --standardize). Returns an exit code. */
static int forward_rows(const mlp_net *net, mlp_plan *plan, size_t k,
			float *X, float *Y)
{
	int rc = report_status(mlp_net_scale_inputs(net, k, X, X),
			       "the model's scaling of the inputs");

	if (rc == EXIT_OK)
		rc = report_status(mlp_plan_forward(plan, k, X, Y),
				   "the forward pass failed");
	if (rc == EXIT_OK)
		rc = report_status(mlp_net_unscale_outputs(net, k, Y),
				   "the outputs cannot be scaled back");
	return rc;
}

/* The rows of IDX images, a batch at a time. */
static int run_images(mlp_net *net, mlp_plan *plan, size_t batch,
		      const char *path, float *Y, bool argmax)
{
	size_t n_in = mlp_net_width(net, 0), n_out = mlp_net_width(net,
						mlp_net_layers(net));
	size_t n = 0;
	float *images = NULL;
	int rc = idx_images_load(path, n_in, &images, &n);

	for (size_t r = 0; rc == EXIT_OK && r < n; r += batch) {
		size_t k = n - r < batch ? n - r : batch;

		rc = forward_rows(net, plan, k, images + r * n_in, Y);
		if (rc == EXIT_OK)
			write_rows(Y, k, n_out, argmax);
	}
	free(images);
	return rc;
}

/* Rows of text, a batch at a time; at a bad row, the rows before it are
 * written, then the message comes. */
static int run_rows(mlp_net *net, mlp_plan *plan, size_t batch,
		    const char *path, bool header, float *X, float *Y, bool argmax)
{
	size_t n_in = mlp_net_width(net, 0), n_out = mlp_net_width(net,
						mlp_net_layers(net));
	size_t rows = 0;
	struct rows in;
	bool more = true;
	int rc = rows_open(&in, path, header);

	while (rc == EXIT_OK && more) {
		more = rows_next(&in, X + rows * n_in, n_in);
		rows += more;
		if (rows == batch || (!more && rows > 0)) {
			rc = forward_rows(net, plan, rows, X, Y);
			if (rc == EXIT_OK)
				write_rows(Y, rows, n_out, argmax);
			rows = 0;
		}
	}
	if (rc == EXIT_OK)
		rc = in.rc;
	rows_close(&in);
	return rc;
}

/* Rank 0's text rows, all of them, into a new array *X of *n rows; at a
 * bad row, the rows before it and the row's exit code. */
static int read_all_rows(const char *path, bool header, size_t n_in, float **X,
			 size_t *n)
{
	size_t cap = 0;
	struct rows in;
	int rc = rows_open(&in, path, header);

	*X = NULL;
	*n = 0;
	while (rc == EXIT_OK) {
		if (*n == cap) {
			size_t more = cap == 0 ? 1024 : 2 * cap;
			float *grown = realloc(*X, more * n_in * sizeof(float));

			if (grown == NULL) {
				rows_close(&in);
				return report_error(EXIT_FAIL, "out of memory for the rows");
			}
			*X = grown;
			cap = more;
		}
		if (!rows_next(&in, *X + *n * n_in, n_in)) {
			rc = in.rc;
			rows_close(&in);
			return rc;
		}
		(*n)++;
	}
	return rc;
}

/* Under mpirun: rank 0 reads every row, each rank runs its share of the
 * batches (whole batches of the size one process uses, so each output has
 * the same bits), and rank 0 writes them in order. */
static int run_ranks(mlp_net *net, mlp_plan *plan, size_t batch,
		     const char *path, bool header, bool argmax)
{
	size_t n_in = mlp_net_width(net, 0), n_out = mlp_net_width(net,
						mlp_net_layers(net));
	int P = rank_count(), r = rank_id(), rc = EXIT_OK, read_rc = EXIT_OK;
	size_t n = 0, batches, *first = calloc((size_t)P + 1, sizeof(size_t));
	float *X = NULL, *Y = NULL;

	rc = ranks_agree(first == NULL ? report_error(EXIT_FAIL, "out of memory")
				       : EXIT_OK);
	if (rc != EXIT_OK) {
		free(first);
		return rc;
	}
	if (r == 0)
		read_rc = path != NULL && strstr(path, "idx3-ubyte") != NULL
				  ? idx_images_load(path, n_in, &X, &n)
				  : read_all_rows(path, header, n_in, &X, &n);
	rc = ranks_share(&X, &n, n_in);
	batches = (n + batch - 1) / batch;
	for (int k = 0; k <= P; k++) {
		size_t row = batches * (size_t)k / (size_t)P * batch;

		first[k] = row < n ? row : n;
	}
	Y = malloc((n > 0 ? n : 1) * n_out * sizeof(float));
	if (rc == EXIT_OK && Y == NULL)
		rc = report_error(EXIT_FAIL, "out of memory for the outputs of "
				  "%zu rows", n);
	rc = ranks_agree(rc);
	for (size_t at = first[r]; rc == EXIT_OK && at < first[r + 1]; at += batch) {
		size_t k = first[r + 1] - at < batch ? first[r + 1] - at : batch;

		rc = forward_rows(net, plan, k, X + at * n_in, Y + at * n_out);
	}
	/* Every rank has its outputs, or none sends them. */
	rc = ranks_agree(rc);
	if (rc == EXIT_OK)
		ranks_gather(Y, first, n_out);
	if (rc == EXIT_OK && r == 0)
		write_rows(Y, n, n_out, argmax);
	free(X);
	free(Y);
	free(first);
	/* Rank 0's bad row, after the rows before it: every rank's exit code
	 * (ranks_finish). */
	return rc != EXIT_OK ? rc : read_rc;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "argmax", no_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'b' },
		{ "precision", required_argument, NULL, 'P' },
		{ "header", no_argument, NULL, 'H' },
		{ "act", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *acts = NULL, *input;
	bool argmax = false, header = false;
	size_t batch = 256, n_in, n_out;
	mlp_precision precision = PRECISION_MODEL;
	uint64_t hash = 0;
	mlp_plan *plan = NULL;
	mlp_status st = MLP_OK;
	char wisdom[4096];
	mlp_net *net;
	float *X, *Y;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': argmax = true; break;
		case 'H': header = true; break;
		case 'a': acts = optarg; break;
		case 'b':
			rc = option_size("batch", optarg, 1, MAX_RUN_BATCH, &batch);
			if (rc != EXIT_OK)
				return rc;
			break;
		case 'P':
			rc = option_precision("precision", optarg, &precision);
			if (rc != EXIT_OK)
				return rc;
			break;
		case 'h': return fputs(help, stdout), EXIT_OK;
		default: return report_usage("run", argv, c);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return report_error(EXIT_USAGE, "run: give MODEL and at most one "
				    "INPUT (mlp run --help)");
	input = argc - optind == 2 ? argv[optind + 1] : NULL;
	rc = load_model(argv[optind], acts, &net);
	if (rc != EXIT_OK)
		return rc;
	n_in = mlp_net_width(net, 0);
	n_out = mlp_net_width(net, mlp_net_layers(net));
	X = malloc(batch * n_in * sizeof(float));
	Y = malloc(batch * n_out * sizeof(float));
	/* What mlp tune measured here, if it did. */
	if (wisdom_path(wisdom, sizeof(wisdom)))
		rc = wisdom_read(wisdom, false);
	if (rc == EXIT_OK)
		rc = model_precision(net, argv[optind], precision, &precision);
	if (rc == EXIT_OK && X != NULL && Y != NULL)
		st = mlp_plan_create(&plan, net, precision, batch);
	if (rc == EXIT_OK && (X == NULL || Y == NULL || st != MLP_OK))
		rc = report_error(EXIT_FAIL, "cannot prepare the network: %s",
				  X == NULL || Y == NULL ? "out of memory"
							 : mlp_strerror(st));
	/* Under mpirun, every rank holds the same model, or none runs. */
	if (rc == EXIT_OK && rank_count() > 1)
		rc = model_hash(net, &hash);
	rc = ranks_agree_same(rc, hash, EXIT_MODEL, "the ranks hold different "
			      "models: give every rank the same MODEL");
	if (rc == EXIT_OK && rank_count() > 1)
		rc = run_ranks(net, plan, batch, input, header, argmax);
	else if (rc == EXIT_OK && input != NULL &&
		 strstr(input, "idx3-ubyte") != NULL)
		rc = run_images(net, plan, batch, input, Y, argmax);
	else if (rc == EXIT_OK)
		rc = run_rows(net, plan, batch, input, header, X, Y, argmax);
	if (rc == EXIT_OK && fflush(stdout) != 0)
		rc = report_error(EXIT_FAIL, "cannot write the outputs");
	mlp_plan_free(plan);
	free(X);
	free(Y);
	mlp_net_free(net);
	return rc;
}
