/*
 * bench.c — mlp-bench: mlp against naive loops, the raw BLAS floor, FANN and
 * PyTorch, on the same networks, weights and inputs.
 *
 * For every network and batch size: check that every implementation agrees
 * with mlp (and mlp with a double-precision reference), then time them,
 * alternating the implementations within each round so that a shared
 * machine's drift affects them alike, and report medians and spreads.
 * Run with --help for the options.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"
#include "clock.h"
#include "data.h"
#include "impls.h"
#include "env.h"
#include "peak.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(MLP_BLAS_OPENBLAS)
#include <cblas.h>
#endif

#ifndef MLP_BENCH_TORCH_SCRIPT
#define MLP_BENCH_TORCH_SCRIPT "bench/torch_bench.py"
#endif

/* ---- the cases ------------------------------------------------------------ */

/* Hidden layers are ReLU and outputs identity (logits): the activations all
 * implementations share (FANN 2.2 has no softmax). */
#define RELU MLP_RELU
#define LIN MLP_IDENTITY
static const struct net_case cases[] = {
	{ "1-1", 1, { 1, 1 }, { LIN }, true },
	{ "1-3-1", 2, { 1, 3, 1 }, { RELU, LIN }, true },
	{ "2-3-1", 2, { 2, 3, 1 }, { RELU, LIN }, true },
	{ "2-3-3-3-1", 4, { 2, 3, 3, 3, 1 }, { RELU, RELU, RELU, LIN }, true },
	{ "784-256-256-10", 3, { 784, 256, 256, 10 }, { RELU, RELU, LIN }, false },
	{ "784-1024-1024-10", 3, { 784, 1024, 1024, 10 }, { RELU, RELU, LIN }, false },
	{ "64x8", 8, { 64, 64, 64, 64, 64, 64, 64, 64, 64 },
	  { RELU, RELU, RELU, RELU, RELU, RELU, RELU, LIN }, true },
	/* Small networks as embedded programs run them. */
	{ "2-8-8-1", 3, { 2, 8, 8, 1 }, { RELU, RELU, LIN }, false },
	{ "16-32-32-4", 3, { 16, 32, 32, 4 }, { RELU, RELU, LIN }, false },
	{ "64-64-64-64-10", 4, { 64, 64, 64, 64, 10 }, { RELU, RELU, RELU, LIN },
	  false },
};
#undef RELU
#undef LIN
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

enum { MAX_CASES = 16 };

static const size_t default_batches[] = { 1, 8, 64, 256, 1024 };

static const char *const impl_names[N_IMPL] = {
	"mlp", "blas-floor", "naive", "fann",
	"plan-fp32", "plan-bf16", "onednn-fp32", "onednn-bf16",
	"plan-measure", "plan-invariant", "plan-int8",
	"mlp-bf16",
	"pytorch", "pytorch-bf16",
};

/* ---- options ------------------------------------------------------------- */

/* The inputs of every cell are uniform in [input_lo, 1): -1, or 0 with
 * --nonneg (as pixels are). */
static double input_lo = -1;

struct options {
	bool full, smoke, strict, no_fann, no_torch, no_train, keep_coretype;
	int threads;
	struct round_plan plan;
	const char *csv, *json, *python, *torch_script;
	bool case_on[MAX_CASES];
	size_t batches[16], n_batches;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mlp-bench [options]\n"
		"  --full            more repeats and longer runs (default: a quick run)\n"
		"  --smoke           tiny cases, batches 1 and 8, 3 repeats (CI)\n"
		"  --strict          fail when FANN or PyTorch is missing, not only on disagreement\n"
		"  --cases A,B,...   networks to run (default: all); --list shows them\n"
		"  --batches N,...   batch sizes (default: 1,8,64,256,1024)\n"
		"  --threads N       BLAS threads for mlp, the floor and PyTorch (default: all cores)\n"
		"  --repeats N       timed rounds per case (default: 9, --full 31)\n"
		"  --csv FILE        write every measurement as CSV\n"
		"  --json FILE       write every measurement and the machine as JSON\n"
		"  --no-fann, --no-torch   leave an implementation out\n"
		"  --no-train        leave out the training bench\n"
		"  --python PATH     the Python with torch (default: /usr/bin/python3)\n"
		"  --torch-script F  the PyTorch side (default: %s)\n"
		"  --keep-coretype   OpenBLAS's own kernels, not mlp's correction (docs/performance.md)\n"
		"  --nonneg          inputs in [0, 1), as pixels (default: [-1, 1))\n",
		MLP_BENCH_TORCH_SCRIPT);
}

static bool parse_list(const char *s, size_t *out, size_t max, size_t *n)
{
	char *end;

	*n = 0;
	while (*s) {
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v == 0 || *n == max)
			return false;
		out[(*n)++] = v;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			return false;
	}
	return *n > 0;
}

