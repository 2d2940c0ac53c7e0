/* support.c — see support.h. */
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

bool test_part(int argc, char **argv, const char *part)
{
	const char *given = argc > 1 ? argv[1] : "";

	return strcmp(given, part) == 0;
}

int test_skip(const char *why)
{
	printf("SKIP: %s\n", why);
	fflush(stdout);
	return 77;
}

bool bf16_trains(void)
{
#if defined(MLP_HAVE_ONEDNN)
	return mlp_precision_supported(MLP_BF16);
#else
	return false;
#endif
}

/* ---- allocation counter -------------------------------------------------- */

static atomic_bool armed;
static atomic_long calls, live, fail_at;

void alloc_arm(long n)
{
	atomic_store(&calls, 0);
	atomic_store(&live, 0);
	atomic_store(&fail_at, n);
	atomic_store(&armed, true);
}

void alloc_disarm(void)
{
	atomic_store(&armed, false);
}

long alloc_calls(void)
{
	return atomic_load(&calls);
}

long alloc_live(void)
{
	return atomic_load(&live);
}

/* Whether this allocation is to fail; counts it when armed. */
static bool next_fails(void)
{
	if (!atomic_load(&armed))
		return false;
	long n = atomic_fetch_add(&calls, 1) + 1;
	return n == atomic_load(&fail_at);
}

static void *counted(void *p)
{
	if (p != NULL && atomic_load(&armed))
		atomic_fetch_add(&live, 1);
	return p;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void __real_free(void *p);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
	return next_fails() ? NULL : counted(__real_malloc(n));
}

/* ---- parameters ----------------------------------------------------------- */

uint64_t param_hash(const mlp_net *net)
{
	size_t n = mlp_net_param_count(net);
	float *p = malloc(n * sizeof(float));
	uint64_t h = 1469598103934665603u;

	/* No Check assertion: the MPI tests run outside Check. */
	if (p == NULL || mlp_net_get_params(net, p, n) != MLP_OK)
		abort();
	for (size_t i = 0; i < n; i++) {
		uint32_t bits;

		memcpy(&bits, &p[i], sizeof(bits));
		h = (h ^ bits) * 1099511628211u;
	}
	free(p);
	return h;
}

/* ---- reads ---------------------------------------------------------------- */

static atomic_int read_armed, read_errno;

void read_fail_next(int err)
{
	atomic_store(&read_errno, err);
	atomic_store(&read_armed, 1);
}

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	int err;

	if (!atomic_exchange(&read_armed, 0))
		return __real_read(fd, buf, n);
	err = atomic_load(&read_errno);
	if (err == 0)
		return 0;
	errno = err;
	return -1;
}

void *__wrap_calloc(size_t k, size_t n)
{
	return next_fails() ? NULL : counted(__real_calloc(k, n));
}

void *__wrap_realloc(void *p, size_t n)
{
	void *q;

	if (next_fails())
		return NULL;
	q = __real_realloc(p, n);
	/* A realloc of NULL is a new allocation; any other keeps the count. */
	return p == NULL ? counted(q) : q;
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return next_fails() ? NULL : counted(__real_aligned_alloc(a, n));
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	int rc;

	if (next_fails())
		return 12; /* ENOMEM */
	rc = __real_posix_memalign(p, a, n);
	if (rc == 0)
		counted(*p);
	return rc;
}

void __wrap_free(void *p)
{
	if (p != NULL && atomic_load(&armed))
		atomic_fetch_sub(&live, 1);
	__real_free(p);
}

/* ---- test random generator: SplitMix64 ------------------------------- */

uint64_t trng_next(struct trng *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

double trng_uniform(struct trng *g, double lo, double hi)
{
	return lo + (hi - lo) * (double)(trng_next(g) >> 11) * 0x1.0p-53;
}

void trng_fill(struct trng *g, float *v, size_t n, double lo, double hi)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (float)trng_uniform(g, lo, hi);
}

/* ---- double-precision reference ---------------------------------------- */

