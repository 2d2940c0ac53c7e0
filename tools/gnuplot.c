/*
 * gnuplot.c — drawing with gnuplot (see tool.h). The script goes to
 * gnuplot's standard input with its data inline, the PNG comes back on
 * its standard output, and the tool writes the file itself, whole or not
 * at all (output.c). No file name or other text of the user's
 * reaches gnuplot's command parser, which runs a shell for
 * `set output '|cmd'` and for data files named '<cmd': text goes only
 * into data blocks, as quoted data.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A picture larger than this is not one of ours. */
#define MAX_PICTURE ((size_t)64 << 20)

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

int plot_begin(struct plot *p)
{
	p->text = NULL;
	p->len = 0;
	p->f = open_memstream(&p->text, &p->len);
	if (p->f == NULL)
		return report_error(EXIT_FAIL, "out of memory for a plot");
	return EXIT_OK;
}

/* The length of the valid UTF-8 sequence at s (not NUL), or 0. */
static size_t utf8_length(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
		   : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates, and past U+10FFFF. */
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) ||
	    (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
	    (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

void plot_label(FILE *f, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;

	fputc('"', f);
	while (*s != '\0') {
		size_t n = *s < 0x80 ? 1 : utf8_length(s);

		/* Quotes, backslashes and control bytes would end or escape
		 * the datum; invalid UTF-8 would upset the fonts. */
		if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f || *s == '"' ||
					  *s == '\\'))) {
			fputc('?', f);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
	fputc('"', f);
}

/* Runs gnuplot on the script: its standard output into *out (malloc'd,
 * *out_len bytes); its messages go to standard error. Returns an exit
 * code. */
static int run_gnuplot(const char *script, size_t len, unsigned char **out,
		       size_t *out_len)
{
	int in[2], from[2], status, rc = EXIT_OK;
	size_t sent = 0, cap = 0;
	struct sigaction ignore = { .sa_handler = SIG_IGN }, saved;
	pid_t pid;

	*out = NULL;
	*out_len = 0;
	if (pipe(in) != 0)
		return report_error(EXIT_FAIL, "cannot start gnuplot: %s",
				    strerror(errno));
	if (pipe(from) != 0) {
		close(in[0]), close(in[1]);
		return report_error(EXIT_FAIL, "cannot start gnuplot: %s",
				    strerror(errno));
	}
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(from[1], 1);
		close(in[0]), close(in[1]), close(from[0]), close(from[1]);
		execlp("gnuplot", "gnuplot", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(from[1]);
	if (pid < 0) {
		close(in[1]), close(from[0]);
		return report_error(EXIT_FAIL, "cannot start gnuplot: %s",
				    strerror(errno));
	}
	/* A gnuplot that stops reading must not kill the tool. */
	sigaction(SIGPIPE, &ignore, &saved);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	while (rc == EXIT_OK) {
		struct pollfd fds[2] = { { from[0], POLLIN, 0 },
					 { sent < len ? in[1] : -1, POLLOUT, 0 } };
		ssize_t n;

		if (sent == len && in[1] >= 0) {
			close(in[1]);
			in[1] = -1;
		}
		if (poll(fds, 2, -1) < 0) {
			if (errno != EINTR)
				rc = report_error(EXIT_FAIL, "gnuplot: %s",
						  strerror(errno));
			continue;
		}
		if (fds[1].revents != 0) {
			n = write(in[1], script + sent, len - sent);
			if (n > 0)
				sent += (size_t)n;
			else if (errno != EAGAIN && errno != EINTR)
				sent = len; /* gnuplot stopped reading */
		}
		if (fds[0].revents == 0)
			continue;
		if (*out_len == cap) {
			unsigned char *grown = NULL;

			if (cap < MAX_PICTURE) {
				cap = cap == 0 ? 65536 : 2 * cap;
				grown = realloc(*out, cap);
			}
			if (grown == NULL) {
				rc = report_error(EXIT_FAIL, "out of memory for "
						  "gnuplot's picture");
				break;
			}
			*out = grown;
		}
		n = read(from[0], *out + *out_len, cap - *out_len);
		if (n == 0)
			break;
		if (n > 0)
			*out_len += (size_t)n;
		else if (errno != EINTR)
			rc = report_error(EXIT_FAIL, "gnuplot: %s", strerror(errno));
	}
	if (in[1] >= 0)
		close(in[1]);
	close(from[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGPIPE, &saved, NULL);
	if (rc == EXIT_OK && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		rc = report_error(EXIT_FAIL, "gnuplot could not draw the picture");
	if (rc != EXIT_OK) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

void plot_abort(struct plot *p)
{
	if (p->f != NULL)
		fclose(p->f);
	free(p->text);
	p->f = NULL;
	p->text = NULL;
}

int plot_draw(struct plot *p, const char *png)
{
	static const unsigned char magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n',
						0x1a, '\n' };
	unsigned char *picture = NULL;
	size_t size = 0;
	int rc = EXIT_OK;

	if (fclose(p->f) != 0)
		rc = report_error(EXIT_FAIL, "out of memory for a plot");
	p->f = NULL;
	if (rc == EXIT_OK && !have_gnuplot())
		rc = report_error(EXIT_FAIL, "gnuplot is not installed, and "
				  "drawing needs it (Debian: apt-get install "
				  "gnuplot-nox)");
	/* Where the picture cannot go, say so before drawing it. */
	if (rc == EXIT_OK)
		rc = output_check(png, 0);
	if (rc == EXIT_OK)
		rc = run_gnuplot(p->text, p->len, &picture, &size);
	if (rc == EXIT_OK && (size < sizeof(magic) ||
			      memcmp(picture, magic, sizeof(magic)) != 0))
		rc = report_error(EXIT_FAIL, "gnuplot drew no PNG picture");
	if (rc == EXIT_OK)
		rc = output_write(png, picture, size);
	free(picture);
	free(p->text);
	p->text = NULL;
	return rc;
}
