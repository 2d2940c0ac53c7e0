/*
 * output.c — the files the mlp program writes besides models (see
 * tool.h): pictures whole or not at all, and logs that are complete up to
 * their last line, through atomic_file.c as models are saved.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include "atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int output_check(const char *path, uint64_t size)
{
	char why[512];

	if (atomic_probe(path, size, why, sizeof(why)) != ATOMIC_OK)
		return report_error(EXIT_FAIL, "%s", why);
	return EXIT_OK;
}

struct bytes {
	const void *p;
	size_t n;
};

static bool write_bytes(int fd, void *arg)
{
	const struct bytes *b = arg;

	return atomic_write_all(fd, b->p, b->n);
}

int output_write(const char *path, const void *p, size_t n)
{
	struct bytes b = { p, n };
	struct atomic_opts o = { n, true, true };
	char why[512];

	if (atomic_replace(path, write_bytes, &b, &o, NULL, why,
			   sizeof(why)) != ATOMIC_OK)
		return report_error(EXIT_FAIL, "%s", why);
	return EXIT_OK;
}

int log_open(struct log_file *l, const char *path, const char *header)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->path = path;
	l->header = header;
	return output_check(path, 0);
}

int log_line(struct log_file *l, const char *line)
{
	size_t n = strlen(line);
	char why[512];

	if (l->fd < 0) {
		/* The first line goes in with the header, whole. */
		size_t h = strlen(l->header);
		char *text = malloc(h + n);
		struct bytes b = { text, h + n };
		struct atomic_opts o = { h + n, true, true };
		enum atomic_status st;

		if (text == NULL)
			return report_error(EXIT_FAIL, "out of memory for %s",
					    l->path);
		memcpy(text, l->header, h);
		memcpy(text + h, line, n);
		st = atomic_replace(l->path, write_bytes, &b, &o, &l->fd, why,
				    sizeof(why));
		free(text);
		l->size = h + n;
		if (st != ATOMIC_OK)
			return report_error(EXIT_FAIL, "%s", why);
		return EXIT_OK;
	}
	if (l->size + n > atomic_size_limit())
		return report_error(EXIT_FAIL, "cannot write %s: it would pass "
				    "this process's file size limit (ulimit -f) "
				    "of %llu bytes", l->path,
				    (unsigned long long)atomic_size_limit());
	if (!atomic_write_all(l->fd, line, n)) {
		int e = errno;

		/* A line written in part comes out again. */
		if (ftruncate(l->fd, (off_t)l->size) != 0 ||
		    lseek(l->fd, 0, SEEK_END) < 0)
			e = errno;
		return report_error(EXIT_FAIL, "cannot write %s: %s", l->path,
				    strerror(e));
	}
	l->size += n;
	return EXIT_OK;
}

int log_close(struct log_file *l)
{
	int rc = EXIT_OK;

	if (l->fd >= 0) {
		int synced = fsync(l->fd), e = errno;

		if (close(l->fd) != 0 || synced != 0)
			rc = report_error(EXIT_FAIL, "cannot write %s: %s",
					  l->path, strerror(synced != 0 ? e : errno));
	}
	l->fd = -1;
	return rc;
}
