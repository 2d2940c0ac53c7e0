/*
 * tool.h — what the parts of the mlp command-line program share.
 */
#ifndef MLP_TOOL_H
#define MLP_TOOL_H

#include <mlp.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes, the same for every command. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,    /* a file could not be read or written; no memory */
	EXIT_USAGE = 2,   /* the command line is wrong */
	EXIT_MODEL = 3,   /* the model file is not a network mlp can run */
	EXIT_DATA = 4,    /* the data is wrong: a bad row, width or label */
	EXIT_TRAIN = 5,   /* training diverged */
};

/* Prints "mlp: " and the message to standard error; returns code. */
int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses "relu,tanh,softmax" into acts (at most max); the count, or 0 after
 * printing what is wrong. */
size_t parse_acts(const char *list, mlp_act *acts, size_t max);

/* Loads a model, with activations from --act when given (NULL: the file's).
 * Returns an exit code. */
int load_model(const char *path, const char *act_list, mlp_net **out);

/* ---- data.c: rows of numbers ---- */

/* A reader of rows of numbers: CSV, or numbers separated by spaces or tabs
 * (or both). Empty lines and lines starting with '#' are skipped. */
struct rows {
	FILE *f;
	const char *name; /* for messages */
	size_t line;      /* of the last row read */
	char *buf;
	size_t cap;
	bool close;
};

/* Opens path ("-" or NULL: standard input). Returns an exit code. */
int rows_open(struct rows *r, const char *path, bool skip_header);
/* Reads the next row of exactly want numbers into row (want 0: any count,
 * stored up to max, the count into *got). 1 for a row, 0 at the end, and
 * an exit code (negated) after printing FILE:LINE and the problem. */
int rows_next(struct rows *r, float *row, size_t want, size_t max, size_t *got);
void rows_close(struct rows *r);

/* A data set in memory: n rows of inputs and targets. */
struct dataset {
	size_t n, n_in, n_out;
	float *X, *Y;
};

/* Loads a data set for a network of n_in inputs and n_out outputs. CSV:
 * n_in inputs, then one class label (0 .. n_out − 1, made one-hot) when
 * labels is true, or n_out targets. IDX (a name containing "idx3-ubyte",
 * gzip-compressed when it ends in .gz): images scaled to [0, 1], with the
 * labels of labels_path (NULL: the name with "images-idx3" made
 * "labels-idx1"). Returns an exit code. */
int dataset_load(struct dataset *d, const char *path, const char *labels_path,
		 size_t n_in, size_t n_out, bool labels, bool skip_header);
void dataset_free(struct dataset *d);

/* The images of an IDX file (n_in pixels each, scaled to [0, 1]) into a
 * new array *X of *count rows. Returns an exit code. */
int idx_images_load(const char *path, size_t n_in, float **X, size_t *count);

/* ---- progress.c ---- */

/* A progress line on standard error, redrawn in place on a terminal. */
struct progress {
	bool tty;
	double start, last_draw;
};

void progress_begin(struct progress *p);
/* Epoch e of E, batch b of B, mean loss so far, samples/s. */
void progress_draw(struct progress *p, size_t e, size_t E, size_t b, size_t B,
		   double loss, double rate);
/* Ends the line of an epoch (clears the bar on a terminal). */
void progress_end(struct progress *p);
double now_seconds(void);

/* ---- the commands ---- */
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
