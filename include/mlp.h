/*
 * mlp.h — dense neural networks (multilayer perceptrons) on CBLAS.
 *
 * This is the one public header of mlp. Read it top to bottom:
 *
 *   1. version
 *   2. status codes
 *   3. activations
 *   4. the W·X+B step      (mlp_dense_forward)
 *   5. networks            (mlp_net_*)
 *   6. workspaces and the forward pass (mlp_workspace_*, mlp_forward)
 *   7. the BLAS, engines and threads
 *   8. training            (mlp_train, mlp_trainer_*, mlp_evaluate)
 *   9. model files         (mlp_net_save, mlp_net_load)
 *  10. plans: engines and precisions (mlp_plan_*)
 *
 * Conventions that hold everywhere:
 *
 *   - Every matrix is row-major float. A layer of n_out neurons over n_in
 *     inputs has weights W of n_out × n_in (row i holds neuron i, exactly
 *     PyTorch's nn.Linear.weight) and biases b of n_out.
 *   - A batch X is batch × n_in, one sample per row.
 *   - Every fallible call returns an mlp_status. On any error the call
 *     changes nothing: no output is written, no handle is stored, nothing
 *     leaks. The library never prints, exits or aborts. The one exception is
 *     training, which changes the network step by step: mlp_train that
 *     returns MLP_EDIVERGED has undone the epoch that diverged but keeps the
 *     updates of the epochs before it (see mlp_train).
 *   - A call that takes an mlp_msg *msg (which may be NULL) writes it on
 *     every path: the reason on failure, an empty string on success.
 *   - Handles are opaque and come in create/free pairs; free(NULL) is a no-op.
 *   - Thread safety: a network is read-only during a forward pass; any number
 *     of threads may run forward passes on one network at once, each with its
 *     own workspace.
 */
#ifndef MLP_H
#define MLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MLP_BUILDING) && defined(__GNUC__)
#define MLP_API __attribute__((visibility("default")))
#else
#define MLP_API
#endif

/* ------------------------------------------------------------------------ */
/* 1. Version                                                                */
/* ------------------------------------------------------------------------ */

/* MLP_VERSION_MAJOR, _MINOR, _PATCH, MLP_VERSION_NUMBER (one number that
 * orders versions: 0.2.0 is 200, 1.2.3 is 10203) and MLP_VERSION_STRING,
 * generated from the build's version. */
#include "mlp_version.h"

/* The MLP_VERSION_NUMBER of the library the program is linked with, so a
 * program can check it against the header it was compiled with. */
MLP_API unsigned mlp_version(void);
/* The same as a string, "MAJOR.MINOR.PATCH". */
MLP_API const char *mlp_version_string(void);

/* ------------------------------------------------------------------------ */
/* 2. Status codes                                                           */
/* ------------------------------------------------------------------------ */

typedef enum mlp_status {
	MLP_OK = 0,
	MLP_ENULL,      /* a required pointer argument is NULL */
	MLP_ESIZE,      /* a size is zero, or sizes do not fit each other */
	MLP_ETOOBIG,    /* a size or a product of sizes is beyond the limits */
	MLP_EACT,       /* unknown activation value */
	MLP_EWORKSPACE, /* the workspace was made for another network */
	MLP_ENOMEM,     /* an allocation failed */
	MLP_EINVAL,     /* another invalid argument (overlap, alignment, value) */
	MLP_ENOTSUP,    /* not supported by this build or this BLAS */
	MLP_EIO,        /* reading or writing a file failed */
	MLP_EFORMAT,    /* a model file is malformed */
	MLP_ENONFINITE, /* a NaN or an infinity where a finite value is needed */
	MLP_ELOSS,      /* the loss does not fit the output activation */
	MLP_EDIVERGED,  /* training diverged: a loss, gradient or update not
			 * finite */
	MLP_ECOMM,      /* a communicator's transfer failed (mlp_comm) */
	MLP_EWORKERS    /* the workers of a parallel run disagree: their
			 * options, rows or parameters differ */
} mlp_status;

/* A short English description of a status, never NULL; unknown values give
 * "unknown status". */
MLP_API const char *mlp_strerror(mlp_status s);

/* A message for the caller, from calls whose failures a status alone does
 * not explain (a model file, a list of names, training options): which
 * part of the input broke which rule. Always NUL-terminated. */
#define MLP_MSG_SIZE 256
typedef struct mlp_msg {
	char text[MLP_MSG_SIZE];
} mlp_msg;

/* Limits that make sizes "absurdly large" (MLP_ETOOBIG). They keep every
 * dimension a BLAS int can hold and every byte count a size_t. */
#define MLP_MAX_WIDTH  (1u << 24) /* neurons in a layer, inputs of a layer */
#define MLP_MAX_LAYERS 4096u      /* layers in a network */
#define MLP_MAX_BATCH  (1u << 30) /* rows of a workspace */

/* ------------------------------------------------------------------------ */
/* 3. Activations                                                            */
/* ------------------------------------------------------------------------ */

/* Applied element-wise to each output, except softmax, which is applied
 * across each row (sample). Formulas, in the notation of PyTorch:
 *
 *   MLP_IDENTITY    x
 *   MLP_RELU        max(0, x)
 *   MLP_LEAKY_RELU  x if x > 0 else 0.01·x  (nn.LeakyReLU's default slope)
 *   MLP_SIGMOID     1 / (1 + exp(-x)), evaluated without overflow
 *   MLP_TANH        tanh(x)
 *   MLP_GELU        x·Φ(x) = 0.5·x·(1 + erf(x/√2))   (nn.GELU(), exact form)
 *   MLP_GELU_TANH   0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
 *                   (nn.GELU(approximate='tanh'))
 *   MLP_SILU        x·sigmoid(x)
 *   MLP_SOFTMAX     exp(x_j - max x) / Σ_k exp(x_k - max x), per row
 */
