/*
 * internal.h — structures and helpers shared by the library's source files.
 * Nothing here is part of the public API; every name is hidden.
 */
#ifndef MLP_INTERNAL_H
#define MLP_INTERNAL_H

#include "mlp.h"

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Every parameter tensor and workspace buffer starts on a 64-byte boundary:
 * a cache line, and the widest vector load of AVX-512. */
#define MLPI_ALIGN 64u

/* Loops over many floats (the passes over a layer's outputs, the optimizer
 * updates) are compiled for the baseline ISA, AVX2 and AVX-512, and the
 * library picks one when it loads (an ifunc): the baseline's 4-wide SSE
 * loops took as long as a small layer's sgemm. */
#if defined(MLP_HAVE_TARGET_CLONES)
#define MLPI_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define MLPI_CLONES
#endif

/* Checks the arguments of a printf-like function against its format. */
#if defined(__GNUC__)
#define MLPI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MLPI_PRINTF(fmt, args)
#endif

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

/* a·b into *out; false on size_t overflow. The builtin avoids a division,
 * which costs more than the rest of a tiny layer's checks. */
static inline bool mlpi_mul(size_t a, size_t b, size_t *out)
{
#if defined(__GNUC__)
	return !__builtin_mul_overflow(a, b, out);
#else
	if (a != 0 && b > SIZE_MAX / a)
		return false;
	*out = a * b;
	return true;
#endif
}

/* a+b into *out; false on size_t overflow. */
static inline bool mlpi_add(size_t a, size_t b, size_t *out)
{
	if (b > SIZE_MAX - a)
		return false;
	*out = a + b;
	return true;
}

/* n rounded up to a multiple of m (m a power of two); false on overflow. */
static inline bool mlpi_round_up(size_t n, size_t m, size_t *out)
{
	if (n > SIZE_MAX - (m - 1))
		return false;
	*out = (n + m - 1) & ~(m - 1);
	return true;
}

/* Whether [a, a + a_bytes) and [b, b + b_bytes) share a byte. */
static inline bool mlpi_overlap(const void *a, size_t a_bytes, const void *b,
				size_t b_bytes)
{
	uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
	return pa < pb + b_bytes && pb < pa + a_bytes;
}

/* 64-byte aligned allocation of `bytes` (rounded up); NULL on failure or
 * overflow. Release with mlpi_free_aligned. */
void *mlpi_alloc_aligned(size_t bytes);
void mlpi_free_aligned(void *p);

/* One block carved into pieces that each start on a 64-byte boundary
 * (relative to base). A layout is written once, as a sequence of
 * mlpi_carve calls, and run twice: with base NULL it only sizes the block
 * (mlpi_carved_size, with overflow checks); with the block as base the same
 * calls in the same order hand out the pieces. */
struct mlpi_carver {
	unsigned char *base;
	size_t used; /* bytes */
	bool ok;     /* false after an overflow */
};
#define MLPI_CARVER(base) ((struct mlpi_carver){ (unsigned char *)(base), 0, true })
/* count elements of size bytes; NULL while sizing or after an overflow. */
void *mlpi_carve(struct mlpi_carver *c, size_t count, size_t size);
/* The block's size, a multiple of 64; false after an overflow. */
bool mlpi_carved_size(const struct mlpi_carver *c, size_t *bytes);

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

/* Whether act is a valid activation value. */
static inline bool mlpi_act_valid(mlp_act act)
{
	return (unsigned)act < (unsigned)MLP_ACT_COUNT;
}

#if defined(MLP_HAVE_ONEDNN)
/* blas.c: the threads of the calling thread's OpenMP parallel regions,
 * which oneDNN runs on; and fn(arg, i, n) on each thread i of n of such a
 * region (on the calling thread alone without an OpenMP runtime). */
void mlpi_openmp_set_threads(int n);
int mlpi_openmp_threads(void);
void mlpi_openmp_parallel(void (*fn)(void *arg, int i, int n), void *arg);

/* bf16.c: n floats to bf16 (round to nearest even) on a CPU with
 * AVX512_BF16; whether they were all finite. */
bool mlpi_to_bf16(size_t n, const float *src, void *dst);

/* gemv_bf16.c: y = W·x + b for one row in bf16 (AVX512_BF16), on weights
 * packed by mlpi_gemv_bf16_pack into mlpi_gemv_bf16_size(n_out, n_in)
 * bf16 values; output blocks [lo, hi) of mlpi_gemv_bf16_blocks(n_out), 16
 * outputs each. x holds n_in bf16 values and a zero after them when n_in
 * is odd. */
size_t mlpi_gemv_bf16_blocks(size_t n_out);
size_t mlpi_gemv_bf16_size(size_t n_out, size_t n_in);
void mlpi_gemv_bf16_pack(size_t n_out, size_t n_in, const float *W,
			 uint16_t *P);
void mlpi_gemv_bf16(size_t n_out, size_t n_in, const uint16_t *P,
		    const uint16_t *x, const float *b, float *y, size_t lo,
		    size_t hi);

/* engine_onednn.c: whether oneDNN computes bf16 natively on this CPU. */
bool mlpi_onednn_has_bf16(void);

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

