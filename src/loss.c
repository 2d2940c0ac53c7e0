/*
 * loss.c — losses, their gradients, and evaluation of a network on a data
 * set.
 *
 *   MSE:              L = Σ (a − t)² / (B·n)        dL/dA = 2(A − T) / (B·n)
 *   XENT, softmax:    L = −Σ t·log p / B             dL/dZ = (P − T) / B
 *   XENT, sigmoid:    L = Σ BCE(z, t) / (B·n)        dL/dZ = (P − T) / (B·n)
 *
 * Cross-entropy is computed from the logits Z, never from log p, so it stays
 * finite when p underflows: log p_j = z_j − logsumexp(z), and
 * BCE(z, t) = max(z, 0) − z·t + log(1 + e^−|z|).
 */
#include "dense.h"
#include "loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

mlp_status mlpi_loss_fits(mlp_loss_kind kind, mlp_act out_act)
{
	if (kind == MLP_LOSS_MSE)
		return MLP_OK;
	if (kind == MLP_LOSS_XENT)
		return out_act == MLP_SOFTMAX || out_act == MLP_SIGMOID ? MLP_OK
									: MLP_ELOSS;
	return MLP_EINVAL;
}

/* How far a softmax target row may sum from 1. */
#define XENT_ROW_SUM_TOL 1e-3

/* MLP_EINVAL when cross-entropy targets are out of range: outside [0, 1],
 * or (softmax) a row not summing to 1. */
static mlp_status check_targets(mlp_loss_kind kind, mlp_act out_act,
				size_t rows, size_t n, const float *T)
{
	if (kind != MLP_LOSS_XENT)
		return MLP_OK;
	for (size_t r = 0; r < rows; r++) {
		const float *t = T + r * n;
		double sum = 0;

		for (size_t j = 0; j < n; j++) {
			if (!(t[j] >= 0.0f && t[j] <= 1.0f))
				return MLP_EINVAL;
			sum += t[j];
		}
		if (out_act == MLP_SOFTMAX && fabs(sum - 1.0) > XENT_ROW_SUM_TOL)
			return MLP_EINVAL;
	}
	return MLP_OK;
}

/* logsumexp of a row, with the maximum subtracted first. */
static double logsumexp(size_t n, const float *z)
{
	double m = z[0], sum = 0;

	for (size_t j = 1; j < n; j++)
		m = z[j] > m ? z[j] : m;
	for (size_t j = 0; j < n; j++)
		sum += exp((double)z[j] - m);
	return m + log(sum);
}

double mlpi_loss_sum(mlp_loss_kind kind, mlp_act out_act, size_t rows,
		     size_t n, const float *Z, const float *A, const float *T)
{
	double sum = 0;

	if (kind == MLP_LOSS_MSE) {
		for (size_t i = 0; i < rows * n; i++) {
			double d = (double)A[i] - T[i];
			sum += d * d;
		}
		return sum / (double)n;
	}
	if (out_act == MLP_SOFTMAX) {
		for (size_t r = 0; r < rows; r++) {
			const float *z = Z + r * n, *t = T + r * n;
			double lse = logsumexp(n, z);

			for (size_t j = 0; j < n; j++)
				if (t[j] != 0.0f)
					sum += t[j] * (lse - z[j]);
		}
		return sum;
	}
	for (size_t i = 0; i < rows * n; i++) { /* sigmoid */
		double z = Z[i];
		sum += (z > 0 ? z : 0) - z * T[i] + log1p(exp(-fabs(z)));
	}
	return sum / (double)n;
}

void mlpi_loss_grad(mlp_loss_kind kind, mlp_act out_act, size_t rows, size_t n,
		    size_t batch, const float *A, const float *T, float *G)
{
	/* MSE: dL/dA. Cross-entropy: dL/dZ, the fused gradient. */
	float scale = kind == MLP_LOSS_MSE ? 2.0f / (float)(batch * n)
		      : out_act == MLP_SOFTMAX ? 1.0f / (float)batch
					       : 1.0f / (float)(batch * n);

	for (size_t i = 0; i < rows * n; i++)
		G[i] = scale * (A[i] - T[i]);
}

/* Rows (softmax) or outputs (sigmoid) classified right, from the logits. */
static size_t count_correct(mlp_act out_act, size_t rows, size_t n,
			    const float *Z, const float *T)
{
	size_t correct = 0;

	if (out_act == MLP_SOFTMAX) {
		/* argmax of the logits is argmax of the probabilities. */
		for (size_t r = 0; r < rows; r++) {
			const float *z = Z + r * n, *t = T + r * n;
			size_t iz = 0, it = 0;

			for (size_t j = 1; j < n; j++) {
				iz = z[j] > z[iz] ? j : iz;
				it = t[j] > t[it] ? j : it;
			}
			correct += iz == it;
		}
		return correct;
	}
	for (size_t i = 0; i < rows * n; i++) /* sigmoid: p > ½ ⇔ z > 0 */
		correct += (Z[i] > 0.0f) == (T[i] > 0.5f);
	return correct;
}