#define U 0x1.0p-24 /* unit roundoff of float */

double ref_act(mlp_act act, double z)
{
	switch (act) {
	case MLP_IDENTITY:
	case MLP_SOFTMAX: /* applied across the row by the caller */
		return z;
	case MLP_RELU:
		return z > 0 ? z : 0;
	case MLP_LEAKY_RELU:
		return z > 0 ? z : 0.01 * z;
	case MLP_SIGMOID:
		return 1.0 / (1.0 + exp(-z));
	case MLP_TANH:
		return tanh(z);
	case MLP_GELU:
		/* 0.5·z·(1 + erf(z/√2)), written with erfc = 1 − erf so that
		 * double keeps its accuracy where 1 + erf cancels. */
		return 0.5 * z * erfc(-z / sqrt(2.0));
	case MLP_GELU_TANH: {
		double k = sqrt(2.0 / 3.14159265358979323846) *
			   (z + 0.044715 * z * z * z);
		/* 1 + tanh(k) = 2 / (1 + e^(−2k)), used where 1 + tanh(k)
		 * would cancel. */
		if (k > -1)
			return 0.5 * z * (1.0 + tanh(k));
		return z / (1.0 + exp(-2 * k));
	}
	case MLP_SILU:
		return z / (1.0 + exp(-z));
	default:
		return NAN;
	}
}

/* A bound on |act'| over the whole real line. */
static double lipschitz(mlp_act act)
{
	switch (act) {
	case MLP_SIGMOID:
		return 0.25;
	case MLP_GELU:      /* Φ(x) + x·φ(x), largest ≈ 1.1289 at x = √2 */
	case MLP_GELU_TANH: /* within 1e-3 of the exact form */
		return 1.13;
	case MLP_SILU: /* largest ≈ 1.0998 near x = 2.4 */
		return 1.1;
	default:
		return 1.0;
	}
}

static double gamma_u(size_t k)
{
	return (double)k * U / (1.0 - (double)k * U);
}

/* Rounding of what a layer reads and writes: inputs and weights rounded
 * with unit roundoff u_in and u_w before the products, outputs rounded
 * with u_out after the activation (0: not rounded beyond float). */
struct rounding {
	double u_in, u_w, u_out;
};

static void layer_bound(size_t batch, size_t n_in, size_t n_out,
			const float *W, const float *b, mlp_act act,
			const double *X, const double *X_err,
			const struct rounding *rd, double *Y, double *Y_err)
{
	double g = gamma_u(n_in + 1);
	double L = lipschitz(act);

	for (size_t r = 0; r < batch; r++) {
		const double *x = X + r * n_in;
		const double *xe = X_err != NULL ? X_err + r * n_in : NULL;
		double *y = Y + r * n_out, *ye = Y_err + r * n_out;
		double zmax = -INFINITY, dz_max = 0, sum = 0;

		for (size_t i = 0; i < n_out; i++) {
			const float *w = W + i * n_in;
			double z = b != NULL ? b[i] : 0.0;
			double mag = b != NULL ? fabs(b[i]) : 0.0, prop = 0;

			for (size_t j = 0; j < n_in; j++) {
				double aw = fabs((double)w[j]), ax = fabs(x[j]);
				/* How far the input the library used is from x. */
				double ex = (xe != NULL ? xe[j] : 0) +
					    rd->u_in * (ax + (xe != NULL ? xe[j] : 0));

				z += w[j] * x[j];
				mag += aw * (1 + rd->u_w) * (ax + ex);
				prop += aw * (1 + rd->u_w) * ex + rd->u_w * aw * ax;
			}
			/* dz: error of the float z the library computed. */
			double dz = prop + g * mag;
			y[i] = z;
			ye[i] = dz;
			if (act == MLP_SOFTMAX) {
				zmax = z > zmax ? z : zmax;
				dz_max = dz > dz_max ? dz : dz_max;
			} else {
				double a = ref_act(act, z);
				y[i] = a;
				ye[i] = L * dz + 16 * U * (fabs(a) + fabs(z) + dz);
				ye[i] += rd->u_out * (fabs(a) + ye[i]);
			}
		}
		if (act != MLP_SOFTMAX)
			continue;
		for (size_t i = 0; i < n_out; i++) {
			y[i] = exp(y[i] - zmax);
			sum += y[i];
		}
		for (size_t i = 0; i < n_out; i++) {
			y[i] /= sum;
			/* p(z + δ) / p(z) lies in [e^(−2‖δ‖∞), e^(2‖δ‖∞)]; the
			 * float sum of n exponentials adds n ulp. */
			double spread = expm1(2 * dz_max);

			ye[i] = (isinf(spread) ? 1.0 : fmin(1.0, y[i] * spread)) +
				(double)(n_out + 16) * U * y[i];
			ye[i] += rd->u_out * (y[i] + ye[i]);
		}
	}
}

