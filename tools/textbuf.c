/* textbuf.c — text built up by printf (textbuf.h). */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void textbuf_put(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Once into what room there is; again, once it has grown to fit. */
	for (int tries = 0; tries < 2 && !t->failed; tries++) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
		} else if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		} else {
			size_t cap = 2 * t->cap + (size_t)n + 64;
			char *b = realloc(t->buf, cap);

			if (b == NULL) {
				t->failed = true;
			} else {
				t->buf = b;
				t->cap = cap;
			}
		}
	}
}
