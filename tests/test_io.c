/*
 * test_io.c — model files: round trips bit for bit, atomic saving, files
 * written and read by a NumPy implementation of the format, and a table of
 * malformed files, one per rule, each refused with its message.
 */
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef TEST_PYTHON
#define TEST_PYTHON ""
#endif
#ifndef TEST_NP_SCRIPT
#define TEST_NP_SCRIPT ""
#endif

/* The same shape, activations and parameter bits. */
static void assert_same_net(mlp_net *a, mlp_net *b)
{
	size_t n = mlp_net_param_count(a);
	float *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float));

	ck_assert_uint_eq(mlp_net_layers(a), mlp_net_layers(b));
	for (size_t i = 0; i <= mlp_net_layers(a); i++)
		ck_assert_uint_eq(mlp_net_width(a, i), mlp_net_width(b, i));
	for (size_t l = 0; l < mlp_net_layers(a); l++)
		ck_assert_int_eq(mlp_net_act(a, l), mlp_net_act(b, l));
	ck_assert(pa != NULL && pb != NULL);
	ck_assert_int_eq(mlp_net_get_params(a, pa, n), MLP_OK);
	ck_assert_int_eq(mlp_net_get_params(b, pb, n), MLP_OK);
	ck_assert_mem_eq(pa, pb, n * sizeof(float));
	free(pa);
	free(pb);
}

/* ---- round trips ------------------------------------------------------------ */

static const struct {
	size_t n_layers, sizes[5];
	mlp_act acts[4];
} shapes[] = {
	{ 1, { 1, 1 }, { MLP_IDENTITY } },
	{ 2, { 3, 4, 2 }, { MLP_RELU, MLP_SOFTMAX } },
	{ 3, { 784, 64, 32, 10 }, { MLP_LEAKY_RELU, MLP_GELU, MLP_SIGMOID } },
	{ 4, { 5, 7, 1, 9, 2 }, { MLP_TANH, MLP_GELU_TANH, MLP_SILU, MLP_IDENTITY } },
};

START_TEST(round_trip_bit_for_bit)
{
	const char *dir = test_dir();
	char path[256];
	mlp_net *net, *back, *mem;
	mlp_msg msg = { { 0 } };
	unsigned char *buf;
	size_t size;
	struct trng g = { 17 };

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	ck_assert_int_eq(mlp_net_create(&net, shapes[_i].n_layers, shapes[_i].sizes,
					shapes[_i].acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 9), MLP_OK);
	/* Biases, and values of every kind a float can be (subnormal, −0). */
	for (size_t l = 0; l < shapes[_i].n_layers; l++)
		trng_fill(&g, mlp_net_bias(net, l), shapes[_i].sizes[l + 1], -1, 1);
	mlp_net_weights(net, 0)[0] = -0.0f;
	mlp_net_bias(net, 0)[0] = 1e-42f;
	ck_assert_int_eq(mlp_net_save(net, path, &msg), MLP_OK);
	ck_assert_int_eq(mlp_net_load(&back, path, NULL, &msg), MLP_OK);
	assert_same_net(net, back);
	/* From memory, the same. The data starts 8-byte aligned. */
	buf = file_read(path, &size);
	ck_assert_uint_eq((buf[0] | buf[1] << 8) % 8, 0);
	ck_assert_int_eq(mlp_net_load_memory(&mem, buf, size, NULL, &msg), MLP_OK);
	assert_same_net(net, mem);
	/* Saving over an existing file replaces it. */
	mlp_net_bias(net, 0)[0] = 2.0f;
	ck_assert_int_eq(mlp_net_save(net, path, &msg), MLP_OK);
	mlp_net_free(back);
	ck_assert_int_eq(mlp_net_load(&back, path, NULL, &msg), MLP_OK);
	ck_assert(mlp_net_bias(back, 0)[0] == 2.0f);
	ck_assert_uint_eq(dir_entries(dir), 1); /* no temporary left */
	free(buf);
	mlp_net_free(net);
	mlp_net_free(back);
	mlp_net_free(mem);
	dir_remove(dir);
}
END_TEST

/* The message of a failure: written, terminated, and saying `want`. */
static void assert_msg(const mlp_msg *msg, const char *want, const char *what)
{
	ck_assert_msg(memchr(msg->text, '\0', sizeof(msg->text)) != NULL,
		      "%s: the message is not terminated", what);
	ck_assert_msg(msg->text[0] != '\0' && msg->text[0] != 'X',
		      "%s: no message", what);
	ck_assert_msg(strstr(msg->text, want) != NULL,
		      "%s: message \"%s\" does not say \"%s\"", what, msg->text,
		      want);
}

/* A save past the file size limit fails before writing, with the default
 * SIGXFSZ disposition (which kills a process that writes past it), and
 * leaves the old file as it was and no temporary file behind. */
