/*
 * io.c — model files on disk: atomic saving and loading (the format itself
 * is safetensors.c).
 *
 * A save writes an unnamed file (O_TMPFILE) in the target's directory,
 * flushes it, gives it a temporary name and renames it over the target: a
 * process killed while writing leaves nothing, and one killed in the
 * instant between the naming and the rename leaves a temporary file that
 * the next save of a file in that directory removes. Where O_TMPFILE is
 * missing the file is named from the start, with the same cleanup.
 */
#define _GNU_SOURCE /* O_TMPFILE, AT_EMPTY_PATH */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* MLP_EIO with a message. */
#define io_fail(msg, ...) mlpi_fail((msg), MLP_EIO, __VA_ARGS__)

/* All of n bytes to fd; false on error (errno set). */
static bool write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

/* n floats as little-endian bytes, through a small buffer. */
static bool write_floats(int fd, const float *v, size_t n)
{
	unsigned char buf[4096];

	while (n > 0) {
		size_t k = n < sizeof(buf) / 4 ? n : sizeof(buf) / 4;

		for (size_t i = 0; i < k; i++) {
			uint32_t u;
			memcpy(&u, &v[i], 4);
			buf[4 * i] = (unsigned char)u;
			buf[4 * i + 1] = (unsigned char)(u >> 8);
			buf[4 * i + 2] = (unsigned char)(u >> 16);
			buf[4 * i + 3] = (unsigned char)(u >> 24);
		}
		if (!write_all(fd, buf, 4 * k))
			return false;
		v += k;
		n -= k;
	}
	return true;
}

/* Arrays laid out as the parameter block (the block itself, or a state's
 * M or V), tensor by tensor in layer order, each W then b. */
static bool write_block(int fd, const mlp_net *net, const float *block)
{
	bool ok = true;

	for (size_t l = 0; ok && l < net->n_layers; l++) {
		const struct mlp_layer *layer = &net->layers[l];

		ok = write_floats(fd, block + (layer->W - net->block),
				  layer->n_out * layer->n_in) &&
		     write_floats(fd, block + (layer->b - net->block), layer->n_out);
	}
	return ok;
}

/* The network's scaling, in the order of its header entries. */
static bool write_scaling(int fd, const mlp_net *net)
{
	size_t a = net->sizes[0], b = net->sizes[net->n_layers];

	return (!net->has_in || write_floats(fd, net->scaling, 2 * a)) &&
	       (!net->has_out || write_floats(fd, net->scaling + 2 * a, 2 * b));
}

/* The whole file to fd and to the disk: the header's length, the header,
 * the data. false on error (errno set). */
static bool write_model(int fd, const mlp_net *net,
			const struct mlpi_state *state, const char *header,
			size_t header_len)
{
	unsigned char len8[8];
	bool ok;

	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
	ok = write_all(fd, len8, 8) && write_all(fd, header, header_len) &&
	     write_block(fd, net, net->block) && write_scaling(fd, net);
	if (state != NULL)
		ok = ok && write_block(fd, net, state->M) &&
		     write_block(fd, net, state->V);
	return ok && fsync(fd) == 0;
}

bool mlpi_io_tmpfile = true;
bool mlpi_io_link_unnamed = true;

/* The temporary names: ".mlp-<pid>.<n>.tmp", short whatever the target's
 * name, so that a target of NAME_MAX bytes saves too. */
#define TEMP_PREFIX ".mlp-"
#define TEMP_SUFFIX ".tmp"

/* The file a save replaces: path, or what the symbolic link at path points
 * to, followed as open() would (a link to a missing file saves that file).
 * Malloc'd, or NULL with the reason in *st. */
