/*
 * optim.h — the optimizers' updates (optim.c).
 */
#ifndef MLP_OPTIM_H
#define MLP_OPTIM_H

#include "net.h"

/* One update of the parameters of net from the gradient block G (laid out
 * as the parameter block), scaled by g_scale (gradient clipping), at step
 * t ≥ 1. M and V: optimizer state, as large as the block (V unused by SGD;
 * M unused by SGD without momentum). Part `part` of `parts` of the block,
 * so that threads can share an update. With top NULL, the update is
 * computed and nothing is written; with top, it is written and the largest
 * magnitudes it wrote are folded into top[0..2] (weights; first moments or
 * velocities; second moments). True when every value it writes (or would
 * write) is finite. */
bool mlpi_optim_update(const mlp_train_opts *o, mlp_net *net, size_t t,
		       const float *G, float g_scale, float *M, float *V,
		       int part, int parts, float top[3]);

#endif /* MLP_OPTIM_H */
