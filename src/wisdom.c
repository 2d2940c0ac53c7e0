/*
 * wisdom.c — what the planner measured, kept for later plans and other
 * processes: a table of (layer shape, activation, precision, rung,
 * threads, invariance) → kernel, for this machine, under a lock (plans
 * are made from many threads; forward passes never come here).
 *
 * As text:
 *
 *   mlp-wisdom 1
 *   machine cpu=AuthenticAMD/25/17/avx2+fma+avx512 mlp=0.4.0 blas=... onednn=2.6.3
 *   fp32 784 1024 relu 64 2 0 onednn 41.2
 *   end
 *
 * an entry being precision, inputs, outputs, activation, rows, threads,
 * batch invariance, kernel and the time measured (µs). Entries under
 * another machine line are checked and skipped; the closing "end" tells
 * truncated text from whole.
 */
#define _GNU_SOURCE
#include "cpu.h"
#include "planner.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(MLP_HAVE_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#endif

#define MAGIC "mlp-wisdom 1"
enum { NAME_MAX_LEN = 24, KEY_MAX_LEN = 512, MAX_THREADS = 4096 };

struct entry {
	struct mlpi_wisdom_key key;
	char kernel[NAME_MAX_LEN];
	double us;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table;
static size_t n_entries, cap_entries;
static char machine[KEY_MAX_LEN];

/* The CPU: vendor, family, model (as the kernel reports them) and the
 * instruction sets mlp's kernels choose by. */
static void cpu_key(char *out, size_t size)
{
	char vendor[13] = "unknown";
	unsigned family = 0, model = 0;
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;

	if (__get_cpuid(0, &a, &b, &c, &d)) {
		memcpy(vendor, &b, 4);
		memcpy(vendor + 4, &d, 4);
		memcpy(vendor + 8, &c, 4);
		vendor[12] = '\0';
	}
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		family = (a >> 8) & 0xf;
		model = (a >> 4) & 0xf;
		if (family == 0xf)
			family += (a >> 20) & 0xff;
		if (family == 0x6 || family >= 0xf)
			model += ((a >> 16) & 0xf) << 4;
	}
#endif
	snprintf(out, size, "%s/%u/%u/%s%s%s%s", vendor, family, model,
		 mlpi_cpu_avx2() ? "avx2+fma" : "base",
		 mlpi_cpu_avx512() ? "+avx512" : "",
		 mlpi_cpu_avx512_bf16() ? "+avx512_bf16" : "",
		 mlpi_cpu_bf16() ? "+onednn_bf16" : "");
}

/* This machine's key, once: spaces in the BLAS's description become '_'. */
static void machine_key(void)
{
	char cpu[128], blas[256], onednn[32] = "none";

	cpu_key(cpu, sizeof(cpu));
	snprintf(blas, sizeof(blas), "%s", mlp_blas_info());
	for (char *p = blas; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p))
			*p = '_';
#if defined(MLP_HAVE_ONEDNN)
	{
		const dnnl_version_t *v = dnnl_version();

		snprintf(onednn, sizeof(onednn), "%d.%d.%d", v->major, v->minor,
			 v->patch);
	}
#endif
	snprintf(machine, sizeof(machine), "cpu=%s mlp=%s blas=%s onednn=%s",
		 cpu, mlp_version_string(), blas, onednn);
}

static pthread_once_t machine_once = PTHREAD_ONCE_INIT;

static const char *this_machine(void)
{
	pthread_once(&machine_once, machine_key);
	return machine;
}

static bool same_key(const struct mlpi_wisdom_key *a,
		     const struct mlpi_wisdom_key *b)
{
	return a->precision == b->precision && a->n_in == b->n_in &&
	       a->n_out == b->n_out && a->rows == b->rows && a->act == b->act &&
	       a->threads == b->threads && a->invariant == b->invariant;
}

/* The entry of key, or NULL; lock held. */
static struct entry *find(const struct mlpi_wisdom_key *key)
{
	for (size_t i = 0; i < n_entries; i++)
		if (same_key(&table[i].key, key))
			return &table[i];
	return NULL;
}