static bool select_cases(struct options *o, const char *list)
{
	char *copy = strdup(list), *save = NULL;

	memset(o->case_on, 0, sizeof(o->case_on));
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t c;
		for (c = 0; c < N_CASES && strcmp(cases[c].name, t) != 0; c++)
			;
		if (c == N_CASES) {
			fprintf(stderr, "mlp-bench: no case %s (--list shows them)\n", t);
			free(copy);
			return false;
		}
		o->case_on[c] = true;
	}
	free(copy);
	return true;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);

	memset(o, 0, sizeof(*o));
	o->threads = nproc > 0 ? (int)nproc : 1;
	o->python = "/usr/bin/python3";
	o->torch_script = MLP_BENCH_TORCH_SCRIPT;
	for (size_t c = 0; c < N_CASES; c++)
		o->case_on[c] = true;
	memcpy(o->batches, default_batches, sizeof(default_batches));
	o->n_batches = sizeof(default_batches) / sizeof(default_batches[0]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--full")) {
			o->full = true;
		} else if (!strcmp(a, "--smoke")) {
			o->smoke = true;
		} else if (!strcmp(a, "--strict")) {
			o->strict = true;
		} else if (!strcmp(a, "--no-fann")) {
			o->no_fann = true;
		} else if (!strcmp(a, "--no-torch")) {
			o->no_torch = true;
		} else if (!strcmp(a, "--no-train")) {
			o->no_train = true;
		} else if (!strcmp(a, "--keep-coretype")) {
			o->keep_coretype = true;
		} else if (!strcmp(a, "--nonneg")) {
			input_lo = 0;
		} else if (!strcmp(a, "--list")) {
			for (size_t c = 0; c < N_CASES; c++)
				printf("%s\n", cases[c].name);
			exit(0);
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (v == NULL) {
			fprintf(stderr, "mlp-bench: %s: unknown option or missing value\n", a);
			return 2;
		} else if (!strcmp(a, "--cases")) {
			if (!select_cases(o, v))
				return 2;
			i++;
		} else if (!strcmp(a, "--batches")) {
			if (!parse_list(v, o->batches, 16, &o->n_batches)) {
				fprintf(stderr, "mlp-bench: bad --batches %s\n", v);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--threads") || !strcmp(a, "--repeats")) {
			size_t n;
			if (!parse_list(v, &n, 1, &(size_t){ 0 }) || n > 4096) {
				fprintf(stderr, "mlp-bench: %s wants a number from 1 "
					"to 4096, not '%s'\n", a, v);
				return 2;
			}
			*(a[2] == 't' ? &o->threads : &o->plan.repeats) = (int)n;
			i++;
		} else if (!strcmp(a, "--csv")) {
			o->csv = argv[++i];
		} else if (!strcmp(a, "--json")) {
			o->json = argv[++i];
		} else if (!strcmp(a, "--python")) {
			o->python = argv[++i];
		} else if (!strcmp(a, "--torch-script")) {
			o->torch_script = argv[++i];
		} else {
			fprintf(stderr, "mlp-bench: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (o->smoke) {
		static const size_t smoke_batches[] = { 1, 8 };
		for (size_t c = 0; c < N_CASES; c++)
			o->case_on[c] = o->case_on[c] && cases[c].smoke;
		memcpy(o->batches, smoke_batches, sizeof(smoke_batches));
		o->n_batches = 2;
	}
	if (o->plan.repeats == 0)
		o->plan.repeats = o->smoke ? 3 : o->full ? 31 : 9;
	o->plan.target_s = o->full ? 0.02 : o->smoke ? 0.001 : 0.004;
	o->plan.budget_s = o->full ? 4.0 : o->smoke ? 0.05 : 0.25;
	o->plan.single_ok = !o->full;
	return 0;
}

/* ---- the machine ---------------------------------------------------------- */

struct machine {
	char cpu[128];
	long nproc;
	char blas[256];
	char coretype_note[160];
	char torch[128];
	bool fann;
	struct peak peak; /* the FMA peak on the bench's threads */
};

static void read_cpu_model(char *out, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, n, "unknown CPU");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) == 0) {
			char *v = strchr(line, ':');
			if (v) {
				v += 1 + strspn(v + 1, " \t");
				v[strcspn(v, "\n")] = '\0';
				snprintf(out, n, "%s", v);
			}
			break;
		}
	}
	fclose(f);
}

/* The OpenBLAS kernels that libmlp chose over OpenBLAS's own choice in this
 * process, for PyTorch's process, which does not load libmlp, to run the
 * same; NULL when libmlp chose none. */
static const char *kernels_for_children(void)
{
#if defined(MLP_BLAS_OPENBLAS)
	if (strstr(mlp_blas_info(), "chosen by mlp") != NULL)
		return openblas_get_corename();
#endif
	return NULL;
}

static void describe_machine(struct machine *m)
{
	read_cpu_model(m->cpu, sizeof(m->cpu));
	m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
#if defined(MLP_BLAS_OPENBLAS)
	snprintf(m->blas, sizeof(m->blas), "%s, core %s", openblas_get_config(),
		 openblas_get_corename());
	if (strstr(mlp_blas_info(), "chosen by mlp") != NULL)
		snprintf(m->coretype_note, sizeof(m->coretype_note),
			 "kernels corrected by libmlp for every implementation "
			 "(this OpenBLAS picked a generic core for this CPU)");
#else
	snprintf(m->blas, sizeof(m->blas), "%s", mlp_blas_name());
#endif
	m->fann = fann_available();
}

/* ---- one cell: a network at a batch size --------------------------------- */

/* Everything the implementations need for one cell. */
struct setup {
	const struct net_case *c;
	size_t batch, n_in, n_out, widest;
	mlp_net *net;
	mlp_workspace *ws;
	struct bench_net plain;
	const float *W[MAX_LAYERS], *b[MAX_LAYERS];
	float *X, *Y[N_IMPL], *tmp[2];
	struct fann_net *fann;
	struct torch_proc *torch; /* NULL: not in this run */
	bool torch16;             /* PyTorch's bf16 autocast works */
	mlp_plan *plan32, *plan16, *planm, *plani, *plan8;
	mlp_net *qnet; /* net quantised, for the int8 plan */
	struct dnnl_floor *dnnl32, *dnnl16;
};

static void run_impl(struct setup *s, enum impl k)
{
	char reply[256];

	switch (k) {
	case MLP:
		mlp_forward(s->net, s->ws, s->batch, s->X, s->Y[MLP]);
		break;
	case FLOOR:
		floor_forward(&s->plain, s->batch, s->X, s->Y[FLOOR], s->tmp);
		break;
	case NAIVE:
		naive_forward(&s->plain, s->batch, s->X, s->Y[NAIVE], s->tmp);
		break;
	case FANN:
		fann_net_forward(s->fann, s->batch, s->X, s->Y[FANN]);
		break;
	case TORCH:
		torch_cmd(s->torch, reply, sizeof(reply), "time 1");
		break;
	case PLAN32:
		mlp_plan_forward(s->plan32, s->batch, s->X, s->Y[PLAN32]);
		break;
	case PLAN16:
		mlp_plan_forward(s->plan16, s->batch, s->X, s->Y[PLAN16]);
		break;
	case PLANM:
		mlp_plan_forward(s->planm, s->batch, s->X, s->Y[PLANM]);
		break;
	case PLANI:
		mlp_plan_forward(s->plani, s->batch, s->X, s->Y[PLANI]);
		break;
	case PLAN8:
		mlp_plan_forward(s->plan8, s->batch, s->X, s->Y[PLAN8]);
		break;
	case DNNL32:
		dnnl_floor_forward(s->dnnl32, s->Y[DNNL32]);
		break;
	case DNNL16:
		dnnl_floor_forward(s->dnnl16, s->Y[DNNL16]);
		break;
	case MLP16:
		break;
	case TORCH16:
		torch_cmd(s->torch, reply, sizeof(reply), "time_bf16 1");
		break;
	case N_IMPL:
		break;
	}
}

/* Seconds for `inner` passes of implementation k (a timed_fn). PyTorch
 * times itself, in its own process. */
static double time_impl(void *ctx, int k, int inner)
{
	struct setup *s = ctx;
	double t0;

	if (k == TORCH || k == TORCH16) {
		char reply[256];
		if (!torch_cmd(s->torch, reply, sizeof(reply), "%s %d",
			       k == TORCH ? "time" : "time_bf16", inner))
			return NAN;
		return atof(reply);
	}
	t0 = clock_seconds();
	for (int i = 0; i < inner; i++)
		run_impl(s, (enum impl)k);
	return clock_seconds() - t0;
}

