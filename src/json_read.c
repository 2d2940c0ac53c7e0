/*
 * json_read.c — the JSON of a model file's header, read into a tree in one
 * allocation.
 *
 * A first pass checks the grammar and counts the values; the second builds
 * the tree in a block sized from that count. So the memory a header can
 * take is known before any is taken (the values, the text, and a pointer a
 * value), no header can make the reader allocate more than that, and a
 * failed allocation is one clean MLP_ENOMEM. (A general JSON library
 * took 4.5 GB for a header of 33 million "[]", and dropped bytes of a
 * string it failed to grow.)
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

/* What mlp.h promises: 64 bytes a value at most. */
_Static_assert(sizeof(struct mlpi_json) + sizeof(char *) <= 64,
	       "a JSON value takes more than 64 bytes");

struct parser {
	const unsigned char *start, *p, *end;
	size_t values, max_values;
	int depth, max_depth;
	const char *why;        /* the first error, at p */
	bool build;             /* the second pass: fill the tree */
	struct mlpi_json *nodes;
	char *chars;            /* decoded strings */
	const char **scratch;   /* keys of one object, for duplicates */
	size_t n_nodes, n_chars;
};

static bool fail(struct parser *s, const char *why)
{
	if (s->why == NULL)
		s->why = why;
	return false;
}

static void skip_space(struct parser *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits after "\u" at p: the code unit, or -1. */
static long unit(struct parser *s)
{
	long u = 0;

	if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		int h = hex(s->p[i]);
		if (h < 0)
			return -1;
		u = u << 4 | h;
	}
	s->p += 6;
	return u;
}

static void put(struct parser *s, unsigned char c)
{
	if (s->build)
		s->chars[s->n_chars] = (char)c;
	s->n_chars++;
}