/* Sets key's entry; lock held. */
static mlp_status put(const struct entry *e)
{
	struct entry *at = find(&e->key);

	if (at == NULL) {
		if (n_entries == cap_entries) {
			size_t cap = cap_entries ? 2 * cap_entries : 64;
			struct entry *t = realloc(table, cap * sizeof(*t));

			if (t == NULL)
				return MLP_ENOMEM;
			table = t;
			cap_entries = cap;
		}
		at = &table[n_entries++];
	}
	*at = *e;
	return MLP_OK;
}

bool mlpi_wisdom_lookup(const struct mlpi_wisdom_key *key, char *name,
			size_t size)
{
	const struct entry *e;
	bool found = false;

	pthread_mutex_lock(&lock);
	e = find(key);
	if (e != NULL && strlen(e->kernel) < size) {
		memcpy(name, e->kernel, strlen(e->kernel) + 1);
		found = true;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

mlp_status mlpi_wisdom_record(const struct mlpi_wisdom_key *key,
			      const char *kernel, double us)
{
	struct entry e = { .key = *key, .us = us };
	mlp_status st;

	if (strlen(kernel) >= sizeof(e.kernel))
		return MLP_EINVAL;
	memcpy(e.kernel, kernel, strlen(kernel) + 1);
	pthread_mutex_lock(&lock);
	st = put(&e);
	pthread_mutex_unlock(&lock);
	return st;
}

void mlp_wisdom_forget(void)
{
	pthread_mutex_lock(&lock);
	free(table);
	table = NULL;
	n_entries = cap_entries = 0;
	pthread_mutex_unlock(&lock);
}

/* One entry's line, into buf at *used (counting what would not fit). */
static void emit(char *buf, size_t size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void emit(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*used < size ? buf + *used : NULL,
		      *used < size ? size - *used : 0, fmt, ap);
	va_end(ap);
	*used += n > 0 ? (size_t)n : 0;
}

mlp_status mlp_wisdom_export(char *buf, size_t size, size_t *length)
{
	size_t used = 0;
	char *tmp;

	if (buf == NULL && size > 0)
		return MLP_ENULL;
	/* Written to a copy first, so that buf is untouched when it is too
	 * small. */
	pthread_mutex_lock(&lock);
	for (int pass = 0; pass < 2; pass++) {
		size_t room = pass == 0 ? 0 : used + 1;

		tmp = pass == 0 ? NULL : malloc(room);
		if (pass == 1 && tmp == NULL) {
			pthread_mutex_unlock(&lock);
			return MLP_ENOMEM;
		}
		used = 0;
		emit(tmp, room, &used, "%s\nmachine %s\n", MAGIC, this_machine());
		for (size_t i = 0; i < n_entries; i++) {
			const struct entry *e = &table[i];

			emit(tmp, room, &used, "%s %zu %zu %s %zu %d %d %s %.3f\n",
			     mlpi_precision_name(e->key.precision),
			     e->key.n_in, e->key.n_out, mlp_act_name(e->key.act),
			     e->key.rows, e->key.threads, e->key.invariant ? 1 : 0,
			     e->kernel, e->us);
		}
		emit(tmp, room, &used, "end\n");
	}
	pthread_mutex_unlock(&lock);
	if (length != NULL)
		*length = used;
	if (used + 1 > size) {
		free(tmp);
		return MLP_ESIZE;
	}
	memcpy(buf, tmp, used + 1);
	free(tmp);
	return MLP_OK;
}

/* ---- import ------------------------------------------------------------ */

/* A decimal count in [lo, hi], nothing else. */
static bool parse_count(const char *s, size_t lo, size_t hi, size_t *out)
{
	size_t v = 0;

	if (*s == '\0' || strlen(s) > 12)
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (size_t)(*s - '0');
	}
	*out = v;
	return v >= lo && v <= hi;
}

static bool kernel_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= NAME_MAX_LEN)
		return false;
	for (; *s != '\0'; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '-')
			return false;
	return true;
}

enum { FIELDS = 9 };

