/* infer_request.h — the body of an Open Inference Protocol (KServe v2)
 * inference request, decoded and checked (infer_request.c). */
#ifndef MLP_TOOL_INFER_REQUEST_H
#define MLP_TOOL_INFER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

/* {"id": "...", "inputs": [{"name": "input", "shape": [R, N],
 *  "datatype": "FP32", "data": [...]}], "outputs": [{"name": "output"}]}:
 * one input of N = the model's width, data flat or nested, R rows. */
struct infer_request {
	size_t rows;
	float *data;        /* rows × width, malloc'd: the caller frees it */
	bool has_id;
	char id[256];       /* as it was written, escapes kept: valid inside
			     * a JSON string */
};

enum { INFER_ERROR_SIZE = 256 };

/* Decodes body[0 .. len) (writable, and body[len] too: numbers are read
 * in place and the bytes put back) for a model of `width` inputs taking at most max_rows
 * rows a request. false, with *out freed and a message in err saying
 * what is wrong, when the body is not such a request: malformed JSON, a
 * wrong name, shape, datatype or width, too many rows, a value not a
 * finite number. */
bool infer_decode(char *body, size_t len, size_t width, size_t max_rows,
		  struct infer_request *out, char err[INFER_ERROR_SIZE]);

#endif
