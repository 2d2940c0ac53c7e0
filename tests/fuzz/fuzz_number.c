/*
 * fuzz_number.c — libFuzzer target for the tool's number reader
 * (tools/number.c) against strtof: whatever bytes it is given, a number it
 * accepts must be strtof's float bit for bit, and strtof must read all of
 * it; hexadecimal floats and words are its only refusals that strtof
 * reads.
 */
#define _POSIX_C_SOURCE 200809L
#include "number.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256];
	float got, want;
	char *end;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (memchr(s, '\0', size) != NULL)
		return 0;
	if (number_parse(s, size, &got) != NUMBER_OK)
		return 0;
	if (s[size] != '\0')
		__builtin_trap(); /* the byte after it was not restored */
	want = strtof(s, &end);
	if (end != s + size || memcmp(&got, &want, sizeof(float)) != 0)
		__builtin_trap();
	return 0;
}
