/*
 * train_bf16.h — the products of a bf16 training step on oneDNN
 * (train_bf16.c): builds with oneDNN only.
 */
#ifndef MLP_TRAIN_BF16_H
#define MLP_TRAIN_BF16_H

#include "net.h"

#if defined(MLP_HAVE_ONEDNN)
/* train_bf16.c: the products of a bf16 training step, for steps of `rows`
 * rows, writing float results into the trainer's buffers (per layer: the
 * product A·Wᵀ, the weight gradient, and ∂L/∂A of the layer's input). */
struct mlpi_bf16;
struct mlpi_bf16_buffers {
	float **Z, **dW, **dA;
};
mlp_status mlpi_bf16_create(const mlp_net *net, size_t rows,
			    const struct mlpi_bf16_buffers *buffers,
			    struct mlpi_bf16 **out);
void mlpi_bf16_free(struct mlpi_bf16 *b);
/* The network's weights to bf16, on OpenMP's threads, at the start of a
 * step. */
void mlpi_bf16_weights(struct mlpi_bf16 *b, const mlp_net *net);
/* Rows [lo, hi) of layer l's float input A (rows × n_in), and of layer
 * l's output gradient dZ (rows × n_out) as backpropagation reaches it, to
 * bf16; the input's, whether it was all finite. */
bool mlpi_bf16_set_input(struct mlpi_bf16 *b, size_t l, size_t n_in,
			 size_t lo, size_t hi, const float *A);
void mlpi_bf16_set_grad(struct mlpi_bf16 *b, size_t n_out, size_t lo,
			size_t hi, const float *dZ);
/* Layer l's product, without bias; its weight gradient and, for l > 0,
 * ∂L/∂A of its input. */
void mlpi_bf16_forward(struct mlpi_bf16 *b, size_t l);
void mlpi_bf16_backward(struct mlpi_bf16 *b, size_t l);
#endif

#endif /* MLP_TRAIN_BF16_H */