/* Outputs of net(X) for the first `rows` rows in double precision. */
static void reference(const struct setup *s, size_t rows, double *out)
{
	double *a = malloc(s->widest * sizeof(double)), *z = malloc(s->widest * sizeof(double));

	for (size_t r = 0; r < rows; r++) {
		for (size_t j = 0; j < s->n_in; j++)
			a[j] = s->X[r * s->n_in + j];
		for (size_t l = 0; l < s->c->n_layers; l++) {
			size_t n_in = s->c->sizes[l], n_out = s->c->sizes[l + 1];
			for (size_t i = 0; i < n_out; i++) {
				double sum = s->b[l][i];
				for (size_t j = 0; j < n_in; j++)
					sum += (double)s->W[l][i * n_in + j] * a[j];
				z[i] = s->c->acts[l] == MLP_RELU && sum < 0 ? 0 : sum;
			}
			memcpy(a, z, n_out * sizeof(double));
		}
		memcpy(out + r * s->n_out, a, s->n_out * sizeof(double));
	}
	free(a);
	free(z);
}

/* The agreement rule: |y − y_mlp| ≤ 1e-4·(|y_mlp| + rms(Y_mlp)) + 1e-6.
 * Float sums of up to 1024 terms in different orders differ by well under
 * 1e-5 of the output scale; a wrong weight, bias or activation changes
 * outputs by the order of the scale itself. */
#define AGREE_REL 1e-4
#define AGREE_ABS 1e-6

static bool agrees(size_t n, const float *y, const double *want, double rms,
		   char *why, size_t why_size)
{
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)y[i] - want[i]);
		if (!(d <= AGREE_REL * (fabs(want[i]) + rms) + AGREE_ABS)) {
			snprintf(why, why_size, "output %zu: %.7g, mlp %.7g", i,
				 (double)y[i], want[i]);
			return false;
		}
	}
	return true;
}

/* The network (He/Glorot weights, small random biases), its plain arrays
 * for the other implementations, and the inputs. */
static bool setup_net(struct setup *s, const struct net_case *c, size_t batch)
{
	struct bench_rng g = { 12345u + batch };

	memset(s, 0, sizeof(*s));
	s->c = c;
	s->batch = batch;
	s->n_in = c->sizes[0];
	s->n_out = c->sizes[c->n_layers];
	for (size_t l = 0; l <= c->n_layers; l++)
		s->widest = c->sizes[l] > s->widest ? c->sizes[l] : s->widest;
	if (mlp_net_create(&s->net, c->n_layers, c->sizes, c->acts) != MLP_OK ||
	    mlp_net_init(s->net, 2026) != MLP_OK ||
	    mlp_workspace_create(&s->ws, s->net, batch) != MLP_OK)
		return false;
	for (size_t l = 0; l < c->n_layers; l++) {
		bench_fill(&g, mlp_net_bias(s->net, l), c->sizes[l + 1], -0.1, 0.1);
		s->W[l] = mlp_net_weights(s->net, l);
		s->b[l] = mlp_net_bias(s->net, l);
	}
	s->plain = (struct bench_net){ c->n_layers, c->sizes, c->acts, s->W, s->b };
	s->X = malloc(batch * s->n_in * sizeof(float));
	s->tmp[0] = malloc(batch * s->widest * sizeof(float));
	s->tmp[1] = malloc(batch * s->widest * sizeof(float));
	for (int k = 0; k < N_IMPL; k++)
		s->Y[k] = calloc(batch * s->n_out, sizeof(float));
	if (!s->X || !s->tmp[0] || !s->tmp[1])
		return false;
	bench_fill(&g, s->X, batch * s->n_in, input_lo, 1);
	return true;
}

/* "a,b,c" of a case's activations and widths, for PyTorch's side. */
static void case_lists(const struct net_case *c, char *acts, char *sizes,
		       size_t size)
{
	size_t a = 0, w = 0;

	for (size_t l = 0; l < c->n_layers; l++)
		a += (size_t)snprintf(acts + a, size - a, "%s%s", l ? "," : "",
				      mlp_act_name(c->acts[l]));
	for (size_t l = 0; l <= c->n_layers; l++)
		w += (size_t)snprintf(sizes + w, size - w, "%s%zu", l ? "," : "",
				      c->sizes[l]);
}

/* n floats from a file; false if it holds fewer. */
static bool read_floats(const char *path, float *v, size_t n)
{
	FILE *f = fopen(path, "rb");
	bool ok = f != NULL && fread(v, sizeof(float), n, f) == n;

	if (f != NULL)
		fclose(f);
	return ok;
}

/* PyTorch's side of a cell: the network and the inputs, then its outputs.
 * A failure here is PyTorch's failure on the case, not an absence. */
static void setup_torch(struct setup *s, struct torch_proc *torch,
			const char *tmpdir, struct stats *st)
{
	char params[512], input[512], output[512], acts[256], sizes[256];
	char reply[256] = "cannot write its files", reply16[256];
	size_t n = s->batch * s->n_out;
	bool ok;

	snprintf(params, sizeof(params), "%s/params", tmpdir);
	snprintf(input, sizeof(input), "%s/input", tmpdir);
	snprintf(output, sizeof(output), "%s/output", tmpdir);
	case_lists(s->c, acts, sizes, sizeof(acts));
	ok = torch_write_params(params, s->net) &&
	     torch_write_floats(input, s->X, s->batch * s->n_in) &&
	     torch_cmd(torch, reply, sizeof(reply), "net %s %s %s", params, acts,
		       sizes) &&
	     torch_cmd(torch, reply, sizeof(reply), "input %s %zu", input,
		       s->batch) &&
	     torch_cmd(torch, reply, sizeof(reply), "run %s", output);
	ok = ok && read_floats(output, s->Y[TORCH], n);
	/* bf16 autocast: where PyTorch runs it (its absence is no failure). */
	s->torch16 = ok && s->plan16 != NULL &&
		     torch_cmd(torch, reply16, sizeof(reply16), "run_bf16 %s",
			       output) &&
		     read_floats(output, s->Y[TORCH16], n);
	remove(params);
	remove(input);
	remove(output);
	s->torch = ok ? torch : NULL;
	if (!ok) {
		st->present = true;
		st->agree = false;
		snprintf(st->why, sizeof(st->why), "%.150s", reply);
	}
}

/* The cell's network quantised into s->qnet, calibrated on 256 other rows
 * drawn as the cell's inputs are. */
static mlp_status quantize(struct setup *s)
{
	struct bench_rng g = { 777 };
	float *calib = malloc(256 * s->n_in * sizeof(float));
	mlp_status st = MLP_ENOMEM;

	if (calib != NULL) {
		bench_fill(&g, calib, 256 * s->n_in, input_lo, 1);
		st = mlp_net_quantize(&s->qnet, s->net, 256, calib, NULL, NULL);
	}
	free(calib);
	return st;
}

