/*
 * data.c — reading numbers: rows of CSV or whitespace-separated text, and
 * IDX image and label files (see tool.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(MLP_TOOL_HAVE_ZLIB)
#include <zlib.h>
#endif

/* ---- CSV data sets ---- */

static int load_csv(struct dataset *d, const char *path, bool labels,
		    bool skip_header)
{
	size_t cols = d->n_in + (labels ? 1 : d->n_out), cap = 1024;
	float *row = malloc(cols * sizeof(float));
	struct rows r;
	int rc;

	d->X = malloc(cap * d->n_in * sizeof(float));
	d->Y = malloc(cap * d->n_out * sizeof(float));
	if (row == NULL || d->X == NULL || d->Y == NULL) {
		free(row);
		return report_error(EXIT_FAIL, "out of memory");
	}
	rc = rows_open(&r, path, skip_header);
	if (rc != EXIT_OK) {
		free(row);
		return rc;
	}
	while (rows_next(&r, row, cols)) {
		if (d->n == cap) {
			float *X = realloc(d->X, 2 * cap * d->n_in * sizeof(float));
			float *Y = X ? realloc(d->Y, 2 * cap * d->n_out * sizeof(float)) : NULL;
			if (X != NULL)
				d->X = X;
			if (Y == NULL) {
				rc = report_error(EXIT_FAIL, "out of memory");
				break;
			}
			d->Y = Y;
			cap *= 2;
		}
		memcpy(d->X + d->n * d->n_in, row, d->n_in * sizeof(float));
		if (labels) {
			float c = row[d->n_in];
			if (c != floorf(c) || c < 0 || c >= (float)d->n_out) {
				rc = report_error(EXIT_DATA, "%s:%zu: label %g is not a class in 0..%zu",
					 r.name, r.line, (double)c, d->n_out - 1);
				break;
			}
			memset(d->Y + d->n * d->n_out, 0, d->n_out * sizeof(float));
			d->Y[d->n * d->n_out + (size_t)c] = 1.0f;
		} else {
			memcpy(d->Y + d->n * d->n_out, row + d->n_in,
			       d->n_out * sizeof(float));
		}
		d->n++;
	}
	if (rc == EXIT_OK)
		rc = r.rc;
	if (rc == EXIT_OK && d->n == 0)
		rc = report_error(EXIT_DATA, "%s: no rows of data", r.name);
	rows_close(&r);
	free(row);
	return rc;
}

/* ---- IDX ---- */

/* Reads up to n bytes from a source: the count, 0 at the end, −1 on error. */
typedef long (*read_fn)(void *src, unsigned char *buf, size_t n);

static long read_plain(void *src, unsigned char *buf, size_t n)
{
	size_t r = fread(buf, 1, n, src);
	return r == 0 && ferror((FILE *)src) ? -1 : (long)r;
}

#if defined(MLP_TOOL_HAVE_ZLIB)
static long read_gzip(void *src, unsigned char *buf, size_t n)
{
	return gzread((gzFile)src, buf, (unsigned)(n < (1u << 30) ? n : 1u << 30));
}
#endif