void ref_layer(size_t batch, size_t n_in, size_t n_out, const float *W,
	       const float *b, mlp_act act, const double *X,
	       const double *X_err, double *Y, double *Y_err)
{
	static const struct rounding none = { 0, 0, 0 };

	layer_bound(batch, n_in, n_out, W, b, act, X, X_err, &none, Y, Y_err);
}

/* The network in double with the rounding of a precision: float (nothing
 * beyond the sums'), or bf16 (the input and every weight rounded to bf16,
 * every layer's output but the last rounded to bf16). */
static void forward_bound(mlp_net *net, bool bf16, size_t batch,
			  const float *X, double *Y, double *Y_err)
{
	const double u_bf16 = 0x1.0p-8;
	size_t L = mlp_net_layers(net), widest = 0;

	for (size_t i = 0; i <= L; i++)
		widest = mlp_net_width(net, i) > widest ? mlp_net_width(net, i) : widest;
	/* In: a layer's exact input and the library's distance from it. */
	double *in = malloc(batch * widest * sizeof(double));
	double *in_err = malloc(batch * widest * sizeof(double));
	double *out = malloc(batch * widest * sizeof(double));
	double *out_err = malloc(batch * widest * sizeof(double));
	ck_assert(in && in_err && out && out_err);

	for (size_t i = 0; i < batch * mlp_net_width(net, 0); i++) {
		in[i] = X[i];
		in_err[i] = 0;
	}
	for (size_t l = 0; l < L; l++) {
		size_t n_in = mlp_net_width(net, l), n_out = mlp_net_width(net, l + 1);
		struct rounding rd = { 0, 0, 0 };
		double *t;

		if (bf16) {
			rd.u_in = l == 0 ? u_bf16 : 0; /* later ones: rounded as outputs */
			rd.u_w = u_bf16;
			rd.u_out = l + 1 < L ? u_bf16 : 0;
		}
		layer_bound(batch, n_in, n_out, mlp_net_weights(net, l),
			    mlp_net_bias(net, l), mlp_net_act(net, l), in, in_err,
			    &rd, out, out_err);
		t = in, in = out, out = t;
		t = in_err, in_err = out_err, out_err = t;
	}
	size_t n_out = mlp_net_width(net, L);
	for (size_t i = 0; i < batch * n_out; i++) {
		Y[i] = in[i];
		Y_err[i] = in_err[i];
	}
	free(in);
	free(in_err);
	free(out);
	free(out_err);
}

void ref_forward(mlp_net *net, size_t batch, const float *X, double *Y,
		 double *Y_err)
{
	forward_bound(net, false, batch, X, Y, Y_err);
}

void ref_forward_bf16(mlp_net *net, size_t batch, const float *X, double *Y,
		      double *Y_err)
{
	forward_bound(net, true, batch, X, Y, Y_err);
}

