/* report.c — error messages of the mlp program (see tool.h). */
#include "tool.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>

/* Under an MPI launcher, the ranks other than 0 hold their first message
 * for rank 0 to print (ranks.c), so that one failure is said once. */
static bool holding;
static char held[1024];

void report_hold(bool hold)
{
	holding = hold;
	held[0] = '\0';
}

const char *report_held(void)
{
	return held;
}

void report_forget(void)
{
	held[0] = '\0';
}

/* "mlp: ", the message, then suffix and a newline; or, holding, the first
 * message kept. */
static void say(const char *fmt, va_list ap, const char *suffix)
{
	size_t n;

	if (!holding) {
		fputs("mlp: ", stderr);
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "%s\n", suffix);
		return;
	}
	if (held[0] != '\0')
		return;
	vsnprintf(held, sizeof(held), fmt, ap);
	n = strlen(held);
	snprintf(held + n, sizeof(held) - n, "%s", suffix);
}

int report_error(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap, "");
	va_end(ap);
	return code;
}

int report_status(mlp_status st, const char *fmt, ...)
{
	char suffix[128];
	va_list ap;

	if (st == MLP_OK)
		return EXIT_OK;
	snprintf(suffix, sizeof(suffix), ": %s", mlp_strerror(st));
	va_start(ap, fmt);
	say(fmt, ap, suffix);
	va_end(ap);
	return st == MLP_ENONFINITE ? EXIT_DATA : EXIT_FAIL;
}

int report_usage(const char *cmd, char *const *argv, int c)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return report_error(EXIT_USAGE, "%s: %s needs a value (mlp %s "
				    "--help)", cmd, arg, cmd);
	if (optopt != 0)
		return report_error(EXIT_USAGE, "%s: unknown option '-%c' (mlp "
				    "%s --help)", cmd, optopt, cmd);
	return report_error(EXIT_USAGE, "%s: unknown option '%s' (mlp %s "
			    "--help)", cmd, arg, cmd);
}
