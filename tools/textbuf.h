/* textbuf.h — text built up by printf, in a buffer that grows (textbuf.c):
 * mlp serve's answers and metrics. */
#ifndef MLP_TOOL_TEXTBUF_H
#define MLP_TOOL_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct textbuf {
	char *buf;   /* malloc'd, NUL-terminated once anything is put */
	size_t len, cap;
	bool failed; /* out of memory: the text is incomplete */
};

/* Appends the formatted text. */
void textbuf_put(struct textbuf *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
