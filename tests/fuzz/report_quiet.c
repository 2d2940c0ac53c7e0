/*
 * report_quiet.c — the tool's report_error for the fuzz targets: the
 * message is formatted (so the sanitizers see its arguments used) and
 * dropped, so that millions of bad inputs do not flood standard error.
 */
#include "tool.h"

#include <stdarg.h>

int report_error(int code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return code;
}