static mlp_status check_data(const mlp_net *net, mlp_loss_kind kind, size_t n,
			     const float *X, const float *Y, bool x_finite)
{
	size_t n_in = net->sizes[0], n_out = net->sizes[net->n_layers], bytes;

	if (X == NULL || Y == NULL)
		return MLP_ENULL;
	if (n == 0)
		return MLP_ESIZE;
	if (!mlpi_mul(n, n_in * sizeof(float), &bytes) ||
	    !mlpi_mul(n, n_out * sizeof(float), &bytes))
		return MLP_ETOOBIG;
	if ((x_finite && !mlpi_all_finite(n * n_in, X)) ||
	    !mlpi_all_finite(n * n_out, Y))
		return MLP_ENONFINITE;
	return check_targets(kind, net->layers[net->n_layers - 1].act, n, n_out,
			     Y);
}

mlp_status mlpi_check_data(const mlp_net *net, mlp_loss_kind kind, size_t n,
			   const float *X, const float *Y)
{
	return check_data(net, kind, n, X, Y, true);
}

mlp_status mlpi_check_data_but_x(const mlp_net *net, mlp_loss_kind kind,
				 size_t n, const float *X, const float *Y)
{
	return check_data(net, kind, n, X, Y, false);
}

/* Rows evaluated at a time. */
#define EVAL_ROWS 256

size_t mlpi_eval_rows(size_t n)
{
	return n < EVAL_ROWS ? n : EVAL_ROWS;
}

size_t mlpi_eval_scratch(const mlp_net *net, size_t rows)
{
	/* Logits and outputs; rows ≤ 256 and widths ≤ 2²⁴: no overflow. */
	return 2 * rows * net->sizes[net->n_layers];
}

void mlpi_evaluate(const mlp_net *net, mlp_workspace *ws, float *scratch,
		   mlp_loss_kind kind, size_t n, const float *X,
		   const float *Y, double *mean_loss, double *accuracy)
{
	size_t n_in = net->sizes[0], n_out = net->sizes[net->n_layers];
	size_t rows = ws->max_batch, correct = 0, units;
	mlp_act out_act = net->layers[net->n_layers - 1].act;
	float *Z = scratch, *A = scratch + rows * n_out;
	double sum = 0;

	for (size_t r = 0; r < n; r += rows) {
		size_t k = n - r < rows ? n - r : rows;
		const float *x = X + r * n_in, *y = Y + r * n_out;

		/* Logits, then the outputs from them. */
		mlpi_forward_rows(net, ws, k, x, Z, false);
		memcpy(A, Z, k * n_out * sizeof(float));
		mlpi_bias_act(out_act, k, n_out, NULL, A);
		sum += mlpi_loss_sum(kind, out_act, k, n_out, Z, A, y);
		if (kind == MLP_LOSS_XENT)
			correct += count_correct(out_act, k, n_out, Z, y);
	}
	*mean_loss = sum / (double)n;
	if (accuracy != NULL) {
		units = out_act == MLP_SOFTMAX ? n : n * n_out;
		*accuracy = kind == MLP_LOSS_XENT ? (double)correct / (double)units
						  : NAN;
	}
}

mlp_status mlp_evaluate(const mlp_net *net, mlp_loss_kind loss, size_t n,
			const float *X, const float *Y, double *mean_loss,
			double *accuracy)
{
	size_t rows = mlpi_eval_rows(n);
	mlp_workspace *ws = NULL;
	mlp_status st;
	float *scratch;

	if (net == NULL || mean_loss == NULL)
		return MLP_ENULL;
	st = mlpi_loss_fits(loss, net->layers[net->n_layers - 1].act);
	if (st == MLP_OK)
		st = mlpi_check_data(net, loss, n, X, Y);
	if (st != MLP_OK)
		return st;

	st = mlp_workspace_create(&ws, net, rows);
	scratch = st == MLP_OK
			  ? malloc(mlpi_eval_scratch(net, rows) * sizeof(float))
			  : NULL;
	if (scratch == NULL) {
		mlp_workspace_free(ws);
		return MLP_ENOMEM;
	}
	mlpi_evaluate(net, ws, scratch, loss, n, X, Y, mean_loss, accuracy);
	free(scratch);
	mlp_workspace_free(ws);
	return MLP_OK;
}
