/*
 * serve_http.c — mlp serve's answers, on libmicrohttpd.
 *
 * The daemon runs its own threads on epoll. An inference request is read
 * whole (up to --max-body), decoded, scaled as mlp run scales, and given
 * to its model's batcher; the connection is suspended meanwhile, so no
 * HTTP thread waits on a forward pass, and the batcher's worker resumes
 * it when the outputs are in. Every answer is JSON but /metrics; every
 * error is {"error": "what is wrong"} with its status.
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"

#include "clock.h"
#include "infer_request.h"
#include "textbuf.h"

#include "mhd.h"

#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum state { READING, RUNNING, RAN };

/* One request, from its first byte to its answer. */
struct exchange {
	struct server *s;
	struct MHD_Connection *conn;
	double t0;
	char *body;
	size_t len, cap;
	bool too_big;
	struct served_model *model;
	struct infer_request req;
	float *Y;
	atomic_int state;
	mlp_status status;
};

/* ---- answers ----------------------------------------------------------- */

/* text as the inside of a JSON string. */
static void put_escaped(struct textbuf *j, const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\')
			textbuf_put(j, "\\%c", *p);
		else if (*p < 0x20)
			textbuf_put(j, "\\u%04x", *p);
		else
			textbuf_put(j, "%c", *p);
	}
}

static enum MHD_Result answer(struct exchange *x, unsigned code,
			      const char *type, struct textbuf *j, size_t rows)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (j->failed) {
		free(j->buf);
		return MHD_NO; /* out of memory: the connection is closed */
	}
	r = mhd.create_response_from_buffer(j->len, j->buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(j->buf);
		return MHD_NO;
	}
	if (type != NULL)
		mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == 503)
		mhd.add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (code == 405)
		mhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW,
					x->model != NULL ? "POST" : "GET, HEAD");
	ret = mhd.queue_response(x->conn, code, r);
	mhd.destroy_response(r);
	serve_count(x->s, x->model, code, clock_seconds() - x->t0, rows);
	return ret;
}

__attribute__((format(printf, 3, 4)))
static enum MHD_Result error(struct exchange *x, unsigned code,
			     const char *fmt, ...)
{
	struct textbuf j = { NULL, 0, 0, false };
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	textbuf_put(&j, "{\"error\":\"");
	put_escaped(&j, text);
	textbuf_put(&j, "\"}");
	return answer(x, code, "application/json", &j, 0);
}

static enum MHD_Result empty(struct exchange *x)
{
	struct textbuf j = { NULL, 0, 0, false };

	j.buf = malloc(1);
	j.failed = j.buf == NULL;
	return answer(x, 200, NULL, &j, 0);
}

static void put_tensor_meta(struct textbuf *j, const char *name, size_t width)
{
	textbuf_put(j, "{\"name\":\"%s\",\"datatype\":\"FP32\",\"shape\":[-1,%zu]}",
	    name, width);
}

static enum MHD_Result model_metadata(struct exchange *x,
				      const struct served_model *m)
{
	struct textbuf j = { NULL, 0, 0, false };

	textbuf_put(&j, "{\"name\":\"");
	put_escaped(&j, m->name);
	textbuf_put(&j, "\",\"versions\":[\"1\"],\"platform\":\"mlp\",\"inputs\":[");
	put_tensor_meta(&j, "input", m->n_in);
	textbuf_put(&j, "],\"outputs\":[");
	put_tensor_meta(&j, "output", m->n_out);
	textbuf_put(&j, "]}");
	return answer(x, 200, "application/json", &j, 0);
}

static enum MHD_Result server_metadata(struct exchange *x)
{
	struct textbuf j = { NULL, 0, 0, false };

	textbuf_put(&j, "{\"name\":\"mlp\",\"version\":\"%s\",\"extensions\":[]}",
	    x->s->version);
	return answer(x, 200, "application/json", &j, 0);
}

static enum MHD_Result metrics(struct exchange *x)
{
	struct textbuf j = { NULL, 0, 0, false };

	j.buf = serve_metrics(x->s, &j.len);
	j.failed = j.buf == NULL;
	return answer(x, 200, "text/plain; version=0.0.4", &j, 0);
}

/* The outputs of a request that ran. */
static enum MHD_Result outputs(struct exchange *x)
{
	struct served_model *m = x->model;
	size_t rows = x->req.rows, n = rows * m->n_out;
	struct textbuf j = { NULL, 0, 0, false };
	mlp_status st = x->status;

