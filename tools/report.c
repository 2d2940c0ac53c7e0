/* report.c — error messages of the mlp program (see tool.h). */
#include "tool.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>

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
 * message kept. A message of memory run out names the address-space
 * limit, when there is one: the usual cause. */
__attribute__((format(printf, 1, 0)))
static void say(const char *fmt, va_list ap, const char *suffix)
{
	char text[1024];
	struct rlimit rl;
	size_t n;

	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	snprintf(text + n, sizeof(text) - n, "%s", suffix);
	n = strlen(text);
	if (strstr(text, "out of memory") != NULL &&
	    strstr(text, "ulimit -v") == NULL &&
	    getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		snprintf(text + n, sizeof(text) - n, " (under the address-space "
			 "limit, ulimit -v, of %llu MiB)",
			 (unsigned long long)(rl.rlim_cur >> 20));
	if (!holding)
		fprintf(stderr, "mlp: %s\n", text);
	else if (held[0] == '\0')
		snprintf(held, sizeof(held), "%s", text);
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
