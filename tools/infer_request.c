/*
 * infer_request.c — the JSON body of an inference request, read in one
 * pass without a tree: the fields mlp needs are taken as they come, in
 * any order, and everything else (parameters, fields a later version of
 * the protocol adds) is checked as JSON and skipped. Numbers go through
 * number_parse, so a value reads to the float mlp run reads from the same
 * text.
 */
#include "infer_request.h"
#include "number.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 32, MAX_SHAPE = 8 };

struct parser {
	char *p, *end;
	char *err;
	bool failed;
	/* the input tensor */
	int inputs, outputs;
	bool has_shape, has_data, has_type, has_name;
	size_t shape[MAX_SHAPE], dims;
	float *data;
	size_t count, cap, limit;
	char type[16];
	char name[64];
};

__attribute__((format(printf, 2, 3)))
static bool fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (!ps->failed) {
		va_start(ap, fmt);
		vsnprintf(ps->err, INFER_ERROR_SIZE, fmt, ap);
		va_end(ap);
	}
	ps->failed = true;
	return false;
}

static void ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool peek(struct parser *ps, char c)
{
	ws(ps);
	return ps->p < ps->end && *ps->p == c;
}

static bool expect(struct parser *ps, char c, const char *where)
{
	if (!peek(ps, c))
		return ps->p < ps->end
			       ? fail(ps, "malformed JSON: '%c' expected %s, "
					  "found '%c'", c, where, *ps->p)
			       : fail(ps, "malformed JSON: the body ends where "
					  "'%c' is expected %s", c, where);
	ps->p++;
	return true;
}

static bool hex4(const char *s)
{
	for (int i = 0; i < 4; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* A string: its bytes between the quotes, escapes checked, not decoded. */
static bool string(struct parser *ps, const char **s, size_t *n)
{
	if (!expect(ps, '"', "(a string)"))
		return false;
	*s = ps->p;
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;

		if (c < 0x20)
			return fail(ps, "malformed JSON: a control character "
				    "in a string");
		if (c == '\\') {
			if (ps->end - ps->p < 2)
				break;
			c = (unsigned char)ps->p[1];
			if (c == 'u') {
				if (ps->end - ps->p < 6 || !hex4(ps->p + 2))
					return fail(ps, "malformed JSON: a bad "
						    "\\u escape");
				ps->p += 6;
				continue;
			}
			if (strchr("\"\\/bfnrt", c) == NULL)
				return fail(ps, "malformed JSON: a bad escape "
					    "'\\%c'", c);
			ps->p += 2;
			continue;
		}
		ps->p++;
	}
	if (ps->p >= ps->end)
		return fail(ps, "malformed JSON: a string without its end");
	*n = (size_t)(ps->p - *s);
	ps->p++;
	return true;
}

static bool is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* The extent of a JSON number at ps->p: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static bool number_text(struct parser *ps, char **s, size_t *n)
{
	char *p = ps->p, *end = ps->end;

	*s = p;
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (p < end && *p == '.') {
		if (++p >= end || !(*p >= '0' && *p <= '9'))
			return false;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !(*p >= '0' && *p <= '9'))
			return false;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	*n = (size_t)(p - *s);
	ps->p = p;
	return true;
}

static bool word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
		return false;
	ps->p += n;
	return true;
}

/* Any JSON value, checked and passed over. */
static bool skip(struct parser *ps, int depth)
{
	const char *s;
	char *t;
	size_t n;

	if (depth > MAX_DEPTH)
		return fail(ps, "malformed JSON: nested deeper than %d",
			    MAX_DEPTH);
	ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "malformed JSON: the body ends where a value "
			    "is expected");
	switch (*ps->p) {
	case '"':
		return string(ps, &s, &n);
	case '{':
		ps->p++;
		if (peek(ps, '}'))
			return ps->p++, true;
		do {
			if (!string(ps, &s, &n) || !expect(ps, ':', "after a key") ||
			    !skip(ps, depth + 1))
				return false;
		} while (peek(ps, ',') && ps->p++);
		return expect(ps, '}', "to close an object");
	case '[':
		ps->p++;
		if (peek(ps, ']'))
			return ps->p++, true;
		do {
			if (!skip(ps, depth + 1))
				return false;
		} while (peek(ps, ',') && ps->p++);
		return expect(ps, ']', "to close an array");
	default:
		if (word(ps, "true") || word(ps, "false") || word(ps, "null") ||
		    number_text(ps, &t, &n))
			return true;
		return fail(ps, "malformed JSON: an unexpected '%c'", *ps->p);
	}
}

