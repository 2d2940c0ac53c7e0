/*
 * cmd_quantize.c — mlp quantize: an int8 model from a float one, its
 * input scales calibrated on rows of inputs (mlp_net_quantize), with what
 * int8 does to each layer on those rows.
 */
#include "tool.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
	"usage: mlp quantize [--rows N] [--method M] [--percentile P] [--header]\n"
	"                    [--act LIST] MODEL CALIB --out QMODEL\n"
	"\n"
	"Writes QMODEL, the network of MODEL quantised to int8: each layer's\n"
	"weights as int8 with a scale per output (the row's largest |w| / 127),\n"
	"and a scale for each layer's inputs, from the inputs the float network\n"
	"gives it on the first N rows of CALIB. CALIB holds rows of inputs as\n"
	"mlp run reads them: CSV, or an IDX image file (\"...idx3-ubyte[.gz]\").\n"
	"mlp run, eval and serve run QMODEL in int8.\n"
	"\n"
	"  --out QMODEL     the file to write (required)\n"
	"  --rows N         calibration rows, the first N (default 1000)\n"
	"  --method M       percentile (default) or max: the scale of a layer's\n"
	"                   inputs covers that percentile of |x| (larger values\n"
	"                   clip), or the largest |x| (none clips)\n"
	"  --percentile P   above 50, at most 100 (default 99.99)\n"
	"  --header         skip the first line of a CSV file\n"
	"  --act LIST       the activations, for a file that names none\n"
	"\n"
	"Prints, per layer, the input scale, the inputs that clipped and the\n"
	"relative RMS error of the int8 outputs against the float model's on\n"
	"the calibration rows; for a classifier, how many rows keep their class.\n";

/* The first `want` rows of path (CSV or IDX images) into *X, *n. */
static int read_rows(const char *path, size_t n_in, size_t want, bool header,
		     float **X, size_t *n)
{
	struct rows in;
	int rc;

	if (strstr(path, "idx3-ubyte") != NULL) {
		rc = idx_images_load(path, n_in, X, n);
		if (rc == EXIT_OK && *n > want)
			*n = want;
		return rc;
	}
	*X = malloc(want * n_in * sizeof(float));
	if (*X == NULL)
		return report_error(EXIT_FAIL, "out of memory for %zu rows", want);
	rc = rows_open(&in, path, header);
	for (*n = 0; rc == EXIT_OK && *n < want &&
		     rows_next(&in, *X + *n * n_in, n_in); ++*n)
		;
	if (rc == EXIT_OK) {
		rc = in.rc;
		rows_close(&in);
	}
	if (rc == EXIT_OK && *n == 0)
		rc = report_error(EXIT_DATA, "%s: no rows", path);
	return rc;
}

static size_t argmax(const float *v, size_t n)
{
	size_t best = 0;

	for (size_t i = 1; i < n; i++)
		best = v[i] > v[best] ? i : best;
	return best;
}

/* The rows whose largest output is the same in both plans. */
static int same_classes(const mlp_net *net, const mlp_net *q, size_t n,
			const float *X, size_t *same)
{
	size_t n_out = mlp_net_width(net, mlp_net_layers(net));
	float *A = malloc(n * n_out * sizeof(float)), *B = malloc(n * n_out * sizeof(float));
	mlp_plan *pa = NULL, *pb = NULL;
	int rc = A == NULL || B == NULL ? report_error(EXIT_FAIL, "out of memory")
		 : report_status(mlp_plan_create(&pa, net, MLP_FP32, 256), "a plan");

	if (rc == EXIT_OK)
		rc = report_status(mlp_plan_create(&pb, q, MLP_INT8, 256), "an int8 plan");
	if (rc == EXIT_OK)
		rc = report_status(mlp_plan_forward(pa, n, X, A), "the float pass");
	if (rc == EXIT_OK)
		rc = report_status(mlp_plan_forward(pb, n, X, B), "the int8 pass");
	*same = 0;
	for (size_t r = 0; rc == EXIT_OK && r < n; r++)
		*same += argmax(A + r * n_out, n_out) == argmax(B + r * n_out, n_out);
	mlp_plan_free(pa);
	mlp_plan_free(pb);
	free(A);
	free(B);
	return rc;
}

/* What int8 does on the calibration rows, measured before anything is
 * written: per layer the error and its scale, and the rows that keep
 * their class (a classifier; SIZE_MAX otherwise). */
struct measures {
	mlp_quant_error *err;
	float *scale;
	size_t same;
};

static int measure(const mlp_net *net, const mlp_net *q, size_t n,
		   const float *X, struct measures *m)
{
	size_t L = mlp_net_layers(net);
	int rc;

	m->err = malloc(L * sizeof(*m->err));
	m->scale = malloc(L * sizeof(*m->scale));
	m->same = SIZE_MAX;
	rc = m->err == NULL || m->scale == NULL
		     ? report_error(EXIT_FAIL, "out of memory")
		     : report_status(mlp_quant_compare(q, net, n, X, m->err, L),
				     "the int8 error");
	for (size_t l = 0; rc == EXIT_OK && l < L; l++)
		rc = report_status(mlp_net_quant_scales(q, l, &m->scale[l], NULL),
				   "the scales of layer %zu", l);
	if (rc == EXIT_OK && mlp_net_act(net, L - 1) == MLP_SOFTMAX)
		rc = same_classes(net, q, n, X, &m->same);
	return rc;
}

