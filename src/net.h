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
