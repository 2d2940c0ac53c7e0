/*
 * forward.c — workspaces and the forward pass.
 *
 * A workspace is one block: the header, then two ping-pong buffers of
 * max_batch × max_hidden floats, each 64-byte aligned. Layer l reads the
 * buffer layer l-1 wrote and writes the other one; the first layer reads X
 * and the last writes Y directly, so a one-layer network needs no buffer.
 */
#include "dense.h"

/* The workspace block: the header, then the two buffers. With base NULL
 * the carver only sizes it; with a block it builds the workspace there. */
static mlp_workspace *ws_layout(const mlp_net *net, size_t max_batch,
				struct mlpi_carver *c)
{
	mlp_workspace *ws = mlpi_carve(c, 1, sizeof(*ws));
	float *buf0 = mlpi_carve(c, max_batch * net->max_hidden, sizeof(float));
	float *buf1 = mlpi_carve(c, max_batch * net->max_hidden, sizeof(float));

	if (ws != NULL) {
		ws->net = net;
		ws->max_batch = max_batch;
		ws->owned = false;
		ws->buf[0] = buf0;
		ws->buf[1] = buf1;
	}
	return ws;
}

/* Checks the arguments and sizes the block, when it starts 64-byte
 * aligned. max_batch ≤ 2³⁰ and max_hidden ≤ 2²⁴ keep their product
 * within a size_t. */
static mlp_status ws_bytes(const mlp_net *net, size_t max_batch, size_t *bytes)
{
	struct mlpi_carver c = MLPI_CARVER(NULL);

	if (net == NULL)
		return MLP_ENULL;
	if (max_batch == 0)
		return MLP_ESIZE;
	if (max_batch > MLP_MAX_BATCH)
		return MLP_ETOOBIG;
	ws_layout(net, max_batch, &c);
	return mlpi_carved_size(&c, bytes) ? MLP_OK : MLP_ETOOBIG;
}

/* The block at the first 64-byte boundary of mem, which the caller's
 * mem_size bytes reach (so the address rounds up without overflow). */
static void *aligned_start(void *mem)
{
	size_t at = (size_t)(uintptr_t)mem, up = at;

	mlpi_round_up(at, MLPI_ALIGN, &up);
	return (unsigned char *)mem + (up - at);
}

size_t mlp_workspace_size(const mlp_net *net, size_t max_batch)
{
	size_t bytes;

	/* Slack for a block that does not start aligned. */
	if (ws_bytes(net, max_batch, &bytes) != MLP_OK ||
	    !mlpi_add(bytes, MLPI_ALIGN - 1, &bytes))
		return 0;
	return bytes;
}

mlp_status mlp_workspace_create(mlp_workspace **out, const mlp_net *net,
				size_t max_batch)
{
	struct mlpi_carver c;
	mlp_workspace *ws;
	mlp_status st;
	size_t bytes;
	void *mem;

	if (out == NULL)
		return MLP_ENULL;
	st = ws_bytes(net, max_batch, &bytes);
	if (st != MLP_OK)
		return st;
	mem = mlpi_alloc_aligned(bytes);
	if (mem == NULL)
		return MLP_ENOMEM;
	c = MLPI_CARVER(mem);
	ws = ws_layout(net, max_batch, &c); /* ws == mem */
	ws->owned = true;
	*out = ws;
	return MLP_OK;
}

mlp_status mlp_workspace_place(mlp_workspace **out, const mlp_net *net,
			       size_t max_batch, void *mem, size_t mem_size)
{
	struct mlpi_carver c;
	mlp_status st;
	size_t bytes;

	if (out == NULL || mem == NULL)
		return MLP_ENULL;
	st = ws_bytes(net, max_batch, &bytes);
	if (st != MLP_OK)
		return st;
	if (mem_size < bytes + MLPI_ALIGN - 1)
		return MLP_ESIZE;
	c = MLPI_CARVER(aligned_start(mem));
	*out = ws_layout(net, max_batch, &c);
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

/* Whether Y's bytes overlap the workspace's buffers. */
static bool overlaps_scratch(const mlp_net *net, const mlp_workspace *ws,
			     const float *Y, size_t y_bytes)
{
	size_t bytes = ws->max_batch * net->max_hidden * sizeof(float);

	return mlpi_overlap(Y, y_bytes, ws->buf[0], bytes) ||
	       mlpi_overlap(Y, y_bytes, ws->buf[1], bytes);
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
	/* Y may not overwrite X, the parameters, or the scratch it is
	 * computed through. */
	if (mlpi_overlap(X, x_bytes, Y, y_bytes) ||
	    mlpi_overlap(Y, y_bytes, net->block, net->block_floats * sizeof(float)) ||
	    overlaps_scratch(net, ws, Y, y_bytes))
		return MLP_EINVAL;

	for (size_t r = 0; r < batch; r += ws->max_batch) {
		size_t rows = batch - r < ws->max_batch ? batch - r
							: ws->max_batch;
		mlpi_forward_rows(net, ws, rows, X + r * n_in, Y + r * n_out, true);
	}
	return MLP_OK;
}
