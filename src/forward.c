/*
 * forward.c — workspaces and the forward pass.
 *
 * A workspace is one block: the header, then two ping-pong buffers of
 * max_batch × max_hidden floats, each 64-byte aligned. Layer l reads the
 * buffer layer l-1 wrote and writes the other one; the first layer reads X
 * and the last writes Y directly, so a one-layer network needs no buffer.
 */
#include "internal.h"

/* Bytes of the header rounded to the alignment. */
#define HEADER_BYTES                                  \
	((sizeof(struct mlp_workspace) + MLPI_ALIGN - 1) & \
	 ~(size_t)(MLPI_ALIGN - 1))

/* The layout of a workspace: the bytes of one buffer, and of header and
 * buffers together when the block starts 64-byte aligned. */
static mlp_status layout(const mlp_net *net, size_t max_batch,
			 size_t *buf_bytes, size_t *block_bytes)
{
	size_t floats, bytes, sum;

	if (net == NULL)
		return MLP_ENULL;
	if (max_batch == 0)
		return MLP_ESIZE;
	if (max_batch > MLP_MAX_BATCH ||
	    !mlpi_mul(max_batch, net->max_hidden, &floats) ||
	    !mlpi_mul(floats, sizeof(float), &bytes) ||
	    !mlpi_round_up(bytes, MLPI_ALIGN, &bytes) ||
	    !mlpi_mul(bytes, 2, &sum) ||
	    !mlpi_add(sum, HEADER_BYTES + MLPI_ALIGN - 1, &sum))
		return MLP_ETOOBIG;
	*buf_bytes = bytes;
	*block_bytes = sum - (MLPI_ALIGN - 1);
	return MLP_OK;
}

/* Builds a workspace at the first 64-byte boundary in mem. */
static mlp_workspace *place(const mlp_net *net, size_t max_batch,
			    size_t buf_bytes, void *mem)
{
	size_t skip = (size_t)(-(uintptr_t)mem & (MLPI_ALIGN - 1));
	unsigned char *base = (unsigned char *)mem + skip;
	mlp_workspace *ws = (mlp_workspace *)(void *)base;

	ws->net = net;
	ws->max_batch = max_batch;
	ws->owned = false;
	ws->buf[0] = (float *)(void *)(base + HEADER_BYTES);
	ws->buf[1] = (float *)(void *)(base + HEADER_BYTES + buf_bytes);
	return ws;
}

size_t mlp_workspace_size(const mlp_net *net, size_t max_batch)
{
	size_t buf_bytes, block_bytes;

	if (layout(net, max_batch, &buf_bytes, &block_bytes) != MLP_OK)
		return 0;
	/* Slack for a block that does not start aligned. */
	return block_bytes + MLPI_ALIGN - 1;
}

mlp_status mlp_workspace_create(mlp_workspace **out, const mlp_net *net,
				size_t max_batch)
{
	size_t buf_bytes, block_bytes;
	mlp_workspace *ws;
	mlp_status st;
	void *mem;

	if (out == NULL)
		return MLP_ENULL;
	st = layout(net, max_batch, &buf_bytes, &block_bytes);
	if (st != MLP_OK)
		return st;
	mem = mlpi_alloc_aligned(block_bytes);
	if (mem == NULL)
		return MLP_ENOMEM;
	ws = place(net, max_batch, buf_bytes, mem); /* ws == mem: aligned */
	ws->owned = true;
	*out = ws;
	return MLP_OK;
}

mlp_status mlp_workspace_place(mlp_workspace **out, const mlp_net *net,
			       size_t max_batch, void *mem, size_t mem_size)
{
	size_t buf_bytes, block_bytes;
	mlp_status st;

	if (out == NULL || mem == NULL)
		return MLP_ENULL;
	st = layout(net, max_batch, &buf_bytes, &block_bytes);
	if (st != MLP_OK)
		return st;
	if (mem_size < block_bytes + MLPI_ALIGN - 1)
		return MLP_ESIZE;
	*out = place(net, max_batch, buf_bytes, mem);
	return MLP_OK;
}

void mlp_workspace_free(mlp_workspace *ws)
{
	if (ws != NULL && ws->owned)
		mlpi_free_aligned(ws);
}

size_t mlp_workspace_max_batch(const mlp_workspace *ws)
{
	return ws != NULL ? ws->max_batch : 0;
}

void mlpi_forward_rows(const mlp_net *net, mlp_workspace *ws, size_t rows,
		       const float *X, float *Y, bool last_act)
{
	const float *in = X;
	size_t last = net->n_layers - 1;

	for (size_t l = 0; l <= last; l++) {
		const struct mlp_layer *layer = &net->layers[l];
		float *out = l == last ? Y : ws->buf[l & 1];
		mlp_act act = l < last || last_act ? layer->act : MLP_IDENTITY;

		mlpi_dense(rows, layer->n_in, layer->n_out, layer->W, layer->b,
			   act, in, out);
		in = out;
	}
}

mlp_status mlp_forward(const mlp_net *net, mlp_workspace *ws, size_t batch,
		       const float *X, float *Y)
{
	size_t n_in, n_out, x_bytes, y_bytes;

	if (net == NULL || ws == NULL || X == NULL || Y == NULL)
		return MLP_ENULL;
	if (ws->net != net)
		return MLP_EWORKSPACE;
	if (batch == 0)
		return MLP_ESIZE;
	n_in = net->sizes[0];
	n_out = net->sizes[net->n_layers];
	if (!mlpi_mul(batch, n_in * sizeof(float), &x_bytes) ||
	    !mlpi_mul(batch, n_out * sizeof(float), &y_bytes))
		return MLP_ETOOBIG;
	if (mlpi_overlap(X, x_bytes, Y, y_bytes))
		return MLP_EINVAL;

	for (size_t r = 0; r < batch; r += ws->max_batch) {
		size_t rows = batch - r < ws->max_batch ? batch - r
							: ws->max_batch;
		mlpi_forward_rows(net, ws, rows, X + r * n_in, Y + r * n_out, true);
	}
	return MLP_OK;
}