static char *resolve_target(const char *path, mlp_status *st, mlp_msg *msg)
{
	char *target = strdup(path);

	for (int hops = 0; target != NULL; hops++) {
		struct stat sb;
		char link[PATH_MAX], *next;
		const char *slash;
		ssize_t n;
		size_t dir_len;

		if (lstat(target, &sb) != 0 || !S_ISLNK(sb.st_mode))
			return target;
		if (hops == 40) {
			*st = mlpi_fail(msg, MLP_EIO, "cannot save %s: too many "
					"levels of symbolic links", path);
			free(target);
			return NULL;
		}
		n = readlink(target, link, sizeof(link) - 1);
		if (n < 0) {
			*st = mlpi_fail(msg, MLP_EIO, "cannot read the link %s: %s",
					target, strerror(errno));
			free(target);
			return NULL;
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
	*st = mlpi_fail(msg, MLP_ENOMEM, "out of memory for a file name");
	return NULL;
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

/* Removes the temporary files in dir whose saving process is gone: a
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

/* Links the unnamed file open as *(int *)arg at name. AT_EMPTY_PATH needs
 * a capability most processes lack; /proc/self/fd is the usual way. */
static int link_unnamed(const char *name, void *arg)
{
	int fd = *(int *)arg;
	char proc[64];

	if (!mlpi_io_link_unnamed) {
		errno = ENOENT; /* as where /proc is missing */
		return -1;
	}
	if (linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno == EEXIST)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
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

/* The tensors of net laid out as its block (the parameters, or a state's
 * M or V), checked finite: MLP_ENONFINITE naming the first tensor that is
 * not, as the loader would refuse the file. */
static mlp_status check_finite(const mlp_net *net, const float *block,
			       const char *prefix, mlp_msg *msg)
{
	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *layer = &net->layers[l];

		if (!mlpi_all_finite(layer->n_out * layer->n_in,
				     block + (layer->W - net->block)))
			return mlpi_fail(msg, MLP_ENONFINITE, "tensor %s%zu.weight "
					 "holds a NaN or an infinity: not saved",
					 prefix, l);
		if (!mlpi_all_finite(layer->n_out, block + (layer->b - net->block)))
			return mlpi_fail(msg, MLP_ENONFINITE, "tensor %s%zu.bias "
					 "holds a NaN or an infinity: not saved",
					 prefix, l);
	}
	return MLP_OK;
}

/* The size of the file, checked against the process's file size limit
 * (ulimit -f) before anything is written: past it, a write would raise
 * SIGXFSZ, whose default action kills the process. */
static mlp_status check_size_limit(const mlp_net *net,
				   const struct mlpi_state *state,
				   size_t header_len, const char *path,
				   mlp_msg *msg)
{
	struct rlimit rl;
	uint64_t size = 8 + (uint64_t)header_len +
			(uint64_t)net->n_params * 4 * (state != NULL ? 3 : 1) +
			8 * ((net->has_in ? net->sizes[0] : 0) +
			     (net->has_out ? net->sizes[net->n_layers] : 0));

	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    size > (uint64_t)rl.rlim_cur)
		return io_fail(msg, "cannot save %s: the file would be %llu "
			       "bytes, above this process's file size limit "
			       "(ulimit -f) of %llu bytes", path,
			       (unsigned long long)size,
			       (unsigned long long)rl.rlim_cur);
	return MLP_OK;
}

/* Opens the file a save writes, in dir, with the mode the target has (a
 * new target: what umask gives): unnamed where the system allows, named
 * otherwise (*tmp then holds its name). -1 with errno set on failure. */
static int open_output(const char *dir, const struct stat *old, bool unnamed,
		       char **tmp)
{
	/* Private until its mode is set: 0600 over an existing file. */
	struct create_arg c = { -1, old != NULL ? 0600 : 0666 };

	*tmp = NULL;
#if defined(O_TMPFILE)
	if (unnamed) {
		c.fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, c.mode);
		if (c.fd < 0 && errno != EOPNOTSUPP && errno != EISDIR &&
		    errno != EINVAL)
			return -1;
	}
#endif
	if (c.fd < 0 && take_temp_name(dir, tmp, create_named, &c) != 0)
		return -1;
	if (old != NULL && fchmod(c.fd, old->st_mode & 07777) != 0) {
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

/* The failure of a call that set errno on the way to naming a file. */
static mlp_status name_fail(mlp_msg *msg, const char *what, const char *dir)
{
	if (errno == ENOMEM)
		return mlpi_fail(msg, MLP_ENOMEM, "out of memory for a file name");
	return io_fail(msg, "%s %s: %s", what, dir, strerror(errno));
}

/* A model, or a checkpoint with its state, saved to path as the header
 * says: never a partial file at path, never a file left behind. */
static mlp_status save_file(const mlp_net *net, const struct mlpi_state *state,
			    const char *path, mlp_msg *msg)
{
	char *header = NULL, *tmp = NULL, *target = NULL, *dir = NULL;
	size_t header_len;
	struct stat old;
	bool exists, ok = false;
	mlp_status st;
	int fd = -1;

	st = check_finite(net, net->block, "", msg);
	if (st == MLP_OK && state != NULL)
		st = check_finite(net, state->M, "optimizer.m.", msg);
	if (st == MLP_OK && state != NULL)
		st = check_finite(net, state->V, "optimizer.v.", msg);
	if (st != MLP_OK)
		return st;
	st = mlpi_st_header(net, state, &header, &header_len, msg);
	if (st == MLP_OK)
		st = check_size_limit(net, state, header_len, path, msg);
	if (st == MLP_OK)
		target = resolve_target(path, &st, msg);
	if (target == NULL)
		goto out;
	dir = dir_of(target);
	if (dir == NULL) {
		st = mlpi_fail(msg, MLP_ENOMEM, "out of memory for a file name");
		goto out;
	}
	exists = stat(target, &old) == 0;
	if (exists && !S_ISREG(old.st_mode)) {
		st = io_fail(msg, "cannot save over %s: not a regular file", path);
		goto out;
	}
	if (exists && ((old.st_mode & 0222) == 0 || access(target, W_OK) != 0)) {
		st = io_fail(msg, "cannot save over %s: the file is read-only",
			     path);
		goto out;
	}
	remove_stale(dir);
	/* Unnamed first; named where the unnamed file cannot be linked (no
	 * /proc, a file system that refuses): written again. */
	for (bool unnamed = mlpi_io_tmpfile;; unnamed = false) {
		fd = open_output(dir, exists ? &old : NULL, unnamed, &tmp);
		if (fd < 0) {
			st = name_fail(msg, "cannot create a file in", dir);
			goto out;
		}
		if (!write_model(fd, net, state, header, header_len)) {
			st = io_fail(msg, "cannot write %s: %s", path,
				     strerror(errno));
			goto out;
		}
		if (tmp != NULL ||
		    take_temp_name(dir, &tmp, link_unnamed, &fd) == 0)
			break;
		st = name_fail(msg, "cannot name a new file in", dir);
		if (!unnamed || errno == ENOMEM)
			goto out;
		close(fd);
		fd = -1;
	}
	if (rename(tmp, target) != 0) {
		st = io_fail(msg, "cannot rename %s to %s: %s", tmp, target,
			     strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	sync_dir(dir);
	ok = true;
out:
	if (fd >= 0 && close(fd) != 0 && ok) {
		ok = false;
		st = io_fail(msg, "cannot write %s: %s", path, strerror(errno));
	}
	if (tmp != NULL)
		unlink(tmp);
	if (ok)
		mlpi_msg_clear(msg);
	free(tmp);
	free(dir);
	free(target);
	free(header);
	return ok ? MLP_OK : st;
}

mlp_status mlp_net_save(const mlp_net *net, const char *path, mlp_msg *msg)
{
	if (net == NULL || path == NULL)
		return mlpi_fail(msg, MLP_ENULL, "%s is NULL",
				 net == NULL ? "net" : "path");
	return save_file(net, NULL, path, msg);
}

mlp_status mlpi_checkpoint_save(const mlp_net *net,
				const struct mlpi_state *state,
				const char *path, mlp_msg *msg)
{
	return save_file(net, state, path, msg);
}

mlp_status mlp_net_load_memory(mlp_net **out, const void *data, size_t size,
			       const mlp_load_opts *opts, mlp_msg *msg)
{
	mlp_status st;

	if (out == NULL || data == NULL)
		return mlpi_fail(msg, MLP_ENULL, "%s is NULL",
				 out == NULL ? "out" : "data");
	st = mlpi_st_read(out, data, size, opts, NULL, msg);
	if (st == MLP_OK)
		mlpi_msg_clear(msg);
	return st;
}

/* All of size bytes of fd into buf: MLP_OK, or MLP_EIO with the reason. */
static mlp_status read_all(int fd, unsigned char *buf, size_t size,
			   const char *path, mlp_msg *msg)
{
	size_t got = 0;

	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return io_fail(msg, "cannot read %s: %s", path,
				       strerror(errno));
		if (r == 0)
			return io_fail(msg, "cannot read %s: it shrank from %zu "
				       "to %zu bytes while being read", path,
				       size, got);
		got += (size_t)r;
	}
	return MLP_OK;
}

/* A file's bytes and the network (and, with state, the checkpoint's state)
 * they hold. */
static mlp_status load_file(mlp_net **out, const char *path,
			    const mlp_load_opts *opts, struct mlpi_state *state,
			    mlp_msg *msg)
{
	struct stat sb;
	unsigned char *buf;
	size_t size;
	mlp_status st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return io_fail(msg, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return io_fail(msg, "%s is not a regular file", path);
	}
	size = (size_t)sb.st_size;
	buf = malloc(size > 0 ? size : 1);
	if (buf == NULL) {
		close(fd);
		return mlpi_fail(msg, MLP_ENOMEM,
				 "out of memory for the %zu bytes of %s", size,
				 path);
	}
	st = read_all(fd, buf, size, path, msg);
	close(fd);
	if (st == MLP_OK)
		st = mlpi_st_read(out, buf, size, opts, state, msg);
	if (st == MLP_OK)
		mlpi_msg_clear(msg);
	free(buf);
	return st;
}

mlp_status mlp_net_load(mlp_net **out, const char *path,
			const mlp_load_opts *opts, mlp_msg *msg)
{
	if (out == NULL || path == NULL)
		return mlpi_fail(msg, MLP_ENULL, "%s is NULL",
				 out == NULL ? "out" : "path");
	return load_file(out, path, opts, NULL, msg);
}

mlp_status mlpi_checkpoint_load(const char *path, mlp_net **net,
				struct mlpi_state *state, mlp_msg *msg)
{
	return load_file(net, path, NULL, state, msg);
}
