/*
 * fuzz_infer.c — libFuzzer target for the decoder of mlp serve's inference
 * requests: whatever the body, it is taken or refused with a message, and
 * what it takes is a tensor of 1 to max_rows rows of the model's width,
 * every value finite. The first byte chooses the width (1 to 8).
 */
#include "infer_request.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct infer_request r;
	char err[INFER_ERROR_SIZE];
	size_t width = size > 0 ? 1 + data[0] % 8 : 3, max_rows = 4;
	char *body = malloc(size + 1);

	if (body == NULL)
		abort();
	if (size > 0)
		memcpy(body, data + 1, size - 1);
	body[size > 0 ? size - 1 : 0] = '\0';
	if (infer_decode(body, size > 0 ? size - 1 : 0, width, max_rows, &r, err)) {
		if (r.rows < 1 || r.rows > max_rows || r.data == NULL || err[0] != '\0')
			abort();
		for (size_t i = 0; i < r.rows * width; i++)
			if (!isfinite(r.data[i]))
				abort();
		if (r.has_id && strlen(r.id) >= sizeof(r.id))
			abort();
		free(r.data);
	} else if (err[0] == '\0' || r.data != NULL || strlen(err) >= INFER_ERROR_SIZE) {
		abort();
	}
	/* The body is as it was given. */
	if (size > 1 && memcmp(body, data + 1, size - 1) != 0)
		abort();
	free(body);
	return 0;
}
