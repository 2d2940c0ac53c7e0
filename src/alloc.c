/* alloc.c — the aligned allocations behind networks and workspaces. */
#include "internal.h"

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