typedef enum mlp_act {
	MLP_IDENTITY = 0,
	MLP_RELU,
	MLP_LEAKY_RELU,
	MLP_SIGMOID,
	MLP_TANH,
	MLP_GELU,
	MLP_GELU_TANH,
	MLP_SILU,
	MLP_SOFTMAX,
	MLP_ACT_COUNT /* number of activations; not an activation */
} mlp_act;

/* The negative slope of MLP_LEAKY_RELU. */
#define MLP_LEAKY_RELU_SLOPE 0.01f

/* The lower-case name of an activation ("relu", "gelu_tanh", ...), or NULL
 * for a value that is not an activation. */
MLP_API const char *mlp_act_name(mlp_act act);

/* The activation named `name` (as mlp_act_name spells it) into *out.
 * MLP_ENULL if an argument is NULL, MLP_EACT if the name is unknown. */
MLP_API mlp_status mlp_act_parse(const char *name, mlp_act *out);

/* A comma-separated list of names ("relu,relu,softmax", no spaces) into
 * acts, which has room for max; the number of names into *count.
 * MLP_EACT when an item is not a name (an empty item included), MLP_ESIZE
 * when the list names more than max; *msg says which item (msg may be
 * NULL). MLP_ENULL for a NULL list, acts or count. */
MLP_API mlp_status mlp_act_parse_list(const char *list, mlp_act *acts,
				      size_t max, size_t *count, mlp_msg *msg);

/* ------------------------------------------------------------------------ */
/* 4. The W·X+B step                                                         */
/* ------------------------------------------------------------------------ */

/* Y = act(X·Wᵀ + 1·bᵀ) for caller-owned matrices: X is batch × n_in, W is
 * n_out × n_in, b is n_out, Y is batch × n_out, all row-major. batch 1 is one
 * cblas_sgemv, larger batches one cblas_sgemm. b may be NULL (no bias). Y
 * must not overlap X, W or b (MLP_EINVAL). Allocates nothing. */
MLP_API mlp_status mlp_dense_forward(size_t batch, size_t n_in, size_t n_out,
				     const float *W, const float *b,
				     mlp_act act, const float *X, float *Y);

/* ------------------------------------------------------------------------ */
/* 5. Networks                                                               */
/* ------------------------------------------------------------------------ */

/* A network: a chain of dense layers; the output of layer l is the input of
 * layer l+1. It owns its parameters in one 64-byte aligned block. */
typedef struct mlp_net mlp_net;

/* Creates a network of n_layers layers into *out. sizes holds n_layers + 1
 * widths, input width first ({2, 3, 1}: 2 inputs, 3 hidden neurons, 1
 * output); acts holds one activation per layer. Weights and biases start at
 * zero: set them, or call mlp_net_init. Free with mlp_net_free. */
MLP_API mlp_status mlp_net_create(mlp_net **out, size_t n_layers,
				  const size_t *sizes, const mlp_act *acts);

/* Frees a network and its parameters. NULL is a no-op. */
MLP_API void mlp_net_free(mlp_net *net);

/* The number of layers; 0 for NULL. */
MLP_API size_t mlp_net_layers(const mlp_net *net);

/* The width sizes[i] given at creation: i = 0 is the input width, i =
 * layers the output width. 0 for NULL or i out of range. */
MLP_API size_t mlp_net_width(const mlp_net *net, size_t i);

/* The activation of a layer; MLP_ACT_COUNT for NULL or layer out of range. */
MLP_API mlp_act mlp_net_act(const mlp_net *net, size_t layer);

/* The number of parameters (weights and biases of all layers); 0 for NULL. */
MLP_API size_t mlp_net_param_count(const mlp_net *net);

/* All parameters as one flat list of mlp_net_param_count(net) floats, in
 * the order W₀ b₀ W₁ b₁ … (each W row-major n_out × n_in): the order of a
 * model file's data and of PyTorch's nn.Sequential state dict. Get copies
 * them into out; set copies them from in. count must be the parameter
 * count (MLP_ESIZE otherwise) and the list may not overlap the network's
 * own parameters (MLP_EINVAL); set refuses NaN and infinity
 * (MLP_ENONFINITE) and then changes nothing. */
MLP_API mlp_status mlp_net_get_params(const mlp_net *net, float *out,
				      size_t count);
MLP_API mlp_status mlp_net_set_params(mlp_net *net, const float *in,
				      size_t count);

/* A new network into *out with the shape, activations and parameters of
 * net, bit for bit, and memory of its own. Free with mlp_net_free. */
MLP_API mlp_status mlp_net_clone(mlp_net **out, const mlp_net *net);

/* The weights of a layer, n_out × n_in row-major, 64-byte aligned, owned by
 * the network and writable; NULL for NULL or layer out of range. Do not
 * write them while a forward pass runs. */
MLP_API float *mlp_net_weights(mlp_net *net, size_t layer);

/* The n_out biases of a layer, as mlp_net_weights. */
MLP_API float *mlp_net_bias(mlp_net *net, size_t layer);

