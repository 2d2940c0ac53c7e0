/*
 * json.h — the JSON of a model file's header (json_read.c).
 */
#ifndef MLP_JSON_H
#define MLP_JSON_H

#include "util.h"

enum mlpi_json_type {
	MLPI_JSON_NULL,
	MLPI_JSON_BOOL,
	MLPI_JSON_NUMBER,
	MLPI_JSON_STRING,
	MLPI_JSON_ARRAY,
	MLPI_JSON_OBJECT,
};

/* A value. Strings and keys are decoded UTF-8 without NUL bytes,
 * NUL-terminated. The items of an array or the members of an object are
 * the chain first → next; a member's name is its key. */
struct mlpi_json {
	enum mlpi_json_type type;
	bool integer;            /* a number without fraction or exponent that
				  * fits int64: its value in ival */
	int64_t ival;
	const char *str;         /* a string's text */
	const char *key;         /* a member's name */
	size_t count;            /* items or members */
	struct mlpi_json *first, *next;
};

/* The JSON value at the start of text[0 .. len), which may be followed by
 * other bytes (their offset into *end): strict RFC 8259 (UTF-8 checked, no
 * duplicate keys, no "\u0000"), at most max_values values nested at most
 * max_depth deep. The tree is one allocation, *root, freed with free().
 * MLP_EFORMAT with the reason and byte, MLP_ENOMEM. */
mlp_status mlpi_json_read(const unsigned char *text, size_t len,
			  size_t max_values, int max_depth,
			  struct mlpi_json **root, size_t *end, mlp_msg *msg);

/* The member of obj named key, or NULL. */
const struct mlpi_json *mlpi_json_get(const struct mlpi_json *obj,
				      const char *key);

#endif /* MLP_JSON_H */
