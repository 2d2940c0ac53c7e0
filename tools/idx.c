/*
 * idx.c — IDX files of unsigned bytes (MNIST's format), plain or
 * gzip-compressed (told by their first two bytes, 1f 8b).
 *
 * The header is read first and checked; the data is then read only as far
 * as the header says, into memory that grows with what actually arrives,
 * so a file cannot make the reader hold more than its own (inflated) data.
 * A gzip stream must end where the data ends, with its checksum and length
 * checked; a truncated or damaged one is refused.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(MLP_TOOL_HAVE_ZLIB)
#include <zlib.h>
#endif

/* A source of bytes: the file, or what inflating it gives. */
struct source {
	FILE *f;
	const char *name;
	bool gzip;
	bool ended;       /* the gzip stream's end, checksum checked */
	unsigned char peek[2]; /* the first bytes, read to tell gzip */
	size_t n_peek;
	int rc;           /* an error reported: its exit code */
#if defined(MLP_TOOL_HAVE_ZLIB)
	z_stream z;
	unsigned char in[1 << 16];
#endif
};

static void source_fail(struct source *s, int rc, const char *what)
{
	if (s->rc == EXIT_OK)
		s->rc = report_error(rc, "%s: %s", s->name, what);
}

/* Up to n bytes into buf: how many (fewer only at the end or on an
 * error, s->rc then set). */