/* Initialises all weights from a seeded generator and sets all biases to
 * zero. Weights are uniform on [-a, a]: He, a = √(6 / n_in), for layers with
 * ReLU or leaky ReLU; Glorot/Xavier, a = √(6 / (n_in + n_out)), otherwise.
 * The generator is xoshiro256** seeded through SplitMix64; the same seed
 * gives the same network, bit for bit, on every machine. */
MLP_API mlp_status mlp_net_init(mlp_net *net, uint64_t seed);

/* Standardisation kept with a network, so that raw rows go in and outputs
 * in the targets' units come out: an input x becomes (x − in_mean) / in_std
 * before the network, an output y becomes y·out_std + out_mean after it.
 * mlp_forward and plans do not apply it; mlp_net_scale_inputs and
 * mlp_net_unscale_outputs do, and mlp_net_save and mlp_net_load keep it
 * (as "scaling.*" tensors). in_mean and in_std have sizes[0] values each,
 * out_mean and out_std the output width; a pair may be NULL, NULL (none,
 * which removes it). MLP_ENULL for half a pair, MLP_ENONFINITE for NaN or
 * infinity, MLP_EINVAL for a deviation below FLT_MIN (2^-126, about
 * 1.18e-38, the smallest normal float: 0, a negative or a subnormal one,
 * whose reciprocal overflows; a constant column: give 1); nothing changes
 * then. MLP_ENOMEM. */
MLP_API mlp_status mlp_net_set_scaling(mlp_net *net, const float *in_mean,
				       const float *in_std,
				       const float *out_mean,
				       const float *out_std);
/* The network's scaling: pointers into it (valid until it is set again or
 * the network is freed), NULL for a pair it does not have. */
MLP_API mlp_status mlp_net_get_scaling(const mlp_net *net,
				       const float **in_mean,
				       const float **in_std,
				       const float **out_mean,
				       const float **out_std);
/* out = the batch rows of X standardised by the network's input scaling
 * (a copy without one); out may be X, or must not overlap it
 * (MLP_EINVAL). MLP_ENONFINITE, and out unchanged, when a standardised
 * value is not finite (an input NaN, infinite, or too far from the mean
 * for its deviation). */
MLP_API mlp_status mlp_net_scale_inputs(const mlp_net *net, size_t batch,
					const float *X, float *out);
/* The batch rows of outputs Y back in the targets' units, in place
 * (unchanged without output scaling). MLP_ENONFINITE, and Y unchanged,
 * when a value would not be finite. */
MLP_API mlp_status mlp_net_unscale_outputs(const mlp_net *net, size_t batch,
					   float *Y);

/* ------------------------------------------------------------------------ */
/* 6. Workspaces and the forward pass                                        */
/* ------------------------------------------------------------------------ */

/* A workspace holds the intermediate activations of a forward pass for up
 * to max_batch samples of one network. One per thread. */
typedef struct mlp_workspace mlp_workspace;

/* The bytes a workspace for `net` and `max_batch` needs, when placed with
 * mlp_workspace_place; 0 if an argument is invalid. */
MLP_API size_t mlp_workspace_size(const mlp_net *net, size_t max_batch);

/* Creates a workspace for `net` that runs batches of up to max_batch rows
 * in one pass each (larger batches run in chunks). Free with
 * mlp_workspace_free. The network must outlive the workspace. */
MLP_API mlp_status mlp_workspace_create(mlp_workspace **out, const mlp_net *net,
					size_t max_batch);

/* Places a workspace in caller memory `mem` of mem_size bytes (at least
 * mlp_workspace_size(net, max_batch), any alignment): nothing is allocated.
 * The caller keeps ownership of mem, which must outlive the workspace;
 * mlp_workspace_free on a placed workspace does nothing. MLP_ESIZE if
 * mem_size is too small. */
MLP_API mlp_status mlp_workspace_place(mlp_workspace **out, const mlp_net *net,
				       size_t max_batch, void *mem,
				       size_t mem_size);

/* Frees a workspace made by mlp_workspace_create. NULL, and a placed
 * workspace, are no-ops. */
MLP_API void mlp_workspace_free(mlp_workspace *ws);

/* The max_batch a workspace was made for; 0 for NULL. */
MLP_API size_t mlp_workspace_max_batch(const mlp_workspace *ws);

/* Y = net(X): X is batch × sizes[0], Y is batch × sizes[layers], row-major.
 * Batch 1 takes the sgemv path, larger batches sgemm, in chunks of the
 * workspace's max_batch. Allocates nothing, takes no locks, reads the
 * network only. MLP_EWORKSPACE if ws was made for another network;
 * MLP_EINVAL if Y overlaps X, the network's parameters (as from
 * mlp_net_weights and mlp_net_bias) or the workspace's memory. */
MLP_API mlp_status mlp_forward(const mlp_net *net, mlp_workspace *ws,
			       size_t batch, const float *X, float *Y);

/* ------------------------------------------------------------------------ */
/* 7. The BLAS, engines and threads                                         */
/* ------------------------------------------------------------------------ */

/* Sets the number of threads each call uses: the BLAS's, for the whole
 * process (OpenBLAS: openblas_set_num_threads; BLIS:
 * bli_thread_set_num_threads), and oneDNN's OpenMP threads, for the calling
 * thread (omp_set_num_threads: a thread that runs plans calls it itself, or
 * OMP_NUM_THREADS sets it for all). A build on any CBLAS (-Dblas=cblas)
 * sets OpenBLAS's or BLIS's count where one of them is the library behind
 * it. MLP_ENOTSUP when the BLAS in this process has no such control
 * (oneDNN's threads are set all the same); MLP_EINVAL for n < 1, and
 * nothing changes. With T caller threads each running forward passes, T × n threads compete for the
 * cores: keep the product at most the core count (n = 1 when each core has
 * its own caller thread). */