/* Why implementation k is absent from the cell, unless it has run there
 * and its verdict (a failure's reason) is kept: the cell is set up again
 * for PyTorch's phase. */
static void absent_why(struct cell *cell, enum impl k, const char *why)
{
	if (!cell->s[k].present)
		snprintf(cell->s[k].why, sizeof(cell->s[k].why), "%s", why);
}

/* mlp's plans of the cell's network, and the oneDNN chains beneath them;
 * each absent, with the reason, where this build or CPU has none. */
static void setup_plans(struct setup *s, struct cell *cell)
{
	static const char no_bf16[] = "no native bf16 here (oneDNN with AVX512_BF16 or AMX)";

	if (mlp_plan_create(&s->plan32, s->net, MLP_FP32, s->batch) != MLP_OK)
		s->plan32 = NULL;
	if (mlp_plan_create(&s->plan16, s->net, MLP_BF16, s->batch) != MLP_OK)
		s->plan16 = NULL;
	/* The planner measuring (its wisdom grows from cell to cell, as a
	 * program's would), and the batch-invariant plan. */
	{
		mlp_plan_opts o = mlp_plan_defaults();

		o.max_batch = s->batch;
		o.effort = MLP_MEASURE;
		if (mlp_plan_create_opts(&s->planm, s->net, &o, NULL) != MLP_OK)
			s->planm = NULL;
		o.effort = MLP_ESTIMATE;
		o.flags = MLP_PLAN_BATCH_INVARIANT;
		if (mlp_plan_create_opts(&s->plani, s->net, &o, NULL) != MLP_OK)
			s->plani = NULL;
		/* int8: the network quantised, its plan measured. */
		o.flags = 0;
		o.effort = MLP_MEASURE;
		o.precision = MLP_INT8;
		s->plan8 = NULL;
		if (quantize(s) == MLP_OK &&
		    mlp_plan_create_opts(&s->plan8, s->qnet, &o, NULL) != MLP_OK)
			s->plan8 = NULL;
	}
	{
		mlp_plan *plans[4] = { s->plan32, s->planm, s->plani, s->plan8 };

		for (int p = 0; p < 4; p++) {
			size_t used = 0;

			cell->kernels[p][0] = '\0';
			for (size_t l = 0; plans[p] != NULL && l < s->plain.n_layers; l++) {
				int n = snprintf(cell->kernels[p] + used,
						 sizeof(cell->kernels[p]) - used, "%s%s",
						 l ? "," : "",
						 mlp_plan_kernel(plans[p], s->batch, l));

				used += n > 0 ? (size_t)n : 0;
				if (used >= sizeof(cell->kernels[p]))
					break;
			}
		}
	}
	s->dnnl32 = dnnl_floor_create(&s->plain, s->batch, false, s->X);
	s->dnnl16 = dnnl_floor_available(true)
			    ? dnnl_floor_create(&s->plain, s->batch, true, s->X)
			    : NULL;
	absent_why(cell, PLAN32, "out of memory");
	absent_why(cell, PLANM, "out of memory");
	absent_why(cell, PLANI, "out of memory");
	absent_why(cell, PLAN8, "out of memory");
	absent_why(cell, PLAN16, no_bf16);
	absent_why(cell, DNNL32, "oneDNN not built in");
	absent_why(cell, DNNL16, no_bf16);
	absent_why(cell, TORCH16, "PyTorch or native bf16 missing");
}

static void free_setup(struct setup *s)
{
	mlp_plan_free(s->plan32);
	mlp_plan_free(s->plan16);
	mlp_plan_free(s->planm);
	mlp_plan_free(s->plani);
	mlp_plan_free(s->plan8);
	mlp_net_free(s->qnet);
	dnnl_floor_free(s->dnnl32);
	dnnl_floor_free(s->dnnl16);
	mlp_workspace_free(s->ws);
	mlp_net_free(s->net);
	free(s->X);
	free(s->tmp[0]);
	free(s->tmp[1]);
	for (int k = 0; k < N_IMPL; k++)
		free(s->Y[k]);
}

static bool impl_present(const struct setup *s, enum impl k)
{
	switch (k) {
	case FANN:
		return s->fann != NULL;
	case TORCH:
		return s->torch != NULL;
	case PLAN32:
		return s->plan32 != NULL;
	case PLAN16:
		return s->plan16 != NULL;
	case PLANM:
		return s->planm != NULL;
	case PLANI:
		return s->plani != NULL;
	case PLAN8:
		return s->plan8 != NULL;
	case DNNL32:
		return s->dnnl32 != NULL;
	case DNNL16:
		return s->dnnl16 != NULL;
	case TORCH16:
		return s->torch16;
	case MLP16: /* a trainer: training cells only */
		return false;
	default:
		return true;
	}
}

/* Whether y is within `bound` of want in relative RMS distance, kept in
 * st->err. */
static bool agrees_rms(size_t n, const float *y, const float *want,
		       double bound, struct stats *st)
{
	double d = 0, ref = 0;

	for (size_t i = 0; i < n; i++) {
		d += ((double)y[i] - want[i]) * ((double)y[i] - want[i]);
		ref += (double)want[i] * want[i];
	}
	st->err = sqrt(d / (ref > 0 ? ref : 1));
	if (st->err <= bound)
		return true;
	snprintf(st->why, sizeof(st->why), "relative RMS distance from mlp %.3g",
		 st->err);
	return false;
}

/* The bf16 rule: the relative RMS distance from mlp's float outputs at
 * most 3%. bf16 rounds inputs and weights to 8 significant bits: about
 * 0.3-1% here; a wrong weight, bias or activation is off by the order of
 * the outputs themselves. */
static bool agrees_bf16(size_t n, const float *y, const float *want,
			struct stats *st)
{
	return agrees_rms(n, y, want, 0.03, st);
}

/* The int8 rule: within 5%, or twice the error of the exact int8 chain
 * on the same rows (mlp_quant_compare), whichever is larger. int8 rounds
 * each weight to 1/254 of its row's largest and each input to 1/254 of
 * its layer's range: 0.5-3% on the larger networks, more on 3-wide ones
 * whose outputs are near 0; a wrong scale or weight is off by the order
 * of the outputs. */
static bool agrees_int8(const struct setup *s, const float *y,
			const float *want, struct stats *st)
{
	mlp_quant_error err[MAX_LAYERS];
	size_t L = s->c->n_layers;
	double bound = 0.05;

	if (mlp_quant_compare(s->qnet, s->net, s->batch, s->X, err, L) == MLP_OK)
		bound = fmax(bound, 2 * err[L - 1].rel_rms);
	return agrees_rms(s->batch * s->n_out, y, want, bound, st);
}

