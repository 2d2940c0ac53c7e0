/*
 * dense.h — the W·X+B step and its activation (dense.c, activation.c),
 * and the forward pass through a network's layers (forward.c).
 */
#ifndef MLP_DENSE_H
#define MLP_DENSE_H

#include "net.h"

/* Y[rows × n] = act(Y + 1·bᵀ), in one pass over Y; b may be NULL. Softmax
 * applies across each row. */
void mlpi_bias_act(mlp_act act, size_t rows, size_t n, const float *b,
		   float *Y);

/* Backpropagation through an activation: dA[rows × n] ← dA ⊙ act'(Z) in
 * place (softmax: the product with its Jacobian, per row). A = act(Z); Z is
 * read only where mlpi_act_needs_z(act) says so. */
void mlpi_act_backward(mlp_act act, size_t rows, size_t n, const float *Z,
		       const float *A, float *dA);

/* Y[rows × n] = 1·bᵀ: b in every row. */
void mlpi_bias_fill(size_t rows, size_t n, const float *b, float *Y);

/* The W·X+B step without argument checks: rows ≤ INT_MAX, n_in and n_out ≤
 * MLP_MAX_WIDTH, Y not overlapping the inputs. */
void mlpi_dense(size_t rows, size_t n_in, size_t n_out, const float *W,
		const float *b, mlp_act act, const float *X, float *Y);

/* The two ways to add the bias, kept so the bench can compare them:
 * FUSED runs the BLAS with beta = 0 and adds bias and activation in one pass
 * after it; BROADCAST copies b into every row of Y first, runs the BLAS with
 * beta = 1 and applies the activation after. mlpi_dense picks the faster. */
enum mlpi_epilogue { MLPI_EPILOGUE_FUSED, MLPI_EPILOGUE_BROADCAST };
void mlpi_dense_with(enum mlpi_epilogue how, size_t rows, size_t n_in,
		     size_t n_out, const float *W, const float *b, mlp_act act,
		     const float *X, float *Y);

/* The forward pass of rows ≤ ws->max_batch rows; with last_act false the
 * last layer's activation is left out (its logits go to Y). */
void mlpi_forward_rows(const mlp_net *net, mlp_workspace *ws, size_t rows,
		       const float *X, float *Y, bool last_act);

#endif /* MLP_DENSE_H */