MLP_API mlp_status mlp_set_threads(int n);

/* The BLAS this library was built with ("openblas", "blis", "cblas"). */
MLP_API const char *mlp_blas_name(void);

/* A line on the BLAS as it runs, for diagnostics: OpenBLAS's configuration,
 * which names the kernels in use ("... SkylakeX ..."), BLIS's version, or
 * "CBLAS". Never NULL.
 *
 * OpenBLAS built for many CPUs picks its slowest kernels (Prescott) on a
 * CPU newer than it. When libmlp loads, it corrects that choice to the
 * kernels for the CPU's AVX2 or AVX-512, before any BLAS call, for every
 * OpenBLAS caller in the process; the line then ends "(kernels SkylakeX
 * chosen by mlp over Prescott)". It leaves a core set with
 * OPENBLAS_CORETYPE, and MLP_KEEP_OPENBLAS_CORE=1 in the environment turns
 * the correction off. */
MLP_API const char *mlp_blas_info(void);

/* The engines of this build, separated by spaces: "cblas", or
 * "cblas onednn". Which precisions this CPU runs: mlp_precision_supported
 * (section 10). */
MLP_API const char *mlp_engines(void);

/* The precision of arithmetic, for plans (section 10) and training. Inputs
 * and outputs are float either way.
 *
 *   MLP_FP32  float throughout, as mlp_forward.
 *   MLP_BF16  the operands of every W·X product (inputs, weights, the
 *             activations between layers and, in training, the gradients
 *             passed back) rounded to bfloat16 (8 significant bits),
 *             products accumulated in float; needs a CPU that computes
 *             bf16 natively (AVX512_BF16 or AMX) and a build with oneDNN,
 *             else MLP_ENOTSUP: never a slow emulation. Outputs differ from
 *             float ones by about 1%.
 */
typedef enum mlp_precision { MLP_FP32 = 0, MLP_BF16 } mlp_precision;

/* Whether this build and this CPU run a precision (MLP_BF16: oneDNN and
 * native bf16). */
MLP_API int mlp_precision_supported(mlp_precision precision);

/* ------------------------------------------------------------------------ */
/* 8. Training                                                               */
/* ------------------------------------------------------------------------ */

/* Losses, each averaged as PyTorch's reduction='mean' does:
 *
 *   MLP_LOSS_MSE   mean over the batch and the outputs of (y − t)².
 *   MLP_LOSS_XENT  cross-entropy. After softmax: −(1/B)·Σ_b Σ_j t_j·log p_j,
 *                  targets one-hot or probabilities (each row ≥ 0, summing
 *                  to 1). After sigmoid: binary cross-entropy averaged over
 *                  the batch and the outputs, targets in [0, 1] (binary or
 *                  multi-label). Computed from the logits, so it stays
 *                  finite; its gradient is the fused (P − T) / count.
 */
typedef enum mlp_loss_kind { MLP_LOSS_MSE = 0, MLP_LOSS_XENT } mlp_loss_kind;

/* Optimizers (the updates PyTorch's SGD and AdamW make, with decoupled
 * weight decay, w ← w − lr·weight_decay·w, applied to weights, not biases):
 *
 *   MLP_OPTIM_SGD   v ← momentum·v + g;  w ← w − lr·(g + momentum·v) with
 *                   nesterov, w ← w − lr·v without (momentum 0: plain SGD).
 *   MLP_OPTIM_ADAM  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
 *                   w ← w − lr·m̂ / (√v̂ + eps), m̂ and v̂ bias-corrected.
 */
typedef enum mlp_optim_kind { MLP_OPTIM_SGD = 0, MLP_OPTIM_ADAM } mlp_optim_kind;

/* A trainer: what a training step needs beyond the network (activations of a
 * batch, gradients, optimizer state), allocated once, for callers who feed
 * their own batches. The network must outlive it; do not run forward passes
 * on the network while a step runs. */
typedef struct mlp_trainer mlp_trainer;

/* What mlp_train tells its callbacks. */
typedef struct mlp_train_progress {
	size_t epoch, epochs; /* this epoch, counted from 1, of opts->epochs */
	size_t step, steps;   /* steps taken in this epoch, of the steps an
			       * epoch has */
	size_t rows;          /* rows trained on in this epoch so far */
	double loss;          /* their mean training loss */
	double eval_loss;     /* after an epoch: the mean loss on the held-out
			       * rows (opts->eval_*); NaN without them and in
			       * on_step */
	double eval_accuracy; /* their accuracy, as mlp_evaluate gives it */
	mlp_trainer *trainer; /* the trainer taking the steps, for
			       * mlp_trainer_set_lr (a schedule) and
			       * mlp_trainer_steps; do not step it */
	float lr;             /* the learning rate of this epoch's steps */
	size_t best_epoch;    /* after an epoch: the epoch, so far, of the
			       * lowest held-out loss (0 without held-out
			       * rows); opts->keep_best restores its
			       * parameters at the end */
	double best_loss;     /* that loss */
} mlp_train_progress;