START_TEST(failed_save_leaves_old_file)
{
	static const size_t sizes[] = { 100, 100, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
	const char *dir = test_dir();
	char path[256];
	struct rlimit lim, old;
	mlp_msg msg = { { 0 } };
	mlp_net *net;
	unsigned char *buf;
	size_t size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	f = fopen(path, "w");
	fputs("the old model", f);
	fclose(f);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 4096; /* the soft limit only: it can be raised back */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(mlp_net_save(net, path, &msg), MLP_EIO);
	assert_msg(&msg, "ulimit -f", "the size limit");
	buf = file_read(path, &size);
	ck_assert_uint_eq(size, 13);
	ck_assert_mem_eq(buf, "the old model", 13);
	ck_assert_uint_eq(dir_entries(dir), 1);
	/* A target that is a directory: refused, nothing is left. */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(mlp_net_save(net, dir, &msg), MLP_EIO);
	assert_msg(&msg, "not a regular file", "a directory as the target");
	ck_assert_uint_eq(dir_entries(dir), 1);
	/* A directory that does not exist. */
	ck_assert_int_eq(mlp_net_save(net, "/nonexistent/dir/m.safetensors", &msg),
			 MLP_EIO);
	assert_msg(&msg, "cannot create a file in /nonexistent/dir",
		   "a missing directory");
	free(buf);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

START_TEST(bad_arguments)
{
	mlp_net *net = (mlp_net *)(uintptr_t)0x1234, *real;
	static const size_t sizes[] = { 2, 2 };
	static const mlp_act act = MLP_RELU;
	mlp_msg msg = { { 0 } };
	unsigned char byte = 0;

	ck_assert_int_eq(mlp_net_load(NULL, "x", NULL, &msg), MLP_ENULL);
	ck_assert_int_eq(mlp_net_load(&net, NULL, NULL, &msg), MLP_ENULL);
	ck_assert_int_eq(mlp_net_load_memory(&net, NULL, 10, NULL, &msg), MLP_ENULL);
	ck_assert_int_eq(mlp_net_load(&net, "/nonexistent.safetensors", NULL, &msg),
			 MLP_EIO);
	ck_assert_msg(strstr(msg.text, "cannot open") != NULL, "%s", msg.text);
	ck_assert_int_eq(mlp_net_load(&net, "/tmp", NULL, NULL), MLP_EIO);
	ck_assert_int_eq(mlp_net_load_memory(&net, &byte, 0, NULL, NULL), MLP_EFORMAT);
	ck_assert_ptr_eq(net, (mlp_net *)(uintptr_t)0x1234);
	ck_assert_int_eq(mlp_net_create(&real, 1, sizes, &act), MLP_OK);
	ck_assert_int_eq(mlp_net_save(NULL, "x", NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_net_save(real, NULL, NULL), MLP_ENULL);
	mlp_net_free(real);
}
END_TEST

/* ---- messages: written on every path ----------------------------------------- */

/* A message full of garbage, as an uninitialised one may be. */
static void garbage(mlp_msg *msg)
{
	memset(msg->text, 'X', sizeof(msg->text));
}


/* A small network saved in a fresh directory. */
static mlp_net *saved_net(const char *dir, char *path, size_t path_size)
{
	static const size_t sizes[] = { 2, 3, 1 };
	static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
	mlp_net *net;

	snprintf(path, path_size, "%s/model.safetensors", dir);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 1), MLP_OK);
	ck_assert_int_eq(mlp_net_save(net, path, NULL), MLP_OK);
	return net;
}

/* Every status of save, load and load_memory leaves a message naming the
 * problem; a success leaves an empty one. */
START_TEST(message_on_every_path)
{
	static const mlp_act bad_acts[] = { MLP_RELU, MLP_ACT_COUNT };
	const char *dir = test_dir();
	char path[256];
	mlp_net *net = saved_net(dir, path, sizeof(path)), *back;
	mlp_load_opts opts = mlp_load_defaults();
	unsigned char *buf, byte = 0;
	mlp_msg msg;
	size_t size;

	opts.acts = bad_acts;
	opts.n_acts = 3;
	buf = file_read(path, &size);
	garbage(&msg);
	ck_assert_int_eq(mlp_net_save(net, path, &msg), MLP_OK);
	ck_assert_str_eq(msg.text, "");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load(&back, path, NULL, &msg), MLP_OK);
	ck_assert_str_eq(msg.text, "");
	mlp_net_free(back);
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load_memory(&back, buf, size, NULL, &msg), MLP_OK);
	ck_assert_str_eq(msg.text, "");
	mlp_net_free(back);

	garbage(&msg);
	ck_assert_int_eq(mlp_net_save(NULL, path, &msg), MLP_ENULL);
	assert_msg(&msg, "net is NULL", "save, NULL net");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_save(net, NULL, &msg), MLP_ENULL);
	assert_msg(&msg, "path is NULL", "save, NULL path");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load(NULL, path, NULL, &msg), MLP_ENULL);
	assert_msg(&msg, "out is NULL", "load, NULL out");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load(&back, NULL, NULL, &msg), MLP_ENULL);
	assert_msg(&msg, "path is NULL", "load, NULL path");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load_memory(NULL, buf, size, NULL, &msg), MLP_ENULL);
	assert_msg(&msg, "out is NULL", "load_memory, NULL out");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load_memory(&back, NULL, size, NULL, &msg), MLP_ENULL);
	assert_msg(&msg, "data is NULL", "load_memory, NULL data");

	garbage(&msg);
	ck_assert_int_eq(mlp_net_save(net, "/nonexistent/m.safetensors", &msg), MLP_EIO);
	assert_msg(&msg, "No such file or directory", "save, missing directory");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load(&back, "/nonexistent.st", NULL, &msg), MLP_EIO);
	assert_msg(&msg, "cannot open /nonexistent.st", "load, missing file");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load(&back, dir, NULL, &msg), MLP_EIO);
	assert_msg(&msg, "is not a regular file", "load, a directory");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load_memory(&back, &byte, 1, NULL, &msg), MLP_EFORMAT);
	assert_msg(&msg, "too short", "load_memory, one byte");
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load(&back, path, &opts, &msg), MLP_ESIZE);
	assert_msg(&msg, "3 activations given for 2 layers", "load, acts of 3");
	opts.n_acts = 2;
	garbage(&msg);
	ck_assert_int_eq(mlp_net_load(&back, path, &opts, &msg), MLP_EACT);
	assert_msg(&msg, "activation 1 given is not an activation", "load, bad act");
	free(buf);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* A read that fails is reported as such, with its reason; a file that
 * ends early, as having shrunk. */