/* An entry line, split into fields in place. */
static const char *parse_entry(char *line, struct entry *e)
{
	char *f[FIELDS + 1], *save = NULL;
	size_t n = 0, v;
	char *end;

	for (char *t = strtok_r(line, " ", &save); t != NULL && n <= FIELDS;
	     t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n != FIELDS)
		return "an entry has 9 fields: precision inputs outputs "
		       "activation rows threads invariant kernel microseconds";
	memset(e, 0, sizeof(*e));
	if (strcmp(f[0], "fp32") == 0)
		e->key.precision = MLP_FP32;
	else if (strcmp(f[0], "bf16") == 0)
		e->key.precision = MLP_BF16;
	else if (strcmp(f[0], "int8") == 0)
		e->key.precision = MLP_INT8;
	else
		return "the precision is fp32, bf16 or int8";
	if (!parse_count(f[1], 1, MLP_MAX_WIDTH, &e->key.n_in) ||
	    !parse_count(f[2], 1, MLP_MAX_WIDTH, &e->key.n_out))
		return "inputs and outputs are widths from 1 to MLP_MAX_WIDTH";
	if (mlp_act_parse(f[3], &e->key.act) != MLP_OK)
		return "the activation is not one mlp has";
	if (!parse_count(f[4], 1, MLP_MAX_BATCH, &e->key.rows))
		return "rows are from 1 to MLP_MAX_BATCH";
	if (!parse_count(f[5], 1, MAX_THREADS, &v))
		return "threads are from 1 to 4096";
	e->key.threads = (int)v;
	if (!parse_count(f[6], 0, 1, &v))
		return "invariant is 0 or 1";
	e->key.invariant = v == 1;
	if (!kernel_name_ok(f[7]))
		return "a kernel's name is 1 to 23 of a-z, 0-9 and '-'";
	memcpy(e->kernel, f[7], strlen(f[7]) + 1);
	errno = 0;
	e->us = strtod(f[8], &end);
	if (*end != '\0' || errno != 0 || !isfinite(e->us) || e->us < 0 ||
	    !isdigit((unsigned char)f[8][0]))
		return "the time is a finite number of microseconds, 0 or more";
	return NULL;
}

mlp_status mlp_wisdom_import(const char *text, size_t length, mlp_msg *msg)
{
	struct entry *got = NULL;
	size_t n_got = 0, line_no = 0;
	bool ours = false, ended = false, have_machine = false;
	const char *why = NULL, *at = text, *stop = text + length;
	char line[KEY_MAX_LEN + 64];
	mlp_status st = MLP_OK;

	if (text == NULL && length > 0)
		return MLP_ENULL;
	if (length > 0 && (at = memchr(text, '\0', length)) != NULL) {
		for (const char *p = text; p < at; p++)
			line_no += *p == '\n';
		return mlpi_fail(msg, MLP_EFORMAT, "wisdom line %zu: a NUL byte",
				 line_no + 1);
	}
	at = text;
	while (at < stop && why == NULL) {
		const char *nl = memchr(at, '\n', (size_t)(stop - at));
		size_t len = (size_t)((nl != NULL ? nl : stop) - at);
		struct entry e;

		line_no++;
		if (len >= sizeof(line)) {
			why = "a line is too long";
			break;
		}
		memcpy(line, at, len);
		line[len] = '\0';
		at = nl != NULL ? nl + 1 : stop;
		if (ended)
			why = "text after \"end\"";
		else if (line_no == 1)
			why = strcmp(line, MAGIC) == 0 ? NULL
						       : "the first line is \"" MAGIC "\"";
		else if (strncmp(line, "machine ", 8) == 0) {
			have_machine = true;
			ours = strcmp(line + 8, this_machine()) == 0;
		} else if (strcmp(line, "end") == 0)
			ended = true;
		else if (!have_machine)
			why = "an entry before any \"machine\" line";
		else if ((why = parse_entry(line, &e)) == NULL && ours) {
			struct entry *t = realloc(got, (n_got + 1) * sizeof(*t));

			if (t == NULL) {
				free(got);
				return MLP_ENOMEM;
			}
			got = t;
			got[n_got++] = e;
		}
	}
	if (why == NULL && !ended)
		why = line_no == 0 ? "empty text" : "no closing \"end\": truncated";
	if (why != NULL) {
		free(got);
		return mlpi_fail(msg, MLP_EFORMAT, "wisdom line %zu: %s", line_no,
				 why);
	}
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_got && st == MLP_OK; i++)
		st = put(&got[i]);
	pthread_mutex_unlock(&lock);
	free(got);
	return st;
}
