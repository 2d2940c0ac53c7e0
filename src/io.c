/*
 * io.c — model files on disk: saving, whole or not at all (atomic_file.c),
 * and loading (the format itself is safetensors.c).
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC */
#include "files.h"
#include "train_opts.h"

#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* MLP_EIO with a message. */
#define io_fail(msg, ...) mlpi_fail((msg), MLP_EIO, __VA_ARGS__)

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
		if (!atomic_write_all(fd, buf, 4 * k))
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

/* A quantised network, in the order of its header (mlpi_st_header). */
static bool write_quant(int fd, const mlp_net *net)
{
	bool ok = true;

	for (size_t l = 0; ok && l < net->n_layers; l++) {
		const struct mlp_layer *ly = &net->layers[l];

		ok = write_floats(fd, ly->b, ly->n_out) &&
		     write_floats(fd, ly->w_scale, ly->n_out) &&
		     write_floats(fd, &ly->in_scale, 1);
	}
	ok = ok && write_scaling(fd, net);
	for (size_t l = 0; ok && l < net->n_layers; l++)
		ok = atomic_write_all(fd, net->layers[l].Wq,
				      net->layers[l].n_out * net->layers[l].n_in);
	return ok;
}

/* What a save writes: the network, a checkpoint's state, the header. */
struct model_file {
	const mlp_net *net;
	const struct mlpi_state *state;
	const char *header;
	size_t header_len;
};

/* The whole file to fd: the header's length, the header, the data. false
 * on error (errno set). */
static bool write_model(int fd, void *arg)
{
	const struct model_file *m = arg;
	unsigned char len8[8];
	bool ok;

	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)m->header_len >> (8 * i));
	ok = atomic_write_all(fd, len8, 8) &&
	     atomic_write_all(fd, m->header, m->header_len);
	if (m->state == NULL && mlpi_net_quantized(m->net))
		return ok && write_quant(fd, m->net);
	ok = ok && write_block(fd, m->net, m->net->block) && write_scaling(fd, m->net);
	if (m->state != NULL)
		ok = ok && write_block(fd, m->net, m->state->M) &&
		     write_block(fd, m->net, m->state->V) &&
		     (m->state->best == NULL ||
		      write_block(fd, m->net, m->state->best));
	return ok;
}

/* The ways saves may take (mlpi_io_ways): both, unless a test says
 * otherwise. */
static atomic_bool io_unnamed = true, io_link_unnamed = true;

