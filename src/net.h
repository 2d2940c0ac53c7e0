/*
 * net.h — a network and a workspace as the library lays them out (net.c,
 * forward.c), and what keeps the two honest: the version a change to the
 * parameters bumps.
 */
#ifndef MLP_NET_H
#define MLP_NET_H

#include "util.h"

#include <stdatomic.h>

struct mlp_layer {
	size_t n_in, n_out;
	mlp_act act;
	float *W; /* n_out × n_in, row-major */
	float *b; /* n_out */
	/* int8 (quant.c): NULL, or W as int8, n_out × n_in, with W[i][k] =
	 * Wq[i][k] · w_scale[i], and the scale of the layer's inputs. */
	const int8_t *Wq;
	const float *w_scale;
	float in_scale;
};

struct mlp_net {
	size_t n_layers;
	size_t max_hidden;   /* widest hidden layer; 0 for one layer */
	size_t n_params;     /* weights and biases, without padding */
	size_t block_floats; /* the parameter block, padding included */
	float *block;        /* all W and b, each 64-byte aligned */
	size_t *sizes;       /* n_layers + 1 widths, input first */
	/* Counts the changes to the parameters from outside a trainer's
	 * steps (setters, mutable pointers handed out): a trainer trusts the
	 * bounds it keeps of them only while this is unchanged. */
	atomic_uint_least64_t version;
	/* Standardisation kept with the network (scaling.c): NULL, or
	 * in_mean, in_std (sizes[0] each), out_mean, out_std (the output
	 * width each); has_in, has_out say which pairs hold values. */
	float *scaling;
	bool has_in, has_out;
	/* The int8 weights and scales of every layer (quant.c): NULL, or a
	 * block the layers' Wq and w_scale point into, which holds while
	 * version is quant_version. */
	void *quant;
	uint64_t quant_version;
	struct mlp_layer layers[];
};

/* The parameters of net may have been changed by other means than a
 * trainer's update. */
static inline void mlpi_net_changed(mlp_net *net)
{
	atomic_fetch_add_explicit(&net->version, 1, memory_order_relaxed);
}

static inline uint64_t mlpi_net_version(const mlp_net *net)
{
	return atomic_load_explicit(&net->version, memory_order_relaxed);
}

/* Whether net's int8 weights hold (quant.c). */
static inline bool mlpi_net_quantized(const mlp_net *net)
{
	return net->quant != NULL && mlpi_net_version(net) == net->quant_version;
}

/* An int8 copy of src's int8 weights onto dst, a network of the same
 * widths and parameters: MLP_OK (nothing to copy included), or MLP_ENOMEM
 * with dst unchanged (quant.c). */
mlp_status mlpi_quant_copy(mlp_net *dst, const mlp_net *src);
/* Frees net's int8 weights. */
void mlpi_quant_drop(mlp_net *net);
/* A zeroed int8 block for net (any before it freed), its layers' Wq and
 * w_scale pointing into it, held from net's version now: MLP_OK, or
 * MLP_ENOMEM or MLP_ETOOBIG with net unchanged. */
mlp_status mlpi_quant_alloc(mlp_net *net);

struct mlp_workspace {
	const mlp_net *net; /* the network it was made for */
	size_t max_batch;
	bool owned;         /* allocated by mlp_workspace_create */
	float *buf[2];      /* ping-pong: max_batch × max_hidden each */
};

/* Whether act is a valid activation value. */
static inline bool mlpi_act_valid(mlp_act act)
{
	return (unsigned)act < (unsigned)MLP_ACT_COUNT;
}

/* The scaling of src (if any) onto dst, a network of the same widths:
 * MLP_OK, or MLP_ENOMEM with dst unchanged (scaling.c). */
mlp_status mlpi_scaling_copy(mlp_net *dst, const mlp_net *src);

#endif /* MLP_NET_H */