/* How the learning rate moves over the epochs (mlp_train_lr gives it). */
typedef enum mlp_schedule {
	MLP_SCHEDULE_CONSTANT, /* opts->lr throughout */
	MLP_SCHEDULE_STEP,     /* times step_factor every step_every epochs */
	MLP_SCHEDULE_COSINE,   /* from lr down a half cosine towards 0 */
} mlp_schedule;

/* A callback of mlp_train: return nonzero to stop training there. */
typedef int (*mlp_train_fn)(void *user, const mlp_train_progress *p);

/* Data-parallel training: `size` workers (processes, or threads) train one
 * network together, each calling mlp_train, or creating a trainer and
 * taking steps, with the same options and a communicator of its own, this
 * worker being `rank` (0 ≤ rank < size). Each step, every worker computes
 * the gradient of its share of the batch, the gradients are summed across
 * the workers, and every worker applies the same update, so the networks
 * stay identical. mlp knows no transport; it calls
 *
 *   sum_doubles(ctx, v, n)  v[0..n) ← the sum over the workers of their v
 *   sum_floats(ctx, v, n)   the same for floats; every worker must get the
 *                           same sums, bit for bit
 *   broadcast(ctx, v, n)    v[0..n) ← worker 0's v
 *
 * in the same order on every worker; each returns 0, or nonzero when the
 * transfer failed (then MLP_ECOMM). include/mlp_mpi.h makes one from an
 * MPI communicator. A worker that meets an error (bad rows, a loss that is
 * not finite, no memory) still takes part in the step's exchange, and every
 * worker returns the same status. */
typedef struct mlp_comm {
	size_t struct_size; /* sizeof(mlp_comm) as the program sees it (see
			     * docs/abi.md) */
	int rank, size;
	void *ctx;
	int (*sum_doubles)(void *ctx, double *v, size_t n);
	int (*sum_floats)(void *ctx, float *v, size_t n);
	int (*broadcast)(void *ctx, float *v, size_t n);
} mlp_comm;

typedef struct mlp_train_opts {
	size_t struct_size; /* sizeof(mlp_train_opts) as the program was
			     * compiled: set by mlp_train_defaults. The library
			     * reads the fields that fit in it and takes the
			     * defaults for fields added since (docs/abi.md). */
	mlp_loss_kind loss;
	mlp_optim_kind optim;
	float lr;           /* learning rate, finite and > 0 */
	float momentum;     /* SGD, in [0, 1) */
	int nesterov;       /* SGD: Nesterov momentum when nonzero */
	float beta1, beta2; /* Adam, in [0, 1) */
	float eps;          /* Adam, finite and > 0 */
	float weight_decay; /* decoupled, finite and ≥ 0 */
	float clip_norm;    /* rescale gradients to this global L2 norm at most;
			     * 0: no clipping */
	mlp_precision precision; /* of the products of a step (MLP_BF16: mixed
			     * precision, the weights, gradient sums and
			     * optimizer state kept in float) */
	const mlp_comm *comm; /* the workers training together, or NULL for
			     * this one alone */
	size_t batch_size;  /* rows per step, ≥ 1; with comm, the rows of a
			     * step across all workers, a multiple of their
			     * number */
	/* The rest is mlp_train's alone; a trainer ignores it. */
	size_t epochs;      /* passes over the data, ≥ 1 */
	uint64_t seed;      /* the shuffling */
	int drop_last;      /* nonzero: leave out an epoch's last batch when it
			     * has fewer rows than the others (PyTorch's
			     * DataLoader(drop_last=True)) */
	int sharded;        /* with comm: each worker's X and Y are its own
			     * share of the rows (see mlp_train), not all */
	size_t eval_n;      /* held-out rows evaluated after each epoch, 0 for
			     * none: eval_X (eval_n × inputs) and eval_Y */
	const float *eval_X, *eval_Y;
	mlp_train_fn on_step;  /* after each step; may be NULL */
	mlp_train_fn on_epoch; /* after each epoch; may be NULL */
	void *user;            /* passed to the callbacks */
	const char *checkpoint; /* a file to save a checkpoint to (see
			     * mlp_train), or NULL */
	size_t checkpoint_every; /* epochs between checkpoints, ≥ 1 with
			     * checkpoint */
	const char *resume;  /* a checkpoint to go on from, or NULL */
	mlp_schedule schedule; /* of the learning rate (see mlp_train_lr) */
	size_t step_every;   /* MLP_SCHEDULE_STEP: epochs a step, ≥ 1 */
	float step_factor;   /* MLP_SCHEDULE_STEP: in (0, 1] */
	size_t warmup;       /* epochs of linear warm-up first, < epochs */
	float val_fraction;  /* in [0, 1): this fraction of the rows (rounded
			     * down, at least 1) is held out of training,
			     * chosen by the seed, and serves as the held-out
			     * rows (not with eval_n or sharded) */
	size_t patience;     /* stop after this many epochs without a lower
			     * held-out loss; 0: never (needs held-out rows) */
	int keep_best;       /* nonzero: at the end, the parameters of the
			     * epoch of the lowest held-out loss are put back
			     * (needs held-out rows) */
	/* Added in 0.3.1: */
	mlp_msg *msg;        /* where mlp_train says why it failed (the field,
			     * row or file, and the rule), or NULL */
} mlp_train_opts;

/* Sets the struct_size bytes of *opts to the defaults, and struct_size
 * with them: MSE, Adam, lr 1e-3, momentum 0.9 (SGD only), no Nesterov,
 * β₁ 0.9, β₂ 0.999, eps 1e-8, no weight decay, no clipping, fp32, one
 * worker, batch 32, 10 epochs, seed 0, every row used, no held-out rows,
 * no callbacks, no checkpoints. MLP_EINVAL (and nothing written) for a
 * struct_size this library does not know: a program built against a
 * newer mlp.h. */
