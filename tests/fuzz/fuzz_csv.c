/*
 * fuzz_csv.c — libFuzzer target for the tool's text reader (tools/csv.c):
 * the first byte picks the row width (1 to 8) and whether a header line is
 * skipped; the rest is the file. Every row read must hold finite numbers;
 * a refused file must say why (an exit code), and nothing may leak.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t width = size > 0 ? 1 + data[0] % 8 : 1;
	bool header = size > 0 && (data[0] & 0x80) != 0;
	float row[8];
	struct rows r;
	FILE *f;

	if (size < 2)
		return 0;
	f = fmemopen((void *)(data + 1), size - 1, "rb");
	if (f == NULL)
		return 0;
	if (rows_attach(&r, f, "fuzz", header) == EXIT_OK) {
		while (rows_next(&r, row, width)) {
			for (size_t i = 0; i < width; i++)
				if (!isfinite(row[i]))
					__builtin_trap();
		}
		if (r.rc != EXIT_OK && r.rc != EXIT_DATA)
			__builtin_trap(); /* only bad data can stop a read here */
		rows_close(&r);
	}
	fclose(f);
	return 0;
}