/* Agreement: every implementation against mlp, and mlp's first rows
 * against the double-precision reference. The floor has no bias or
 * activation: it is only timed. */
static void check_cell(struct setup *s, struct cell *cell)
{
	size_t n = s->batch * s->n_out, rows = s->batch < 8 ? s->batch : 8;
	double *want = malloc(n * sizeof(double)), rms = 0;

	for (int k = 0; k < TORCH; k++) {
		cell->s[k].present |= impl_present(s, (enum impl)k);
		if (impl_present(s, (enum impl)k))
			run_impl(s, (enum impl)k);
	}
	for (size_t i = 0; i < n; i++)
		rms += (double)s->Y[MLP][i] * s->Y[MLP][i];
	rms = sqrt(rms / (double)n);
	reference(s, rows, want);
	cell->s[MLP].agree = agrees(rows * s->n_out, s->Y[MLP], want, rms,
				    cell->s[MLP].why, sizeof(cell->s[MLP].why));
	for (size_t i = 0; i < n; i++)
		want[i] = s->Y[MLP][i];
	for (int k = 0; k < TORCH; k++) {
		struct stats *st = &cell->s[k];

		/* The floors have no bias or activation: they are only timed. */
		if (k == MLP || k == FLOOR || k == DNNL32 || k == DNNL16 ||
		    !impl_present(s, (enum impl)k))
			continue;
		if (k == PLAN16)
			st->agree = agrees_bf16(n, s->Y[k], s->Y[MLP], st);
		else if (k == PLAN8)
			st->agree = agrees_int8(s, s->Y[k], s->Y[MLP], st);
		else
			st->agree = agrees(n, s->Y[k], want, rms, st->why,
					   sizeof(st->why));
	}
	free(want);
}

/* PyTorch's outputs (from setup_torch) against mlp's (run again). */
static void check_torch(struct setup *s, struct cell *cell)
{
	size_t n = s->batch * s->n_out;
	double rms = 0;

	for (int k = TORCH; k < N_IMPL; k++)
		cell->s[k].present |= impl_present(s, (enum impl)k);
	for (size_t i = 0; i < n; i++)
		rms += (double)s->Y[MLP][i] * s->Y[MLP][i];
	rms = sqrt(rms / (double)n);
	if (impl_present(s, TORCH)) {
		double *want = malloc(n * sizeof(double));

		for (size_t i = 0; want != NULL && i < n; i++)
			want[i] = s->Y[MLP][i];
		cell->s[TORCH].agree = want != NULL &&
				       agrees(n, s->Y[TORCH], want, rms,
					      cell->s[TORCH].why,
					      sizeof(cell->s[TORCH].why));
		free(want);
	}
	if (impl_present(s, TORCH16))
		cell->s[TORCH16].agree = agrees_bf16(n, s->Y[TORCH16], s->Y[MLP],
						     &cell->s[TORCH16]);
}

/* One cell: the network at a batch size through every implementation but
 * PyTorch, checked, then timed. false when out of memory. */
static bool measure_cell(const struct options *o, const struct machine *m,
			 struct cell *cell)
{
	struct setup s;
	bool ok = setup_net(&s, cell->c, cell->batch);

	for (int k = 0; k < N_IMPL; k++)
		cell->s[k].agree = true;
	if (ok && m->fann) {
		s.fann = fann_net_create(&s.plain);
		if (s.fann == NULL)
			snprintf(cell->s[FANN].why, sizeof(cell->s[FANN].why),
				 "activation not in FANN");
	} else {
		snprintf(cell->s[FANN].why, sizeof(cell->s[FANN].why),
			 o->no_fann ? "left out" : "not built");
	}
	snprintf(cell->s[TORCH].why, sizeof(cell->s[TORCH].why), "not available");
	if (ok)
		setup_plans(&s, cell);
	if (ok) {
		check_cell(&s, cell);
		if (cell->s[MLP].agree)
			bench_rounds(&o->plan, 0, TORCH, cell->s, time_impl, &s);
	}
	fann_net_free(s.fann);
	free_setup(&s);
	return ok;
}

/* PyTorch, in float and in bf16, cell after cell, once every other
 * implementation is timed. Interleaved with them, it slowed mlp's oneDNN
 * plans and chains (OpenMP threads, as PyTorch's) up to five times, for
 * longer than a cell takes; run after them, it slows nothing measured. Its
 * outputs are checked against mlp's, computed again. */
static void measure_torch(const struct options *o, struct torch_proc *torch,
			  const char *tmpdir, struct cell *cells, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cell *cell = &cells[i];
		struct setup s;

		if (cell->kind == CELL_TRAIN) {
			torch_settle(torch);
			train_bench_torch(&o->plan, torch, tmpdir, cell);
			continue;
		}
		if (!cell->s[MLP].agree)
			continue;
		if (setup_net(&s, cell->c, cell->batch)) {
			setup_plans(&s, cell);
			setup_torch(&s, torch, tmpdir, &cell->s[TORCH]);
			torch_settle(torch);
			run_impl(&s, MLP);
			check_torch(&s, cell);
			bench_rounds(&o->plan, TORCH, N_IMPL, cell->s, time_impl, &s);
		}
		free_setup(&s);
	}
}

/* ---- output ------------------------------------------------------------- */

static void fmt_time(char *buf, size_t n, const struct stats *st)
{
	if (st->present && !st->agree)
		snprintf(buf, n, "FAIL");
	else if (!st->ran)
		snprintf(buf, n, "-");
	else if (st->median < 1e-5)
		snprintf(buf, n, "%.3f", st->median * 1e6);
	else if (st->median < 1e-3)
		snprintf(buf, n, "%.1f", st->median * 1e6);
	else
		snprintf(buf, n, "%.0f", st->median * 1e6);
}

static void fmt_ratio(char *buf, size_t n, const struct stats *num,
		      const struct stats *den)
{
	if (num->ran && den->ran)
		snprintf(buf, n, "%.2f", num->median / den->median);
	else
		snprintf(buf, n, "-");
}

