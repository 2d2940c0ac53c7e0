/* cmd_plot.c — mlp plot: training curves from the logs of mlp train. */
#include "tool.h"

#include "number.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: mlp plot LOG.csv... OUT.png\n"
	"\n"
	"Draws the curves of one or more runs (the files mlp train --log\n"
	"writes) into OUT.png with gnuplot: the training and held-out loss\n"
	"against the epoch on the left, the held-out accuracy on the right, a\n"
	"colour a run, named by its file. A run without held-out rows has no\n"
	"held-out curves; without any held-out accuracy, the loss is drawn\n"
	"alone.\n";

/* The columns of a log that are drawn: epoch, loss, held-out loss and
 * held-out accuracy (columns 1, 3, 4 and 5 of the file). */
enum { EPOCH, LOSS, VAL_LOSS, VAL_ACC, COLUMNS };
static const int column_of[COLUMNS] = { 0, 2, 3, 4 };

struct log {
	const char *path;
	size_t n;      /* epochs */
	double *v;     /* n rows of COLUMNS values (NaN where undefined) */
	bool has[COLUMNS]; /* a finite value in the column */
};

/* One value of a log: a number, or nan as mlp train writes for what it
 * did not measure. */
static bool log_value(char *s, size_t len, double *out)
{
	float v;

	switch (number_parse(s, len, &v)) {
	case NUMBER_OK:
		*out = v;
		return isfinite(v);
	case NUMBER_NOT_FINITE:
		*out = NAN;
		return number_word(s, len) == NUMBER_NOT_FINITE;
	case NUMBER_BAD:
		break;
	}
	return false;
}

/* The line of a log at line number `line` into row. */
static int log_parse_line(struct log *g, char *line, size_t number, double *row)
{
	char *field = line;

	line[strcspn(line, "\r\n")] = '\0';
	for (int c = 0, k = 0; k < COLUMNS; c++) {
		size_t len = strcspn(field, ",");
		char end = field[len];

		if (c == column_of[k]) {
			if (!log_value(field, len, &row[k]))
				return report_error(EXIT_DATA, "%s:%zu: field %d is "
						    "not a number", g->path,
						    number, c + 1);
			k++;
		}
		if (end == '\0' && k < COLUMNS)
			return report_error(EXIT_DATA, "%s:%zu: %d fields; a line "
					    "of mlp train --log has 7", g->path,
					    number, c + 1);
		field += len + 1;
	}
	return EXIT_OK;
}

/* A log that mlp train wrote (its first line says so) into g. */
static int log_parse(struct log *g, const char *path)
{
	static const char head[] = "epoch,lr,loss,val_loss,val_accuracy,";
	char line[512];
	size_t cap = 0, number = 1;
	FILE *f = fopen(path, "r");
	int rc = EXIT_OK;

	memset(g, 0, sizeof(*g));
	g->path = path;
	if (f == NULL)
		return report_error(EXIT_FAIL, "cannot open %s: %s", path,
				    strerror(errno));
	if (fgets(line, sizeof(line), f) == NULL ||
	    strncmp(line, head, strlen(head)) != 0)
		rc = report_error(EXIT_DATA, "%s: not a log of mlp train --log "
				  "(its first line is not \"%s...\")", path, head);
	while (rc == EXIT_OK && fgets(line, sizeof(line), f) != NULL) {
		number++;
		if (g->n == cap) {
			size_t more = cap == 0 ? 64 : 2 * cap;
			double *grown = realloc(g->v, more * COLUMNS * sizeof(double));

			if (grown == NULL) {
				rc = report_error(EXIT_FAIL, "out of memory for %s",
						  path);
				break;
			}
			g->v = grown;
			cap = more;
		}
		rc = log_parse_line(g, line, number, g->v + g->n * COLUMNS);
		for (int k = 0; rc == EXIT_OK && k < COLUMNS; k++)
			g->has[k] |= isfinite(g->v[g->n * COLUMNS + k]);
		g->n++;
	}
	if (rc == EXIT_OK && ferror(f))
		rc = report_error(EXIT_FAIL, "cannot read %s", path);
	if (rc == EXIT_OK && g->n == 0)
		rc = report_error(EXIT_DATA, "%s: no epochs in the log", path);
	fclose(f);
	return rc;
}

