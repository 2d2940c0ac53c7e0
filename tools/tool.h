/*
 * tool.h — what the parts of the mlp command-line program share.
 *
 * mlp.c dispatches to the commands (cmd_info.c, cmd_run.c, cmd_train.c,
 * cmd_eval.c, cmd_quantize.c, cmd_plot.c, cmd_tune.c, cmd_serve.c with serve.h);
 * the commands use the helpers below (report.c, options.c, model.c, csv.c,
 * data.c, idx.c, output.c, wisdom_file.c, rest.c, gnuplot.c, progress.c, ranks.c, resume.c,
 * limits.c, number.c through number.h, and the library's atomic_file.c
 * through atomic_file.h); no helper calls a command or the dispatcher.
 */
#ifndef MLP_TOOL_H
#define MLP_TOOL_H

#include <mlp.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* ---- report.c ---- */

/* Prints "mlp: ", the message and a newline to standard error (or holds
 * the message, see report_hold), and returns code, for
 * `return report_error(EXIT_..., ...)`. */
int report_error(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* For a status of the library: EXIT_OK for MLP_OK, and nothing said;
 * otherwise "mlp: ", the message, ": " and mlp_strerror(st), and the exit
 * code: EXIT_DATA for MLP_ENONFINITE (values that are not finite come
 * from the data or the model), EXIT_FAIL for the rest. */
int report_status(mlp_status st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* For getopt_long's answer c, '?' or ':' (with ":" first in its option
 * letters): "mlp: CMD: unknown option 'ARG'" or "... ARG needs a value",
 * and EXIT_USAGE. */
int report_usage(const char *cmd, char *const *argv, int c);
/* Hold the messages (rank > 0 under MPI): the first one is kept, not
 * printed, until report_forget; report_held gives it ("" for none). */
void report_hold(bool hold);
const char *report_held(void);
void report_forget(void);

/* ---- options.c: option values, parsed in full ---- */
/* Each returns EXIT_OK, or prints "mlp: --NAME VALUE: the problem" and
 * returns EXIT_USAGE. */

/* A finite number. */
int option_float(const char *name, const char *text, float *out);
/* A whole number in [min, max]. */
int option_size(const char *name, const char *text, size_t min, size_t max,
		size_t *out);
/* A whole number from 0 to 2⁶⁴ − 1. */
int option_u64(const char *name, const char *text, uint64_t *out);
/* fp32, bf16 or int8, and only a precision this build and CPU run. */
int option_precision(const char *name, const char *text, mlp_precision *out);
/* Widths "784,256,10": at least two, each 1 to MLP_MAX_WIDTH, at most
 * MLP_MAX_LAYERS + 1 of them, into sizes (room for MLP_MAX_LAYERS + 1). */
int option_widths(const char *name, const char *text, size_t *sizes,
		  size_t *count);
/* Activations "relu,relu,softmax" into acts (room for max). */
int option_acts(const char *name, const char *text, mlp_act *acts, size_t max,
		size_t *count);

/* ---- model.c ---- */

/* Loads a model, with the activations of act_list (NULL: the file's).
 * Returns an exit code. */
int load_model(const char *path, const char *act_list, mlp_net **out);
/* "Not given": a model's own precision (model_precision). */
#define PRECISION_MODEL ((mlp_precision)99)
/* The precision net (from path) runs in: `given`, or for PRECISION_MODEL
 * int8 for a quantised model and fp32 for any other. int8 for a model
 * that is not quantised is EXIT_USAGE. Returns an exit code. */
int model_precision(const mlp_net *net, const char *path, mlp_precision given,
		    mlp_precision *out);
/* A hash of everything that makes the network compute what it does: its
 * widths, activations, parameters and scaling (FNV-1a over their bits),
 * into *out. Returns an exit code. */
int model_hash(mlp_net *net, uint64_t *out);

/* ---- csv.c: rows of numbers ---- */

/* A reader of rows of numbers: CSV, or numbers separated by spaces or tabs
 * (or both), decimal (strtof's values; no hexadecimal floats). A UTF-8
 * byte-order mark at the start, '\r' before '\n', spaces around numbers
 * and a comma at the end of a line are allowed; empty lines and lines
 * starting with '#' are skipped; a NUL byte is an error. */
struct rows {
	FILE *f;
	const char *name; /* for messages */
	size_t line;      /* of the last row read */
	char *buf;        /* lines read, [pos, len) not yet used */
	size_t cap, len, pos;
	bool eof, close, skip_header;
	int rc;           /* after rows_next returned false: EXIT_OK at the
			   * end, or the exit code of the problem reported */
};

/* Opens path ("-" or NULL: standard input). Returns an exit code. */
int rows_open(struct rows *r, const char *path, bool skip_header);
/* Reads the open stream f (not closed by rows_close), `name` in messages.
 * Returns an exit code. */
int rows_attach(struct rows *r, FILE *f, const char *name, bool skip_header);
/* Reads the next row, of exactly n numbers, into row: true for a row;
 * false at the end, or after reporting FILE:LINE and the problem (r->rc). */
bool rows_next(struct rows *r, float *row, size_t n);
void rows_close(struct rows *r);

/* A data set in memory: n rows of inputs and targets. */
struct dataset {
	size_t n, n_in, n_out;
	float *X, *Y;
};

/* What the columns after the inputs hold. */
enum targets {
	TARGETS_VALUES, /* n_out targets (a mean squared error) */
	TARGETS_UNIT,   /* n_out targets in [0, 1] (cross-entropy, sigmoid) */
	TARGETS_LABELS, /* one class label, 0 .. n_out − 1, made one-hot */
};

/* Loads a data set for a network of n_in inputs and n_out outputs. CSV:
 * n_in inputs, then the targets, each row checked (a bad one named with
 * its file and line). IDX (a name containing "idx3-ubyte", plain or
 * gzip-compressed; TARGETS_LABELS only): images scaled to [0, 1], with the
 * labels of labels_path (NULL: the name with "images-idx3" made
 * "labels-idx1"). Returns an exit code. */
int dataset_load(struct dataset *d, const char *path, const char *labels_path,
		 size_t n_in, size_t n_out, enum targets targets,
		 bool skip_header);
void dataset_free(struct dataset *d);

/* ---- idx.c ---- */

/* An IDX file of unsigned bytes with `dims` dimensions from f, plain or
 * gzip-compressed (its first bytes tell): the data after the header into
 * *data (malloc'd), the first size into *count, the product of the others
 * into *item. Memory grows with the data read, never past what the header
 * says. Returns an exit code, reported with `name`. */
int idx_read(FILE *f, const char *name, unsigned dims, unsigned char **data,
	     size_t *count, size_t *item);
/* The same, from the file at path. */
int idx_read_file(const char *path, unsigned dims, unsigned char **data,
		  size_t *count, size_t *item);

/* The images of an IDX file (n_in pixels each, scaled to [0, 1]) into a
 * new array *X of *count rows. Returns an exit code. */
int idx_images_load(const char *path, size_t n_in, float **X, size_t *count);

/* ---- rest.c ---- */

/* Sets OPENBLAS_THREAD_TIMEOUT=20 and GOMP_SPINCOUNT=10000 where they are
 * unset and starts the program again (argv), so that the runtimes' threads
 * sleep soon after a call instead of spinning; returns where nothing
 * changed or it cannot. */
void rest_threads(char **argv);

/* ---- wisdom_file.c: the planner's wisdom on disk ---- */

/* The wisdom file: $MLP_WISDOM, else $XDG_CACHE_HOME/mlp/wisdom, else
 * $HOME/.cache/mlp/wisdom; false where none is set (or too long). */
bool wisdom_path(char *path, size_t size);
/* Adds the wisdom in path to the process's. A missing file is no wisdom
 * (an error where must_exist); a malformed one is said and left out
 * (EXIT_DATA where must_exist). Returns an exit code. */
int wisdom_read(const char *path, bool must_exist);
/* The process's wisdom as the file at path (its directories made), whole
 * or not at all. Returns an exit code. */
int wisdom_write(const char *path);

/* ---- output.c: files besides models, written as models are saved ---- */

/* Whether a file of size bytes (0: unknown) could be written at path, said
 * before the work that makes it: the directory, a read-only file, the file
 * size limit (ulimit -f). Returns an exit code. */
int output_check(const char *path, uint64_t size);
/* n bytes at p as the file at path, whole or not at all. Returns an exit
 * code. */
int output_write(const char *path, const void *p, size_t n);

/* A log written a line at a time, complete up to its last line: nothing
 * (or the file that was there) until the first line, which goes in with
 * the header, whole; then each line appended whole or, on failure, not at
 * all. */
struct log_file {
	const char *path, *header;
	int fd;      /* -1 before the first line */
	size_t size; /* bytes written */
};

/* Checks that the log can be written (output_check). Returns an exit
 * code. */
int log_open(struct log_file *l, const char *path, const char *header);
/* Appends a line (with its newline). Returns an exit code. */
int log_line(struct log_file *l, const char *line);
/* Flushes the log to the disk and closes it. Returns an exit code. */
int log_close(struct log_file *l);

/* ---- gnuplot.c ---- */

/* A gnuplot script being written, its data inline: text of the user's
 * (a file name as a title) goes in only through plot_label. */
struct plot {
	FILE *f; /* write the script here */
	char *text;
	size_t len;
};

/* Starts a script. Returns an exit code. */
int plot_begin(struct plot *p);
/* text as a double-quoted datum of a data block (for a title taken with
 * columnheader): quotes, backslashes, control bytes and invalid UTF-8
 * become '?'. */
void plot_label(FILE *f, const char *text);
/* Runs the script in gnuplot (its terminal a PNG one, with no output set:
 * the picture comes on gnuplot's standard output) and writes the picture
 * to png whole or not at all. Ends the script. Returns an exit code,
 * reporting what failed: gnuplot missing, a file that cannot be written
 * (said before drawing), gnuplot's failure. */
int plot_draw(struct plot *p, const char *png);
/* Ends a script without drawing it. */
void plot_abort(struct plot *p);

/* ---- progress.c ---- */

/* The progress of training on standard error: a bar redrawn in place on a
 * terminal, and a line an epoch. */
struct progress {
	bool tty;
	double start, last_draw; /* of this epoch */
	double epoch_secs;       /* of the last epoch's steps */
};

void progress_init(struct progress *pr);
/* After each step of mlp_train. */
void progress_step(struct progress *pr, const mlp_train_progress *p);
/* After each epoch: "epoch E/N: loss L, S samples/s, T s", and the test
 * loss and accuracy when there are held-out rows. */
void progress_epoch(struct progress *pr, const mlp_train_progress *p);

/* ---- ranks.c: the processes of an MPI launcher ---- */

/* Starts MPI when an MPI launcher started this process (mpirun -np P mlp
 * ...); otherwise, and in a build without MPI, this is the one rank.
 * Returns an exit code (under a launcher without MPI built in, 2). */
int ranks_start(int *argc, char ***argv);
void ranks_end(void);
int rank_id(void);    /* 0 .. rank_count() − 1 */
int rank_count(void);
/* The ranks as mlp_train's workers; NULL for one rank. */
const mlp_comm *ranks_comm(void);
/* The ranks agree on how they stand, wherever they may have parted: every
 * rank calls it at the same points of a command, and a rank that fails
 * between two of them goes to ranks_finish. Returns the exit code every
 * rank returns: the largest of the ranks' rc (rank 0 says the message of
 * the lowest rank that failed). After a failure, no rank agrees again. */
int ranks_agree(int rc);
/* The same, and every rank must hold the same `same` (a hash): otherwise
 * differ_rc, and rank 0 says `what`. */
int ranks_agree_same(int rc, uint64_t same, int differ_rc, const char *what);
/* At the end of the program: the last agreement (none after a failure
 * every rank knows of). Returns the exit code every rank returns. */
int ranks_finish(int rc);
/* Rank 0's *n rows of width floats in *X to every rank (*X malloc'd; the
 * other ranks' replaced). Returns an exit code, the same on every rank. */
int ranks_share(float **X, size_t *n, size_t width);
/* Rows [first[r], first[r + 1]) of Y (width floats each), computed by rank
 * r, to rank 0's Y. */
void ranks_gather(float *Y, const size_t *first, size_t width);

/* ---- resume.c: mlp train --resume ---- */

/* What a checkpoint says of its run besides the options. */
struct resume {
	size_t sizes[MLP_MAX_LAYERS + 1], n_sizes; /* its network */
	mlp_act acts[MLP_MAX_LAYERS];
	size_t epoch;     /* epochs done */
	float *scaling;   /* in_mean, in_std (and out_mean, out_std with
			   * targets_scaled) of --standardize; NULL: none */
	bool targets_scaled;
};

/* Reads the checkpoint at path: the options of its run into *o, for each
 * option not given (given[c]: getopt's letter c was on the command line);
 * one given that differs and that a resumed run may not change (all but
 * --epochs, --precision and --patience) is refused, naming both values;
 * the rest into *r. Returns an exit code. */
int resume_read(const char *path, mlp_train_opts *o, const bool *given,
		struct resume *r);
/* Whether the data's standardisation (as struct resume holds it) is the
 * checkpoint's, bit for bit. Returns an exit code. */
int resume_same_scaling(const struct resume *r, const char *path,
			const float *scaling, bool targets);
void resume_free(struct resume *r);

/* ---- limits.c: the address-space limit (ulimit -v) ---- */

/* Below a limit without room for OpenBLAS's threads, starts the program
 * again with OpenBLAS on one thread (before anything else). */
void limits_fit_blas(char **argv);
/* Under a limit, makes OpenBLAS take its buffer now, while there is room,
 * or says that there is none (exit 1); before a command that computes.
 * Returns an exit code. */
int limits_reserve_blas(void);

/* ---- the commands: each returns the exit code ---- */
int cmd_eval(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
