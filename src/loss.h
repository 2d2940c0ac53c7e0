/*
 * loss.h — losses, the checks of data rows, and evaluation (loss.c).
 */
#ifndef MLP_LOSS_H
#define MLP_LOSS_H

#include "net.h"

/* MLP_OK when the loss fits the output activation, else MLP_ELOSS (or
 * MLP_EINVAL for an unknown loss). */
mlp_status mlpi_loss_fits(mlp_loss_kind kind, mlp_act out_act);
/* The checks every entry point makes on n rows of inputs X and targets Y
 * for net under a loss: MLP_ENULL, MLP_ESIZE (n = 0), MLP_ETOOBIG (byte
 * counts that overflow), MLP_ENONFINITE, and MLP_EINVAL for cross-entropy
 * targets outside [0, 1] or (softmax) rows not summing to 1. */
mlp_status mlpi_check_data(const mlp_net *net, mlp_loss_kind kind, size_t n,
			   const float *X, const float *Y);
/* The same but for the finiteness of X, which the caller checks as it
 * reads X (a bf16 step, as it converts X). */
mlp_status mlpi_check_data_but_x(const mlp_net *net, mlp_loss_kind kind,
				 size_t n, const float *X, const float *Y);
/* The loss summed over rows (mean over the outputs for MSE and sigmoid),
 * in double, from logits Z and outputs A = act(Z). */
double mlpi_loss_sum(mlp_loss_kind kind, mlp_act out_act, size_t rows,
		     size_t n, const float *Z, const float *A, const float *T);
/* The gradient of a batch's mean loss into G: dL/dA for MSE, the fused
 * dL/dZ for cross-entropy; `rows` of the batch's `batch` rows. */
void mlpi_loss_grad(mlp_loss_kind kind, mlp_act out_act, size_t rows,
		    size_t n, size_t batch, const float *A, const float *T,
		    float *G);

/* Evaluation of n checked rows with caller memory: a workspace for
 * mlpi_eval_rows(n) rows and mlpi_eval_scratch(net, those rows) floats. */
size_t mlpi_eval_rows(size_t n);
size_t mlpi_eval_scratch(const mlp_net *net, size_t rows);
void mlpi_evaluate(const mlp_net *net, mlp_workspace *ws, float *scratch,
		   mlp_loss_kind kind, size_t n, const float *X,
		   const float *Y, double *mean_loss, double *accuracy);

#endif /* MLP_LOSS_H */