/* ---- OpenBLAS's kernels (blas_core.c) ---- */

/* The core to replace `current` with on a CPU with these extensions: NULL
 * unless current is a generic (pre-AVX) core and the CPU has AVX2
 * ("Haswell") or AVX-512 ("SkylakeX"). */
const char *mlpi_blas_core_for(const char *current, bool avx2, bool avx512);
/* The same for this CPU: the one rule of which vector extensions count. */
const char *mlpi_blas_core_better(const char *current);
/* Makes OpenBLAS use `core` from now on (before any BLAS call); whether it
 * does. false where the BLAS is not an OpenBLAS that can pick again. */
bool mlpi_blas_use_core(const char *core);
/* The core mlp replaced, and mlp_blas_info's line then; NULL when none. */
const char *mlpi_blas_core_replaced(void);
const char *mlpi_blas_core_info(void);
extern const char mlpi_blas_core_anchor;

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

/* ---- data and losses (loss.c) ---- */

/* Whether count floats are all finite. */
bool mlpi_all_finite(size_t count, const float *v);
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

/* ---- options and optimizers (optim.c) ---- */

/* mlp_train_lr for options already checked (epoch 1 .. epochs). */
float mlpi_train_lr(const mlp_train_opts *opts, size_t epoch);

/* The caller's options (struct_size bytes of them) as this library's
 * struct: the fields they hold as given, the rest the defaults; MLP_EINVAL,
 * with the reason, for a struct_size it does not know. */
mlp_status mlpi_opts_read(const mlp_train_opts *in, mlp_train_opts *out,
			  mlp_msg *msg);

/* The values of the options alone, each in its range and the ranges that
 * join them (warmup < epochs), whatever the build, CPU, rows or network;
 * with for_train false, those a trainer needs. */
mlp_status mlpi_check_values(const mlp_train_opts *o, bool for_train,
			     mlp_msg *msg);
/* The checks of mlp_train_check; with for_train false, those a trainer
 * needs (the fields up to batch_size). net may be NULL. */
mlp_status mlpi_check_opts(const mlp_net *net, const mlp_train_opts *o,
			   bool for_train, mlp_msg *msg);

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

/* ---- workers training together (comm.c) ---- */

/* The workers of c agree, in one exchange: on a status (the first, in the
 * order of mlp_status, that any worker passed; MLP_EWORKERS when a value of
 * `same` differs between workers), and on the sums over the workers of
 * `sums`, in place. At most MLPI_AGREE_MAX of each. Alone (c NULL): st,
 * and nothing exchanged. MLP_ECOMM when the exchange fails. */
#define MLPI_AGREE_MAX 8
mlp_status mlpi_agree(const mlp_comm *c, mlp_status st, const uint64_t *same,
		      size_t n_same, double *sums, size_t n_sums);

/* ---- the trainer (trainer.c) ---- */

/* Forward, loss and backpropagation of one batch without an update: the
 * batch's mean loss and the gradients' L2 norm; the gradients themselves
 * are then at mlpi_trainer_gradients(t), laid out as the parameter block.
 * Checks its arguments as mlp_trainer_step does. */
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

/* ---- messages (status.c) ---- */

/* Writes a message into *msg (when msg is not NULL); returns status. */
MLPI_PRINTF(3, 4)
mlp_status mlpi_fail(mlp_msg *msg, mlp_status status, const char *fmt, ...);
/* Empties *msg (when msg is not NULL): the message of a success. */
void mlpi_msg_clear(mlp_msg *msg);

/* ---- model files (safetensors.c, io.c) ---- */

struct mlpi_json;

/* A checkpoint's training state besides the parameters (checkpoint.c):
 * the optimizer's moments M and V (block_floats each, laid out as the
 * parameter block; SGD's velocity in M) and, with keep_best once an epoch
 * was best, that epoch's parameters; where mlp_train was; and the run's
 * options. */
struct mlpi_state {
	float *M, *V, *best;
	size_t epoch, steps, rows, workers; /* rows: those trained on */
	float lr;                  /* the rate in force */
	size_t best_epoch;         /* of the lowest held-out loss; 0: none */
	double best_loss;
	mlp_train_opts opts;       /* the fields a checkpoint records */
};

/* The checkpoint's metadata as JSON members, each followed by a comma
 * (malloc'd), or NULL for no memory. */
char *mlpi_checkpoint_meta(const struct mlpi_state *s);
/* MLP_OK when the metadata marks a checkpoint (checkpoint.epoch), else
 * MLP_EFORMAT "not a checkpoint". */
mlp_status mlpi_checkpoint_marked(const struct mlpi_json *meta, mlp_msg *msg);
/* The metadata of a checkpoint into *s (but M, V, best), every field
 * parsed strictly: MLP_EFORMAT with the field and the rule, or "not a
 * checkpoint" when it has none. */
mlp_status mlpi_checkpoint_meta_read(const struct mlpi_json *meta,
				     struct mlpi_state *s, mlp_msg *msg);