static void put_utf8(struct parser *s, unsigned long cp)
{
	if (cp < 0x80) {
		put(s, (unsigned char)cp);
	} else if (cp < 0x800) {
		put(s, (unsigned char)(0xC0 | cp >> 6));
		put(s, (unsigned char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		put(s, (unsigned char)(0xE0 | cp >> 12));
		put(s, (unsigned char)(0x80 | (cp >> 6 & 0x3F)));
		put(s, (unsigned char)(0x80 | (cp & 0x3F)));
	} else {
		put(s, (unsigned char)(0xF0 | cp >> 18));
		put(s, (unsigned char)(0x80 | (cp >> 12 & 0x3F)));
		put(s, (unsigned char)(0x80 | (cp >> 6 & 0x3F)));
		put(s, (unsigned char)(0x80 | (cp & 0x3F)));
	}
}

/* "\uXXXX", or a surrogate pair of them, at p. */
static bool escaped_unit(struct parser *s)
{
	long hi = unit(s), lo;

	if (hi < 0)
		return fail(s, "a \\u escape without four hex digits");
	if (hi == 0)
		return fail(s, "a NUL character (\\u0000) in a string");
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return fail(s, "an unpaired surrogate in a \\u escape");
	if (hi < 0xD800 || hi > 0xDBFF) {
		put_utf8(s, (unsigned long)hi);
		return true;
	}
	lo = unit(s);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return fail(s, "an unpaired surrogate in a \\u escape");
	put_utf8(s, 0x10000 + ((unsigned long)(hi - 0xD800) << 10) +
			    (unsigned long)(lo - 0xDC00));
	return true;
}

/* One UTF-8 sequence at p, checked (no overlong forms, no surrogates,
 * nothing past U+10FFFF) and copied. */
static bool utf8(struct parser *s)
{
	unsigned char c = *s->p;
	int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
	unsigned long cp = c & (0x3F >> n);

	if (c < 0xC2 || c > 0xF4 || s->end - s->p <= n)
		return fail(s, "invalid UTF-8");
	for (int i = 1; i <= n; i++) {
		if ((s->p[i] & 0xC0) != 0x80)
			return fail(s, "invalid UTF-8");
		cp = cp << 6 | (s->p[i] & 0x3F);
	}
	if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
		return fail(s, "invalid UTF-8");
	for (int i = 0; i <= n; i++)
		put(s, s->p[i]);
	s->p += n + 1;
	return true;
}

/* A string at p (at its opening quote), decoded; its text in *out on the
 * second pass. */
static bool string(struct parser *s, const char **out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t first = s->n_chars;

	s->p++;
	for (;;) {
		const char *esc;

		if (s->p == s->end)
			return fail(s, "a string without its closing quote");
		if (*s->p == '"')
			break;
		if (*s->p < 0x20)
			return fail(s, "a control character in a string");
		if (*s->p >= 0x80) {
			if (!utf8(s))
				return false;
			continue;
		}
		if (*s->p != '\\') {
			put(s, *s->p++);
			continue;
		}
		if (s->end - s->p < 2)
			return fail(s, "a string without its closing quote");
		if (s->p[1] == 'u') {
			if (!escaped_unit(s))
				return false;
			continue;
		}
		esc = s->p[1] != '\0' ? strchr(from, s->p[1]) : NULL;
		if (esc == NULL)
			return fail(s, "an unknown escape in a string");
		put(s, (unsigned char)to[esc - from]);
		s->p += 2;
	}
	s->p++;
	put(s, '\0');
	if (s->build)
		*out = s->chars + first;
	return true;
}

static bool digits(struct parser *s)
{
	const unsigned char *from = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > from;
}

/* A number at p; an integer that fits int64 into v->ival. */
static bool number(struct parser *s, struct mlpi_json *v)
{
	const unsigned char *from = s->p;
	bool negative = *s->p == '-', integer = true;
	uint64_t mag = 0;

	if (negative)
		s->p++;
	if (s->p < s->end && *s->p == '0' && s->end - s->p > 1 &&
	    s->p[1] >= '0' && s->p[1] <= '9')
		return fail(s, "a number with a leading zero");
	if (!digits(s))
		return fail(s, s->p == from ? "an unexpected character"
					    : "a '-' without digits");
	for (const unsigned char *d = from + negative; d < s->p; d++) {
		unsigned k = (unsigned)(*d - '0');

		if (mag > (UINT64_MAX - k) / 10)
			integer = false;
		else
			mag = mag * 10 + k;
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		integer = false;
		if (!digits(s))
			return fail(s, "a '.' without digits after it");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		integer = false;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return fail(s, "an exponent without digits");
	}
	if (integer && mag > (negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX))
		integer = false;
	if (v != NULL) {
		v->integer = integer;
		v->ival = !integer ? 0 : negative ? (int64_t)(0 - mag) : (int64_t)mag;
	}
	return true;
}

static bool word(struct parser *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return fail(s, "an unexpected character");
	s->p += n;
	return true;
}

static bool value(struct parser *s, struct mlpi_json **out);

static int by_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether two members of obj share a name (on the second pass). */
static bool duplicate_key(struct parser *s, const struct mlpi_json *obj)
{
	size_t n = 0;

	for (const struct mlpi_json *m = obj->first; m != NULL; m = m->next)
		s->scratch[n++] = m->key;
	qsort(s->scratch, n, sizeof(*s->scratch), by_key);
	for (size_t i = 1; i < n; i++)
		if (strcmp(s->scratch[i - 1], s->scratch[i]) == 0)
			return true;
	return false;
}

/* An array or an object at p (at its opening bracket), into v. */
static bool items(struct parser *s, bool object, struct mlpi_json *v)
{
	unsigned char close = object ? '}' : ']';
	struct mlpi_json **link = v != NULL ? &v->first : NULL;

	if (++s->depth > s->max_depth)
		return fail(s, "nested too deep");
	s->p++;
	skip_space(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		const char *key = NULL;
		struct mlpi_json *item;

		skip_space(s);
		if (object) {
			if (s->p == s->end || *s->p != '"')
				return fail(s, "a member without a name");
			if (!string(s, &key))
				return false;
			skip_space(s);
			if (s->p == s->end || *s->p != ':')
				return fail(s, "a name without ':'");
			s->p++;
		}
		if (!value(s, &item))
			return false;
		if (v != NULL) {
			item->key = key;
			*link = item;
			link = &item->next;
			v->count++;
		}
		skip_space(s);
		if (s->p == s->end)
			return fail(s, object ? "an object without its '}'"
					      : "an array without its ']'");
		if (*s->p == close)
			break;
		if (*s->p != ',')
			return fail(s, "a ',' or a closing bracket expected");
		s->p++;
	}
	s->p++;
	s->depth--;
	if (object && v != NULL && duplicate_key(s, v))
		return fail(s, "a duplicate key in an object");
	return true;
}

static bool value(struct parser *s, struct mlpi_json **out)
{
	struct mlpi_json *v = NULL;

	skip_space(s);
	if (s->p == s->end)
		return fail(s, "a value expected");
	if (++s->values > s->max_values)
		return fail(s, "too many values");
	if (s->build) {
		v = &s->nodes[s->n_nodes++];
		memset(v, 0, sizeof(*v));
		*out = v;
	}
	switch (*s->p) {
	case '{':
		if (v != NULL)
			v->type = MLPI_JSON_OBJECT;
		return items(s, true, v);
	case '[':
		if (v != NULL)
			v->type = MLPI_JSON_ARRAY;
		return items(s, false, v);
	case '"':
		if (v != NULL)
			v->type = MLPI_JSON_STRING;
		return string(s, v != NULL ? &v->str : NULL);
	case 't':
	case 'f':
		if (v != NULL)
			v->type = MLPI_JSON_BOOL;
		return word(s, *s->p == 't' ? "true" : "false");
	case 'n':
		return word(s, "null");
	default:
		if (v != NULL)
			v->type = MLPI_JSON_NUMBER;
		return number(s, v);
	}
}

mlp_status mlpi_json_read(const unsigned char *text, size_t len,
			  size_t max_values, int max_depth,
			  struct mlpi_json **root, size_t *end, mlp_msg *msg)
{
	struct parser s = {
		.start = text, .p = text, .end = text + len,
		.max_values = max_values, .max_depth = max_depth,
	};
	struct mlpi_json *tree = NULL;
	size_t node_bytes, chars;
	char *block;

	if (!value(&s, NULL)) {
		if (s.values > max_values)
			return mlpi_fail(msg, MLP_EFORMAT, "the header holds more "
					 "than %zu JSON values", max_values);
		if (s.depth > max_depth)
			return mlpi_fail(msg, MLP_EFORMAT, "the header is nested "
					 "more than %d deep", max_depth);
		return mlpi_fail(msg, MLP_EFORMAT, "the header is not valid "
				 "JSON: %s (byte %zu)", s.why,
				 (size_t)(s.p - text));
	}
	/* The second pass: the same walk, into a block of the size the first
	 * one found. */
	node_bytes = s.values * (sizeof(struct mlpi_json) + sizeof(char *));
	chars = s.n_chars;
	block = malloc(node_bytes + chars);
	if (block == NULL)
		return mlpi_fail(msg, MLP_ENOMEM, "out of memory for the header's "
				 "%zu JSON values", s.values);
	s = (struct parser){
		.start = text, .p = text, .end = text + len,
		.max_values = max_values, .max_depth = max_depth, .build = true,
		.nodes = (struct mlpi_json *)(void *)block,
		.scratch = (const char **)(void *)(block + s.values *
						    sizeof(struct mlpi_json)),
		.chars = block + node_bytes,
	};
	if (!value(&s, &tree)) {
		/* Only a duplicate key is found on the second pass. */
		free(block);
		return mlpi_fail(msg, MLP_EFORMAT, "the header is not valid JSON: "
				 "%s (byte %zu)", s.why, (size_t)(s.p - text));
	}
	*root = tree;
	*end = (size_t)(s.p - text);
	return MLP_OK;
}

const struct mlpi_json *mlpi_json_get(const struct mlpi_json *obj,
				      const char *key)
{
	if (obj == NULL || obj->type != MLPI_JSON_OBJECT)
		return NULL;
	for (const struct mlpi_json *m = obj->first; m != NULL; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}