MLP_API mlp_status mlp_train_opts_init(mlp_train_opts *opts,
				       size_t struct_size);

/* The defaults, for the mlp_train_opts this program was compiled with. */
static inline mlp_train_opts mlp_train_defaults(void)
{
	mlp_train_opts o = { 0 }; /* struct_size stays 0, which every call
				   * refuses, if the library is older */

	mlp_train_opts_init(&o, sizeof(o));
	return o;
}

/* Checks opts as mlp_train does, without training: MLP_OK, or the status
 * mlp_train would return (MLP_EINVAL for a value out of range, MLP_ELOSS
 * for cross-entropy on an output that is neither softmax nor sigmoid,
 * MLP_ENOTSUP for a precision this build or CPU does not run), with
 * *msg naming the field, its value and the rule (msg may be NULL);
 * MLP_ENULL for NULL opts. net may be NULL to check the values alone. The
 * rows (training and held out) are checked by mlp_train itself. */
MLP_API mlp_status mlp_train_check(const mlp_net *net,
				   const mlp_train_opts *opts, mlp_msg *msg);

/* Trains net on n rows of X (n × inputs) with targets Y (n × outputs).
 * Each epoch visits the rows in a fresh shuffled order (Fisher–Yates with
 * the generator of mlp_net_init seeded by opts->seed, so the same seed
 * gives the same network bit for bit with the same BLAS and thread count)
 * in steps of min(batch_size, n) rows; the last step of an epoch takes the
 * rows left, unless opts->drop_last. After each step opts->on_step runs,
 * after each epoch the held-out rows are evaluated and opts->on_epoch runs;
 * either stops training, keeping every update so far, by returning
 * nonzero. Allocates what it needs for the call and frees it.
 *
 * Checks everything first; bad options or data change nothing: the
 * statuses of mlp_train_check for the options, MLP_ENULL, MLP_ESIZE and
 * MLP_ETOOBIG for the rows (training and held out), MLP_ENONFINITE for NaN
 * or infinity in them, MLP_EINVAL for cross-entropy targets out of range.
 * If a loss or gradient stops being finite, or an update would make a
 * parameter or the optimizer's state overflow (every update is computed
 * and checked before it is written), training stops with MLP_EDIVERGED and
 * the network is restored to what it was at the start of that epoch: the
 * updates of the epochs before it stay, and the parameters are always
 * finite.
 *
 * With opts->comm, the workers train together (see mlp_comm). Every worker
 * first checks its options and rows, and all return the first error any
 * of them met; rows, batch size, epochs and seed must be the same on all
 * (MLP_EWORKERS otherwise), and every worker starts from worker 0's
 * parameters. Each holds all n rows, draws the same shuffled order, and
 * takes its share of each step's rows: a step of b rows gives worker r rows
 * [b·r/P, b·(r+1)/P) of it, and the summed gradients are those of the
 * whole step, so P workers train as one process with the same batch_size
 * does, up to the order of float sums. With opts->sharded, worker r holds
 * only rows i ≡ r (mod P) of the N rows (n is its count), shuffles them
 * apart (its own stream of the seed), and gives batch_size / P of them to
 * each step while its share lasts: each batch is drawn from every shard
 * alike, not from all the rows at once, so the run differs from one
 * process's (with P = 1 it is the same). The held-out rows are shared out
 * too. After each epoch the workers compare their parameters
 * (MLP_EWORKERS if they differ); callbacks run on every worker, and one
 * that asks to stop stops all of them, at the next step.
 *
 * With opts->checkpoint, after every opts->checkpoint_every epochs the
 * parameters, the optimizer's state (moments, step count, learning rate),
 * the best epoch so far (and with keep_best its parameters), the epochs
 * done and the options of the run are written to that file, atomically,
 * as a model file with the optimizer's tensors beside the network's (so
 * mlp_net_load reads it as a plain network); with workers, worker 0 writes
 * it. An epoch stopped before its end by a callback is not checkpointed.
 * Before the first epoch, MLP_EIO when the file could not be written (its
 * directory, a read-only file, the file size limit). With opts->resume,
 * training goes on from such a file (worker 0 reads it, and checks it as
 * the loader checks a model: see mlp_checkpoint_opts) for the epochs left
 * of opts->epochs, and gives the same bits as a run that never stopped.
 * The checkpoint must be of this network and rows, made with the same
 * options but epochs (at least the epochs it has done), precision and
 * patience, which may change (a schedule over the epochs follows the new
 * count): MLP_EINVAL naming the option and both values otherwise;
 * MLP_EIO, MLP_EFORMAT for the file. The message goes to opts->msg.
 *
 * Each epoch's steps run at mlp_train_lr(opts, epoch) when opts->schedule
 * or opts->warmup asks for one (a callback may still change the rate
 * within an epoch). Held-out rows come from eval_* or from
 * opts->val_fraction of the rows; after each epoch their loss decides the
 * best epoch so far, opts->patience stops training after that many epochs
 * without a better one, and opts->keep_best puts the best epoch's
 * parameters back at the end (the optimizer's state stays the last). */
MLP_API mlp_status mlp_train(mlp_net *net, const mlp_train_opts *opts,
			     size_t n, const float *X, const float *Y);