void mlpi_io_ways(bool unnamed, bool link_unnamed)
{
	atomic_store(&io_unnamed, unnamed);
	atomic_store(&io_link_unnamed, link_unnamed);
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

/* The size of net's file with header_len bytes of header. */
static uint64_t file_size(const mlp_net *net, const struct mlpi_state *state,
			  size_t header_len)
{
	uint64_t blocks = state == NULL ? 1 : state->best == NULL ? 3 : 4;
	uint64_t params = (uint64_t)net->n_params * 4 * blocks;

	if (state == NULL && mlpi_net_quantized(net)) {
		params = 0;
		for (size_t l = 0; l < net->n_layers; l++)
			params += (uint64_t)net->layers[l].n_out *
					  (net->layers[l].n_in + 8) + 4;
	}
	return 8 + (uint64_t)header_len + params +
	       8 * (uint64_t)((net->has_in ? net->sizes[0] : 0) +
			      (net->has_out ? net->sizes[net->n_layers] : 0));
}

/* The status of an atomic replacement, its message into msg. */
static mlp_status from_atomic(enum atomic_status st, const char *why,
			      mlp_msg *msg)
{
	switch (st) {
	case ATOMIC_OK:
		mlpi_msg_clear(msg);
		return MLP_OK;
	case ATOMIC_ENOMEM:
		return mlpi_fail(msg, MLP_ENOMEM, "%s", why);
	case ATOMIC_EIO:
		break;
	}
	return mlpi_fail(msg, MLP_EIO, "%s", why);
}

/* A model, or a checkpoint with its state, saved to path as the header
 * says: never a partial file at path, never a file left behind. */
static mlp_status save_file(const mlp_net *net, const struct mlpi_state *state,
			    const char *path, mlp_msg *msg)
{
	struct model_file m = { net, state, NULL, 0 };
	struct atomic_opts o = { 0, atomic_load(&io_unnamed),
				 atomic_load(&io_link_unnamed) };
	char why[sizeof(msg->text)];
	char *header = NULL;
	mlp_status st;

	st = check_finite(net, net->block, "", msg);
	if (st == MLP_OK && state != NULL)
		st = check_finite(net, state->M, "optimizer.m.", msg);
	if (st == MLP_OK && state != NULL)
		st = check_finite(net, state->V, "optimizer.v.", msg);
	if (st == MLP_OK && state != NULL && state->best != NULL)
		st = check_finite(net, state->best, "optimizer.best.", msg);
	if (st == MLP_OK)
		st = mlpi_st_header(net, state, &header, &m.header_len, msg);
	if (st != MLP_OK)
		return st;
	m.header = header;
	o.size = file_size(net, state, m.header_len);
	st = from_atomic(atomic_replace(path, write_model, &m, &o, NULL, why,
					sizeof(why)), why, msg);
	free(header);
	return st;
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

mlp_status mlpi_checkpoint_probe(const mlp_net *net, bool best,
				 const char *path, mlp_msg *msg)
{
	/* The widest metadata a checkpoint of net can have: its header's
	 * length bounds the file's. */
	float any[1];
	struct mlpi_state widest = {
		.M = any, .V = any, .best = best ? any : NULL,
		.epoch = SIZE_MAX, .steps = SIZE_MAX, .rows = SIZE_MAX,
		.workers = SIZE_MAX, .lr = -0x1.fffffep-126f,
		.best_epoch = SIZE_MAX, .best_loss = -0x1.fffffffffffffp-1022,
		.opts = { .lr = -0x1.fffffep-126f, .momentum = -0x1.fffffep-126f,
			  .beta1 = -0x1.fffffep-126f, .beta2 = -0x1.fffffep-126f,
			  .eps = -0x1.fffffep-126f,
			  .weight_decay = -0x1.fffffep-126f,
			  .clip_norm = -0x1.fffffep-126f,
			  .step_factor = -0x1.fffffep-126f,
			  .val_fraction = -0x1.fffffep-126f,
			  .batch_size = SIZE_MAX, .epochs = SIZE_MAX,
			  .seed = UINT64_MAX, .step_every = SIZE_MAX,
			  .warmup = SIZE_MAX, .patience = SIZE_MAX,
			  .loss = MLP_LOSS_XENT, .optim = MLP_OPTIM_ADAM,
			  .schedule = MLP_SCHEDULE_CONSTANT },
	};
	char *header = NULL, why[sizeof(msg->text)];
	size_t header_len;
	mlp_status st = mlpi_st_header(net, &widest, &header, &header_len, msg);

	if (st != MLP_OK)
		return st;
	free(header);
	return from_atomic(atomic_probe(path, file_size(net, &widest, header_len),
					why, sizeof(why)), why, msg);
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

mlp_status mlp_checkpoint_opts(const char *path, mlp_train_opts *opts,
			       size_t *epoch, mlp_msg *msg)
{
	struct mlpi_state s = { 0 };
	mlp_net *net = NULL;
	mlp_train_opts full;
	mlp_status st;
	size_t size;

	if (path == NULL || opts == NULL)
		return mlpi_fail(msg, MLP_ENULL, "%s is NULL",
				 path == NULL ? "path" : "opts");
	st = mlpi_opts_read(opts, &full, msg);
	if (st == MLP_OK)
		st = mlpi_checkpoint_load(path, &net, &s, msg);
	if (st != MLP_OK)
		return st;
	/* The recorded fields into the caller's struct, its size of it. */
	memcpy(&size, opts, sizeof(size));
	mlpi_checkpoint_copy_opts(&s, opts, size);
	if (epoch != NULL)
		*epoch = s.epoch;
	free(s.M);
	free(s.V);
	free(s.best);
	mlp_net_free(net);
	mlpi_msg_clear(msg);
	return MLP_OK;
}