	if (st == MLP_EBUSY)
		return error(x, 503, "the queue of model '%s' is full: try "
			     "again later", m->name);
	if (st == MLP_OK)
		st = mlp_net_unscale_outputs(m->net, rows, x->Y);
	for (size_t i = 0; st == MLP_OK && i < n; i++)
		if (!isfinite(x->Y[i]))
			st = MLP_ENONFINITE;
	if (st != MLP_OK)
		return error(x, 500, "the forward pass failed: %s",
			     mlp_strerror(st));
	j.cap = 96 + strlen(m->name) + sizeof(x->req.id) + 16 * n;
	j.buf = malloc(j.cap);
	j.failed = j.buf == NULL;
	textbuf_put(&j, "{\"model_name\":\"");
	put_escaped(&j, m->name);
	textbuf_put(&j, "\",\"model_version\":\"1\"");
	if (x->req.has_id)
		textbuf_put(&j, ",\"id\":\"%s\"", x->req.id);
	textbuf_put(&j, ",\"outputs\":[{\"name\":\"output\",\"datatype\":\"FP32\","
	    "\"shape\":[%zu,%zu],\"data\":[", rows, m->n_out);
	for (size_t i = 0; i < n; i++)
		textbuf_put(&j, i ? ",%.9g" : "%.9g", (double)x->Y[i]);
	textbuf_put(&j, "]}]}");
	return answer(x, 200, "application/json", &j, rows);
}

/* ---- inference --------------------------------------------------------- */

/* The batcher's call when the request's pass is done: on a worker. */
static void ran(void *user, mlp_status st)
{
	struct exchange *x = user;

	x->status = st;
	atomic_store(&x->state, RAN);
	mhd.resume_connection(x->conn);
}

static enum MHD_Result infer(struct exchange *x)
{
	struct served_model *m = x->model;
	char err[INFER_ERROR_SIZE];
	mlp_status st;

	if (x->too_big)
		return error(x, 400, "the body is larger than --max-body, %zu "
			     "bytes", x->s->max_body);
	if (x->len == 0)
		return error(x, 400, "the request has no body: it is a JSON "
			     "object with inputs");
	if (!infer_decode(x->body, x->len, m->n_in, x->s->max_rows, &x->req,
			  err))
		return error(x, 400, "%s", err);
	st = mlp_net_scale_inputs(m->net, x->req.rows, x->req.data,
				  x->req.data);
	/* Values that scale to infinity are the request's fault. */
	if (st != MLP_OK)
		return error(x, st == MLP_ENONFINITE ? 400 : 500, "the inputs "
			     "cannot be scaled as the model says: %s",
			     mlp_strerror(st));
	x->Y = malloc(x->req.rows * m->n_out * sizeof(float));
	if (x->Y == NULL)
		return error(x, 500, "out of memory for the outputs");
	/* Suspended before the batcher can call back, and resumed there; or
	 * here at once when the request is refused. */
	atomic_store(&x->state, RUNNING);
	mhd.suspend_connection(x->conn);
	st = mlp_batcher_submit(m->batcher, x->req.rows, x->req.data, x->Y,
				ran, x);
	if (st != MLP_OK)
		ran(x, st);
	return MHD_YES;
}

/* ---- routes ------------------------------------------------------------ */

static struct served_model *find(struct server *s, const char *name,
				 size_t len)
{
	for (size_t i = 0; i < s->n_models; i++)
		if (strlen(s->models[i].name) == len &&
		    memcmp(s->models[i].name, name, len) == 0)
			return &s->models[i];
	return NULL;
}

static enum MHD_Result unknown_model(struct exchange *x, const char *name,
				     size_t len)
{
	struct textbuf list = { NULL, 0, 0, false };
	enum MHD_Result r;

	for (size_t i = 0; i < x->s->n_models; i++)
		textbuf_put(&list, "%s%s", i ? ", " : "", x->s->models[i].name);
	r = error(x, 404, "no model '%.*s': this server has %s",
		  (int)(len < 100 ? len : 100), name,
		  list.failed ? "others" : list.buf);
	free(list.buf);
	return r;
}

/* /v2/models/NAME[/versions/1][/ready | /infer] */
static enum MHD_Result models(struct exchange *x, const char *path,
			      bool get, bool post)
{
	const char *slash = strchr(path, '/');
	size_t len = slash != NULL ? (size_t)(slash - path) : strlen(path);
	struct served_model *m = find(x->s, path, len);
	const char *rest = path + len;

	if (m == NULL)
		return unknown_model(x, path, len);
	if (strncmp(rest, "/versions/", 10) == 0) {
		const char *v = rest + 10, *end = strchr(v, '/');
		size_t vlen = end != NULL ? (size_t)(end - v) : strlen(v);

		if (vlen != 1 || v[0] != '1')
			return error(x, 404, "model '%s' has no version '%.*s': "
				     "it has one, '1'", m->name,
				     (int)(vlen < 40 ? vlen : 40), v);
		rest = v + vlen;
	}
	if (rest[0] == '\0')
		return get ? model_metadata(x, m)
			   : error(x, 405, "model metadata is read with GET");
	if (strcmp(rest, "/ready") == 0)
		return get ? empty(x) : error(x, 405, "readiness is read "
					      "with GET");
	if (strcmp(rest, "/infer") == 0) {
		x->model = m;
		if (!post)
			return error(x, 405, "inference requests are POSTed");
		return infer(x);
	}
	return error(x, 404, "no such endpoint: /v2/models/%s%.100s", m->name,
		     rest);
}