START_TEST(read_errors_reported)
{
	const char *dir = test_dir();
	char path[256];
	mlp_net *net = saved_net(dir, path, sizeof(path)), *back = NULL;
	mlp_msg msg;
	mlp_status st;

	if (!TEST_WRAP) {
		mlp_net_free(net);
		dir_remove(dir);
		return;
	}
	garbage(&msg);
	read_fail_next(EIO);
	st = mlp_net_load(&back, path, NULL, &msg);
	ck_assert_int_eq(st, MLP_EIO);
	assert_msg(&msg, strerror(EIO), "a failed read");
	ck_assert_msg(strstr(msg.text, "shrank") == NULL, "%s", msg.text);
	ck_assert_ptr_null(back);
	garbage(&msg);
	read_fail_next(0);
	st = mlp_net_load(&back, path, NULL, &msg);
	ck_assert_int_eq(st, MLP_EIO);
	assert_msg(&msg, "shrank", "a file that ends early");
	ck_assert_ptr_null(back);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* A failure at each allocation of a save and of a load is MLP_ENOMEM with
 * a message. */
START_TEST(message_on_allocation_failure)
{
	const char *dir = test_dir();
	char path[256], copy[300];
	mlp_net *net = saved_net(dir, path, sizeof(path)), *back = NULL;
	mlp_status st;
	mlp_msg msg;
	long k;

	if (!TEST_WRAP) {
		mlp_net_free(net);
		dir_remove(dir);
		return;
	}
	snprintf(copy, sizeof(copy), "%s/copy.safetensors", dir);
	for (k = 1;; k++) {
		garbage(&msg);
		alloc_arm(k);
		st = mlp_net_save(net, copy, &msg);
		alloc_disarm();
		if (st == MLP_OK)
			break;
		ck_assert_int_eq(st, MLP_ENOMEM);
		assert_msg(&msg, "out of memory", "a failed allocation in save");
	}
	ck_assert_int_ge(k, 3);
	ck_assert_str_eq(msg.text, "");
	for (k = 1;; k++) {
		garbage(&msg);
		alloc_arm(k);
		st = mlp_net_load(&back, path, NULL, &msg);
		alloc_disarm();
		if (st == MLP_OK)
			break;
		ck_assert_msg(st == MLP_ENOMEM, "allocation %ld: %s", k,
			      mlp_strerror(st));
		assert_msg(&msg, "out of memory", "a failed allocation in load");
	}
	ck_assert_int_ge(k, 4);
	ck_assert_str_eq(msg.text, "");
	mlp_net_free(back);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* ---- standardisation kept with a network --------------------------------- */

/* Scaling set, applied as its formula says, cloned, saved and loaded bit
 * for bit, removed; refused when half a pair, not finite or a deviation
 * not above 0, with nothing changed; files whose scaling is malformed
 * refused with their message. */
START_TEST(scaling_kept_with_the_network)
{
	static const size_t sizes[] = { 3, 4, 2 };
	static const mlp_act acts[] = { MLP_TANH, MLP_IDENTITY };
	const float im[3] = { 1, -2, 1000 }, is[3] = { 2, 0.5f, 250 };
	const float om[2] = { 10, -3 }, os[2] = { 4, 0.25f }, zero[3] = { 1, 0, 1 };
	const float X[6] = { 3, -1, 1500, 0, 0, 0 };
	const float *a, *b, *c, *d;
	const char *dir = test_dir();
	char path[256];
	float Xs[6], Y[4] = { 1, 2, 3, 4 };
	mlp_net *net, *copy, *back;
	mlp_msg msg;

	snprintf(path, sizeof(path), "%s/scaled.safetensors", dir);
	ck_assert_int_eq(mlp_net_create(&net, 2, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 4), MLP_OK);
	ck_assert_int_eq(mlp_net_get_scaling(net, &a, &b, &c, &d), MLP_OK);
	ck_assert(a == NULL && b == NULL && c == NULL && d == NULL);
	ck_assert_int_eq(mlp_net_scale_inputs(net, 2, X, Xs), MLP_OK);
	ck_assert_mem_eq(Xs, X, sizeof(X)); /* none: a copy */
	ck_assert_int_eq(mlp_net_set_scaling(net, im, is, om, os), MLP_OK);
	ck_assert_int_eq(mlp_net_scale_inputs(net, 2, X, Xs), MLP_OK);
	for (size_t i = 0; i < 6; i++)
		ck_assert(Xs[i] == (X[i] - im[i % 3]) / is[i % 3]);
	ck_assert_int_eq(mlp_net_unscale_outputs(net, 2, Y), MLP_OK);
	for (size_t j = 0; j < 4; j++)
		ck_assert(Y[j] == (float)(j + 1) * os[j % 2] + om[j % 2]);
	/* Refused, nothing changed. */
	ck_assert_int_eq(mlp_net_set_scaling(net, im, NULL, NULL, NULL), MLP_ENULL);
	ck_assert_int_eq(mlp_net_set_scaling(net, im, zero, NULL, NULL), MLP_EINVAL);
	{
		float nan_mean[3] = { 0, NAN, 0 };

		ck_assert_int_eq(mlp_net_set_scaling(net, nan_mean, is, NULL, NULL),
				 MLP_ENONFINITE);
	}
	ck_assert_int_eq(mlp_net_get_scaling(net, &a, &b, &c, &d), MLP_OK);
	ck_assert_mem_eq(a, im, sizeof(im));
	ck_assert_mem_eq(d, os, sizeof(os));
	/* Cloned, saved and loaded. */
	ck_assert_int_eq(mlp_net_clone(&copy, net), MLP_OK);
	ck_assert_int_eq(mlp_net_save(copy, path, &msg), MLP_OK);
	ck_assert_msg(mlp_net_load(&back, path, NULL, &msg) == MLP_OK, "%s", msg.text);
	assert_same_net(back, net);
	ck_assert_int_eq(mlp_net_get_scaling(back, &a, &b, &c, &d), MLP_OK);
	ck_assert_mem_eq(a, im, sizeof(im));
	ck_assert_mem_eq(b, is, sizeof(is));
	ck_assert_mem_eq(c, om, sizeof(om));
	ck_assert_mem_eq(d, os, sizeof(os));
	mlp_net_free(back);
	/* Inputs only; then none. */
	ck_assert_int_eq(mlp_net_set_scaling(copy, im, is, NULL, NULL), MLP_OK);
	ck_assert_int_eq(mlp_net_save(copy, path, &msg), MLP_OK);
	ck_assert_int_eq(mlp_net_load(&back, path, NULL, &msg), MLP_OK);
	ck_assert_int_eq(mlp_net_get_scaling(back, &a, &b, &c, &d), MLP_OK);
	ck_assert(a != NULL && c == NULL && d == NULL);
	mlp_net_free(back);
	ck_assert_int_eq(mlp_net_set_scaling(copy, NULL, NULL, NULL, NULL), MLP_OK);
	ck_assert_int_eq(mlp_net_get_scaling(copy, &a, &b, &c, &d), MLP_OK);
	ck_assert(a == NULL && c == NULL);
	mlp_net_free(copy);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* ---- malformed files ------------------------------------------------------- */

/* A valid 2-3-1 file: W0 [3,2], b0 [3], W1 [1,3], b1 [1], 52 bytes. */
#define W0 "\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}"
#define B0 "\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}"
#define W1 "\"layers.1.weight\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[36,48]}"
#define B1 "\"layers.1.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[48,52]}"
#define META "\"__metadata__\":{\"activations\":\"relu,identity\"}"
/* The bound on deviations, the smallest normal float (a subnormal one's
 * reciprocal overflows); standardised inputs and outputs in the targets'
 * units that would not be finite refused, with nothing written. */
START_TEST(scaling_bounds)
{
	static const size_t sizes[] = { 3, 1 };
	static const mlp_act acts[] = { MLP_IDENTITY };
	const float mean[3] = { 0, 0, 0 }, tiny[3] = { 1, 1, 0x1p-149f };
	const float least[3] = { 1, 1, FLT_MIN }, big[1] = { 3e38f }, zero1[1] = { 0 };
	float X[3] = { 1, 2, 1e-30f }, far[3] = { 1, 2, 1e10f }, Y[2] = { 0.5f, 2 };
	const float *a, *b, *c, *d;
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 1, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_set_scaling(net, mean, tiny, NULL, NULL),
			 MLP_EINVAL);
	ck_assert_int_eq(mlp_net_get_scaling(net, &a, &b, &c, &d), MLP_OK);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(mlp_net_set_scaling(net, mean, least, zero1, big), MLP_OK);
	/* 1e-30 / 2^-126 is about 8.5e7: finite. */
	ck_assert_int_eq(mlp_net_scale_inputs(net, 1, X, X), MLP_OK);
	ck_assert(X[2] == 1e-30f / FLT_MIN);
	/* 1e10 / 2^-126 is past FLT_MAX. */
	ck_assert_int_eq(mlp_net_scale_inputs(net, 1, far, far), MLP_ENONFINITE);
	ck_assert(far[0] == 1 && far[1] == 2 && far[2] == 1e10f);
	/* 0.5 · 3e38 is finite, 2 · 3e38 is not: nothing written. */
	ck_assert_int_eq(mlp_net_unscale_outputs(net, 2, Y), MLP_ENONFINITE);
	ck_assert(Y[0] == 0.5f && Y[1] == 2);
	ck_assert_int_eq(mlp_net_unscale_outputs(net, 1, Y), MLP_OK);
	ck_assert(Y[0] == 0.5f * 3e38f);
	mlp_net_free(net);
}
END_TEST

#define VALID "{" W0 "," B0 "," W1 "," B1 "," META "}"
#define T(name, shape, begin, end)                                            \
	"\"" name "\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" \
	#begin "," #end "]}"

/* Files that a header and finite data cannot make. */
enum special { PLAIN, SHORT, LENGTH_PAST_END, NAN_WEIGHT, HEADER_OVER_LIMIT,
	       MANY_VALUES, DEEP, ZERO_LAST, SUBNORMAL_LAST };

struct bad_file {
	const char *rule;
	const char *header; /* NULL: the valid file's */
	size_t data;        /* bytes of data (finite floats) */
	const char *expect; /* in the message */
	enum special special;
};

static const struct bad_file bad_files[] = {
	{ "file shorter than 8 bytes", NULL, 0, "too short", SHORT },
	{ "header length past the end", NULL, 0, "runs past the end of the file",
	  LENGTH_PAST_END },
	{ "header not starting with {", "[1,2]   ", 52, "does not start with '{'", PLAIN },
	{ "header of length 0", "", 52, "does not start with '{'", PLAIN },
	{ "invalid JSON", "{\"a\":}  ", 52, "not valid JSON", PLAIN },
	{ "scaling of the wrong width", "{" W0 "," B0 "," W1 "," B1 ","
	  T("scaling.input.mean", "[3]", 52, 64) "," T("scaling.input.std", "[3]",
	  64, 76) "," META "}", 76, "shape [3], not the network's 2 inputs", PLAIN },
	{ "half a scaling pair", "{" W0 "," B0 "," W1 "," B1 ","
	  T("scaling.input.mean", "[2]", 52, 60) "," META "}", 60,
	  "scaling.input.mean without scaling.input.std", PLAIN },
	{ "an unknown scaling tensor", "{" W0 "," B0 "," W1 "," B1 ","
	  T("scaling.input.max", "[2]", 52, 60) "," META "}", 60,
	  "not a scaling tensor", PLAIN },
	{ "a scaling deviation of 0", "{" W0 "," B0 "," W1 "," B1 ","
	  T("scaling.target.mean", "[1]", 52, 56) "," T("scaling.target.std",
	  "[1]", 56, 60) "," META "}", 60, "is 0: a deviation must be at least",
	  ZERO_LAST },
	{ "a subnormal scaling deviation", "{" W0 "," B0 "," W1 "," B1 ","
	  T("scaling.input.mean", "[2]", 52, 60) "," T("scaling.input.std",
	  "[2]", 60, 68) "," META "}", 68, "scaling.input.std'[1] is 1.4013e-45: "
	  "a deviation must be at least 1.17549e-38", SUBNORMAL_LAST },
	{ "trailing comma", "{" W0 "," B0 "," W1 "," B1 "," META ",}", 52,
	  "a member without a name", PLAIN },
	{ "invalid UTF-8 in a name", "{" W0 "," B0 "," W1 "," B1 ","
	  "\"__metadata__\":{\"activations\":\"relu,identity\",\"\xc0\xaf\":\"x\"}}",
	  52, "invalid UTF-8", PLAIN },
	{ "NUL escape in a string", "{" W0 "," B0 "," W1 "," B1 ","
	  "\"__metadata__\":{\"activations\":\"relu\\u0000,identity\"}}", 52,
	  "NUL character", PLAIN },
	{ "unpaired surrogate", "{" W0 "," B0 "," W1 "," B1 ","
	  "\"__metadata__\":{\"activations\":\"relu,identity\",\"a\":\"\\ud800x\"}}",
	  52, "unpaired surrogate", PLAIN },
	{ "leading zero", "{" T("layers.0.weight", "[03,2]", 0, 24) "," B0 ","
	  W1 "," B1 "," META "}", 52, "leading zero", PLAIN },
	{ "fraction in a shape", "{" T("layers.0.weight", "[3.0,2]", 0, 24) ","
	  B0 "," W1 "," B1 "," META "}", 52, "other than positive integers", PLAIN },
	{ "integer past int64 in a shape", "{"
	  T("layers.0.weight", "[99999999999999999999,2]", 0, 24) "," B0 "," W1
	  "," B1 "," META "}", 52, "other than positive integers", PLAIN },
	{ "duplicate key", "{" W0 "," W0 "," B0 "," W1 "," B1 "," META "}", 52, "duplicate", PLAIN },
	{ "bytes after the object", VALID "x", 52, "other than spaces", PLAIN },
	{ "newline padding", VALID "\n", 52, "other than spaces", PLAIN },
	{ "entry not an object", "{\"layers.0.weight\":[1,2]}", 52, "not an object", PLAIN },
	{ "unknown key", "{\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],"
	  "\"data_offsets\":[0,24],\"x\":1}}", 52, "unknown key 'x'", PLAIN },
	{ "missing dtype", "{\"layers.0.weight\":{\"shape\":[3,2],\"data_offsets\":[0,24]}}",
	  24, "missing dtype", PLAIN },
	{ "missing shape", "{\"layers.0.weight\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}",
	  24, "missing shape", PLAIN },
	{ "missing data_offsets", "{\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2]}}",
	  24, "missing data_offsets", PLAIN },
	{ "dtype not a string", "{\"layers.0.weight\":{\"dtype\":32,\"shape\":[3,2],"
	  "\"data_offsets\":[0,24]}}", 24, "dtype is not a string", PLAIN },
	{ "dtype I16", "{\"layers.0.weight\":{\"dtype\":\"I16\",\"shape\":[3,2],"
	  "\"data_offsets\":[0,12]}}", 12, "dtype 'I16' is not supported (F32, F16, "
	  "BF16, F64, or I8 for quantised weights)", PLAIN },
	{ "an I8 bias", "{\"layers.0.weight\":{\"dtype\":\"I8\",\"shape\":[3,2],"
	  "\"data_offsets\":[0,6]},\"layers.0.bias\":{\"dtype\":\"I8\",\"shape\":[3],"
	  "\"data_offsets\":[6,9]}}", 9, "I8 is only for the weights", PLAIN },
	{ "I8 weights without scales", "{\"layers.0.weight\":{\"dtype\":\"I8\","
	  "\"shape\":[3,2],\"data_offsets\":[0,6]},\"layers.0.bias\":{\"dtype\":"
	  "\"F32\",\"shape\":[3],\"data_offsets\":[6,18]},\"__metadata__\":{"
	  "\"activations\":\"relu\"}}", 18, "has I8 weights but no quant.0.weight_scale",
	  PLAIN },
	{ "F16 of the wrong byte size", "{\"layers.0.weight\":{\"dtype\":\"F16\","
	  "\"shape\":[3,2],\"data_offsets\":[0,24]}}", 24, "is 12 bytes of F16 but "
	  "data_offsets [0, 24] span 24", PLAIN },
	{ "shape not a list", "{" T("layers.0.weight", "3", 0, 24) "}", 24,
	  "shape is not a non-empty list", PLAIN },
	{ "shape empty", "{" T("layers.0.weight", "[]", 0, 4) "}", 4,
	  "shape is not a non-empty list", PLAIN },
	{ "shape with 0", "{" T("layers.0.weight", "[3,0]", 0, 0) "}", 0, "positive integers", PLAIN },
	{ "shape negative", "{" T("layers.0.weight", "[3,-2]", 0, 24) "}", 24,
	  "positive integers", PLAIN },
	{ "shape not integers", "{" T("layers.0.weight", "[3,2.0]", 0, 24) "}", 24,
	  "positive integers", PLAIN },
	{ "shape overflowing", "{" T("layers.0.weight", "[4294967296,4294967296]", 0, 24) "}",
	  24, "overflows", PLAIN },
	{ "data_offsets not a pair", "{\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],"
	  "\"data_offsets\":[24]}}", 24, "not [begin, end]", PLAIN },
	{ "data_offsets negative", "{" T("layers.0.weight", "[3,2]", -24, 0) "}", 24,
	  "not [begin, end]", PLAIN },
	{ "data_offsets reversed", "{" T("layers.0.weight", "[3,2]", 24, 0) "}", 24,
	  "end before they begin", PLAIN },
	{ "size and range differ", "{" T("layers.0.weight", "[3,2]", 0, 20) "}", 20,
	  "span 20", PLAIN },
	{ "range past the data", "{" W0 "," B0 "," W1 "," B1 "," META "}", 48,
	  "run past the end of the data", PLAIN },
	{ "overlapping ranges", "{" W0 "," T("layers.0.bias", "[3]", 20, 32) ","
	  T("layers.1.weight", "[1,3]", 32, 44) "," T("layers.1.bias", "[1]", 44, 48) ","
	  META "}", 48, "overlap", PLAIN },
	{ "hole in the data", "{" W0 "," T("layers.0.bias", "[3]", 28, 40) ","
	  T("layers.1.weight", "[1,3]", 40, 52) "," T("layers.1.bias", "[1]", 52, 56) ","
	  META "}", 56, "hole of 4 bytes", PLAIN },
	{ "bytes after the last tensor", VALID, 60, "8 bytes after its last tensor", PLAIN },
	{ "name without a layer number", "{" T("layers.weight", "[3,2]", 0, 24) "}", 24,
	  "name is not", PLAIN },
	{ "name of another kind", "{" T("layers.0.kernel", "[3,2]", 0, 24) "}", 24,
	  "name is not", PLAIN },
	{ "weight of rank 1", "{" T("layers.0.weight", "[6]", 0, 24) "}", 24,
	  "a weight has 2 dimensions", PLAIN },
	{ "bias of rank 2", "{" W0 "," T("layers.0.bias", "[3,1]", 24, 36) "}", 36,
	  "a bias has 1 dimension", PLAIN },
	{ "two prefixes", "{" W0 "," B0 "," T("net.1.weight", "[1,3]", 36, 48) ","
	  T("net.1.bias", "[1]", 48, 52) "," META "}", 52, "prefix differs", PLAIN },
	{ "weight without bias", "{" W0 "," T("layers.1.weight", "[1,3]", 24, 36) ","
	  T("layers.1.bias", "[1]", 36, 40) "," META "}", 40, "no bias", PLAIN },
	{ "bias without weight", "{" T("layers.0.bias", "[3]", 0, 12) ","
	  T("layers.1.weight", "[1,3]", 12, 24) "," T("layers.1.bias", "[1]", 24, 28) "}",
	  28, "no weight", PLAIN },
	{ "two weights for a layer", "{" W0 "," B0 "," W1 "," T("layers.01.weight", "[1,3]", 52, 64)
	  "," B1 "," META "}", 64, "two weights", PLAIN },
	{ "bias not matching weight", "{" W0 "," T("layers.0.bias", "[2]", 24, 32) ","
	  T("layers.1.weight", "[1,3]", 32, 44) "," T("layers.1.bias", "[1]", 44, 48) ","
	  META "}", 48, "does not match", PLAIN },
	{ "shapes not chaining", "{" W0 "," B0 "," T("layers.1.weight", "[1,4]", 36, 52) ","
	  T("layers.1.bias", "[1]", 52, 56) "," META "}", 56, "does not take the 3 outputs", PLAIN },
	{ "metadata not an object", "{" W0 "," B0 "," W1 "," B1 ",\"__metadata__\":[1]}",
	  52, "__metadata__ is not an object", PLAIN },
	{ "metadata value not a string", "{" W0 "," B0 "," W1 "," B1
	  ",\"__metadata__\":{\"activations\":3}}", 52, "is not a string", PLAIN },
	{ "no activations", "{" W0 "," B0 "," W1 "," B1 "}", 52, "no activations", PLAIN },
	{ "too few activations", "{" W0 "," B0 "," W1 "," B1
	  ",\"__metadata__\":{\"activations\":\"relu\"}}", 52, "name 1 activations for 2", PLAIN },
	{ "too many activations", "{" W0 "," B0 "," W1 "," B1
	  ",\"__metadata__\":{\"activations\":\"relu,relu,relu\"}}", 52, "more than 2 activations", PLAIN },
	{ "unknown activation", "{" W0 "," B0 "," W1 "," B1
	  ",\"__metadata__\":{\"activations\":\"relu,swish\"}}", 52, "item 2, 'swish', is not an activation", PLAIN },
	{ "trailing comma in activations", "{" W0 "," B0 "," W1 "," B1
	  ",\"__metadata__\":{\"activations\":\"relu,identity,\"}}", 52, "item 3, '', is not", PLAIN },
	{ "no tensors", "{" META "}", 0, "holds no tensors", PLAIN },
	{ "only optimizer tensors", "{" T("optimizer.m.0.weight", "[3,2]", 0, 24) ","
	  T("optimizer.m.0.bias", "[3]", 24, 36) "," META "}", 36,
	  "only an optimizer's", PLAIN },
	{ "optimizer tensor overlapping", "{" W0 "," B0 "," W1 "," B1 ","
	  T("optimizer.m.0.bias", "[3]", 48, 60) "," META "}", 60, "overlap", PLAIN },
	{ "NaN in a weight", NULL, 52, "NaN or infinity", NAN_WEIGHT },
	{ "header length over the limit", NULL, 0, "exceeds the limit of "
	  "16777216 bytes", HEADER_OVER_LIMIT },
	{ "header of too many values", NULL, 0, "more than 262144 JSON values",
	  MANY_VALUES },
	{ "header nested too deep", NULL, 0, "nested more than 64 deep", DEEP },
};
#define N_BAD (sizeof(bad_files) / sizeof(bad_files[0]))

/* The bytes of bad file i; *size set. */
static unsigned char *make_bad(size_t i, size_t *size)
{
	const struct bad_file *b = &bad_files[i];
	const char *header = b->header != NULL ? b->header : VALID;
	size_t hl, data = b->data;
	unsigned char *f;
	char *gen = NULL;

	if (b->special == MANY_VALUES || b->special == DEEP) {
		/* {"x":[[],[],...]} of 262145 values; 65 nested arrays. */
		size_t n = b->special == DEEP ? 65 : 262144;

		char *at;

		gen = malloc(4 * n + 16);
		ck_assert_ptr_nonnull(gen);
		at = gen + sprintf(gen, "{\"x\":[");
		for (size_t k = 0; k < n; k++)
			at += sprintf(at, "%s", b->special == DEEP ? "[" :
					  k > 0 ? ",[]" : "[]");
		for (size_t k = 0; b->special == DEEP && k < n; k++)
			*at++ = ']';
		sprintf(at, "]}");
		header = gen;
	}
	hl = strlen(header);
	if (b->special == HEADER_OVER_LIMIT) {
		/* A file long enough for a header past 16 MiB. */
		size_t n = (1u << 24) + 1;
		f = malloc(8 + n);
		ck_assert_ptr_nonnull(f);
		memset(f + 8, ' ', n);
		f[8] = '{';
		for (int k = 0; k < 8; k++)
			f[k] = (unsigned char)((uint64_t)n >> (8 * k));
		*size = 8 + n;
		return f;
	}
	*size = 8 + hl + data;
	f = calloc(*size + 1, 1);
	ck_assert_ptr_nonnull(f);
	for (int k = 0; k < 8; k++)
		f[k] = (unsigned char)((uint64_t)hl >> (8 * k));
	memcpy(f + 8, header, hl);
	for (size_t k = 0; k + 4 <= data; k += 4) {
		float v = 0.25f * (float)(k / 4 % 5) - 0.5f;
		memcpy(f + 8 + hl + k, &v, 4);
	}
	switch (b->special) {
	case SHORT:
		*size = 5;
		break;
	case LENGTH_PAST_END:
		for (int k = 0; k < 8; k++)
			f[k] = (unsigned char)((uint64_t)(hl + data + 1) >> (8 * k));
		break;
	case NAN_WEIGHT: {
		float nan = NAN;
		memcpy(f + 8 + hl + 8, &nan, 4);
		break;
	}
	case ZERO_LAST: /* the last float of the data is 0 */
		memset(f + 8 + hl + data - 4, 0, 4);
		break;
	case SUBNORMAL_LAST: /* the last two are 1 and 2^-149, the smallest
			      * subnormal */
		memcpy(f + 8 + hl + data - 8, "\0\0\x80\x3f\1\0\0\0", 8);
		break;
	case PLAIN:
	case HEADER_OVER_LIMIT:
	case MANY_VALUES:
	case DEEP:
		break;
	}
	free(gen);
	return f;
}

START_TEST(malformed_file_refused)
{
	const struct bad_file *b = &bad_files[_i];
	mlp_net *net = (mlp_net *)(uintptr_t)0x1234;
	mlp_msg msg = { { 0 } };
	size_t size;
	unsigned char *f = make_bad((size_t)_i, &size);
	mlp_status st;

	if (TEST_WRAP)
		alloc_arm(0);
	st = mlp_net_load_memory(&net, f, size, NULL, &msg);
	alloc_disarm();
	ck_assert_msg(st == MLP_EFORMAT, "%s: status %s, message \"%s\"", b->rule,
		      mlp_strerror(st), msg.text);
	ck_assert_msg(strstr(msg.text, b->expect) != NULL,
		      "%s: message \"%s\" does not say \"%s\"", b->rule, msg.text,
		      b->expect);
	ck_assert_ptr_eq(net, (mlp_net *)(uintptr_t)0x1234);
	if (TEST_WRAP)
		ck_assert_msg(alloc_live() == 0, "%s: %ld allocations leaked", b->rule,
			      alloc_live());
	free(f);
}
END_TEST

/* The valid file the table starts from loads, so each refusal above comes
 * from its own rule. */
START_TEST(valid_base_file_loads)
{
	static const char header[] = VALID;
	size_t hl = sizeof(header) - 1, size = 8 + hl + 52;
	unsigned char *f = calloc(size, 1);
	mlp_msg msg = { { 0 } };
	mlp_net *net;

	for (int k = 0; k < 8; k++)
		f[k] = (unsigned char)((uint64_t)hl >> (8 * k));
	memcpy(f + 8, header, hl);
	ck_assert_int_eq(mlp_net_load_memory(&net, f, size, NULL, &msg), MLP_OK);
	ck_assert_uint_eq(mlp_net_layers(net), 2);
	ck_assert_uint_eq(mlp_net_width(net, 0), 2);
	ck_assert_uint_eq(mlp_net_width(net, 1), 3);
	ck_assert_uint_eq(mlp_net_width(net, 2), 1);
	ck_assert_int_eq(mlp_net_act(net, 0), MLP_RELU);
	mlp_net_free(net);
	free(f);
}
END_TEST

/* Activations from the caller: for a file without them, and over a file's. */
START_TEST(caller_activations)
{
	static const char header[] = "{" W0 "," B0 "," W1 "," B1 "}";
	static const mlp_act acts[] = { MLP_TANH, MLP_SIGMOID };
	size_t hl = sizeof(header) - 1, size = 8 + hl + 52;
	unsigned char *f = calloc(size, 1);
	mlp_load_opts opts = mlp_load_defaults();
	mlp_msg msg = { { 0 } };
	mlp_net *net;

	opts.acts = acts;
	opts.n_acts = 2;
	for (int k = 0; k < 8; k++)
		f[k] = (unsigned char)((uint64_t)hl >> (8 * k));
	memcpy(f + 8, header, hl);
	ck_assert_int_eq(mlp_net_load_memory(&net, f, size, NULL, &msg), MLP_EFORMAT);
	ck_assert_int_eq(mlp_net_load_memory(&net, f, size, &opts, &msg), MLP_OK);
	ck_assert_int_eq(mlp_net_act(net, 0), MLP_TANH);
	ck_assert_int_eq(mlp_net_act(net, 1), MLP_SIGMOID);
	mlp_net_free(net);
	opts.n_acts = 3;
	ck_assert_int_eq(mlp_net_load_memory(&net, f, size, &opts, &msg), MLP_ESIZE);
	ck_assert_msg(strstr(msg.text, "3 activations given for 2 layers"), "%s", msg.text);
	/* Options of a size this library does not know. */
	opts.n_acts = 2;
	for (int k = 0; k < 2; k++) {
		opts.struct_size = k == 0 ? 0 : sizeof(opts) + 8;
		net = NULL;
		ck_assert_int_eq(mlp_net_load_memory(&net, f, size, &opts, &msg),
				 MLP_EINVAL);
		ck_assert_ptr_null(net);
		ck_assert_msg(strstr(msg.text, "opts->struct_size"), "%s", msg.text);
	}
	free(f);
}
END_TEST

/* A failure at each allocation of a load: MLP_ENOMEM, nothing leaked. */
START_TEST(load_allocation_failure)
{
	static const char header[] = VALID;
	size_t hl = sizeof(header) - 1, size = 8 + hl + 52;
	unsigned char *f = calloc(size, 1);
	long k;

	if (!TEST_WRAP) {
		free(f);
		return;
	}
	for (int i = 0; i < 8; i++)
		f[i] = (unsigned char)((uint64_t)hl >> (8 * i));
	memcpy(f + 8, header, hl);
	for (k = 1;; k++) {
		mlp_net *net = NULL;
		mlp_status st;
		long live;

		alloc_arm(k);
		st = mlp_net_load_memory(&net, f, size, NULL, NULL);
		live = alloc_live();
		alloc_disarm();
		if (st == MLP_OK) {
			mlp_net_free(net);
			break;
		}
		ck_assert_msg(st == MLP_ENOMEM, "allocation %ld: %s", k,
			      mlp_strerror(st));
		ck_assert_ptr_null(net);
		ck_assert_msg(live == 0, "allocation %ld failed: %ld leaked", k, live);
	}
	ck_assert_int_ge(k, 4);
	free(f);
}
END_TEST

/* ---- NumPy's side ------------------------------------------------------------- */

/* A file written by the NumPy script as PyTorch names an nn.Sequential's
 * state dict (0.weight, 0.bias, 2.weight, ...) loads, and gives the outputs
 * NumPy computes in double precision, within 1e-5·(1 + |y|). */
START_TEST(numpy_written_file_loads)
{
	static const char *const variants[][3] = {
		/* prefix, step, activations */
		{ "", "2", "relu,tanh,softmax" },
		{ "model.net.", "1", "sigmoid,leaky_relu,identity" },
		{ "", "3", "silu,gelu_tanh,relu" },
	};
	const char *dir;
	char cmd[2048], model[256], xp[256], yp[256];
	mlp_msg msg = { { 0 } };
	mlp_workspace *ws;
	mlp_net *net;
	size_t xs, ys;

	dir = test_dir();
	snprintf(model, sizeof(model), "%s/torch.safetensors", dir);
	snprintf(xp, sizeof(xp), "%s/x.bin", dir);
	snprintf(yp, sizeof(yp), "%s/y.bin", dir);
	snprintf(cmd, sizeof(cmd),
		 "%s %s write %s %s %s --sizes 6,9,5,4 --acts %s --prefix '%s' "
		 "--step %s --batch 7", TEST_PYTHON, TEST_NP_SCRIPT, model, xp, yp,
		 variants[_i][2], variants[_i][0], variants[_i][1]);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(mlp_net_load(&net, model, NULL, &msg) == MLP_OK, "%s", msg.text);
	ck_assert_uint_eq(mlp_net_layers(net), 3);
	float *X = (float *)(void *)file_read(xp, &xs);
	double *want = (double *)(void *)file_read(yp, &ys);
	float Y[7 * 4];
	ck_assert_uint_eq(xs, 7 * 6 * sizeof(float));
	ck_assert_uint_eq(ys, 7 * 4 * sizeof(double));
	ck_assert_int_eq(mlp_workspace_create(&ws, net, 7), MLP_OK);
	ck_assert_int_eq(mlp_forward(net, ws, 7, X, Y), MLP_OK);
	for (size_t i = 0; i < 7 * 4; i++)
		ck_assert_msg(fabs(Y[i] - want[i]) <= 1e-5 * (1 + fabs(want[i])),
			      "%s: output %zu: %.9g, NumPy %.9g", variants[_i][2], i,
			      (double)Y[i], want[i]);
	mlp_workspace_free(ws);
	mlp_net_free(net);
	free(X);
	free(want);
	dir_remove(dir);
}
END_TEST

/* Files in F16, BF16 and F64, written by NumPy: loaded into floats (F16
 * and BF16 exactly, F64 rounded), their outputs within 1e-5 of NumPy's
 * float64 forward pass on the values the file holds; the same file with a
 * value float cannot hold (infinity, or 1e300 in F64) refused, saying so. */
START_TEST(numpy_dtypes_load)
{
	static const char *const dtypes[] = { "F16", "BF16", "F64" };
	const char *dir;
	char cmd[2048], model[256], xp[256], yp[256];
	mlp_msg msg = { { 0 } };
	mlp_workspace *ws;
	mlp_net *net = NULL;
	size_t xs, ys;

	dir = test_dir();
	snprintf(model, sizeof(model), "%s/m.safetensors", dir);
	snprintf(xp, sizeof(xp), "%s/x.bin", dir);
	snprintf(yp, sizeof(yp), "%s/y.bin", dir);
	snprintf(cmd, sizeof(cmd), "%s %s write %s %s %s --sizes 6,9,5,4 --acts "
		 "relu,tanh,softmax --batch 7 --dtype %s", TEST_PYTHON,
		 TEST_NP_SCRIPT, model, xp, yp, dtypes[_i]);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(mlp_net_load(&net, model, NULL, &msg) == MLP_OK, "%s", msg.text);
	float *X = (float *)(void *)file_read(xp, &xs);
	double *want = (double *)(void *)file_read(yp, &ys);
	float Y[7 * 4];
	ck_assert_int_eq(mlp_workspace_create(&ws, net, 7), MLP_OK);
	ck_assert_int_eq(mlp_forward(net, ws, 7, X, Y), MLP_OK);
	for (size_t i = 0; i < 7 * 4; i++)
		ck_assert_msg(fabs(Y[i] - want[i]) <= 1e-5 * (1 + fabs(want[i])),
			      "%s: output %zu: %.9g, NumPy %.9g", dtypes[_i], i,
			      (double)Y[i], want[i]);
	mlp_workspace_free(ws);
	mlp_net_free(net);
	net = NULL;
	free(X);
	free(want);
	snprintf(cmd, sizeof(cmd), "%s %s write %s %s %s --sizes 6,9,5,4 --acts "
		 "relu,tanh,softmax --batch 7 --dtype %s --poison 2>/dev/null",
		 TEST_PYTHON, TEST_NP_SCRIPT, model, xp, yp, dtypes[_i]);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(mlp_net_load(&net, model, NULL, &msg), MLP_EFORMAT);
	ck_assert_ptr_null(net);
	ck_assert_msg(strstr(msg.text, "NaN or infinity") != NULL, "%s", msg.text);
	dir_remove(dir);
}
END_TEST

/* A file saved by mlp is read by the NumPy script, whose double-precision
 * outputs match mlp's; a quantised one too (_i = 1), NumPy dequantising
 * its int8 weights, mlp_forward running on the same float weights. */
START_TEST(mlp_file_read_by_numpy)
{
	static const size_t sizes[] = { 8, 16, 12, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_TANH, MLP_SOFTMAX };
	const char *dir;
	char cmd[2048], model[256], xp[256], yp[256];
	float X[5 * 8], Y[5 * 3];
	struct trng g = { 44 };
	mlp_workspace *ws;
	mlp_net *net;
	FILE *f;

	dir = test_dir();
	snprintf(model, sizeof(model), "%s/mlp.safetensors", dir);
	snprintf(xp, sizeof(xp), "%s/x.bin", dir);
	snprintf(yp, sizeof(yp), "%s/y.bin", dir);
	ck_assert_int_eq(mlp_net_create(&net, 3, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, 4), MLP_OK);
	for (size_t l = 0; l < 3; l++)
		trng_fill(&g, mlp_net_bias(net, l), sizes[l + 1], -0.3, 0.3);
	trng_fill(&g, X, 5 * 8, -1, 1);
	if (_i == 1) {
		mlp_net *q;

		ck_assert_int_eq(mlp_net_quantize(&q, net, 5, X, NULL, NULL), MLP_OK);
		mlp_net_free(net);
		net = q;
	}
	ck_assert_int_eq(mlp_workspace_create(&ws, net, 5), MLP_OK);
	ck_assert_int_eq(mlp_forward(net, ws, 5, X, Y), MLP_OK);
	ck_assert_int_eq(mlp_net_save(net, model, NULL), MLP_OK);
	f = fopen(xp, "wb");
	fwrite(X, sizeof(X), 1, f);
	fclose(f);
	f = fopen(yp, "wb");
	fwrite(Y, sizeof(Y), 1, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s %s check %s %s %s", TEST_PYTHON,
		 TEST_NP_SCRIPT, model, xp, yp);
	ck_assert_int_eq(system(cmd), 0);
	/* A broken output makes the script say so: the check can fail. */
	Y[4] += 0.01f;
	f = fopen(yp, "wb");
	fwrite(Y, sizeof(Y), 1, f);
	fclose(f);
	strcat(cmd, " 2>/dev/null");
	ck_assert_int_ne(system(cmd), 0);
	mlp_workspace_free(ws);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s;
	TCase *tc, *bad, *np;

	/* The part "numpy": files exchanged with NumPy's side. */
	if (test_part(argc, argv, "numpy")) {
		if (TEST_PYTHON[0] == '\0')
			return test_skip("no Python with NumPy was found when "
					 "configuring (Debian: python3-numpy)");
		s = suite_create("io numpy");
		np = tcase_create("numpy");
		tcase_set_timeout(np, 60);
		tcase_add_loop_test(np, numpy_written_file_loads, 0, 3);
		tcase_add_loop_test(np, mlp_file_read_by_numpy, 0, 2);
		tcase_add_loop_test(np, numpy_dtypes_load, 0, 3);
		suite_add_tcase(s, np);
		return run_suite(s);
	}
	s = suite_create("io");
	tc = tcase_create("files");
	bad = tcase_create("malformed");
	tcase_add_loop_test(tc, round_trip_bit_for_bit, 0,
			    sizeof(shapes) / sizeof(shapes[0]));
	tcase_add_test(tc, failed_save_leaves_old_file);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, caller_activations);
	tcase_add_test(tc, load_allocation_failure);
	tcase_add_test(tc, message_on_every_path);
	tcase_add_test(tc, read_errors_reported);
	tcase_add_test(tc, message_on_allocation_failure);
	tcase_add_test(tc, scaling_kept_with_the_network);
	tcase_add_test(tc, scaling_bounds);
	suite_add_tcase(s, tc);
	tcase_set_timeout(bad, 60);
	tcase_add_test(bad, valid_base_file_loads);
	tcase_add_loop_test(bad, malformed_file_refused, 0, N_BAD);
	suite_add_tcase(s, bad);
	return run_suite(s);
}
