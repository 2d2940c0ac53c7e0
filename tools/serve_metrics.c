/*
 * serve_metrics.c — mlp serve's counts, and /metrics in Prometheus' text
 * exposition format (version 0.0.4): requests by status, rows, and
 * histograms of latency and of the batcher's batch sizes, per model.
 */
#include "serve.h"
#include "textbuf.h"

#include <stdlib.h>
#include <string.h>

const unsigned serve_codes[N_CODES] = { 200, 400, 404, 405, 500, 503 };

const double serve_latency_bounds[N_LATENCY] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
};

static void add(struct serve_counts *c, unsigned code, double seconds,
		size_t rows)
{
	size_t b = 0;

	for (size_t i = 0; i < N_CODES; i++)
		if (serve_codes[i] == code)
			atomic_fetch_add(&c->by_code[i], 1);
	while (b < N_LATENCY && seconds > serve_latency_bounds[b])
		b++;
	atomic_fetch_add(&c->latency[b], 1);
	atomic_fetch_add(&c->latency_ns, (unsigned long)(seconds * 1e9));
	atomic_fetch_add(&c->rows, rows);
}

void serve_count(struct server *s, struct served_model *model, unsigned code,
		 double seconds, size_t rows)
{
	add(&s->http, code, seconds, 0);
	if (model != NULL)
		add(&model->counts, code, seconds, rows);
}

/* A histogram of counts per bucket, written cumulative. */
static void histogram(struct textbuf *t, const char *name, const char *labels,
		      const unsigned long *per_bucket, const double *bounds,
		      size_t n, double sum)
{
	unsigned long total = 0;
	char bare[320];
	size_t k = strlen(labels);

	/* labels end in a comma, for le to follow; not so for _sum, _count */
	snprintf(bare, sizeof(bare), "%.*s", (int)(k > 0 ? k - 1 : 0), labels);
	for (size_t i = 0; i < n; i++) {
		total += per_bucket[i];
		textbuf_put(t, "%s_bucket{%sle=\"%g\"} %lu\n", name, labels, bounds[i],
		    total);
	}
	total += per_bucket[n];
	textbuf_put(t, "%s_bucket{%sle=\"+Inf\"} %lu\n", name, labels, total);
	if (bare[0] != '\0') {
		textbuf_put(t, "%s_sum{%s} %.9g\n", name, bare, sum);
		textbuf_put(t, "%s_count{%s} %lu\n", name, bare, total);
	} else {
		textbuf_put(t, "%s_sum %.9g\n%s_count %lu\n", name, sum, name,
			    total);
	}
}

static void latency(struct textbuf *t, const char *name,
		    const struct serve_counts *c, const char *labels)
{
	unsigned long b[N_LATENCY + 1];

	for (size_t i = 0; i <= N_LATENCY; i++)
		b[i] = atomic_load(&c->latency[i]);
	histogram(t, name, labels, b, serve_latency_bounds, N_LATENCY,
		  (double)atomic_load(&c->latency_ns) / 1e9);
}

/* A model's name as a label value: \, " and newline escaped. */
static void label(char *out, size_t size, const char *name)
{
	size_t o = 0;

	for (const char *p = name; *p != '\0' && o + 3 < size; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n')
			out[o++] = '\\';
		out[o++] = *p == '\n' ? 'n' : *p;
	}
	out[o] = '\0';
}

char *serve_metrics(struct server *s, size_t *len)
{
	struct textbuf t = { NULL, 0, 0, false };
	double rows_bounds[17];

	for (int i = 0; i < 17; i++)
		rows_bounds[i] = (double)(1u << i);
	textbuf_put(&t, "# HELP mlp_http_requests_total HTTP requests answered, by "
	    "status.\n# TYPE mlp_http_requests_total counter\n");
	for (size_t i = 0; i < N_CODES; i++)
		textbuf_put(&t, "mlp_http_requests_total{code=\"%u\"} %lu\n",
		    serve_codes[i], atomic_load(&s->http.by_code[i]));
	textbuf_put(&t, "# HELP mlp_http_request_duration_seconds From a request's "
	    "first byte to its answer.\n"
	    "# TYPE mlp_http_request_duration_seconds histogram\n");
	latency(&t, "mlp_http_request_duration_seconds", &s->http, "");
	textbuf_put(&t, "# HELP mlp_infer_requests_total Inference requests answered, "
	    "by model and status.\n# TYPE mlp_infer_requests_total counter\n");
	for (size_t m = 0; m < s->n_models; m++) {
		char name[300];

		label(name, sizeof(name), s->models[m].name);
		for (size_t i = 0; i < N_CODES; i++)
			textbuf_put(&t, "mlp_infer_requests_total{model=\"%s\",code=\"%u\"}"
			    " %lu\n", name, serve_codes[i],
			    atomic_load(&s->models[m].counts.by_code[i]));
	}
	textbuf_put(&t, "# HELP mlp_infer_rows_total Rows of outputs answered.\n"
	    "# TYPE mlp_infer_rows_total counter\n");
	for (size_t m = 0; m < s->n_models; m++) {
		char name[300];

		label(name, sizeof(name), s->models[m].name);
		textbuf_put(&t, "mlp_infer_rows_total{model=\"%s\"} %lu\n", name,
		    atomic_load(&s->models[m].counts.rows));
	}
	textbuf_put(&t, "# HELP mlp_infer_request_duration_seconds From an inference "
	    "request's first byte to its answer.\n"
	    "# TYPE mlp_infer_request_duration_seconds histogram\n");
	for (size_t m = 0; m < s->n_models; m++) {
		char name[300], labels[320];

		label(name, sizeof(name), s->models[m].name);
		snprintf(labels, sizeof(labels), "model=\"%s\",", name);
		latency(&t, "mlp_infer_request_duration_seconds",
			&s->models[m].counts, labels);
	}
	textbuf_put(&t, "# HELP mlp_batch_rows Rows of the forward passes the batcher "
	    "ran.\n# TYPE mlp_batch_rows histogram\n");
	for (size_t m = 0; m < s->n_models; m++) {
		char name[300], labels[320];
		mlp_batch_stats st;
		unsigned long b[18] = { 0 };

		if (mlp_batcher_stats(s->models[m].batcher, &st, sizeof(st)) !=
		    MLP_OK)
			continue;
		for (int i = 0; i < 17; i++)
			b[i] = (unsigned long)st.batches_by_rows[i];
		label(name, sizeof(name), s->models[m].name);
		snprintf(labels, sizeof(labels), "model=\"%s\",", name);
		histogram(&t, "mlp_batch_rows", labels, b, rows_bounds, 17,
			  (double)st.rows);
	}
	textbuf_put(&t, "# HELP mlp_batch_refused_total Requests refused for a full "
	    "queue (503).\n# TYPE mlp_batch_refused_total counter\n");
	for (size_t m = 0; m < s->n_models; m++) {
		char name[300];
		mlp_batch_stats st;

		if (mlp_batcher_stats(s->models[m].batcher, &st, sizeof(st)) !=
		    MLP_OK)
			continue;
		label(name, sizeof(name), s->models[m].name);
		textbuf_put(&t, "mlp_batch_refused_total{model=\"%s\"} %lu\n", name,
		    (unsigned long)st.refused);
	}
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}