static size_t source_read(struct source *s, unsigned char *buf, size_t n)
{
	if (!s->gzip) {
		size_t first = n < s->n_peek ? n : s->n_peek, got;

		memcpy(buf, s->peek, first);
		memmove(s->peek, s->peek + first, s->n_peek - first);
		s->n_peek -= first;
		got = first + fread(buf + first, 1, n - first, s->f);
		if (got < n && ferror(s->f))
			source_fail(s, EXIT_FAIL, strerror(errno));
		return got;
	}
#if defined(MLP_TOOL_HAVE_ZLIB)
	s->z.next_out = buf;
	s->z.avail_out = (uInt)(n < (1u << 30) ? n : 1u << 30);
	while (s->z.avail_out > 0 && !s->ended && s->rc == EXIT_OK) {
		int zr;

		if (s->z.avail_in == 0) {
			s->z.next_in = s->in;
			s->z.avail_in = (uInt)fread(s->in, 1, sizeof(s->in), s->f);
			if (s->z.avail_in == 0) {
				source_fail(s, EXIT_DATA, ferror(s->f)
					    ? "cannot read it"
					    : "the gzip data ends early (a truncated "
					      "file?)");
				break;
			}
		}
		zr = inflate(&s->z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			s->ended = true;
		else if (zr == Z_MEM_ERROR)
			source_fail(s, EXIT_FAIL, "out of memory to inflate it");
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			source_fail(s, EXIT_DATA, "damaged gzip data");
	}
	return (size_t)(s->z.next_out - buf);
#else
	(void)buf;
	(void)n;
	return 0;
#endif
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens the source: gzip when the first two bytes say so. */
static int source_open(struct source *s, FILE *f, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->f = f;
	s->name = name;
	s->n_peek = fread(s->peek, 1, 2, f);
	if (s->n_peek < 2 && ferror(f))
		return report_error(EXIT_FAIL, "%s: cannot read it: %s", name,
				    strerror(errno));
	s->gzip = s->n_peek == 2 && s->peek[0] == 0x1f && s->peek[1] == 0x8b;
#if defined(MLP_TOOL_HAVE_ZLIB)
	/* 16 + MAX_WBITS: a gzip stream, its header and trailer checked. */
	if (s->gzip && inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
		return report_error(EXIT_FAIL, "%s: out of memory to inflate it",
				    name);
	if (s->gzip) {
		memcpy(s->in, s->peek, 2);
		s->z.next_in = s->in;
		s->z.avail_in = 2;
		s->n_peek = 0;
	}
#else
	if (s->gzip)
		return report_error(EXIT_FAIL, "%s: this mlp was built without "
				    "zlib; gunzip the file first", name);
#endif
	return EXIT_OK;
}

static void source_close(struct source *s)
{
#if defined(MLP_TOOL_HAVE_ZLIB)
	if (s->gzip)
		inflateEnd(&s->z);
#endif
	(void)s;
}

/* After the data: nothing more, and a gzip stream at its end. */
static void source_finish(struct source *s, uint64_t total)
{
	unsigned char extra;

	if (s->rc != EXIT_OK)
		return;
	if (source_read(s, &extra, 1) > 0) {
		char what[160];

		snprintf(what, sizeof(what), "more bytes than its sizes say "
			 "(%llu)", (unsigned long long)total);
		source_fail(s, EXIT_DATA, what);
		return;
	}
#if defined(MLP_TOOL_HAVE_ZLIB)
	if (s->gzip && s->rc == EXIT_OK &&
	    (s->z.avail_in > 0 || getc(s->f) != EOF))
		source_fail(s, EXIT_DATA, "bytes after the end of the gzip "
			    "stream");
#endif
}

int idx_read(FILE *f, const char *name, unsigned dims, unsigned char **data,
	     size_t *count, size_t *item)
{
	unsigned char head[4 + 4 * 4];
	size_t head_len = 4 + 4 * (size_t)dims, have = 0, cap = 0;
	uint64_t total;
	unsigned char *buf = NULL;
	struct source s;
	int rc = source_open(&s, f, name);

	*data = NULL;
	if (rc != EXIT_OK)
		return rc;
	if (source_read(&s, head, head_len) < head_len || be32(head) != (0x0800u | dims)) {
		source_close(&s);
		if (s.rc != EXIT_OK)
			return s.rc;
		return report_error(EXIT_DATA, "%s: not an IDX file of unsigned "
				    "bytes with %u dimensions", name, dims);
	}
	*count = be32(head + 4);
	total = *count;
	*item = 1;
	for (unsigned i = 1; i < dims; i++) {
		uint32_t d = be32(head + 4 + 4 * i);

		if (d != 0 && total > ((uint64_t)1 << 40) / d) {
			source_close(&s);
			return report_error(EXIT_DATA, "%s: its sizes say more "
					    "than 2^40 bytes", name);
		}
		total *= d;
		*item *= d;
	}
	/* The data, in blocks as it arrives: memory for what is there. */
	while (have < total && s.rc == EXIT_OK) {
		size_t want = total - have < (1u << 22) ? (size_t)(total - have)
							: 1u << 22, got;

		if (cap - have < want) {
			size_t grown_cap = cap == 0 ? want : cap * 2;
			unsigned char *grown;

			if (grown_cap > total)
				grown_cap = (size_t)total;
			if (grown_cap - have < want)
				grown_cap = have + want;
			grown = realloc(buf, grown_cap);
			if (grown == NULL) {
				source_fail(&s, EXIT_FAIL, "out of memory");
				break;
			}
			buf = grown;
			cap = grown_cap;
		}
		got = source_read(&s, buf + have, want);
		have += got;
		if (got < want)
			break;
	}
	if (s.rc == EXIT_OK && have < total) {
		char what[160];

		snprintf(what, sizeof(what), "its sizes say %llu bytes of data, "
			 "it has %zu", (unsigned long long)total, have);
		source_fail(&s, EXIT_DATA, what);
	}
	source_finish(&s, total);
	source_close(&s);
	if (s.rc != EXIT_OK) {
		free(buf);
		return s.rc;
	}
	*data = buf != NULL ? buf : malloc(1);
	return *data != NULL ? EXIT_OK : report_error(EXIT_FAIL, "out of memory");
}

int idx_read_file(const char *path, unsigned dims, unsigned char **data,
		  size_t *count, size_t *item)
{
	FILE *f = fopen(path, "rb");
	int rc;

	if (f == NULL)
		return report_error(EXIT_FAIL, "cannot open %s: %s", path,
				    strerror(errno));
	rc = idx_read(f, path, dims, data, count, item);
	fclose(f);
	return rc;
}

int idx_images_load(const char *path, size_t n_in, float **X, size_t *count)
{
	unsigned char *img = NULL;
	size_t n = 0, item = 0;
	int rc = idx_read_file(path, 3, &img, &n, &item);

	if (rc == EXIT_OK && item != n_in)
		rc = report_error(EXIT_DATA, "%s: images of %zu pixels for a network of %zu inputs",
				  path, item, n_in);
	if (rc == EXIT_OK) {
		*X = malloc((n > 0 ? n : 1) * item * sizeof(float));
		if (*X == NULL)
			rc = report_error(EXIT_FAIL, "out of memory");
	}
	for (size_t i = 0; rc == EXIT_OK && i < n * item; i++)
		(*X)[i] = img[i] / 255.0f;
	if (rc == EXIT_OK)
		*count = n;
	free(img);
	return rc;
}