/* Room for more data, up to the limit of a request. */
static bool grow(struct parser *ps)
{
	size_t cap = ps->cap == 0 ? 1024 : 2 * ps->cap;
	float *d;

	if (ps->count == ps->limit)
		return fail(ps, "data holds more than %zu values, the most a "
			    "request takes (max-batch rows of the model's "
			    "width)", ps->limit);
	cap = cap < ps->limit ? cap : ps->limit;
	d = realloc(ps->data, cap * sizeof(float));
	if (d == NULL)
		return fail(ps, "out of memory for the data");
	ps->data = d;
	ps->cap = cap;
	return true;
}

/* The JSON number at ps->p, as number_text reads it, into *v: its digits
 * gathered as they are checked and made a float by number_exact, or by
 * number_parse (strtof's float) where that cannot. */
static bool json_float(struct parser *ps, float *v)
{
	char *s = ps->p, *p = s, *end = ps->end;
	bool negative = false, exact = true;
	uint64_t w = 0;
	long e = 0;

	if (p < end && *p == '-')
		negative = true, p++;
	if (p >= end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end &&
						   p[1] >= '0' && p[1] <= '9'))
		return number_text(ps, &s, &(size_t){ 0 }) &&
		       number_parse(s, (size_t)(ps->p - s), v) == NUMBER_OK;
	for (int part = 0; part < 2; part++) {
		while (p < end && *p >= '0' && *p <= '9') {
			unsigned k = (unsigned)(*p++ - '0');

			if (w < 1000000000000000000u) {
				w = w * 10 + k;
				e -= part;
			} else {
				exact &= k == 0;
				e += 1 - part;
			}
		}
		if (part == 1 || p >= end || *p != '.')
			break;
		if (++p >= end || *p < '0' || *p > '9')
			return false;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		/* rare: the whole number to number_parse */
		ps->p = s;
		return number_text(ps, &s, &(size_t){ 0 }) &&
		       number_parse(s, (size_t)(ps->p - s), v) == NUMBER_OK;
	}
	ps->p = p;
	if (w == 0 && exact)
		*v = negative ? -0.0f : 0.0f;
	else if (!exact || !number_exact(negative, w, e, v))
		return number_parse(s, (size_t)(p - s), v) == NUMBER_OK;
	return true;
}

/* A value of the data: a finite float, appended. */
static bool data_value(struct parser *ps)
{
	char *s;
	float v;

	ws(ps);
	s = ps->p;
	if (ps->p < ps->end && (*ps->p == '"' || *ps->p == 't' ||
				*ps->p == 'f' || *ps->p == 'n'))
		return fail(ps, "data value %zu is not a number", ps->count + 1);
	if (!json_float(ps, &v))
		return ps->p < ps->end && (*ps->p == 'N' || *ps->p == 'I')
			       ? fail(ps, "data value %zu is not a finite "
					  "number (JSON has no NaN or "
					  "infinity)", ps->count + 1)
			       : fail(ps, "malformed JSON: data value %zu is "
					  "not a number", ps->count + 1);
	if (!isfinite(v))
		return fail(ps, "data value %zu, %.*s, is beyond the range of "
			    "FP32", ps->count + 1,
			    (int)(ps->p - s < 40 ? ps->p - s : 40), s);
	if (ps->count == ps->cap && !grow(ps))
		return false;
	ps->data[ps->count++] = v;
	return true;
}