/* Which of n rows mlp_train, given these opts and the same n, holds out
 * for opts->val_fraction (chosen by opts->seed): held[i] = 1 for a row held
 * out, 0 for a row trained on (n bytes; all 0 for a val_fraction of 0),
 * and their count into *n_held (may be NULL). A program that derives
 * anything from the rows trained on, a standardisation say, asks this
 * first, so that the held-out rows stay out of it. MLP_ENULL; MLP_EINVAL
 * for a fraction out of [0, 1) or one that leaves no row to train on
 * (opts->struct_size too); MLP_ENOMEM; held unchanged then. */
MLP_API mlp_status mlp_train_held_out(const mlp_train_opts *opts, size_t n,
				      unsigned char *held, size_t *n_held);

/* The options a checkpoint of mlp_train records (every field of
 * mlp_train_opts from loss to keep_best but callbacks, data, files and
 * comm) into *opts, the other fields left as they are, and the epochs it
 * has done into *epoch (may be NULL): a program resumes from it with the
 * options of the run that made it. The file is checked whole: every
 * metadata field parsed strictly; the options in their ranges; the epoch
 * within the run's epochs; the steps those of the epochs for its rows and
 * batch; the learning rate in force above 0; the moments finite, as the
 * optimizer makes them (SGD: no second moment; Adam: v ≥ 0, and each m
 * within the bound that v puts on it). MLP_EIO for the file (the message
 * names it), MLP_EFORMAT with the field or tensor and the rule ("not a
 * checkpoint" for a plain model file), MLP_ENOMEM; *opts unchanged then.
 * opts must come from mlp_train_defaults (struct_size). */
MLP_API mlp_status mlp_checkpoint_opts(const char *path, mlp_train_opts *opts,
				       size_t *epoch, mlp_msg *msg);

/* The learning rate of epoch `epoch` (counted from 1) of a run with opts:
 * with W = opts->warmup epochs of warm-up, lr·epoch/(W + 1) for the first
 * W; then, with e = epoch − W − 1 and T = epochs − W,
 *   MLP_SCHEDULE_CONSTANT  lr
 *   MLP_SCHEDULE_STEP      lr · step_factor^⌊e / step_every⌋
 *   MLP_SCHEDULE_COSINE    lr · (1 + cos(π·e/T)) / 2
 * 0 for NULL opts, an epoch of 0 or past opts->epochs, or options
 * mlp_train_check refuses. */
MLP_API float mlp_train_lr(const mlp_train_opts *opts, size_t epoch);

/* Creates a trainer for net with the options (the fields after batch_size
 * are not used) and batches of up to max_batch rows. In MLP_BF16, a step
 * of max_batch rows runs its products in bf16 on oneDNN (and the optimizer
 * on oneDNN's threads); a step of fewer rows (the last of an epoch) runs in
 * float. The trainer converts the network's weights at each step: changes
 * made to them between steps reach it. */
MLP_API mlp_status mlp_trainer_create(mlp_trainer **out, mlp_net *net,
				      const mlp_train_opts *opts,
				      size_t max_batch);

/* One step on a batch: forward, loss, backpropagation, optimizer update.
 * The batch's mean loss goes to *loss (may be NULL). Allocates nothing.
 * Checks X and Y as mlp_train checks its rows first; MLP_EDIVERGED when
 * the loss or the gradient is not finite, or when the update would leave a
 * parameter or the optimizer's state not finite (a learning rate far too
 * large): the step then changes nothing, parameters and state alike.
 * (Each update is bounded from the largest values the last one wrote;
 * where the bounds do not rule out an overflow, or the parameters changed
 * since through mlp_net_set_params, mlp_net_init or a pointer taken from
 * mlp_net_weights or mlp_net_bias after that update, the update is first
 * computed in full and checked.)
 * With opts.comm, every worker calls it once a step with its own rows
 * (batch 0 for none: X and Y are not read): the step is the one of all the
 * workers' rows together, every worker applies the same update, and *loss
 * is the mean over all of them; every worker returns the same status. The
 * workers' networks must start the same (mlp_train makes them so; a
 * trainer does not). */
MLP_API mlp_status mlp_trainer_step(mlp_trainer *t, size_t batch,
				    const float *X, const float *Y,
				    float *loss);

/* Changes the learning rate of the steps that follow (a schedule).
 * MLP_EINVAL unless lr is finite and > 0. */
MLP_API mlp_status mlp_trainer_set_lr(mlp_trainer *t, float lr);

/* The number of steps taken. 0 for NULL. */
MLP_API size_t mlp_trainer_steps(const mlp_trainer *t);

/* Frees a trainer. NULL is a no-op. */
MLP_API void mlp_trainer_free(mlp_trainer *t);

/* Evaluates net on n rows with the loss `loss`: the mean loss into
 * *mean_loss, and into *accuracy (may be NULL) the fraction of rows whose
 * largest output matches the largest target (softmax), or of outputs on the
 * right side of 0.5 (sigmoid); NaN for MSE. The rows are checked as
 * mlp_train checks them. Allocates a workspace for the call. */
MLP_API mlp_status mlp_evaluate(const mlp_net *net, mlp_loss_kind loss,
				size_t n, const float *X, const float *Y,
				double *mean_loss, double *accuracy);

/* ------------------------------------------------------------------------ */
/* 9. Model files                                                            */
/* ------------------------------------------------------------------------ */

