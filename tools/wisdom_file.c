/*
 * wisdom_file.c — the planner's wisdom on disk (see tool.h): where it is
 * kept, read before plans are made, written by mlp tune.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Wisdom files are small: a line per layer shape and rung. */
#define WISDOM_MAX_BYTES ((size_t)16 << 20)

bool wisdom_path(char *path, size_t size)
{
	const char *env = getenv("MLP_WISDOM"), *cache = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (env != NULL && env[0] != '\0')
		n = snprintf(path, size, "%s", env);
	else if (cache != NULL && cache[0] == '/')
		n = snprintf(path, size, "%s/mlp/wisdom", cache);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(path, size, "%s/.cache/mlp/wisdom", home);
	else
		return false;
	return n > 0 && (size_t)n < size;
}

int wisdom_read(const char *path, bool must_exist)
{
	FILE *f = fopen(path, "rb");
	char *text;
	size_t n;
	mlp_msg msg = { "" };
	mlp_status st;

	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return EXIT_OK;
		return report_error(EXIT_FAIL, "cannot read wisdom %s: %s", path,
				    strerror(errno));
	}
	text = malloc(WISDOM_MAX_BYTES);
	if (text == NULL) {
		fclose(f);
		return report_error(EXIT_FAIL, "out of memory");
	}
	n = fread(text, 1, WISDOM_MAX_BYTES, f);
	if (ferror(f) || n == WISDOM_MAX_BYTES) {
		fclose(f);
		free(text);
		return report_error(EXIT_FAIL, "cannot read wisdom %s: %s", path,
				    n == WISDOM_MAX_BYTES ? "over 16 MiB"
							  : "read error");
	}
	fclose(f);
	st = mlp_wisdom_import(text, n, &msg);
	free(text);
	/* Wisdom only speeds plans up: a malformed file is said and left
	 * out, where the plans do without it. */
	if (st == MLP_EFORMAT) {
		fprintf(stderr, "mlp: wisdom %s left out: %s (mlp tune writes it "
			"again)\n", path, msg.text);
		return must_exist ? EXIT_DATA : EXIT_OK;
	}
	return report_status(st, "wisdom %s", path);
}

/* mkdir -p of the directory of path. */
static void make_parents(const char *path)
{
	char dir[4096];

	if (strlen(path) >= sizeof(dir))
		return;
	strcpy(dir, path);
	for (char *p = dir + 1; *p != '\0'; p++)
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(dir, 0777);
			*p = '/';
		}
}

int wisdom_write(const char *path)
{
	size_t len = 0;
	char *text;
	mlp_status st = mlp_wisdom_export(NULL, 0, &len);
	int rc;

	if (st != MLP_ESIZE)
		return report_status(st == MLP_OK ? MLP_EINVAL : st,
				     "cannot export the wisdom");
	text = malloc(len + 1);
	if (text == NULL)
		return report_error(EXIT_FAIL, "out of memory");
	st = mlp_wisdom_export(text, len + 1, NULL);
	if (st != MLP_OK) {
		free(text);
		return report_status(st, "cannot export the wisdom");
	}
	make_parents(path);
	rc = output_write(path, text, len);
	free(text);
	return rc;
}
