/*
 * atomic_file.c — a file replaced whole or not at all (see atomic_file.h).
 */
#define _GNU_SOURCE /* O_TMPFILE, AT_EMPTY_PATH */
#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* The temporary names: ".mlp-<pid>.<n>.tmp", short whatever the target's
 * name, so that a target of NAME_MAX bytes is replaced too. */
#define TEMP_PREFIX ".mlp-"
#define TEMP_SUFFIX ".tmp"

/* A replacement under way. */
struct job {
	const char *path;   /* as the caller gave it, for messages */
	char *target;       /* the file replaced: path, links followed */
	char *dir;          /* its directory */
	bool exists;
	struct stat old;
	char *why;
	size_t why_size;
};

/* "cannot write PATH: " and the cause into the message; returns status. */
__attribute__((format(printf, 3, 4)))
static enum atomic_status fail(struct job *j, enum atomic_status status,
			       const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(j->why, j->why_size, "cannot write %s: ", j->path);

	if (n >= 0 && (size_t)n < j->why_size) {
		va_start(ap, fmt);
		vsnprintf(j->why + n, j->why_size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return status;
}

/* The failure to create a file in j's directory (errno set). */
static enum atomic_status fail_create(struct job *j)
{
	if (errno == ENOMEM)
		return fail(j, ATOMIC_ENOMEM, "out of memory for a file name");
	return fail(j, ATOMIC_EIO, "cannot create a file in %s: %s", j->dir,
		    strerror(errno));
}

bool atomic_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return false;
		if (w == 0) {
			errno = EIO;
			return false;
		}
		b += w;
		n -= (size_t)w;
	}
	return true;
}

uint64_t atomic_size_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return (uint64_t)rl.rlim_cur;
}

/* The file a replacement replaces into j->target: path, or what the
 * symbolic link at path points to, followed as open() would (a link to a
 * missing file makes that file). */
static enum atomic_status resolve_target(struct job *j)
{
	char *target = strdup(j->path);

	for (int hops = 0; target != NULL; hops++) {
		struct stat sb;
		char link[PATH_MAX], *next;
		const char *slash;
		ssize_t n;
		size_t dir_len;

		if (lstat(target, &sb) != 0 || !S_ISLNK(sb.st_mode)) {
			j->target = target;
			return ATOMIC_OK;
		}
		if (hops == 40) {
			free(target);
			return fail(j, ATOMIC_EIO, "too many levels of symbolic "
				    "links");
		}
		n = readlink(target, link, sizeof(link) - 1);
		if (n < 0) {
			enum atomic_status st = fail(j, ATOMIC_EIO, "cannot read "
						     "the link %s: %s", target,
						     strerror(errno));

			free(target);
			return st;
		}
		link[n] = '\0';
		/* A relative link is relative to the link's directory. */
		slash = strrchr(target, '/');
		dir_len = link[0] != '/' && slash != NULL ?
			  (size_t)(slash - target) + 1 : 0;
		next = malloc(dir_len + (size_t)n + 1);
		if (next != NULL) {
			memcpy(next, target, dir_len);
			memcpy(next + dir_len, link, (size_t)n + 1);
		}
		free(target);
		target = next;
	}
	return fail(j, ATOMIC_ENOMEM, "out of memory for a file name");
}

