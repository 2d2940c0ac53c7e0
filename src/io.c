/*
 * io.c — model files on disk: atomic saving and loading (the format itself
 * is safetensors.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Flushes the directory holding path, so that a rename in it lasts. */
static void sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* A new file beside path, "<path>.<pid>.<n>.tmp", created exclusively with
 * the permissions a new file gets (umask): its descriptor, and its name in
 * *tmp (malloc'd); -1 with the reason in *st. */
static int create_temp(const char *path, char **tmp, mlp_status *st,
		       mlp_msg *msg)
{
	size_t size = strlen(path) + 48;
	int fd = -1;

	*tmp = malloc(size);
	if (*tmp == NULL) {
		*st = mlpi_fail(msg, MLP_ENOMEM,
				"out of memory for the name of a temporary file");
		return -1;
	}
	for (int i = 0; i < 1000 && fd < 0; i++) {
		snprintf(*tmp, size, "%s.%ld.%d.tmp", path, (long)getpid(), i);
		fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		*st = io_fail(msg, "cannot create a temporary file beside %s: %s",
			      path, strerror(errno));
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
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
	     write_block(fd, net, net->block);
	if (state != NULL)
		ok = ok && write_block(fd, net, state->M) &&
		     write_block(fd, net, state->V);
	return ok && fsync(fd) == 0;
}

/* A model, or a checkpoint with its state, written beside path and
 * renamed over it. */
static mlp_status save_file(const mlp_net *net, const struct mlpi_state *state,
			    const char *path, mlp_msg *msg)
{
	char *header = NULL, *tmp = NULL;
	size_t header_len;
	mlp_status st;
	int fd;
	bool ok;

	st = mlpi_st_header(net, state, &header, &header_len, msg);
	if (st != MLP_OK)
		return st;
	fd = create_temp(path, &tmp, &st, msg);
	if (fd < 0) {
		free(header);
		return st;
	}
	ok = write_model(fd, net, state, header, header_len);
	if (!ok)
		st = io_fail(msg, "cannot write %s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && ok) {
		ok = false;
		st = io_fail(msg, "cannot write %s: %s", tmp, strerror(errno));
	}
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		st = io_fail(msg, "cannot rename %s to %s: %s", tmp, path,
			     strerror(errno));
	}
	if (ok) {
		sync_dir(path);
		mlpi_msg_clear(msg);
	} else {
		unlink(tmp);
	}
	free(tmp);
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
