/*
 * serve.h — mlp serve: models behind the Open Inference Protocol (KServe
 * v2) over HTTP. cmd_serve.c loads the models and runs the server;
 * serve_http.c answers the requests (libmicrohttpd); serve_metrics.c
 * counts them and writes the counts in Prometheus' text format.
 */
#ifndef MLP_TOOL_SERVE_H
#define MLP_TOOL_SERVE_H

#include "tool.h"

#include <stdatomic.h>

/* The HTTP statuses the server answers with, counted apart. */
enum { N_CODES = 6 };
extern const unsigned serve_codes[N_CODES]; /* 200 400 404 405 500 503 */

/* Upper bounds of the latency histogram, in seconds (and +Inf). */
enum { N_LATENCY = 14 };
extern const double serve_latency_bounds[N_LATENCY];

struct serve_counts {
	atomic_ulong by_code[N_CODES];
	atomic_ulong rows;                    /* rows answered */
	atomic_ulong latency[N_LATENCY + 1];  /* per bucket, not cumulative */
	atomic_ulong latency_ns;              /* their sum */
};

struct served_model {
	char name[128];         /* the file's name without directory and
				 * extension */
	mlp_net *net;
	mlp_plan *plan;
	mlp_batcher *batcher;
	size_t n_in, n_out;
	struct serve_counts counts; /* inference requests */
};

struct server {
	struct served_model *models;
	size_t n_models;
	size_t max_body, max_rows;
	const char *version;
	struct serve_counts http;   /* every request */
	atomic_long in_flight;      /* requests begun and not yet done */
	void *daemon;
};

/* ---- serve_metrics.c ---- */
/* Counts a request answered with `code` after `seconds`, carrying `rows`
 * rows of outputs, for model (NULL: not an inference). */
void serve_count(struct server *s, struct served_model *model, unsigned code,
		 double seconds, size_t rows);
/* The counts as Prometheus' text exposition format, malloc'd (NULL for no
 * memory), its length in *len. */
char *serve_metrics(struct server *s, size_t *len);

/* ---- serve_http.c ---- */
/* Starts answering on host:port (0: a free port) with `threads` threads;
 * the port bound into *bound. Returns an exit code, said. */
int serve_http_start(struct server *s, const char *host, unsigned port,
		     unsigned threads, unsigned *bound);
/* Stops accepting, answers every request begun (within `grace` seconds),
 * and stops. */
void serve_http_stop(struct server *s, double grace);

#endif