/* A network is saved as a safetensors file that PyTorch and NumPy read, and
 * a PyTorch nn.Sequential of nn.Linear layers saved as safetensors loads.
 * The layout of the file and every rule a file must follow to load are in
 * docs/model-files.md. A model file is untrusted input: a file that breaks
 * a rule is refused with MLP_EFORMAT and a message naming the tensor and
 * the rule. A file can make the loader take no more memory than its own
 * bytes (read whole), the network it holds, and at most 32 MiB for its
 * header (at most 16 MiB of text and 262,144 JSON values); running out of
 * memory anywhere is MLP_ENOMEM. */

/* Options of loading; NULL for the defaults. */
typedef struct mlp_load_opts {
	size_t struct_size; /* sizeof(mlp_load_opts) as the program was
			     * compiled: set by mlp_load_defaults */
	/* The activations of the layers, for a file that names none (a
	 * PyTorch state dict), or to override those it names; n_acts must
	 * then be the number of layers. NULL: the file's. */
	const mlp_act *acts;
	size_t n_acts;
} mlp_load_opts;

/* The defaults (the file's activations), for the mlp_load_opts this
 * program was compiled with. */
static inline mlp_load_opts mlp_load_defaults(void)
{
	mlp_load_opts o = { sizeof(mlp_load_opts), 0, 0 };

	return o;
}

/* Saves net to path, atomically: the file is written unnamed (or, where
 * the system cannot, under a temporary name ".mlp-<pid>.<n>.tmp") in the
 * same directory, flushed to disk, then renamed over path. A failed or
 * killed save leaves any existing file as it was, and no other file behind
 * (a process killed in the instant between naming and renaming leaves its
 * temporary file, which the next save in that directory removes).
 *   - A symbolic link is followed: the file it points to is replaced, and
 *     the link stays.
 *   - An existing file keeps its permission bits (a private 0600 model
 *     stays private); a new one gets what the umask gives.
 *   - A read-only file (no write permission) is not replaced: MLP_EIO.
 *   - A file larger than the process's file size limit (ulimit -f) is
 *     refused, MLP_EIO, before anything is written, so SIGXFSZ is never
 *     raised. The library changes no signal handling.
 * MLP_ENONFINITE, naming the tensor, if a parameter is a NaN or an
 * infinity (the loader would refuse the file). MLP_EIO when a file cannot
 * be written, MLP_ENOMEM; the reason in *msg (msg may be NULL). */
MLP_API mlp_status mlp_net_save(const mlp_net *net, const char *path,
				mlp_msg *msg);

/* Loads the network in the file at path into *out (free with
 * mlp_net_free). MLP_EIO if the file cannot be read, MLP_EFORMAT if it is
 * not a network mlp can run, MLP_ESIZE or MLP_EACT for activations in opts
 * that do not fit it, MLP_ENOMEM; the reason in *msg (may be NULL). */
MLP_API mlp_status mlp_net_load(mlp_net **out, const char *path,
				const mlp_load_opts *opts, mlp_msg *msg);

/* The same from size bytes at data (a model embedded in a program); data
 * is only read, during the call. */
MLP_API mlp_status mlp_net_load_memory(mlp_net **out, const void *data,
				       size_t size, const mlp_load_opts *opts,
				       mlp_msg *msg);

/* ------------------------------------------------------------------------ */
/* 10. Plans: engines and precisions                                         */
/* ------------------------------------------------------------------------ */

/* A plan: a network prepared for fast forward passes on one engine and in
 * one precision. mlp_forward stays the reference: every W·X+B a CBLAS call.
 * A plan runs on whichever engine serves its precision and shape best:
 * the CBLAS engine (mlp_forward's path) or oneDNN (weights reordered once
 * into its own layout, converted for bf16, bias and activation fused where
 * it can).
 *
 * A plan is a snapshot of the network: weights changed later do not reach
 * it; create a new plan. The packed weights are read-only and shared by a
 * plan's clones (mlp_plan_clone), each with scratch of its own: one clone
 * per thread runs forward passes at once. */
typedef struct mlp_plan mlp_plan;

/* Prepares net for batches of up to max_batch rows a pass (larger ones run
 * in chunks) in `precision` into *out. MLP_ENOTSUP when no engine of this
 * build and CPU serves the precision; MLP_EINVAL for a precision that is
 * not one. Free with mlp_plan_free; the network need not outlive it. */
MLP_API mlp_status mlp_plan_create(mlp_plan **out, const mlp_net *net,
				   mlp_precision precision, size_t max_batch);

/* A plan of its own that shares plan's packed weights: scratch is
 * allocated, weights are not. Free each with mlp_plan_free, in any order. */
MLP_API mlp_status mlp_plan_clone(mlp_plan **out, const mlp_plan *plan);

/* Y = net(X) in the plan's precision: X is batch × inputs, Y batch ×
 * outputs, as mlp_forward. Allocates nothing. Not to be called on one plan
 * from two threads at once (clone it); MLP_EINVAL if X and Y overlap. */
MLP_API mlp_status mlp_plan_forward(mlp_plan *plan, size_t batch,
				    const float *X, float *Y);

/* A line naming the engine, the precision and the kernels in use, for
 * example "onednn bf16: brg:avx512_core_amx_bf16"; never NULL. */
MLP_API const char *mlp_plan_describe(const mlp_plan *plan);

/* Frees a plan, and the packed weights with the last plan sharing them.
 * NULL is a no-op. */
MLP_API void mlp_plan_free(mlp_plan *plan);

#ifdef __cplusplus
}
#endif

#endif /* MLP_H */