/* Everything a source holds, into a growing buffer. */
static int read_all(read_fn rd, void *src, const char *path,
		    unsigned char **out, size_t *size)
{
	size_t cap = 1 << 20, n = 0;
	unsigned char *buf = malloc(cap);
	long r;

	if (buf == NULL)
		return report_error(EXIT_FAIL, "out of memory");
	while ((r = rd(src, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			unsigned char *b = realloc(buf, 2 * cap);
			if (b == NULL) {
				free(buf);
				return report_error(EXIT_FAIL, "out of memory");
			}
			buf = b;
			cap *= 2;
		}
	}
	if (r < 0) {
		free(buf);
		return report_error(EXIT_DATA, "%s: cannot read it (a damaged file?)", path);
	}
	*out = buf;
	*size = n;
	return EXIT_OK;
}

/* The whole of a file, gunzipped when its name ends in .gz. */
static int slurp(const char *path, unsigned char **out, size_t *size)
{
	size_t len = strlen(path);
	int rc;

	if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
#if defined(MLP_TOOL_HAVE_ZLIB)
		gzFile g = gzopen(path, "rb");

		if (g == NULL)
			return report_error(EXIT_FAIL, "cannot open %s", path);
		rc = read_all(read_gzip, g, path, out, size);
		gzclose(g);
		return rc;
#else
		return report_error(EXIT_FAIL, "%s: this mlp was built without zlib; "
			   "gunzip the file first", path);
#endif
	}
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return report_error(EXIT_FAIL, "cannot open %s: %s", path, strerror(errno));
	rc = read_all(read_plain, f, path, out, size);
	fclose(f);
	return rc;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An IDX file of unsigned bytes with the given number of dimensions:
 * magic 0x0000080D (D dimensions), then D big-endian sizes, then the bytes.
 * *count is the first size, *item the product of the others. */
static int parse_idx(const char *path, const unsigned char *b, size_t size,
		     unsigned dims, size_t *count, size_t *item)
{
	uint64_t total = 1;

	if (size < 4 + 4 * (size_t)dims || be32(b) != (0x0800u | dims))
		return report_error(EXIT_DATA, "%s: not an IDX file of unsigned bytes with %u "
			   "dimensions", path, dims);
	*count = be32(b + 4);
	*item = 1;
	for (unsigned i = 1; i < dims; i++)
		*item *= be32(b + 4 + 4 * i);
	total = (uint64_t)*count * *item;
	if (total != size - 4 - 4 * (size_t)dims)
		return report_error(EXIT_DATA, "%s: its sizes say %llu bytes of data, it has %zu",
			   path, (unsigned long long)total, size - 4 - 4 * (size_t)dims);
	return EXIT_OK;
}

int idx_images_load(const char *path, size_t n_in, float **X, size_t *count)
{
	unsigned char *img = NULL;
	size_t size = 0, n = 0, item = 0;
	int rc = slurp(path, &img, &size);

	if (rc == EXIT_OK)
		rc = parse_idx(path, img, size, 3, &n, &item);
	if (rc == EXIT_OK && item != n_in)
		rc = report_error(EXIT_DATA, "%s: images of %zu pixels for a network of %zu inputs",
			 path, item, n_in);
	if (rc == EXIT_OK) {
		*X = malloc((n > 0 ? n : 1) * item * sizeof(float));
		if (*X == NULL)
			rc = report_error(EXIT_FAIL, "out of memory");
	}
	for (size_t i = 0; rc == EXIT_OK && i < n * item; i++)
		(*X)[i] = img[16 + i] / 255.0f;
	if (rc == EXIT_OK)
		*count = n;
	free(img);
	return rc;
}

static int load_idx(struct dataset *d, const char *path, const char *labels_path)
{
	unsigned char *lab = NULL;
	size_t lab_size = 0, n_lab = 0, one = 0;
	char derived[4096];
	int rc;

	if (labels_path == NULL) {
		const char *at = strstr(path, "images-idx3");
		if (at == NULL || strlen(path) >= sizeof(derived))
			return report_error(EXIT_USAGE, "%s: give the labels with --labels", path);
		snprintf(derived, sizeof(derived), "%.*slabels-idx1%s",
			 (int)(at - path), path, at + strlen("images-idx3"));
		labels_path = derived;
	}
	rc = idx_images_load(path, d->n_in, &d->X, &d->n);
	if (rc == EXIT_OK)
		rc = slurp(labels_path, &lab, &lab_size);
	if (rc == EXIT_OK)
		rc = parse_idx(labels_path, lab, lab_size, 1, &n_lab, &one);
	if (rc == EXIT_OK && n_lab != d->n)
		rc = report_error(EXIT_DATA, "%s: %zu labels for %zu images", labels_path, n_lab,
			 d->n);
	if (rc == EXIT_OK) {
		d->Y = calloc((d->n > 0 ? d->n : 1) * d->n_out, sizeof(float));
		if (d->Y == NULL)
			rc = report_error(EXIT_FAIL, "out of memory");
	}
	for (size_t i = 0; rc == EXIT_OK && i < d->n; i++) {
		unsigned c = lab[8 + i];

		if (c >= d->n_out) {
			rc = report_error(EXIT_DATA, "%s: label %u of image %zu is not a class in 0..%zu",
				 labels_path, c, i, d->n_out - 1);
			break;
		}
		d->Y[i * d->n_out + c] = 1.0f;
	}
	if (rc == EXIT_OK && d->n == 0)
		rc = report_error(EXIT_DATA, "%s: no images", path);
	free(lab);
	return rc;
}

int dataset_load(struct dataset *d, const char *path, const char *labels_path,
		 size_t n_in, size_t n_out, bool labels, bool skip_header)
{
	memset(d, 0, sizeof(*d));
	d->n_in = n_in;
	d->n_out = n_out;
	if (strstr(path, "idx3-ubyte") != NULL) {
		if (!labels)
			return report_error(EXIT_USAGE, "%s: IDX data needs a classifier "
				   "(--loss xent, softmax output)", path);
		return load_idx(d, path, labels_path);
	}
	return load_csv(d, path, labels, skip_header);
}

void dataset_free(struct dataset *d)
{
	free(d->X);
	free(d->Y);
	d->X = d->Y = NULL;
}