/* A log as the data block $L<i>: a header of titles, then its rows. */
static void log_block(FILE *f, const struct log *g, int i)
{
	char title[4200];

	fprintf(f, "$L%d << EOD\n\"epoch\" ", i);
	snprintf(title, sizeof(title), "%s training", g->path);
	plot_label(f, title);
	fputc(' ', f);
	snprintf(title, sizeof(title), "%s held out", g->path);
	plot_label(f, title);
	fputc(' ', f);
	plot_label(f, g->path);
	fputc('\n', f);
	for (size_t r = 0; r < g->n; r++) {
		const double *v = g->v + r * COLUMNS;

		fprintf(f, "%.0f %.9g %.9g %.9g\n", v[EPOCH], v[LOSS], v[VAL_LOSS],
			v[VAL_ACC]);
	}
	fputs("EOD\n", f);
}

/* The curves of the logs whose column k holds values, in their colours
 * (column k is data column k + 1), each after ", " but the first. */
static void curves(FILE *f, const struct log *g, int logs, int k,
		   const char *style, bool *first)
{
	for (int i = 0; i < logs; i++) {
		if (!g[i].has[k])
			continue;
		fprintf(f, "%s$L%d using 1:%d %s lc %d", *first ? "" : ", ", i,
			k + 1, style, i + 1);
		*first = false;
	}
}

int cmd_plot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct log *g = NULL;
	bool loss = false, val = false, acc = false, first = true;
	struct plot p;
	int c, rc = EXIT_OK, logs;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(help, stdout), EXIT_OK;
		return report_usage("plot", argv, c);
	}
	logs = argc - optind - 1;
	if (logs < 1)
		return report_error(EXIT_USAGE, "plot: give one or more logs and "
				    "the picture to draw (mlp plot --help)");
	g = calloc((size_t)logs, sizeof(*g));
	if (g == NULL)
		return report_error(EXIT_FAIL, "out of memory");
	for (int i = 0; rc == EXIT_OK && i < logs; i++) {
		rc = log_parse(&g[i], argv[optind + i]);
		loss |= g[i].has[LOSS];
		val |= g[i].has[VAL_LOSS];
		acc |= g[i].has[VAL_ACC];
	}
	if (rc == EXIT_OK && !loss && !val)
		rc = report_error(EXIT_DATA, "no loss to draw: every loss in the "
				  "logs is nan");
	if (rc == EXIT_OK)
		rc = plot_begin(&p);
	if (rc == EXIT_OK) {
		for (int i = 0; i < logs; i++)
			log_block(p.f, &g[i], i);
		fprintf(p.f, "set terminal pngcairo noenhanced size %d,420\n"
			"set key autotitle columnhead\nset xlabel 'epoch'\n"
			"set grid\n", acc ? 1100 : 600);
		if (acc)
			fputs("set multiplot layout 1,2\n", p.f);
		fputs("set title 'loss'\nset key top right\nplot ", p.f);
		curves(p.f, g, logs, LOSS, "with lines lw 2", &first);
		curves(p.f, g, logs, VAL_LOSS, "with lines lw 2 dt 2", &first);
		if (acc) {
			fputs("\nset title 'held-out accuracy'\n"
			      "set key bottom right\nplot ", p.f);
			first = true;
			curves(p.f, g, logs, VAL_ACC, "with linespoints lw 2",
			       &first);
			fputs("\nunset multiplot", p.f);
		}
		fputc('\n', p.f);
		rc = plot_draw(&p, argv[argc - 1]);
	}
	for (int i = 0; i < logs; i++)
		free(g[i].v);
	free(g);
	return rc;
}
