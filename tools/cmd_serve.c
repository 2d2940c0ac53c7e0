/* cmd_serve.c — mlp serve: models behind the Open Inference Protocol. */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: mlp serve [OPTIONS] MODEL...\n"
	"\n"
	"Answers inference requests for each MODEL over HTTP, in the Open\n"
	"Inference Protocol (KServe v2, as Triton and MLServer speak it):\n"
	"POST /v2/models/NAME/infer, where NAME is the file's name without its\n"
	"directory and extension; GET /v2/health/live, /v2/health/ready,\n"
	"/v2/models/NAME, /v2/models/NAME/ready, /v2 and /metrics (Prometheus).\n"
	"The rows of concurrent requests run together in batches. SIGTERM or\n"
	"SIGINT stops it: no new connections, every request begun answered.\n"
	"\n"
	"  --host H          the address to listen on (default 127.0.0.1)\n"
	"  --port P          the port (default 8000; 0: any free one)\n"
	"  --max-batch N     rows in a batch, and in a request, at most\n"
	"                    (default 64)\n"
	"  --max-delay-us U  how long a request may wait for others to batch\n"
	"                    with (default 0: batches form from the requests\n"
	"                    that come while a pass runs)\n"
	"  --workers W       threads running batches, each model (default 1)\n"
	"  --plan-threads T  threads a batch runs on (default: the CPUs,\n"
	"                    or OMP_NUM_THREADS)\n"
	"  --queue-rows N    rows waiting at most, each model; past it, 503\n"
	"                    (default 16 x max-batch, at least 1024)\n"
	"  --precision P     fp32, bf16 or int8 (default: int8 for a quantised\n"
	"                    model, else fp32)\n"
	"  --batch-invariant a row's outputs the same bits in any batch\n"
	"  --max-body BYTES  the largest request body (default 16777216)\n"
	"  --http-threads T  threads reading and answering requests (default:\n"
	"                    the CPUs)\n";

#if defined(MLP_TOOL_HAVE_MHD)

#include "serve.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

struct serve_opts {
	const char *host;
	size_t port, max_batch, delay, workers, plan_threads, queue, max_body,
	       threads;
	mlp_precision precision;
	bool invariant;
};

/* The model's name: its file's, without directory and extension. */
static void stem(const char *path, char *name, size_t size)
{
	const char *base = strrchr(path, '/'), *dot;
	size_t n;

	base = base != NULL ? base + 1 : path;
	dot = strrchr(base, '.');
	n = dot != NULL && dot != base ? (size_t)(dot - base) : strlen(base);
	n = n < size - 1 ? n : size - 1;
	memcpy(name, base, n);
	name[n] = '\0';
}

static int load(struct served_model *m, const char *path,
		const struct serve_opts *o)
{
	mlp_plan_opts po = mlp_plan_defaults();
	mlp_batcher_opts bo = mlp_batcher_defaults();
	mlp_msg msg;
	int rc = load_model(path, NULL, &m->net);

	if (rc != EXIT_OK)
		return rc;
	stem(path, m->name, sizeof(m->name));
	m->n_in = mlp_net_width(m->net, 0);
	m->n_out = mlp_net_width(m->net, mlp_net_layers(m->net));
	if (rc == EXIT_OK)
		rc = model_precision(m->net, path, o->precision, &po.precision);
	if (rc != EXIT_OK)
		return rc;
	po.max_batch = o->max_batch;
	po.flags = o->invariant ? MLP_PLAN_BATCH_INVARIANT : 0;
	po.threads = (int)o->plan_threads;
	rc = report_status(mlp_plan_create_opts(&m->plan, m->net, &po, &msg),
			   "serve: cannot prepare %s", path);
	bo.max_batch = o->max_batch;
	bo.max_delay_us = (unsigned)o->delay;
	bo.workers = (unsigned)o->workers;
	bo.queue_rows = o->queue != 0 ? o->queue
		       : o->max_batch > 64 ? 16 * o->max_batch : 1024;
	if (rc == EXIT_OK)
		rc = report_status(mlp_batcher_create(&m->batcher, m->plan, &bo,
						      &msg),
				   "serve: cannot start the batcher of %s", path);
	return rc;
}

static void unload(struct served_model *m)
{
	mlp_batcher_free(m->batcher);
	mlp_plan_free(m->plan);
	mlp_net_free(m->net);
}

/* SIGTERM and SIGINT: a byte into the pipe the main thread waits on (any
 * thread may take the signal: the BLAS's were started before main). */
static int stop_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	char c = (char)sig;

	if (write(stop_pipe[1], &c, 1) < 0)
		_exit(EXIT_FAIL);
}

static int wait_for_signal(void)
{
	struct sigaction sa;
	char c;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0)
		return report_error(EXIT_FAIL, "serve: cannot handle signals");
	while (read(stop_pipe[0], &c, 1) < 0)
		;
	return EXIT_OK;
}