double ref_worst(size_t n, const float *got, const double *want,
		 const double *err, size_t *where)
{
	double worst = 0;

	*where = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]);
		/* The smallest float error bound: nothing is more exact than
		 * half an ulp of the smallest normal float. */
		double ratio = d / (err[i] + 0x1.0p-127);

		if (!(ratio <= worst)) { /* also catches NaN */
			worst = isnan(ratio) ? INFINITY : ratio;
			*where = i;
			if (isnan(ratio))
				break;
		}
	}
	return worst;
}

/* ---- the digits data ---------------------------------------------------- */

bool digits_read(struct digits *d)
{
	FILE *f = fopen(TEST_DATA_DIR "/digits.csv", "r");
	int v[65];

	if (f == NULL)
		return false;
	d->n = 0;
	while (d->n < 1797) {
		int k = 0;
		for (; k < 65; k++)
			if (fscanf(f, k ? ",%d" : "%d", &v[k]) != 1)
				break;
		if (k < 65 || v[64] < 0 || v[64] > 9)
			break;
		for (int j = 0; j < 64; j++)
			d->X[d->n * 64 + j] = (float)v[j] / 16.0f;
		for (int j = 0; j < 10; j++)
			d->Y[d->n * 10 + j] = j == v[64] ? 1.0f : 0.0f;
		d->n++;
	}
	fclose(f);
	if (d->n != 1797)
		return false;
	/* A fixed shuffle so that both parts hold every writer and digit. */
	struct trng g = { 2024 };
	for (size_t i = d->n - 1; i > 0; i--) {
		size_t j = trng_next(&g) % (i + 1);
		float tx[64], ty[10];
		memcpy(tx, d->X + i * 64, sizeof(tx));
		memcpy(ty, d->Y + i * 10, sizeof(ty));
		memcpy(d->X + i * 64, d->X + j * 64, sizeof(tx));
		memcpy(d->Y + i * 10, d->Y + j * 10, sizeof(ty));
		memcpy(d->X + j * 64, tx, sizeof(tx));
		memcpy(d->Y + j * 10, ty, sizeof(ty));
	}
	return true;
}

void digits_load(struct digits *d)
{
	ck_assert_msg(digits_read(d), "cannot read the 1797 rows of %s/digits.csv",
		      TEST_DATA_DIR);
}


/* ---- networks of many shapes -------------------------------------------- */

struct net_case net_case_pick(int i, const struct net_case *fixed,
			      int n_fixed, uint64_t seed,
			      const size_t *max_batches, size_t n_batches)
{
	struct trng g = { seed + (uint64_t)i };
	struct net_case c;
	size_t weights;

	if (i < n_fixed)
		return fixed[i];
	c.n_layers = 1 + (size_t)i % CASE_MAX_LAYERS;
	c.max_batch = max_batches[(size_t)i % n_batches];
	do {
		weights = 0;
		for (size_t l = 0; l <= c.n_layers; l++)
			c.sizes[l] = (size_t)exp(trng_uniform(&g, 0, log(1024.999)));
		for (size_t l = 0; l < c.n_layers; l++)
			weights += c.sizes[l] * c.sizes[l + 1];
	} while (weights > 1500000);
	return c;
}

mlp_net *net_case_build(int i, const struct net_case *c, uint64_t init_seed,
			uint64_t bias_seed)
{
	mlp_act acts[CASE_MAX_LAYERS];
	struct trng g = { bias_seed };
	mlp_net *net;

	for (size_t l = 0; l < c->n_layers; l++)
		acts[l] = (mlp_act)(((size_t)i + l) % MLP_ACT_COUNT);
	ck_assert_int_eq(mlp_net_create(&net, c->n_layers, c->sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, init_seed), MLP_OK);
	for (size_t l = 0; l < c->n_layers; l++)
		trng_fill(&g, mlp_net_bias(net, l), c->sizes[l + 1], -0.5, 0.5);
	return net;
}

/* ---- files ---------------------------------------------------------------- */

const char *test_dir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/mlp-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += !is_dot(e->d_name);
	closedir(d);
	return n;
}

void dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (!is_dot(e->d_name))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

unsigned char *file_read(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*size = (size_t)n;
	return buf;
}
