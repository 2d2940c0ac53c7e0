/* cmd_eval.c — mlp eval: how well a model does on labelled data. */
#include "tool.h"

#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: mlp eval [--act LIST] [--labels FILE] [--header] [--plot PNG]\n"
	"                [--precision P] MODEL DATA\n"
	"\n"
	"Runs the rows of DATA through the network in MODEL and reports how it\n"
	"does. A softmax output is a classifier: DATA holds the inputs and the\n"
	"class label (or is an IDX image file with its labels), and eval prints\n"
	"the cross-entropy, the accuracy and the confusion matrix. Any other\n"
	"output is a regression: DATA holds the inputs and the targets, and eval\n"
	"prints the mean squared error, the mean absolute error and R^2.\n"
	"\n"
	"  --act LIST     the activations, for a file that names none\n"
	"  --labels FILE  IDX labels, when not beside the images\n"
	"  --header       skip the first line of a CSV file\n"
	"  --plot PNG     draw the confusion matrix as a heat map (gnuplot)\n"
	"  --precision P  fp32, bf16 or int8; default: int8 for a quantised\n"
	"                 model (from mlp quantize), else fp32\n"
	"\n"
	"A quantised model is run in int8, and eval prints, before the\n"
	"metrics, each layer's int8 error against the model's own float\n"
	"weights on DATA: relative RMS, and inputs clipped.\n";

/* The outputs of the network for all the (standardised) rows, in the
 * targets' units, through a plan as mlp run makes it (with what mlp
 * tune measured here, if it did). */
static int outputs(const mlp_net *net, const struct dataset *d,
		   mlp_precision precision, float **Y)
{
	size_t n_out = d->n_out, batch = d->n < 256 ? d->n : 256;
	mlp_plan *plan = NULL;
	char wisdom[4096];
	int rc = EXIT_OK;

	*Y = malloc(d->n * n_out * sizeof(float));
	if (*Y == NULL)
		return report_error(EXIT_FAIL, "out of memory for the outputs of "
				    "%zu rows", d->n);
	if (wisdom_path(wisdom, sizeof(wisdom)))
		rc = wisdom_read(wisdom, false);
	if (rc == EXIT_OK)
		rc = report_status(mlp_plan_create(&plan, net, precision, batch),
				   "cannot prepare the network for %zu rows",
				   batch);
	if (rc == EXIT_OK)
		rc = report_status(mlp_plan_forward(plan, d->n, d->X, *Y),
				   "the forward pass failed");
	if (rc == EXIT_OK)
		rc = report_status(mlp_net_unscale_outputs(net, d->n, *Y),
				   "the outputs cannot be scaled back");
	mlp_plan_free(plan);
	if (rc != EXIT_OK) {
		free(*Y);
		*Y = NULL;
	}
	return rc;
}

/* A quantised model's int8 error per layer on the rows, against its own
 * float weights (the rounding of the inputs), as mlp quantize prints it
 * against the float model. */
static int int8_errors(const mlp_net *net, const struct dataset *d)
{
	size_t L = mlp_net_layers(net);
	mlp_quant_error *err = malloc(L * sizeof(*err));
	int rc = err == NULL ? report_error(EXIT_FAIL, "out of memory")
		 : report_status(mlp_quant_compare(net, NULL, d->n, d->X, err, L),
				 "the int8 error");

	for (size_t l = 0; rc == EXIT_OK && l < L; l++)
		printf("int8 layer %zu: rel. RMS error %.4f%%, clipped %llu of "
		       "%llu inputs\n", l, 100 * err[l].rel_rms,
		       (unsigned long long)err[l].clipped,
		       (unsigned long long)err[l].inputs);
	free(err);
	return rc;
}

static size_t argmax(const float *v, size_t n)
{
	size_t best = 0;

	for (size_t j = 1; j < n; j++)
		if (v[j] > v[best])
			best = j;
	return best;
}

/* The heat map of the confusion matrix, counts in the cells. */
static int plot_confusion(const size_t *m, size_t k, const char *png)
{
	struct plot p;
	int rc = plot_begin(&p);

	if (rc != EXIT_OK)
		return rc;
	fputs("$M << EOD\n", p.f);
	for (size_t i = 0; i < k; i++) {
		for (size_t j = 0; j < k; j++)
			fprintf(p.f, "%zu ", m[i * k + j]);
		fputc('\n', p.f);
	}
	fprintf(p.f, "EOD\nset terminal pngcairo size %d,%d\n"
		"set title 'confusion matrix'\nset xlabel 'predicted'\n"
		"set ylabel 'true class'\nset xrange [-0.5:%d.5]\n"
		"set yrange [%d.5:-0.5]\nset xtics 1\nset ytics 1\n"
		"set palette defined (0 'white', 1 '#3060a0')\nunset key\n"
		"plot $M matrix with image, $M matrix using 1:2:(sprintf('%%d', $3)) "
		"with labels\n", 300 + 40 * (int)k, 260 + 40 * (int)k,
		(int)k - 1, (int)k - 1);
	return plot_draw(&p, png);
}

/* The loss and accuracy of the plan's outputs Y (in the plan's
 * precision, as the confusion matrix): the cross-entropy of each row's
 * probabilities, an output of 0 taken as the smallest float above it. */
