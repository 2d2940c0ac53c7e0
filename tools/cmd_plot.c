/* cmd_plot.c — mlp plot: training curves from the logs of mlp train. */
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

static const char help[] =
	"usage: mlp plot LOG.csv... OUT.png\n"
	"\n"
	"Draws the curves of one or more runs (the files mlp train --log\n"
	"writes) into OUT.png with gnuplot: the training and held-out loss\n"
	"against the epoch on the left, the held-out accuracy on the right, a\n"
	"colour a run, named by its file.\n";

/* Each log must be one mlp train wrote: its first line says so. */
static int check_log(const char *path)
{
	static const char head[] = "epoch,lr,loss,val_loss,val_accuracy,";
	char line[128] = "";
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return report_error(EXIT_FAIL, "cannot open %s: %s", path,
				    strerror(errno));
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	if (strncmp(line, head, strlen(head)) != 0)
		return report_error(EXIT_DATA, "%s: not a log of mlp train --log "
				    "(its first line is not \"%s...\")", path,
				    head);
	return EXIT_OK;
}

int cmd_plot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *png;
	int c, rc = EXIT_OK, logs;
	FILE *g;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(help, stdout), EXIT_OK;
		return fputs(help, stderr), EXIT_USAGE;
	}
	logs = argc - optind - 1;
	if (logs < 1)
		return fputs(help, stderr), EXIT_USAGE;
	png = argv[argc - 1];
	for (int i = optind; i < argc; i++)
		if (!gnuplot_name_ok(argv[i]))
			return report_error(EXIT_USAGE, "'%s': a file name with a "
					    "quote or a newline", argv[i]);
	for (int i = 0; rc == EXIT_OK && i < logs; i++)
		rc = check_log(argv[optind + i]);
	if (rc != EXIT_OK)
		return rc;
	g = gnuplot_open(&rc);
	if (g == NULL)
		return rc;
	fprintf(g, "set terminal pngcairo size 1100,420\nset output '%s'\n"
		"set datafile separator ','\nset key autotitle columnhead\n"
		"set multiplot layout 1,2\nset xlabel 'epoch'\nset grid\n"
		"set title 'loss'\nset key top right\nplot ", png);
	for (int i = 0; i < logs; i++)
		fprintf(g, "%s'%s' using 1:3 with lines lw 2 lc %d title '%s "
			"training', '' using 1:4 with lines lw 2 dt 2 lc %d "
			"title '%s held out'", i > 0 ? ", " : "", argv[optind + i],
			i + 1, argv[optind + i], i + 1, argv[optind + i]);
	fputs("\nset title 'held-out accuracy'\nset key bottom right\nplot ", g);
	for (int i = 0; i < logs; i++)
		fprintf(g, "%s'%s' using 1:5 with linespoints lw 2 lc %d title '%s'",
			i > 0 ? ", " : "", argv[optind + i], i + 1,
			argv[optind + i]);
	fputs("\nunset multiplot\n", g);
	return gnuplot_close(g, png);
}
