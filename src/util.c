/* util.c — aligned allocations, blocks carved into aligned pieces, and
 * finiteness. */
#include "util.h"

#include <stdlib.h>

void *mlpi_alloc_aligned(size_t bytes)
{
	size_t rounded;

	/* C11 aligned_alloc wants a size that is a multiple of the alignment. */
	if (bytes == 0 || !mlpi_round_up(bytes, MLPI_ALIGN, &rounded))
		return NULL;
	return aligned_alloc(MLPI_ALIGN, rounded);
}

void mlpi_free_aligned(void *p)
{
	free(p);
}

void *mlpi_carve(struct mlpi_carver *c, size_t count, size_t size)
{
	size_t bytes, start, end;

	if (!c->ok || !mlpi_mul(count, size, &bytes) ||
	    !mlpi_round_up(c->used, MLPI_ALIGN, &start) ||
	    !mlpi_add(start, bytes, &end)) {
		c->ok = false;
		return NULL;
	}
	c->used = end;
	return c->base != NULL ? c->base + start : NULL;
}

bool mlpi_carved_size(const struct mlpi_carver *c, size_t *bytes)
{
	return c->ok && mlpi_round_up(c->used, MLPI_ALIGN, bytes);
}

/* x − x is 0 for finite x and NaN otherwise: sixteen independent sums of
 * it, which vectorise, and one branch at the end. */
MLPI_CLONES
bool mlpi_all_finite(size_t count, const float *v)
{
	float acc[16] = { 0 };
	size_t i = 0;

	for (; i + 16 <= count; i += 16)
		for (size_t k = 0; k < 16; k++)
			acc[k] += v[i + k] - v[i + k];
	for (; i < count; i++)
		acc[0] += v[i] - v[i];
	for (size_t k = 1; k < 16; k++)
		acc[0] += acc[k];
	return acc[0] == 0.0f;
}

const char *mlpi_precision_name(mlp_precision precision)
{
	switch (precision) {
	case MLP_FP32: return "fp32";
	case MLP_BF16: return "bf16";
	case MLP_INT8: return "int8";
	}
	return "?";
}
