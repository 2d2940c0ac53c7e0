/*
 * csv.c — rows of numbers in text: CSV, or numbers separated by spaces or
 * tabs (see tool.h). The input is read in large blocks and split into
 * lines in place; numbers go through number.c, strtof's results at several
 * times its speed.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include "number.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reads are this large; a longer line grows the buffer. */
#define BLOCK (1u << 16)

int rows_attach(struct rows *r, FILE *f, const char *name, bool skip_header)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->name = name;
	r->skip_header = skip_header;
	r->cap = BLOCK + 1;
	r->buf = malloc(r->cap);
	if (r->buf == NULL)
		return report_error(EXIT_FAIL, "out of memory");
	return EXIT_OK;
}

int rows_open(struct rows *r, const char *path, bool skip_header)
{
	FILE *f;
	int rc;

	if (path == NULL || strcmp(path, "-") == 0)
		return rows_attach(r, stdin, "(standard input)", skip_header);
	f = fopen(path, "rb");
	if (f == NULL) {
		memset(r, 0, sizeof(*r));
		return report_error(EXIT_FAIL, "cannot open %s: %s", path,
				    strerror(errno));
	}
	rc = rows_attach(r, f, path, skip_header);
	if (rc != EXIT_OK) {
		fclose(f);
		return rc;
	}
	r->close = true;
	return EXIT_OK;
}

void rows_close(struct rows *r)
{
	if (r->close && r->f != NULL)
		fclose(r->f);
	free(r->buf);
	r->f = NULL;
	r->buf = NULL;
}

/* Up to 40 bytes of s[0 .. len) for a message: printable ASCII as it is,
 * other bytes as \xHH, so that no raw byte of bad input reaches the
 * terminal. */
static const char *shown(const char *s, size_t len, char out[200])
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < 40; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)sprintf(out + o, "\\x%02x", c);
	}
	if (len > 40)
		o += (size_t)sprintf(out + o, "...");
	out[o] = '\0';
	return out;
}

/* The next line into [*s, *e), its '\n' (if any) excluded: false at the
 * end of the input, or on a read error (r->rc set). */
static bool next_line(struct rows *r, char **s, char **e)
{
	for (;;) {
		char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		size_t got;

		if (nl != NULL || (r->eof && r->pos < r->len)) {
			*s = r->buf + r->pos;
			*e = nl != NULL ? nl : r->buf + r->len;
			r->pos = (size_t)(*e - r->buf) + (nl != NULL);
			return true;
		}
		if (r->eof)
			return false;
		/* Keep the partial line, at the front; room for a block. */
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
		if (r->cap - 1 - r->len < BLOCK / 2) {
			char *grown = realloc(r->buf, 2 * r->cap);

			if (grown == NULL) {
				r->rc = report_error(EXIT_FAIL, "%s:%zu: out of memory "
						     "for a line of %zu bytes",
						     r->name, r->line + 1, r->len);
				return false;
			}
			r->buf = grown;
			r->cap *= 2;
		}
		got = fread(r->buf + r->len, 1, r->cap - 1 - r->len, r->f);
		r->len += got;
		if (got == 0) {
			if (ferror(r->f)) {
				r->rc = report_error(EXIT_FAIL, "%s: cannot read: %s",
						     r->name, strerror(errno));
				return false;
			}
			r->eof = true;
		}
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The numbers of one line [s, e) into row (room for n); how many the line
 * holds, or -1 after reporting a value that is not a finite number. */
static long parse_line(struct rows *r, char *s, char *e, float *row, size_t n)
{
	size_t count = 0;
	char text[200];

	for (;;) {
		char *end;
		float v;
		enum number_kind kind;

		while (s < e && is_space(*s))
			s++;
		if (s == e)
			return (long)count;
		end = s;
		while (end < e && *end != ',' && !is_space(*end))
			end++;
		kind = number_parse(s, (size_t)(end - s), &v);
		if (kind == NUMBER_BAD && end == s) {
			r->rc = report_error(EXIT_DATA, "%s:%zu: value %zu is empty",
					     r->name, r->line, count + 1);
			return -1;
		}
		if (kind == NUMBER_BAD) {
			r->rc = report_error(EXIT_DATA, "%s:%zu: value %zu, '%s', is "
					     "not a decimal number", r->name,
					     r->line, count + 1,
					     shown(s, (size_t)(end - s), text));
			return -1;
		}
		if (kind == NUMBER_NOT_FINITE || !isfinite(v)) {
			r->rc = report_error(EXIT_DATA, "%s:%zu: value %zu, '%s', "
					     "is not finite", r->name, r->line,
					     count + 1,
					     shown(s, (size_t)(end - s), text));
			return -1;
		}
		if (count < n)
			row[count] = v;
		count++;
		s = end;
		while (s < e && is_space(*s))
			s++;
		if (s < e && *s == ',')
			s++;
	}
}

bool rows_next(struct rows *r, float *row, size_t n)
{
	char *s, *e, *nul;
	long count;

	for (;;) {
		if (!next_line(r, &s, &e))
			return false;
		r->line++;
		/* A UTF-8 byte-order mark, as spreadsheet programs write. */
		if (r->line == 1 && e - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3;
		if (r->line == 1 && r->skip_header)
			continue;
		nul = memchr(s, '\0', (size_t)(e - s));
		if (nul != NULL) {
			r->rc = report_error(EXIT_DATA, "%s:%zu: a NUL byte at "
					     "column %zu", r->name, r->line,
					     (size_t)(nul - s) + 1);
			return false;
		}
		while (s < e && is_space(*s))
			s++;
		if (s == e || *s == '#')
			continue;
		count = parse_line(r, s, e, row, n);
		if (count < 0)
			return false;
		if ((size_t)count != n) {
			r->rc = report_error(EXIT_DATA, "%s:%zu: expected %zu numbers, "
					     "found %ld", r->name, r->line, n, count);
			return false;
		}
		return true;
	}
}