/* A checkpoint read whole, its parts against each other: the options in
 * range, the epoch and steps, the rate in force, the moments as its
 * optimizer makes them. MLP_EFORMAT with the rule. */
mlp_status mlpi_checkpoint_check(const mlp_net *net, const struct mlpi_state *s,
				 mlp_msg *msg);
/* Whether a run of options o on `rows` rows (those trained on) by
 * `workers` may resume from the checkpoint at path: MLP_EINVAL naming the
 * option and both values otherwise. */
mlp_status mlpi_checkpoint_fits(const struct mlpi_state *s,
				const mlp_train_opts *o, size_t rows,
				size_t workers, const char *path, mlp_msg *msg);

/* A hash of the options that make a run what it is (those a resumed run
 * may not change), for workers to compare. */
uint64_t mlpi_opts_hash(const mlp_train_opts *o);

/* The rows a step (of each worker, sharded) and the steps an epoch of
 * mlp_train for `total` rows trained on. */
void mlpi_epoch_steps(size_t total, size_t batch_size, bool drop_last,
		      bool sharded, size_t workers, size_t *batch,
		      size_t *steps);

/* ---- the JSON of a model file's header (json_read.c) ---- */

enum mlpi_json_type {
	MLPI_JSON_NULL,
	MLPI_JSON_BOOL,
	MLPI_JSON_NUMBER,
	MLPI_JSON_STRING,
	MLPI_JSON_ARRAY,
	MLPI_JSON_OBJECT,
};

/* A value. Strings and keys are decoded UTF-8 without NUL bytes,
 * NUL-terminated. The items of an array or the members of an object are
 * the chain first → next; a member's name is its key. */
struct mlpi_json {
	enum mlpi_json_type type;
	bool integer;            /* a number without fraction or exponent that
				  * fits int64: its value in ival */
	int64_t ival;
	const char *str;         /* a string's text */
	const char *key;         /* a member's name */
	size_t count;            /* items or members */
	struct mlpi_json *first, *next;
};

/* The JSON value at the start of text[0 .. len), which may be followed by
 * other bytes (their offset into *end): strict RFC 8259 (UTF-8 checked, no
 * duplicate keys, no "\u0000"), at most max_values values nested at most
 * max_depth deep. The tree is one allocation, *root, freed with free().
 * MLP_EFORMAT with the reason and byte, MLP_ENOMEM. */
mlp_status mlpi_json_read(const unsigned char *text, size_t len,
			  size_t max_values, int max_depth,
			  struct mlpi_json **root, size_t *end, mlp_msg *msg);

/* The member of obj named key, or NULL. */
const struct mlpi_json *mlpi_json_get(const struct mlpi_json *obj,
				      const char *key);

/* ---- standardisation kept with a network (scaling.c) ---- */

/* The scaling of src (if any) onto dst, a network of the same widths:
 * MLP_OK, or MLP_ENOMEM with dst unchanged. */
mlp_status mlpi_scaling_copy(mlp_net *dst, const mlp_net *src);

/* Whether saves may use an unnamed file (O_TMPFILE); tests clear it to
 * exercise the named-file way that systems without it take. */
extern bool mlpi_io_tmpfile;
/* Whether an unnamed file can be given a name; tests clear it to take the
 * way of a system without /proc (the file is written again, named). */
extern bool mlpi_io_link_unnamed;

/* Checks size bytes of a safetensors file and builds its network; tensors
 * named "optimizer.*" are a checkpoint's and left out. With state, the
 * file must be a checkpoint of that network: its state goes to *state,
 * with M and V malloc'd (free them). */
mlp_status mlpi_st_read(mlp_net **out, const unsigned char *file, size_t size,
			const mlp_load_opts *opts, struct mlpi_state *state,
			mlp_msg *msg);
/* The JSON header of net's file, space-padded to a multiple of 8 bytes
 * (malloc'd; the data follows in layer order, each W then b, then with a
 * state, M's tensors and V's in the same order). */
mlp_status mlpi_st_header(const mlp_net *net, const struct mlpi_state *state,
			  char **out, size_t *out_len, mlp_msg *msg);
/* io.c: a checkpoint written atomically, as mlp_net_save writes a model;
 * one read back (its network and state, checked whole); and whether one
 * of net, with or without best parameters, could be written at path. */
mlp_status mlpi_checkpoint_save(const mlp_net *net,
				const struct mlpi_state *state,
				const char *path, mlp_msg *msg);
mlp_status mlpi_checkpoint_load(const char *path, mlp_net **net,
				struct mlpi_state *state, mlp_msg *msg);
mlp_status mlpi_checkpoint_probe(const mlp_net *net, bool best,
				 const char *path, mlp_msg *msg);

/* A xoshiro256** generator, seeded through SplitMix64. */
struct mlpi_rng {
	uint64_t s[4];
};
void mlpi_rng_seed(struct mlpi_rng *rng, uint64_t seed);
uint64_t mlpi_rng_next(struct mlpi_rng *rng);
/* Uniform on [0, 1) with 53 random bits. */
double mlpi_rng_uniform(struct mlpi_rng *rng);

#endif /* MLP_INTERNAL_H */
