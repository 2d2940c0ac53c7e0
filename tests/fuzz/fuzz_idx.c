/*
 * fuzz_idx.c — libFuzzer target for the tool's IDX reader (tools/idx.c),
 * plain and gzip: the first byte picks images (3 dimensions) or labels
 * (1); the rest is the file. An accepted file's data must be exactly what
 * its header says; the reader may not hold more memory than that data
 * (libFuzzer's -malloc_limit_mb catches a reader that does).
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned dims = size > 0 && data[0] % 2 ? 3 : 1;
	unsigned char *bytes = NULL;
	size_t count = 0, item = 0;
	FILE *f;

	if (size < 2)
		return 0;
	f = fmemopen((void *)(data + 1), size - 1, "rb");
	if (f == NULL)
		return 0;
	if (idx_read(f, "fuzz", dims, &bytes, &count, &item) == EXIT_OK) {
		/* Touch every byte the header promised. */
		volatile unsigned sum = 0;

		for (size_t i = 0; i < count * item; i++)
			sum += bytes[i];
		(void)sum;
		free(bytes);
	}
	fclose(f);
	return 0;
}
