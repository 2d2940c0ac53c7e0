/*
 * trainer.h — the trainer's state, shared by the files of a step: the
 * float step (trainer.c), the bf16 step's products and passes on OpenMP's
 * threads (trainer_bf16.c), and the update with its bounds
 * (trainer_update.c).
 */
#ifndef MLP_TRAINER_H
#define MLP_TRAINER_H

#include "dense.h"
#include "loss.h"
#include "train_bf16.h"

struct mlp_trainer {
	mlp_net *net;
	mlp_train_opts opts;
	size_t max_batch;
	size_t steps;
	void *mem;      /* the one block behind every buffer below */
	float *G;       /* gradients, laid out as the parameter block */
	float *M, *V;   /* optimizer state, the same layout */
	float *D[2];    /* ∂L/∂A and ∂L/∂Z: max_batch × widest, ping-pong */
	float *ones;    /* max_batch ones, for the bias gradients */
	float **A;      /* A[l], l = 1..L: outputs of layer l − 1 */
	float **Z;      /* Z[l]: pre-activations of layer l, or NULL */
	struct mlpi_bf16 *bf16; /* MLP_BF16: the products of full steps */
	/* The largest magnitudes the last update wrote (weights; first
	 * moments or velocities; second moments), which bound the next one,
	 * while the network's version is top_version. */
	float top[3];
	bool top_known;
	uint64_t top_version;
};

/* Rows [lo, hi) of ∂L/∂Z of the output layer, into D[0], for a batch of
 * `batch` rows with targets Y. */
static inline void mlpi_trainer_output_grad(mlp_trainer *t, size_t lo,
					    size_t hi, size_t batch,
					    const float *Y)
{
	const mlp_net *net = t->net;
	size_t L = net->n_layers, n = net->sizes[L], at = lo * n;
	mlp_act act = net->layers[L - 1].act;

	mlpi_loss_grad(t->opts.loss, act, hi - lo, n, batch, t->A[L] + at, Y + at,
		       t->D[0] + at);
	if (t->opts.loss == MLP_LOSS_MSE)
		mlpi_act_backward(act, hi - lo, n, t->Z[L - 1] + at, t->A[L] + at,
				  t->D[0] + at);
}


/* The loss summed over the rows [lo, hi) of the batch. */
static inline double mlpi_trainer_loss_sum(const mlp_trainer *t, size_t lo,
					   size_t hi, const float *Y)
{
	const mlp_net *net = t->net;
	size_t L = net->n_layers, n = net->sizes[L], at = lo * n;

	return mlpi_loss_sum(t->opts.loss, net->layers[L - 1].act, hi - lo, n,
			     t->Z[L - 1] + at, t->A[L] + at, Y + at);
}


/* Forward, loss and backpropagation of one batch without an update: the
 * batch's mean loss and the gradients' L2 norm; the gradients themselves
 * are then at mlpi_trainer_gradients(t), laid out as the parameter block.
 * Checks its arguments as mlp_trainer_step does (trainer.c). */
mlp_status mlpi_trainer_grad(mlp_trainer *t, size_t batch, const float *X,
			     const float *Y, double *loss, double *norm);
const float *mlpi_trainer_gradients(const mlp_trainer *t);
/* The trainer's state, for checkpoints: the optimizer's moments (laid out
 * as the parameter block), its step count and learning rate. */
void mlpi_trainer_state(mlp_trainer *t, float **M, float **V, size_t **steps,
			float **lr);
/* A step of a trainer with workers (opts.comm), `batch` of its rows (0 for
 * none): the mean loss over every worker's rows into *mean. `vote` nonzero
 * asks every worker to stop: when any worker asks, no step is taken and
 * *stopped is set. */
mlp_status mlpi_trainer_step_shared(mlp_trainer *t, size_t batch,
				    const float *X, const float *Y, int vote,
				    double *mean, bool *stopped);

/* trainer_update.c: the squared L2 norm of G[lo, hi) (multiples of 16),
 * and the update from the gradients in t->G of norm `norm`: MLP_EDIVERGED,
 * with nothing changed, when a parameter or a moment would stop being
 * finite. */
double mlpi_trainer_norm2(const float *G, size_t lo, size_t hi);
mlp_status mlpi_trainer_apply(mlp_trainer *t, double norm);

#if defined(MLP_HAVE_ONEDNN)
/* trainer_bf16.c: the bf16 products of full steps (MLP_BF16); a bf16
 * step's forward and backward pass on `batch` checked rows of a step of
 * `total` (MLP_ENONFINITE, before any product, for an X not all finite;
 * MLP_EDIVERGED for a loss not finite); the squared norm of t->G on
 * OpenMP's threads. */
mlp_status mlpi_trainer_bf16_create(mlp_trainer *t);
mlp_status mlpi_trainer_grad_bf16(mlp_trainer *t, size_t batch, size_t total,
				  const float *Y, double *sum);
double mlpi_trainer_norm2_shared(mlp_trainer *t);
#endif

#endif /* MLP_TRAINER_H */