static int serve(char **paths, size_t n, const struct serve_opts *o)
{
	struct server s = {
		.max_body = o->max_body, .max_rows = o->max_batch,
		.version = mlp_version_string(),
	};
	char wisdom[4096];
	unsigned bound = 0;
	int rc = EXIT_OK;

	if (wisdom_path(wisdom, sizeof(wisdom)))
		rc = wisdom_read(wisdom, false);
	s.models = calloc(n, sizeof(*s.models));
	if (s.models == NULL)
		return report_error(EXIT_FAIL, "out of memory");
	for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
		rc = load(&s.models[i], paths[i], o);
		s.n_models = i + 1;
		for (size_t j = 0; j < i && rc == EXIT_OK; j++)
			if (strcmp(s.models[i].name, s.models[j].name) == 0)
				rc = report_error(EXIT_USAGE, "serve: %s and %s "
						  "are both model '%s': give "
						  "each a name of its own",
						  paths[j], paths[i],
						  s.models[i].name);
	}
	if (rc == EXIT_OK && pipe(stop_pipe) != 0)
		rc = report_error(EXIT_FAIL, "serve: cannot make a pipe");
	if (rc == EXIT_OK)
		rc = serve_http_start(&s, o->host, (unsigned)o->port,
				      (unsigned)o->threads, &bound);
	if (rc == EXIT_OK) {
		bool v6 = strchr(o->host, ':') != NULL;

		fprintf(stderr, "mlp: serve: listening on http://%s%s%s:%u/v2 "
			"with", v6 ? "[" : "", o->host, v6 ? "]" : "", bound);
		for (size_t i = 0; i < s.n_models; i++)
			fprintf(stderr, "%s %s (%zu -> %zu)", i ? "," : "",
				s.models[i].name, s.models[i].n_in,
				s.models[i].n_out);
		fputc('\n', stderr);
		fflush(stderr);
		rc = wait_for_signal();
		serve_http_stop(&s, 30.0);
		fprintf(stderr, "mlp: serve: stopped\n");
	}
	for (size_t i = 0; i < s.n_models; i++)
		unload(&s.models[i]);
	free(s.models);
	return rc;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "max-batch", required_argument, NULL, 'b' },
		{ "max-delay-us", required_argument, NULL, 'd' },
		{ "workers", required_argument, NULL, 'w' },
		{ "queue-rows", required_argument, NULL, 'q' },
		{ "plan-threads", required_argument, NULL, 'T' },
		{ "precision", required_argument, NULL, 'P' },
		{ "batch-invariant", no_argument, NULL, 'i' },
		{ "max-body", required_argument, NULL, 'm' },
		{ "http-threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct serve_opts o = {
		.host = "127.0.0.1", .port = 8000, .max_batch = 64,
		.delay = 0, .workers = 1, .plan_threads = 0, .queue = 0, .max_body = 16u << 20,
		.threads = cpus > 0 ? (size_t)cpus : 1,
		.precision = PRECISION_MODEL, .invariant = false,
	};
	int c, rc = EXIT_OK;

	optind = 1;
	while (rc == EXIT_OK &&
	       (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': o.host = optarg; break;
		case 'p': rc = option_size("port", optarg, 0, 65535, &o.port); break;
		case 'b':
			rc = option_size("max-batch", optarg, 1, 65536, &o.max_batch);
			break;
		case 'd':
			rc = option_size("max-delay-us", optarg, 0, 10000000, &o.delay);
			break;
		case 'w': rc = option_size("workers", optarg, 1, 64, &o.workers); break;
		case 'T':
			rc = option_size("plan-threads", optarg, 1, 256,
					 &o.plan_threads);
			break;
		case 'q':
			rc = option_size("queue-rows", optarg, 1, (size_t)1 << 24,
					 &o.queue);
			break;
		case 'P': rc = option_precision("precision", optarg, &o.precision); break;
		case 'i': o.invariant = true; break;
		case 'm':
			rc = option_size("max-body", optarg, 64, (size_t)1 << 32,
					 &o.max_body);
			break;
		case 't':
			rc = option_size("http-threads", optarg, 1, 256, &o.threads);
			break;
		case 'h': return fputs(help, stdout), EXIT_OK;
		default: return report_usage("serve", argv, c);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind == argc)
		return report_error(EXIT_USAGE, "serve: give at least one MODEL "
				    "(mlp serve --help)");
	if (o.queue != 0 && o.queue < o.max_batch)
		return report_error(EXIT_USAGE, "--queue-rows %zu: below "
				    "--max-batch (%zu)", o.queue, o.max_batch);
	return serve(argv + optind, (size_t)(argc - optind), &o);
}

#else

int cmd_serve(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return fputs(help, stdout), EXIT_OK;
	return report_error(EXIT_USAGE, "serve: this build of mlp has no HTTP "
			    "server: build it with libmicrohttpd (Debian: "
			    "libmicrohttpd-dev)");
}

#endif
