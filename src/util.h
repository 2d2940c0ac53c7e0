/*
 * util.h — the bottom of the library: sizes without overflow, aligned
 * memory and blocks carved from it, finiteness, messages. Every other
 * file may use it; it uses no other part of mlp.
 */
#ifndef MLP_UTIL_H
#define MLP_UTIL_H

#include "mlp.h"

#include <stdbool.h>
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

/* Whether count floats are all finite. */
bool mlpi_all_finite(size_t count, const float *v);

/* "fp32", "bf16" or "int8"; "?" for another value. */
const char *mlpi_precision_name(mlp_precision precision);

/* Writes a message into *msg (when msg is not NULL); returns status. */
MLPI_PRINTF(3, 4)
mlp_status mlpi_fail(mlp_msg *msg, mlp_status status, const char *fmt, ...);
/* Empties *msg (when msg is not NULL): the message of a success. */
void mlpi_msg_clear(mlp_msg *msg);

#endif /* MLP_UTIL_H */