static void print_measures(const char *model, const char *out,
			   const mlp_net *net, size_t n, const struct measures *m)
{
	struct stat a, b;

	printf("layer  shape         input scale  clipped inputs       "
	       "rel. RMS error  max |error|\n");
	for (size_t l = 0; l < mlp_net_layers(net); l++) {
		const mlp_quant_error *e = &m->err[l];
		char shape[48], clip[48], rel[24];

		snprintf(shape, sizeof(shape), "%zu -> %zu", mlp_net_width(net, l),
			 mlp_net_width(net, l + 1));
		snprintf(clip, sizeof(clip), "%llu (%.3f%%)",
			 (unsigned long long)e->clipped,
			 100.0 * (double)e->clipped / (double)e->inputs);
		snprintf(rel, sizeof(rel), "%.4f%%", 100 * e->rel_rms);
		printf("%-6zu %-13s %-12.6g %-20s %-15s %.6g\n", l, shape,
		       (double)m->scale[l], clip, rel, e->max_abs);
	}
	if (m->same != SIZE_MAX)
		printf("classes: int8 equals float on %zu of %zu calibration rows "
		       "(%.2f%%)\n", m->same, n, 100.0 * (double)m->same / (double)n);
	if (stat(model, &a) == 0 && stat(out, &b) == 0)
		printf("%s: %lld bytes, %.3f of %s's %lld\n", out, (long long)b.st_size,
		       (double)b.st_size / (double)a.st_size, model,
		       (long long)a.st_size);
}

int cmd_quantize(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "rows", required_argument, NULL, 'r' },
		{ "method", required_argument, NULL, 'm' },
		{ "percentile", required_argument, NULL, 'p' },
		{ "header", no_argument, NULL, 'H' },
		{ "act", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	mlp_quantize_opts qo = mlp_quantize_defaults();
	const char *out = NULL, *acts = NULL;
	size_t rows = 1000, n = 0;
	bool header = false;
	mlp_net *net = NULL, *q = NULL;
	struct measures m = { NULL, NULL, 0 };
	float *X = NULL, pct;
	mlp_msg msg;
	int c, rc = EXIT_OK;

	optind = 1;
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'r': rc = option_size("rows", optarg, 1, 1u << 24, &rows); break;
		case 'm':
			if (strcmp(optarg, "max") == 0)
				qo.method = MLP_CALIBRATE_MAX;
			else if (strcmp(optarg, "percentile") == 0)
				qo.method = MLP_CALIBRATE_PERCENTILE;
			else
				rc = report_error(EXIT_USAGE, "--method '%s': want "
						  "percentile or max", optarg);
			break;
		case 'p':
			rc = option_float("percentile", optarg, &pct);
			if (rc == EXIT_OK && !(pct > 50 && pct <= 100))
				rc = report_error(EXIT_USAGE, "--percentile %s: above "
						  "50, at most 100", optarg);
			qo.percentile = pct;
			break;
		case 'H': header = true; break;
		case 'a': acts = optarg; break;
		case 'h': return fputs(help, stdout), EXIT_OK;
		default: return report_usage("quantize", argv, c);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (argc - optind != 2 || out == NULL)
		return report_error(EXIT_USAGE, "quantize: give MODEL, CALIB and "
				    "--out QMODEL (mlp quantize --help)");
	rc = load_model(argv[optind], acts, &net);
	if (rc == EXIT_OK)
		rc = output_check(out, 0);
	if (rc == EXIT_OK)
		rc = read_rows(argv[optind + 1], mlp_net_width(net, 0), rows, header,
			       &X, &n);
	/* Calibrated on the rows the network sees: standardised, if the
	 * model standardises. */
	if (rc == EXIT_OK)
		rc = report_status(mlp_net_scale_inputs(net, n, X, X),
				   "%s: the model's scaling of the inputs",
				   argv[optind + 1]);
	if (rc == EXIT_OK)
		rc = report_status(mlp_net_quantize(&q, net, n, X, &qo, &msg),
				   "cannot quantise: %s", msg.text);
	if (rc == EXIT_OK)
		rc = measure(net, q, n, X, &m);
	if (rc == EXIT_OK && mlp_net_save(q, out, &msg) != MLP_OK)
		rc = report_error(EXIT_FAIL, "%s", msg.text);
	if (rc == EXIT_OK) {
		if (qo.method == MLP_CALIBRATE_MAX)
			printf("%s: calibrated on %zu rows of %s, by the largest "
			       "|x|\n", out, n, argv[optind + 1]);
		else
			printf("%s: calibrated on %zu rows of %s, by the %g "
			       "percentile of |x|\n", out, n, argv[optind + 1],
			       qo.percentile);
		print_measures(argv[optind], out, net, n, &m);
	}
	if (rc == EXIT_OK && fflush(stdout) != 0)
		rc = report_error(EXIT_FAIL, "cannot write to standard output");
	free(m.err);
	free(m.scale);
	free(X);
	mlp_net_free(q);
	mlp_net_free(net);
	return rc;
}