/* The data array: numbers, flat or nested, in row-major order. */
static bool data(struct parser *ps, int depth)
{
	if (depth > MAX_SHAPE)
		return fail(ps, "data is nested deeper than %d", MAX_SHAPE);
	if (!peek(ps, '['))
		return depth == 0 ? fail(ps, "data is not an array")
				  : data_value(ps);
	ps->p++;
	if (peek(ps, ']'))
		return ps->p++, true;
	do {
		if (!data(ps, depth + 1))
			return false;
	} while (peek(ps, ',') && ps->p++);
	return expect(ps, ']', "to close an array of data");
}

static bool shape(struct parser *ps)
{
	char *s;
	size_t n;

	if (!expect(ps, '[', "(shape is an array)"))
		return false;
	ps->dims = 0;
	if (peek(ps, ']'))
		return ps->p++, true;
	do {
		size_t v = 0;

		ws(ps);
		if (!number_text(ps, &s, &n))
			return fail(ps, "shape holds a value that is not a "
				    "number");
		for (size_t i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9' || v > (SIZE_MAX - 9) / 10)
				return fail(ps, "shape holds %.*s, not a count",
					    (int)(n < 40 ? n : 40), s);
			v = v * 10 + (size_t)(s[i] - '0');
		}
		if (ps->dims == MAX_SHAPE)
			return fail(ps, "shape has more than %d dimensions",
				    MAX_SHAPE);
		ps->shape[ps->dims++] = v;
	} while (peek(ps, ',') && ps->p++);
	return expect(ps, ']', "to close shape");
}

