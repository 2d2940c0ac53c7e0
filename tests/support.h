/*
 * support.h — what the test suites share: an allocation counter with failure
 * injection, a test-only random generator, and the double-precision
 * reference forward pass with its error bound.
 */
#ifndef MLP_TEST_SUPPORT_H
#define MLP_TEST_SUPPORT_H

#include "mlp.h"

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Runs a suite and returns the process exit status. */
int run_suite(Suite *s);

/* A suite whose cases need what a machine or build may lack (native bf16,
 * oneDNN, a BLAS that switches kernels) keeps them in a part of its own,
 * which Meson runs as a test of its own, naming the part as the program's
 * argument: main() asks which part is wanted, and a part that cannot run
 * here ends in test_skip, which Meson shows as SKIP, never OK. */
bool test_part(int argc, char **argv, const char *part);
/* Prints "SKIP: " and why, and returns 77, Meson's status for a skip. */
int test_skip(const char *why);
/* Whether bf16 training runs here: plans in bf16 run (mlp_precision_
 * supported), and the build has oneDNN, which the training calls need. */
bool bf16_trains(void);

/* ---- allocations made by the library --------------------------------- */
/* The tests link with -Wl,--wrap for malloc and friends, so every
 * allocation the library makes passes through a counter. Counting starts at
 * alloc_arm() and stops at alloc_disarm(). TEST_WRAP is 0 where the linker
 * cannot wrap; tests that need the counter skip themselves then. Make no
 * Check call while armed: Check allocates to record a passed assertion. */
void alloc_arm(long fail_at); /* fail the fail_at-th allocation; 0: none */
void alloc_disarm(void);
long alloc_calls(void);       /* allocations attempted while armed */
long alloc_live(void);        /* successful allocations minus frees */

/* ---- reads made by the library --------------------------------------- */
/* read() is wrapped too: read_fail_next(e) makes the next read fail with
 * errno e, or (e = 0) return 0 as at the end of a file that shrank. */
void read_fail_next(int err);

/* ---- a random generator for test data (independent of the library's) -- */
struct trng {
	uint64_t s;
};
uint64_t trng_next(struct trng *g);
double trng_uniform(struct trng *g, double lo, double hi);
void trng_fill(struct trng *g, float *v, size_t n, double lo, double hi);

/* ---- the digits data (tests/data/digits.csv: UCI, via scikit-learn) ---
 * 1797 8×8 images, pixels scaled to [0, 1], one-hot labels, in a fixed
 * shuffle: the first 1437 rows to train on, the last 360 held out. */
struct digits {
	size_t n;
	float X[1797 * 64], Y[1797 * 10];
};
bool digits_read(struct digits *d); /* false if the file cannot be read */
void digits_load(struct digits *d); /* the same, failing the test */

/* ---- networks of many shapes, for the reference tests ------------------
 * Fixed shapes at the extremes of width, then random ones of 1 to 6 layers
 * with widths log-uniform in [1, 1024] and at most 1.5M weights, so that
 * the double reference stays fast. */
enum { CASE_MAX_LAYERS = 6 };
struct net_case {
	size_t n_layers;
	size_t sizes[CASE_MAX_LAYERS + 1];
	size_t max_batch;
};
/* Case i ≥ 0 of a list that starts with n_fixed fixed ones: fixed[i], or
 * random shapes drawn from seed + i, of 1 + i % 6 layers, with max_batch
 * max_batches[i % n_batches]. */
struct net_case net_case_pick(int i, const struct net_case *fixed,
			      int n_fixed, uint64_t seed,
			      const size_t *max_batches, size_t n_batches);
/* Case i's network: He/Glorot weights from init_seed, biases in
 * [−0.5, 0.5] from bias_seed, activations cycling so that every activation
 * appears at every depth. */
mlp_net *net_case_build(int i, const struct net_case *c, uint64_t init_seed,
			uint64_t bias_seed);

/* A hash of the bits of every parameter of net, in the order of
 * mlp_net_get_params (FNV-1a over 32-bit words). */
uint64_t param_hash(const mlp_net *net);

/* ---- the double-precision reference -------------------------------------
 * act(z) in double, from the textbook formulas. */
double ref_act(mlp_act act, double z);

/* One layer in double: Z = X·Wᵀ + b, Y = act(Z), batch rows. X holds the
 * exact inputs and X_err bounds how far the float inputs the library saw
 * are from them (NULL: the library saw X exactly); on return Y_err bounds
 * |library output − Y| elementwise.
 *
 * The bound: the float sum of n products and a bias differs from the exact
 * one by at most γ(n+1)·(Σ|w||x| + |b|), γ(k) = k·u / (1 − k·u), u = 2⁻²⁴
 * (Higham, Accuracy and Stability of Numerical Algorithms, §3.1); errors in
 * the inputs add Σ|w|·x_err. The activation multiplies the error of z by at
 * most its Lipschitz constant and adds its own rounding, taken as 16 ulp of
 * the magnitudes involved (libm's expf, tanhf and erfcf are within a few ulp,
 * plus the few operations around them). */
void ref_layer(size_t batch, size_t n_in, size_t n_out, const float *W,
	       const float *b, mlp_act act, const double *X,
	       const double *X_err, double *Y, double *Y_err);

/* The whole network in double, chaining ref_layer. Y and Y_err are batch ×
 * output width. */
void ref_forward(mlp_net *net, size_t batch, const float *X, double *Y,
		 double *Y_err);

/* The same for a bf16 plan: the input and every weight rounded to bf16
 * (unit roundoff 2⁻⁸), products summed in float, every layer's output but
 * the last rounded to bf16; the bound carries each rounding through the
 * layers as it carries the float errors. */
void ref_forward_bf16(mlp_net *net, size_t batch, const float *X, double *Y,
		      double *Y_err);

/* The largest ratio |got − want| / err over n outputs (≤ 1 passes), and
 * the index where it occurs. */
double ref_worst(size_t n, const float *got, const double *want,
		 const double *err, size_t *where);

/* ---- files ---- */

/* A fresh directory under /tmp for a test's files (a static buffer: one
 * at a time). */
const char *test_dir(void);

/* The entries of dir but "." and "..", hidden ones included. */
size_t dir_entries(const char *dir);

/* dir and every file in it, removed. */
void dir_remove(const char *dir);

/* A whole file, malloc'd (asserting it reads), its size in *size. */
unsigned char *file_read(const char *path, size_t *size);

#endif