static int classification(const struct dataset *d, const float *Y, size_t *m)
{
	double loss = 0;
	size_t k = d->n_out, right = 0;

	for (size_t i = 0; i < d->n; i++) {
		size_t t = argmax(d->Y + i * k, k), y = argmax(Y + i * k, k);

		m[t * k + y]++;
		right += t == y;
		for (size_t j = 0; j < k; j++)
			if (d->Y[i * k + j] != 0)
				loss -= d->Y[i * k + j] *
					log(fmax(Y[i * k + j], FLT_TRUE_MIN));
	}
	loss /= (double)d->n;
	printf("rows      %zu\ncross-entropy %.6f\naccuracy  %.6f\n", d->n, loss,
	       (double)right / (double)d->n);
	printf("confusion matrix (rows: true class, columns: predicted)\n     ");
	for (size_t j = 0; j < k; j++)
		printf(" %6zu", j);
	putchar('\n');
	for (size_t i = 0; i < k; i++) {
		printf("%5zu", i);
		for (size_t j = 0; j < k; j++)
			printf(" %6zu", m[i * k + j]);
		putchar('\n');
	}
	return EXIT_OK;
}

/* MSE, MAE and R^2 (1 - residual / total sum of squares, over every
 * output, each about its own mean), in double. */
static void regression(const struct dataset *d, const float *Y)
{
	size_t k = d->n_out, n = d->n;
	double se = 0, ae = 0, tot = 0;

	for (size_t j = 0; j < k; j++) {
		double mean = 0;

		for (size_t i = 0; i < n; i++)
			mean += d->Y[i * k + j];
		mean /= (double)n;
		for (size_t i = 0; i < n; i++) {
			double t = d->Y[i * k + j], e = Y[i * k + j] - t;

			se += e * e;
			ae += fabs(e);
			tot += (t - mean) * (t - mean);
		}
	}
	printf("rows      %zu\nmse       %.6g\nmae       %.6g\n", n,
	       se / (double)(n * k), ae / (double)(n * k));
	if (tot > 0)
		printf("r2        %.6f\n", 1.0 - se / tot);
	else
		printf("r2        undefined (the targets are constant)\n");
}

int cmd_eval(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "act", required_argument, NULL, 'a' },
		{ "labels", required_argument, NULL, 'l' },
		{ "header", no_argument, NULL, 'H' },
		{ "plot", required_argument, NULL, 'p' },
		{ "precision", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *acts = NULL, *labels = NULL, *png = NULL;
	struct dataset d = { 0 };
	bool header = false, classes;
	mlp_net *net = NULL;
	float *Y = NULL;
	size_t *m = NULL;
	mlp_precision precision = PRECISION_MODEL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': acts = optarg; break;
		case 'l': labels = optarg; break;
		case 'H': header = true; break;
		case 'p': png = optarg; break;
		case 'P':
			rc = option_precision("precision", optarg, &precision);
			if (rc != EXIT_OK)
				return rc;
			break;
		case 'h': return fputs(help, stdout), EXIT_OK;
		default: return report_usage("eval", argv, c);
		}
	}
	if (argc - optind != 2)
		return report_error(EXIT_USAGE, "eval: give MODEL and DATA (mlp "
				    "eval --help)");
	rc = load_model(argv[optind], acts, &net);
	if (rc != EXIT_OK)
		return rc;
	classes = mlp_net_act(net, mlp_net_layers(net) - 1) == MLP_SOFTMAX;
	rc = model_precision(net, argv[optind], precision, &precision);
	if (rc == EXIT_OK && png != NULL && !classes)
		rc = report_error(EXIT_USAGE, "--plot draws a confusion matrix: "
				  "the model is not a classifier (softmax output)");
	/* Where the picture cannot go, say so before the work. */
	if (rc == EXIT_OK && png != NULL)
		rc = output_check(png, 0);
	if (rc == EXIT_OK)
		rc = dataset_load(&d, argv[optind + 1], labels, mlp_net_width(net, 0),
				  mlp_net_width(net, mlp_net_layers(net)),
				  classes ? TARGETS_LABELS : TARGETS_VALUES, header);
	/* A model trained with --standardize takes raw rows. */
	if (rc == EXIT_OK)
		rc = report_status(mlp_net_scale_inputs(net, d.n, d.X, d.X),
				   "%s: the model's scaling of the inputs",
				   argv[optind + 1]);
	if (rc == EXIT_OK && precision == MLP_INT8)
		rc = int8_errors(net, &d);
	if (rc == EXIT_OK)
		rc = outputs(net, &d, precision, &Y);
	if (rc == EXIT_OK && classes) {
		m = calloc(d.n_out * d.n_out, sizeof(size_t));
		if (m == NULL)
			rc = report_error(EXIT_FAIL, "out of memory");
	}
	if (rc == EXIT_OK && classes)
		rc = classification(&d, Y, m);
	else if (rc == EXIT_OK)
		regression(&d, Y);
	if (rc == EXIT_OK && fflush(stdout) != 0)
		rc = report_error(EXIT_FAIL, "cannot write to standard output");
	if (rc == EXIT_OK && png != NULL)
		rc = plot_confusion(m, d.n_out, png);
	free(m);
	free(Y);
	dataset_free(&d);
	mlp_net_free(net);
	return rc;
}