static void print_header(const struct options *o, const struct machine *m)
{
	printf("mlp-bench %s: %s, %ld cores; %d BLAS thread%s%s\n",
	       o->full ? "--full" : o->smoke ? "--smoke" : "(quick)", m->cpu,
	       m->nproc, o->threads, o->threads == 1 ? "" : "s",
	       " (naive and FANN: 1)");
	printf("BLAS: %s\n", m->blas);
	if (m->coretype_note[0])
		printf("      %s\n", m->coretype_note);
	printf("FANN: %s; PyTorch: %s\n", m->fann ? "2.2 (float)" : "not built",
	       m->torch);
	if (m->peak.gflops > 0)
		printf("FMA peak: %.1f GFLOP/s on %d thread%s (%s, measured); "
		       "%%peak: mlp's GFLOP/s as a share of it\n", m->peak.gflops,
		       m->peak.threads, m->peak.threads == 1 ? "" : "s",
		       m->peak.isa);
	else
		printf("FMA peak: not measured (no FMA on this CPU)\n");
	printf("Times are medians per batch in microseconds; spread is the "
	       "interquartile range of mlp's runs.\n"
	       "x naive, x fann, x torch: their time over mlp's; of floor: the "
	       "floor's time over mlp's (1 = as fast as bare BLAS).\n\n");
	printf("%-17s %5s %10s %6s %10s %10s %10s %10s %8s %5s %9s %8s %8s %7s "
	       "%7s\n", "network", "batch", "mlp", "spread", "floor", "naive",
	       "fann", "pytorch", "GFLOP/s", "%peak", "samples/s", "x naive",
	       "of floor", "x fann", "x torch");
}

static void print_cell(const struct cell *c, const struct peak *peak)
{
	const struct stats *s = c->s;
	char t[N_IMPL][24], rn[16], rf[16], rfa[16], rt[16], spread[16];
	char gf[16] = "-", sps[16] = "-", pk[16] = "-";

	for (int k = 0; k < N_IMPL; k++)
		fmt_time(t[k], sizeof(t[k]), &s[k]);
	fmt_ratio(rn, sizeof(rn), &s[NAIVE], &s[MLP]);
	fmt_ratio(rf, sizeof(rf), &s[FLOOR], &s[MLP]);
	fmt_ratio(rfa, sizeof(rfa), &s[FANN], &s[MLP]);
	fmt_ratio(rt, sizeof(rt), &s[TORCH], &s[MLP]);
	snprintf(spread, sizeof(spread), "-");
	if (s[MLP].ran) {
		snprintf(spread, sizeof(spread), "%.0f%%",
			 100 * (s[MLP].p75 - s[MLP].p25) / s[MLP].median);
		snprintf(gf, sizeof(gf), "%.2f", c->flops / s[MLP].median / 1e9);
		if (peak->gflops > 0)
			snprintf(pk, sizeof(pk), "%.0f%%", 100 * c->flops /
				 s[MLP].median / 1e9 / peak->gflops);
		snprintf(sps, sizeof(sps), "%.3g", (double)c->batch / s[MLP].median);
	}
	printf("%-17s %5zu %10s %6s %10s %10s %10s %10s %8s %5s %9s %8s %8s %7s "
	       "%7s\n", c->c->name, c->batch, t[MLP], spread, t[FLOOR], t[NAIVE],
	       t[FANN], t[TORCH], gf, pk, sps, rn, rf, rfa, rt);
	for (int k = 0; k < N_IMPL; k++)
		if (s[k].present && !s[k].agree)
			printf("  %s FAILED: %s\n", impl_names[k], s[k].why);
}

/* The engines table: mlp's plans beside its CBLAS path, the bare oneDNN
 * chains beneath them, and PyTorch in bf16; one line a forward cell. */
static void print_engines(const struct cell *cells, size_t n)
{
	printf("\nengines: mlp's plans against its CBLAS path (x), the bare oneDNN "
	       "chains (of floor: the floor's time over the plan's), PyTorch "
	       "with bf16 autocast; err: relative RMS distance of bf16 outputs "
	       "from mlp's float ones.\n\n");
	printf("%-17s %5s %9s %9s %9s %9s %9s %9s %6s %6s %6s %6s %7s %7s %7s\n",
	       "network", "batch", "mlp", "plan-f32", "dnnl-f32", "plan-bf16",
	       "dnnl-bf16", "torch-bf16", "x f32", "x bf16", "floor", "floor",
	       "err", "x torch", "t-err");
	printf("%-17s %5s %9s %9s %9s %9s %9s %9s %6s %6s %6s %6s %7s %7s %7s\n",
	       "", "", "", "", "", "", "", "", "", "", "f32", "bf16", "", "bf16", "");
	for (size_t i = 0; i < n; i++) {
		const struct cell *c = &cells[i];
		const struct stats *s = c->s;
		char t[N_IMPL][24], x32[16], x16[16], f32[16], f16[16], xt[16];
		char e16[16] = "-", et[16] = "-";

		if (c->kind != CELL_FORWARD)
			continue;
		for (int k = 0; k < N_IMPL; k++)
			fmt_time(t[k], sizeof(t[k]), &s[k]);
		fmt_ratio(x32, sizeof(x32), &s[MLP], &s[PLAN32]);
		fmt_ratio(x16, sizeof(x16), &s[MLP], &s[PLAN16]);
		fmt_ratio(f32, sizeof(f32), &s[DNNL32], &s[PLAN32]);
		fmt_ratio(f16, sizeof(f16), &s[DNNL16], &s[PLAN16]);
		fmt_ratio(xt, sizeof(xt), &s[TORCH16], &s[PLAN16]);
		if (s[PLAN16].present && s[PLAN16].agree)
			snprintf(e16, sizeof(e16), "%.2e", s[PLAN16].err);
		if (s[TORCH16].present && s[TORCH16].agree)
			snprintf(et, sizeof(et), "%.2e", s[TORCH16].err);
		printf("%-17s %5zu %9s %9s %9s %9s %9s %9s %6s %6s %6s %6s %7s %7s %7s\n",
		       c->c->name, c->batch, t[MLP], t[PLAN32], t[DNNL32],
		       t[PLAN16], t[DNNL16], t[TORCH16], x32, x16, f32, f16, e16,
		       xt, et);
	}
}

/* The planner table: the MLP_ESTIMATE plan (plan-fp32), the MLP_MEASURE
 * one and the batch-invariant one beside mlp_forward, the bare oneDNN
 * chain and the naive loops; "best/meas" is the fastest of those three
 * over the measured plan (at least 1: the plan is never slower), "est" and
 * "inv" the other plans' times over it; the kernels each plan runs at the
 * cell's batch, a layer each. */
