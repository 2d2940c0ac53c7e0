/* report.c — error messages of the mlp program (see tool.h). */
#include "tool.h"

#include <stdarg.h>

int report_error(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("mlp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}