/* The directory part of path ("." for a bare name), malloc'd. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Flushes a directory, so that a rename in it lasts. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Removes the temporary files in dir whose writing process is gone: a
 * process killed between naming its file and renaming it. */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid;
		size_t len = strlen(e->d_name);

		if (strncmp(e->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) != 0 ||
		    len < strlen(TEMP_SUFFIX) ||
		    strcmp(e->d_name + len - strlen(TEMP_SUFFIX), TEMP_SUFFIX) != 0)
			continue;
		pid = strtol(e->d_name + strlen(TEMP_PREFIX), &end, 10);
		if (pid <= 0 || *end != '.' || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* A free temporary name in dir, "<dir>/.mlp-<pid>.<n>.tmp", that fn
 * (link or create) takes; 0 and the name in *tmp (malloc'd), or -1 with
 * errno set. */
static int take_temp_name(const char *dir, char **tmp,
			  int (*fn)(const char *name, void *arg), void *arg)
{
	size_t size = strlen(dir) + 64;

	*tmp = malloc(size);
	if (*tmp == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(*tmp, size, "%s/" TEMP_PREFIX "%ld.%d" TEMP_SUFFIX, dir,
			 (long)getpid(), i);
		if (fn(*tmp, arg) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	free(*tmp);
	*tmp = NULL;
	return -1;
}

struct link_arg {
	int fd;
	bool allowed;
};

/* Links the unnamed file open as arg's fd at name. AT_EMPTY_PATH needs a
 * capability most processes lack; /proc/self/fd is the usual way. */
static int link_unnamed(const char *name, void *arg)
{
	struct link_arg *l = arg;
	char proc[64];

	if (!l->allowed) {
		errno = ENOENT; /* as where /proc is missing */
		return -1;
	}
	if (linkat(l->fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno == EEXIST)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", l->fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

struct create_arg {
	int fd;
	mode_t mode;
};

/* Creates name exclusively, keeping its descriptor. */
static int create_named(const char *name, void *arg)
{
	struct create_arg *c = arg;

	c->fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, c->mode);
	return c->fd >= 0 ? 0 : -1;
}

/* Opens the new file in j's directory, with the mode the target has (a
 * new target: what umask gives): unnamed where allowed and the system
 * can, named otherwise (*tmp then holds its name). -1 with errno set on
 * failure. */
static int open_output(const struct job *j, bool unnamed, char **tmp)
{
	/* Private until its mode is set: 0600 over an existing file. */
	struct create_arg c = { -1, j->exists ? 0600 : 0666 };

	*tmp = NULL;
#if defined(O_TMPFILE)
	if (unnamed) {
		c.fd = open(j->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, c.mode);
		if (c.fd < 0 && errno != EOPNOTSUPP && errno != EISDIR &&
		    errno != EINVAL)
			return -1;
	}
#else
	(void)unnamed;
#endif
	if (c.fd < 0 && take_temp_name(j->dir, tmp, create_named, &c) != 0)
		return -1;
	if (j->exists && fchmod(c.fd, j->old.st_mode & 07777) != 0) {
		int e = errno;

		close(c.fd);
		if (*tmp != NULL)
			unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		errno = e;
		return -1;
	}
	return c.fd;
}

/* The checks before anything is created: the target found, its directory,
 * an existing target writable and regular, the size within the limit. */
static enum atomic_status prepare(struct job *j, uint64_t size)
{
	uint64_t limit = atomic_size_limit();
	enum atomic_status st;

	if (size > limit)
		return fail(j, ATOMIC_EIO, "the file would be %llu bytes, above "
			    "this process's file size limit (ulimit -f) of %llu "
			    "bytes", (unsigned long long)size,
			    (unsigned long long)limit);
	st = resolve_target(j);
	if (st != ATOMIC_OK)
		return st;
	j->dir = dir_of(j->target);
	if (j->dir == NULL)
		return fail(j, ATOMIC_ENOMEM, "out of memory for a file name");
	j->exists = stat(j->target, &j->old) == 0;
	if (j->exists && !S_ISREG(j->old.st_mode))
		return fail(j, ATOMIC_EIO, "not a regular file");
	if (j->exists && ((j->old.st_mode & 0222) == 0 ||
			  access(j->target, W_OK) != 0))
		return fail(j, ATOMIC_EIO, "the file is read-only");
	return ATOMIC_OK;
}

static void job_free(struct job *j)
{
	free(j->target);
	free(j->dir);
}

enum atomic_status atomic_replace(const char *path, atomic_writer write_fn,
				  void *arg, const struct atomic_opts *opts,
				  int *keep_fd, char *why, size_t why_size)
{
	const struct atomic_opts all = { 0, true, true };
	const struct atomic_opts *o = opts != NULL ? opts : &all;
	struct job j = { .path = path, .why = why, .why_size = why_size };
	struct link_arg link = { -1, o->link_unnamed };
	char *tmp = NULL;
	bool ok = false;
	enum atomic_status st = prepare(&j, o->size);
	int fd = -1, e;

	if (st != ATOMIC_OK)
		goto out;
	remove_stale(j.dir);
	/* Unnamed first; named where the unnamed file cannot be linked (no
	 * /proc, a file system that refuses): written again. */
	for (bool unnamed = o->unnamed;; unnamed = false) {
		fd = open_output(&j, unnamed, &tmp);
		if (fd < 0) {
			st = fail_create(&j);
			goto out;
		}
		if (!write_fn(fd, arg) || fsync(fd) != 0) {
			st = fail(&j, ATOMIC_EIO, "%s", strerror(errno));
			goto out;
		}
		link.fd = fd;
		if (tmp != NULL || take_temp_name(j.dir, &tmp, link_unnamed,
						  &link) == 0)
			break;
		e = errno;
		if (e == ENOMEM) {
			st = fail(&j, ATOMIC_ENOMEM, "out of memory for a file "
				  "name");
			goto out;
		}
		st = fail(&j, ATOMIC_EIO, "cannot name a new file in %s: %s",
			  j.dir, strerror(e));
		if (!unnamed)
			goto out;
		close(fd);
		fd = -1;
	}
	if (rename(tmp, j.target) != 0) {
		st = fail(&j, ATOMIC_EIO, "cannot rename %s to %s: %s", tmp,
			  j.target, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	sync_dir(j.dir);
	ok = true;
	st = ATOMIC_OK;
	if (keep_fd != NULL) {
		*keep_fd = fd;
		fd = -1;
	}
out:
	if (fd >= 0 && close(fd) != 0 && ok) {
		ok = false;
		st = fail(&j, ATOMIC_EIO, "%s", strerror(errno));
	}
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	job_free(&j);
	return st;
}

enum atomic_status atomic_probe(const char *path, uint64_t size, char *why,
				size_t why_size)
{
	struct job j = { .path = path, .why = why, .why_size = why_size };
	enum atomic_status st = prepare(&j, size);
	char *tmp = NULL;
	int fd;

	if (st == ATOMIC_OK) {
		fd = open_output(&j, true, &tmp);
		if (fd < 0)
			st = fail_create(&j);
		else
			close(fd);
		if (tmp != NULL)
			unlink(tmp);
		free(tmp);
	}
	job_free(&j);
	return st;
}