static enum MHD_Result route(struct exchange *x, const char *url,
			     const char *method)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	bool post = strcmp(method, "POST") == 0;

	if (strncmp(url, "/v2/models/", 11) == 0 && url[11] != '\0')
		return models(x, url + 11, get, post);
	if (strcmp(url, "/v2/health/live") == 0 ||
	    strcmp(url, "/v2/health/ready") == 0)
		return get ? empty(x) : error(x, 405, "health is read with GET");
	if (strcmp(url, "/v2") == 0)
		return get ? server_metadata(x)
			   : error(x, 405, "server metadata is read with GET");
	if (strcmp(url, "/metrics") == 0)
		return get ? metrics(x) : error(x, 405, "metrics are read with "
						  "GET");
	return error(x, 404, "no such endpoint: %.200s", url);
}

/* ---- libmicrohttpd's calls --------------------------------------------- */

static bool take(struct exchange *x, const char *data, size_t n)
{
	size_t want;

	if (x->too_big || n > x->s->max_body - x->len) {
		x->too_big = true;
		return true; /* read on, and refuse it whole */
	}
	want = x->len + n + 1; /* and a byte for the number reader */
	if (want > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (cap < want)
			cap *= 2;
		b = realloc(x->body, cap);
		if (b == NULL)
			return false;
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, data, n);
	x->len += n;
	x->body[x->len] = '\0';
	return true;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct exchange *x = *con_cls;

	(void)version;
	if (x == NULL) {
		x = calloc(1, sizeof(*x));
		if (x == NULL)
			return MHD_NO;
		x->s = s;
		x->conn = conn;
		x->t0 = clock_seconds();
		atomic_init(&x->state, READING);
		atomic_fetch_add(&s->in_flight, 1);
		*con_cls = x;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!take(x, upload, *upload_size))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	switch (atomic_load(&x->state)) {
	case RAN:
		return outputs(x);
	case RUNNING:
		return MHD_YES; /* resumed early: the pass is not done */
	default:
		return route(x, url, method);
	}
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode why)
{
	struct server *s = cls;
	struct exchange *x = *con_cls;

	(void)conn;
	(void)why;
	if (x == NULL)
		return;
	free(x->body);
	free(x->req.data);
	free(x->Y);
	free(x);
	*con_cls = NULL;
	atomic_fetch_sub(&s->in_flight, 1);
}

__attribute__((format(printf, 2, 0)))
static void logger(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("mlp: serve: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int serve_http_start(struct server *s, const char *host, unsigned port,
		     unsigned threads, unsigned *bound)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	char service[16], err[512];
	int gai;

	if (!mhd_load(err, sizeof(err)))
		return report_error(EXIT_FAIL, "serve: %s", err);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(service, sizeof(service), "%u", port);
	gai = getaddrinfo(host, service, &hints, &ai);
	if (gai != 0)
		return report_error(EXIT_USAGE, "serve: --host '%s': %s", host,
				    gai_strerror(gai));
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = mhd.start_daemon(flags, (uint16_t)port, NULL, NULL, handle, s,
			     MHD_OPTION_EXTERNAL_LOGGER, logger, NULL,
			     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
			     MHD_OPTION_THREAD_POOL_SIZE, threads,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, s,
			     MHD_OPTION_CONNECTION_TIMEOUT, 60u,
			     MHD_OPTION_CONNECTION_LIMIT, 4096u,
			     MHD_OPTION_END);
	freeaddrinfo(ai);
	if (d == NULL)
		return report_error(EXIT_FAIL, "serve: cannot listen on %s:%u "
				    "(in use, or not an address of this "
				    "machine)", host, port);
	info = mhd.get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*bound = info != NULL ? info->port : port;
	s->daemon = d;
	return EXIT_OK;
}

void serve_http_stop(struct server *s, double grace)
{
	struct MHD_Daemon *d = s->daemon;
	struct timespec pause = { 0, 1000000 };
	MHD_socket listening = mhd.quiesce_daemon(d);
	double until = clock_seconds() + grace;

	while (atomic_load(&s->in_flight) > 0 && clock_seconds() < until)
		nanosleep(&pause, NULL);
	mhd.stop_daemon(d);
	if (listening != MHD_INVALID_SOCKET)
		close(listening);
	s->daemon = NULL;
}