static void print_planner(const struct cell *cells, size_t n,
			  const struct peak *peak)
{
	printf("\nplanner: fp32 plans (us a batch); best/meas = min(mlp, "
	       "onednn-fp32, naive) / measure; est = estimate / measure; inv = "
	       "invariant / measure; %%peak of the measured plan\n\n");
	printf("%-17s %5s %9s %9s %9s %9s %9s %9s %6s %5s %5s %6s  %s\n",
	       "network", "batch", "mlp", "dnnl-f32", "naive", "estimate",
	       "measure", "invariant", "best/", "est", "inv", "%peak",
	       "kernels: estimate | measure | invariant");
	for (size_t i = 0; i < n; i++) {
		const struct cell *c = &cells[i];
		const struct stats *s = c->s, *best = NULL;
		static const int others[] = { MLP, DNNL32, NAIVE };
		char t[N_IMPL][24], xb[16] = "-", xe[16], xi[16], pk[16] = "-";

		if (c->kind != CELL_FORWARD)
			continue;
		for (int k = 0; k < N_IMPL; k++)
			fmt_time(t[k], sizeof(t[k]), &s[k]);
		for (int j = 0; j < 3; j++)
			if (s[others[j]].ran && s[others[j]].agree &&
			    (best == NULL || s[others[j]].median < best->median))
				best = &s[others[j]];
		if (best != NULL)
			fmt_ratio(xb, sizeof(xb), best, &s[PLANM]);
		fmt_ratio(xe, sizeof(xe), &s[PLAN32], &s[PLANM]);
		fmt_ratio(xi, sizeof(xi), &s[PLANI], &s[PLANM]);
		if (peak->gflops > 0 && s[PLANM].ran)
			snprintf(pk, sizeof(pk), "%.0f%%", 100 * c->flops /
				 s[PLANM].median / 1e9 / peak->gflops);
		printf("%-17s %5zu %9s %9s %9s %9s %9s %9s %6s %5s %5s %6s  %s | %s | %s\n",
		       c->c->name, c->batch, t[MLP], t[DNNL32], t[NAIVE], t[PLAN32],
		       t[PLANM], t[PLANI], xb, xe, xi, pk, c->kernels[0],
		       c->kernels[1], c->kernels[2]);
	}
}

/* The int8 table: the int8 plan (measured) against the fastest fp32 way
 * of the cell (mlp_forward, the estimated and the measured fp32 plan),
 * its error against mlp's float outputs, and the kernels it runs. */
static void print_int8(const struct cell *cells, size_t n)
{
	printf("\nint8: the int8 plan (MLP_MEASURE, the network quantised on 256 "
	       "rows) against the fastest fp32 way (best of mlp, plan-fp32, "
	       "plan-measure), us a batch; x best = best / int8; err = relative "
	       "RMS distance from mlp's float outputs\n\n");
	printf("%-17s %5s %9s %9s %9s %9s %9s %6s %8s  %s\n", "network", "batch",
	       "mlp", "estimate", "measure", "best f32", "int8", "x best", "err",
	       "kernels of the int8 plan");
	for (size_t i = 0; i < n; i++) {
		const struct cell *c = &cells[i];
		const struct stats *s = c->s, *best = NULL;
		static const int fp32[] = { MLP, PLAN32, PLANM };
		char t[N_IMPL][24], tb[24] = "-", xb[16] = "-", err[16] = "-";

		if (c->kind != CELL_FORWARD)
			continue;
		for (int k = 0; k < N_IMPL; k++)
			fmt_time(t[k], sizeof(t[k]), &s[k]);
		for (int j = 0; j < 3; j++)
			if (s[fp32[j]].ran && s[fp32[j]].agree &&
			    (best == NULL || s[fp32[j]].median < best->median))
				best = &s[fp32[j]];
		if (best != NULL) {
			fmt_time(tb, sizeof(tb), best);
			fmt_ratio(xb, sizeof(xb), best, &s[PLAN8]);
		}
		if (s[PLAN8].present && s[PLAN8].agree)
			snprintf(err, sizeof(err), "%.2e", s[PLAN8].err);
		printf("%-17s %5zu %9s %9s %9s %9s %9s %6s %8s  %s\n", c->c->name,
		       c->batch, t[MLP], t[PLAN32], t[PLANM], tb, t[PLAN8], xb, err,
		       c->kernels[3]);
	}
}

static void print_train(const struct cell *c, int threads)
{
	const struct stats *s = c->s;
	static const struct {
		int num, den;
		const char *what;
	} ratios[] = {
		{ MLP, MLP16, "mlp's bf16 trainer over its float one" },
		{ TORCH, MLP, "mlp over PyTorch, float" },
		{ TORCH16, MLP16, "mlp over PyTorch, bf16 (autocast)" },
	};

	printf("\ntraining %s: ReLU, ReLU, softmax; cross-entropy; Adam; batch %zu; "
	       "%d thread%s\n", c->c->name, c->batch, threads,
	       threads == 1 ? "" : "s");
	for (int k = 0; k < N_IMPL; k++) {
		const struct stats *st = &s[k];

		if (k != MLP && k != MLP16 && k != TORCH && k != TORCH16)
			continue;
		if (!st->present)
			printf("  %-12s %s\n", impl_names[k], st->why);
		else if (!st->agree)
			printf("  %-12s FAILED: %s\n", impl_names[k], st->why);
		else if (st->ran)
			printf("  %-12s %9.1f us a step (spread %.0f%%)  %9.0f samples/s  "
			       "%7.2f GFLOP/s\n", impl_names[k], st->median * 1e6,
			       100 * (st->p75 - st->p25) / st->median,
			       (double)c->batch / st->median, c->flops / st->median / 1e9);
	}
	for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++)
		if (s[ratios[i].num].ran && s[ratios[i].den].ran)
			printf("  %5.2fx samples/s: %s\n",
			       s[ratios[i].num].median / s[ratios[i].den].median,
			       ratios[i].what);
}

static void write_csv(const char *path, const struct cell *cells, size_t n,
		      int threads)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		return;
	}
	fprintf(f, "network,batch,impl,threads,agree,median_s,p25_s,p75_s,min_s,"
		   "repeats,inner,samples_per_s,gflops,rel_err\n");
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < N_IMPL; k++) {
			const struct stats *s = &cells[i].s[k];
			int thr = k == NAIVE || k == FANN ? 1 : threads;
			if (!s->ran)
				continue;
			fprintf(f, "%s%s,%zu,%s,%d,%d,%.6e,%.6e,%.6e,%.6e,%d,%d,"
				"%.6e,%.6e,%.3e\n",
				cells[i].kind == CELL_TRAIN ? "train " : "",
				cells[i].c->name, cells[i].batch, impl_names[k], thr,
				s->agree, s->median, s->p25, s->p75, s->min, s->repeats,
				s->inner, (double)cells[i].batch / s->median,
				cells[i].flops / s->median / 1e9, s->err);
		}
	}
	fclose(f);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void write_json(const char *path, const struct options *o,
		       const struct machine *m, const struct cell *cells, size_t n)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		return;
	}
	fprintf(f, "{\n  \"machine\": {\"cpu\": ");
	json_string(f, m->cpu);
	fprintf(f, ", \"nproc\": %ld, \"blas\": ", m->nproc);
	json_string(f, m->blas);
	fprintf(f, ", \"blas_note\": ");
	json_string(f, m->coretype_note);
	fprintf(f, ", \"pytorch\": ");
	json_string(f, m->torch);
	fprintf(f, ", \"fann\": %s, \"fma_peak_gflops\": %.6e, \"fma_peak_isa\": ",
		m->fann ? "true" : "false", m->peak.gflops);
	json_string(f, m->peak.isa);
	fprintf(f, "},\n");
	fprintf(f, "  \"mode\": \"%s\", \"threads\": %d, \"mlp_version\": \"%s\",\n",
		o->full ? "full" : o->smoke ? "smoke" : "quick", o->threads,
		mlp_version_string());
	fprintf(f, "  \"results\": [");
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < N_IMPL; k++) {
			const struct stats *s = &cells[i].s[k];
			if (!s->present)
				continue;
			fprintf(f, "%s\n    {\"kind\": \"%s\", \"network\": \"%s\", "
				   "\"batch\": %zu, \"impl\": \"%s\", \"agree\": %s",
				first ? "" : ",",
				cells[i].kind == CELL_TRAIN ? "train" : "forward",
				cells[i].c->name, cells[i].batch, impl_names[k],
				s->agree ? "true" : "false");
			if (s->ran)
				fprintf(f, ", \"median_s\": %.6e, \"p25_s\": %.6e, "
					   "\"p75_s\": %.6e, \"min_s\": %.6e, "
					   "\"repeats\": %d, \"inner\": %d, "
					   "\"samples_per_s\": %.6e, \"gflops\": %.6e, "
					   "\"rel_err\": %.3e",
					s->median, s->p25, s->p75, s->min, s->repeats,
					s->inner, (double)cells[i].batch / s->median,
					cells[i].flops / s->median / 1e9, s->err);
			else {
				fprintf(f, ", \"note\": ");
				json_string(f, s->why);
			}
			fputc('}', f);
			first = false;
		}
	}
	fprintf(f, "\n  ]\n}\n");
	fclose(f);
}

