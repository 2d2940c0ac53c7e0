/*
 * fuzz_wisdom.c — libFuzzer target for mlp_wisdom_import: whatever bytes
 * it is given, it takes them or refuses them with MLP_EFORMAT and a
 * message, and what it takes exports as text that imports again to the
 * same wisdom. A line "machine *" stands for this machine's, so that the
 * entries under it are kept and not only checked.
 */
#include <mlp.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char machine[1024];

/* This machine's line, from the export of no wisdom. */
static void find_machine(void)
{
	char text[2048];

	mlp_wisdom_forget();
	if (mlp_wisdom_export(text, sizeof(text), NULL) != MLP_OK ||
	    sscanf(text, "mlp-wisdom 1\n%1023[^\n]", machine) != 1)
		abort();
}

/* data with "machine *" lines made this machine's. */
static char *with_machine(const uint8_t *data, size_t size, size_t *len)
{
	size_t extra = strlen(machine), cap = size * (extra + 1) + 1, n = 0;
	char *out = malloc(cap);

	if (out == NULL)
		abort();
	for (size_t i = 0; i < size; i++) {
		if (size - i >= 10 && memcmp(data + i, "machine *\n", 10) == 0 &&
		    (i == 0 || data[i - 1] == '\n')) {
			memcpy(out + n, machine, extra);
			n += extra;
			out[n++] = '\n';
			i += 9;
		} else {
			out[n++] = (char)data[i];
		}
	}
	*len = n;
	return out;
}

static char *export_all(size_t *len)
{
	char *text;

	if (mlp_wisdom_export(NULL, 0, len) != MLP_ESIZE)
		abort();
	text = malloc(*len + 1);
	if (text == NULL || mlp_wisdom_export(text, *len + 1, NULL) != MLP_OK)
		abort();
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len, len1, len2;
	char *text, *first, *second;
	mlp_msg msg = { "" };
	mlp_status st;

	if (machine[0] == '\0')
		find_machine();
	mlp_wisdom_forget();
	text = with_machine(data, size, &len);
	st = mlp_wisdom_import(text, len, &msg);
	free(text);
	if (st == MLP_EFORMAT && strncmp(msg.text, "wisdom line ", 12) != 0)
		abort(); /* a refusal always says where */
	if (st != MLP_OK && st != MLP_EFORMAT)
		abort();
	first = export_all(&len1);
	mlp_wisdom_forget();
	if (mlp_wisdom_import(first, len1, &msg) != MLP_OK)
		abort();
	second = export_all(&len2);
	if (len1 != len2 || memcmp(first, second, len1) != 0)
		abort();
	free(first);
	free(second);
	return 0;
}
