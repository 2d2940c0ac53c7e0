/*
 * data.c — data sets: rows of CSV or whitespace-separated text (csv.c), or
 * IDX images and labels (idx.c), as inputs and targets (see tool.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/* ---- CSV data sets ---- */

/* Row r's targets (after its inputs) into Y: a label made one-hot, or
 * the values, checked. An exit code. */
static int row_targets(const struct dataset *d, const struct rows *r,
		       const float *row, enum targets targets, float *Y)
{
	if (targets == TARGETS_LABELS) {
		float c = row[d->n_in];

		if (c != floorf(c) || c < 0 || c >= (float)d->n_out)
			return report_error(EXIT_DATA, "%s:%zu: label %g is not a "
					    "class in 0..%zu", r->name, r->line,
					    (double)c, d->n_out - 1);
		memset(Y, 0, d->n_out * sizeof(float));
		Y[(size_t)c] = 1.0f;
		return EXIT_OK;
	}
	for (size_t j = 0; targets == TARGETS_UNIT && j < d->n_out; j++) {
		float t = row[d->n_in + j];

		if (t < 0.0f || t > 1.0f)
			return report_error(EXIT_DATA, "%s:%zu: target %zu is %g; "
					    "with --loss xent a sigmoid output's "
					    "targets lie in [0, 1]", r->name,
					    r->line, j + 1, (double)t);
	}
	memcpy(Y, row + d->n_in, d->n_out * sizeof(float));
	return EXIT_OK;
}

static int load_csv(struct dataset *d, const char *path, enum targets targets,
		    bool skip_header)
{
	size_t cols = d->n_in + (targets == TARGETS_LABELS ? 1 : d->n_out);
	size_t cap = 1024;
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
		rc = row_targets(d, &r, row, targets, d->Y + d->n * d->n_out);
		if (rc != EXIT_OK)
			break;
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

static int load_idx(struct dataset *d, const char *path, const char *labels_path)
{
	unsigned char *lab = NULL;
	size_t n_lab = 0, one = 0;
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
		rc = idx_read_file(labels_path, 1, &lab, &n_lab, &one);
	if (rc == EXIT_OK && n_lab != d->n)
		rc = report_error(EXIT_DATA, "%s: %zu labels for %zu images", labels_path, n_lab,
			 d->n);
	if (rc == EXIT_OK) {
		d->Y = calloc((d->n > 0 ? d->n : 1) * d->n_out, sizeof(float));
		if (d->Y == NULL)
			rc = report_error(EXIT_FAIL, "out of memory");
	}
	for (size_t i = 0; rc == EXIT_OK && i < d->n; i++) {
		unsigned c = lab[i];

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
		 size_t n_in, size_t n_out, enum targets targets,
		 bool skip_header)
{
	memset(d, 0, sizeof(*d));
	d->n_in = n_in;
	d->n_out = n_out;
	if (strstr(path, "idx3-ubyte") != NULL) {
		if (targets != TARGETS_LABELS)
			return report_error(EXIT_USAGE, "%s: IDX data needs a classifier "
				   "(--loss xent, softmax output)", path);
		return load_idx(d, path, labels_path);
	}
	return load_csv(d, path, targets, skip_header);
}

void dataset_free(struct dataset *d)
{
	free(d->X);
	free(d->Y);
	d->X = d->Y = NULL;
}
