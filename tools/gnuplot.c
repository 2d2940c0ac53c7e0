/*
 * gnuplot.c — drawing with gnuplot (see tool.h): the script goes to a
 * gnuplot found on PATH; without one, a message that says what to install.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Whether an executable gnuplot is on PATH. */
static bool have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char dir[4096];

	while (path != NULL && *path != '\0') {
		size_t len = strcspn(path, ":");

		if (len > 0 && len < sizeof(dir) - 10) {
			memcpy(dir, path, len);
			strcpy(dir + len, "/gnuplot");
			if (access(dir, X_OK) == 0)
				return true;
		}
		path += len + (path[len] == ':');
	}
	return false;
}

bool gnuplot_name_ok(const char *name)
{
	return strchr(name, '\'') == NULL && strchr(name, '\n') == NULL;
}

FILE *gnuplot_open(int *rc)
{
	FILE *g;

	if (!have_gnuplot()) {
		*rc = report_error(EXIT_FAIL, "gnuplot is not installed, and "
				   "drawing needs it (Debian: apt-get install "
				   "gnuplot-nox)");
		return NULL;
	}
	g = popen("gnuplot", "w");
	if (g == NULL)
		*rc = report_error(EXIT_FAIL, "cannot start gnuplot");
	return g;
}

int gnuplot_close(FILE *g, const char *out)
{
	int status = pclose(g);

	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return report_error(EXIT_FAIL, "gnuplot could not draw %s", out);
	return EXIT_OK;
}