/* A short string field into buf, or a message naming it. */
static bool short_string(struct parser *ps, const char *field, char *buf,
			 size_t size)
{
	const char *s;
	size_t n;

	if (!peek(ps, '"'))
		return fail(ps, "%s is not a string", field);
	if (!string(ps, &s, &n))
		return false;
	if (n >= size)
		return fail(ps, "%s is longer than %zu bytes", field, size - 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static bool input(struct parser *ps)
{
	const char *k;
	size_t n;

	if (++ps->inputs > 1)
		return fail(ps, "inputs holds more than one tensor: the model "
			    "has one input");
	if (!expect(ps, '{', "(an input is an object)"))
		return false;
	if (peek(ps, '}'))
		return ps->p++, true;
	do {
		bool ok;

		if (!string(ps, &k, &n) || !expect(ps, ':', "after a key"))
			return false;
		if (is(k, n, "name")) {
			ps->has_name = true;
			ok = short_string(ps, "the input's name", ps->name,
					  sizeof(ps->name));
		} else if (is(k, n, "datatype")) {
			ps->has_type = true;
			ok = short_string(ps, "datatype", ps->type,
					  sizeof(ps->type));
		} else if (is(k, n, "shape")) {
			ps->has_shape = true;
			ok = shape(ps);
		} else if (is(k, n, "data")) {
			if (ps->has_data)
				return fail(ps, "data given twice");
			ps->has_data = true;
			ok = data(ps, 0);
		} else {
			ok = skip(ps, 2);
		}
		if (!ok)
			return false;
	} while (peek(ps, ',') && ps->p++);
	return expect(ps, '}', "to close an input");
}

static bool output(struct parser *ps)
{
	const char *k;
	size_t n;
	char name[64];

	ps->outputs++;
	if (!expect(ps, '{', "(an output is an object)"))
		return false;
	if (peek(ps, '}'))
		return ps->p++, true;
	do {
		if (!string(ps, &k, &n) || !expect(ps, ':', "after a key"))
			return false;
		if (is(k, n, "name")) {
			if (!short_string(ps, "an output's name", name, sizeof(name)))
				return false;
			if (strcmp(name, "output") != 0)
				return fail(ps, "output '%s' is not the model's: "
					    "it has one, 'output'", name);
		} else if (!skip(ps, 2)) {
			return false;
		}
	} while (peek(ps, ',') && ps->p++);
	return expect(ps, '}', "to close an output");
}

/* An array of objects, each read by one. */
static bool objects(struct parser *ps, const char *field,
		    bool (*one)(struct parser *))
{
	if (!peek(ps, '['))
		return fail(ps, "%s is not an array", field);
	ps->p++;
	if (peek(ps, ']'))
		return ps->p++, true;
	do {
		if (!one(ps))
			return false;
	} while (peek(ps, ',') && ps->p++);
	return expect(ps, ']', "to close an array");
}

static bool top(struct parser *ps, struct infer_request *out)
{
	const char *k, *s;
	size_t n, len;
	bool seen_inputs = false;

	if (!expect(ps, '{', "(the body is a JSON object)"))
		return false;
	if (!peek(ps, '}')) {
		do {
			bool ok;

			if (!string(ps, &k, &n) || !expect(ps, ':', "after a key"))
				return false;
			if (is(k, n, "inputs")) {
				if (seen_inputs)
					return fail(ps, "inputs given twice");
				seen_inputs = true;
				ok = objects(ps, "inputs", input);
			} else if (is(k, n, "outputs")) {
				ok = objects(ps, "outputs", output);
			} else if (is(k, n, "id")) {
				if (!peek(ps, '"'))
					return fail(ps, "id is not a string");
				ok = string(ps, &s, &len);
				if (ok && len >= sizeof(out->id))
					return fail(ps, "id is longer than %zu "
						    "bytes", sizeof(out->id) - 1);
				if (ok) {
					memcpy(out->id, s, len);
					out->id[len] = '\0';
					out->has_id = true;
				}
			} else {
				ok = skip(ps, 1);
			}
			if (!ok)
				return false;
		} while (peek(ps, ',') && ps->p++);
	}
	if (!expect(ps, '}', "to close the body"))
		return false;
	ws(ps);
	if (ps->p != ps->end)
		return fail(ps, "malformed JSON: more after the body's object");
	return true;
}

/* The tensor as the model takes it: FP32, rows of `width`. */
static bool check(struct parser *ps, size_t width, size_t max_rows,
		  size_t *rows)
{
	if (ps->inputs == 0)
		return fail(ps, "no input tensor: inputs is missing or empty");
	if (!ps->has_name || strcmp(ps->name, "input") != 0)
		return fail(ps, "input '%s' is not the model's: it has one, "
			    "'input'", ps->has_name ? ps->name : "(no name)");
	if (!ps->has_type || strcmp(ps->type, "FP32") != 0)
		return fail(ps, "datatype '%s': the model takes FP32",
			    ps->has_type ? ps->type : "(none)");
	if (!ps->has_shape)
		return fail(ps, "the input has no shape");
	if (!ps->has_data)
		return fail(ps, "the input has no data");
	if (ps->dims == 1 || ps->dims == 2) {
		size_t r = ps->dims == 2 ? ps->shape[0] : 1;
		size_t w = ps->shape[ps->dims - 1];

		if (w != width)
			return fail(ps, "the input's rows have %zu values: the "
				    "model takes %zu", w, width);
		if (r == 0 || r > max_rows)
			return fail(ps, "the input has %zu rows: a request "
				    "takes 1 to %zu", r, max_rows);
		if (ps->count != r * w)
			return fail(ps, "data holds %zu values: shape [%zu, "
				    "%zu] needs %zu", ps->count, r, w, r * w);
		*rows = r;
		return true;
	}
	return fail(ps, "the input's shape has %zu dimensions: the model "
		    "takes [rows, %zu]", ps->dims, width);
}

bool infer_decode(char *body, size_t len, size_t width, size_t max_rows,
		  struct infer_request *out, char err[INFER_ERROR_SIZE])
{
	struct parser ps = {
		.p = body, .end = body + len, .err = err,
		.limit = max_rows * width,
	};

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (top(&ps, out) && check(&ps, width, max_rows, &out->rows)) {
		out->data = ps.data;
		return true;
	}
	free(ps.data);
	memset(out, 0, sizeof(*out));
	return false;
}