/* Runs oneDNN plans for a moment before anything is timed: the first cell
 * of a process ran its oneDNN plans and chains up to four times slower than
 * the same cell later (OpenMP's threads starting, the first AMX use). */
static void warm_up(void)
{
	static const size_t sizes[] = { 256, 256, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
	static float X[64 * 256], Y[64 * 10];
	mlp_precision precisions[] = { MLP_FP32, MLP_BF16 };
	mlp_net *net;

	if (mlp_net_create(&net, 2, sizes, acts) != MLP_OK)
		return;
	mlp_net_init(net, 1);
	for (int i = 0; i < 2; i++) {
		mlp_plan *plan;
		double t0 = clock_seconds();

		if (mlp_plan_create(&plan, net, precisions[i], 64) != MLP_OK)
			continue;
		while (clock_seconds() - t0 < 0.2)
			mlp_plan_forward(plan, 64, X, Y);
		mlp_plan_free(plan);
	}
	mlp_net_free(net);
}

/* Every network at every batch size, then the training bench; the number
 * of cells into *n; NULL when out of memory. A dot a cell on standard
 * error shows progress. */
static struct cell *run_cells(const struct options *o, const struct machine *m,
			      struct torch_proc *torch, const char *tmpdir,
			      size_t *n)
{
	static const size_t train_batches[] = { 64, 256 };
	struct cell *cells = calloc(N_CASES * o->n_batches + 2, sizeof(*cells));

	*n = 0;
	if (cells == NULL)
		return NULL;
	warm_up();
	for (size_t c = 0; c < N_CASES; c++) {
		for (size_t b = 0; o->case_on[c] && b < o->n_batches; b++) {
			struct cell *cell = &cells[(*n)++];

			cell->kind = CELL_FORWARD;
			cell->c = &cases[c];
			cell->batch = o->batches[b];
			for (size_t l = 0; l < cases[c].n_layers; l++)
				cell->flops += 2.0 * (double)o->batches[b] *
					       (double)(cases[c].sizes[l] *
							cases[c].sizes[l + 1]);
			if (!measure_cell(o, m, cell)) {
				fprintf(stderr, "mlp-bench: out of memory for %s\n",
					cases[c].name);
				free(cells);
				return NULL;
			}
			fputc('.', stderr);
		}
	}
	for (size_t b = 0; !o->no_train && b < 2; b++) {
		train_bench(&o->plan, train_batches[b], &cells[(*n)++]);
		fputc('.', stderr);
	}
	if (torch != NULL)
		measure_torch(o, torch, tmpdir, cells, *n);
	fputc('\n', stderr);
	return cells;
}

int main(int argc, char **argv)
{
	struct options o;
	struct machine m = { 0 };
	struct torch_proc *torch = NULL;
	struct cell *cells;
	size_t n_cells = 0;
	char tmpdir[] = "/tmp/mlp-bench-XXXXXX";
	int failures = 0, rc;
	bool have_torch;
	double t_start = clock_seconds();

	rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc;
	bench_env_restart(argv, o.keep_coretype);
	signal(SIGPIPE, SIG_IGN);
	if (mlp_set_threads(o.threads) != MLP_OK)
		fprintf(stderr, "mlp-bench: this BLAS does not take a thread count\n");
	describe_machine(&m);
	/* Before PyTorch's process starts: nothing else runs. */
	m.peak = peak_measure(o.threads);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(m.torch, sizeof(m.torch), "left out (--no-torch)");
	if (!o.no_torch)
		torch = torch_start(o.python, o.torch_script, o.threads,
				    kernels_for_children(), m.torch, sizeof(m.torch));
	if (o.no_fann)
		m.fann = false;
	print_header(&o, &m);
	cells = run_cells(&o, &m, torch, tmpdir, &n_cells);
	for (size_t i = 0; cells != NULL && i < n_cells; i++) {
		if (cells[i].kind == CELL_FORWARD)
			print_cell(&cells[i], &m.peak);
		else
			print_train(&cells[i], o.threads);
	}
	if (cells != NULL) {
		print_engines(cells, n_cells);
		print_planner(cells, n_cells, &m.peak);
		print_int8(cells, n_cells);
	}
	have_torch = torch != NULL;
	torch_stop(torch);
	rmdir(tmpdir);
	if (cells == NULL)
		return 1;
	for (size_t i = 0; i < n_cells; i++)
		for (int k = 0; k < N_IMPL; k++)
			failures += cells[i].s[k].present && !cells[i].s[k].agree;
	if (o.csv)
		write_csv(o.csv, cells, n_cells, o.threads);
	if (o.json)
		write_json(o.json, &o, &m, cells, n_cells);
	printf("\n%zu cases in %.1f s; %d disagreement%s\n", n_cells,
	       clock_seconds() - t_start, failures, failures == 1 ? "" : "s");
	free(cells);
	if (o.strict && (!m.fann || !have_torch)) {
		fprintf(stderr, "mlp-bench: --strict: %s%s missing\n",
			m.fann ? "" : "FANN ", have_torch ? "" : "PyTorch");
		return 1;
	}
	return failures ? 1 : 0;
}
