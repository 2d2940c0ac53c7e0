/*
 * safetensors.c — the model file format: reading and checking a safetensors
 * file into a network, and writing a network's header.
 *
 *   [8 bytes: N, little-endian] [N bytes: JSON header, space-padded]
 *   [data: each tensor's raw little-endian bytes at its data_offsets]
 *
 * A file is untrusted input. Every rule of docs/model-files.md is checked
 * before anything is built, each with its own message naming the tensor.
 */
#include "internal.h"

#if defined(MLP_HAVE_JANSSON)

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference implementation's limit on the header. */
#define MAX_HEADER_BYTES 100000000u

/* A tensor name fit for a message: quoted, at most 60 bytes, bytes that
 * are not printable ASCII shown as '?'. */
struct name {
	char s[72];
};

static struct name show(const char *raw)
{
	struct name n;
	size_t i = 0, o = 0;

	n.s[o++] = '\'';
	for (; raw[i] != '\0' && o < 62; i++)
		n.s[o++] = isprint((unsigned char)raw[i]) ? raw[i] : '?';
	if (raw[i] != '\0') {
		memcpy(n.s + o, "...", 3);
		o += 3;
	}
	n.s[o++] = '\'';
	n.s[o] = '\0';
	return n;
}

/* One tensor of the header, once its entry is checked. */
struct entry {
	const char *name;
	size_t prefix_len; /* name[0 .. prefix_len) is the prefix */
	size_t layer;      /* the number in the name */
	bool is_weight;
	size_t rank, dims[2];
	size_t begin, end; /* data_offsets */
};

/* Splits "<prefix><layer>.weight" or "<prefix><layer>.bias". */
static bool parse_name(const char *name, struct entry *e)
{
	size_t len = strlen(name), stem, digits = 0;
	size_t layer = 0;

	if (len > 7 && strcmp(name + len - 7, ".weight") == 0) {
		e->is_weight = true;
		stem = len - 7;
	} else if (len > 5 && strcmp(name + len - 5, ".bias") == 0) {
		e->is_weight = false;
		stem = len - 5;
	} else {
		return false;
	}
	while (digits < stem && isdigit((unsigned char)name[stem - 1 - digits]))
		digits++;
	if (digits == 0 || digits > 9)
		return false;
	/* The prefix ends where the number starts: empty, or ending in '.'. */
	if (stem > digits && name[stem - digits - 1] != '.')
		return false;
	for (size_t i = stem - digits; i < stem; i++)
		layer = layer * 10 + (size_t)(name[i] - '0');
	e->prefix_len = stem - digits;
	e->layer = layer;
	return true;
}

/* A JSON integer in [0, max] into *out. */
static bool get_size(const json_t *v, size_t max, size_t *out)
{
	json_int_t i;

	if (!json_is_integer(v))
		return false;
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > (uint64_t)max)
		return false;
	*out = (size_t)i;
	return true;
}

/* Checks one tensor's entry against the data of data_size bytes. */
static mlp_status check_entry(const char *key, const json_t *v, size_t data_size,
			      struct entry *e, mlp_msg *msg)
{
	struct name n = show(key);
	const json_t *dtype, *shape, *offsets;
	const char *k;
	json_t *item;
	size_t bytes = sizeof(float), i;

	e->name = key;
	if (!json_is_object(v))
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: its entry is not an object", n.s);
	json_object_foreach((json_t *)v, k, item) {
		if (strcmp(k, "dtype") != 0 && strcmp(k, "shape") != 0 &&
		    strcmp(k, "data_offsets") != 0)
			return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: unknown key %s", n.s,
				    show(k).s);
	}
	dtype = json_object_get(v, "dtype");
	shape = json_object_get(v, "shape");
	offsets = json_object_get(v, "data_offsets");
	if (dtype == NULL || shape == NULL || offsets == NULL)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: missing %s", n.s,
			    dtype == NULL ? "dtype" : shape == NULL ? "shape"
								   : "data_offsets");
	if (!json_is_string(dtype))
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: dtype is not a string", n.s);
	if (strcmp(json_string_value(dtype), "F32") != 0)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: dtype %s is not supported (only F32)", n.s,
			    show(json_string_value(dtype)).s);
	if (!json_is_array(shape) || json_array_size(shape) == 0)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: shape is not a non-empty list", n.s);
	e->rank = json_array_size(shape);
	json_array_foreach(shape, i, item) {
		size_t d;

		if (!get_size(item, SIZE_MAX, &d) || d == 0)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: shape holds something other than "
				    "positive integers", n.s);
		if (!mlpi_mul(bytes, d, &bytes))
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: the byte size of its shape overflows", n.s);
		if (i < 2)
			e->dims[i] = d;
	}
	if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
	    !get_size(json_array_get(offsets, 0), SIZE_MAX, &e->begin) ||
	    !get_size(json_array_get(offsets, 1), SIZE_MAX, &e->end))
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: data_offsets is not [begin, end] of "
			    "non-negative integers", n.s);
	if (e->begin > e->end)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: data_offsets [%zu, %zu] end before they begin",
			    n.s, e->begin, e->end);
	if (bytes != e->end - e->begin)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: its shape is %zu bytes of F32 but data_offsets "
			    "[%zu, %zu] span %zu", n.s, bytes, e->begin, e->end,
			    e->end - e->begin);
	if (e->end > data_size)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: data_offsets [%zu, %zu] run past the end of "
			    "the data (%zu bytes)", n.s, e->begin, e->end, data_size);
	if (!parse_name(key, e))
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: the name is not <prefix><layer>.weight or "
			    "<prefix><layer>.bias", n.s);
	if (e->is_weight && e->rank != 2)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: a weight has 2 dimensions [n_out, n_in], not %zu",
			    n.s, e->rank);
	if (!e->is_weight && e->rank != 1)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: a bias has 1 dimension [n_out], not %zu", n.s,
			    e->rank);
	return MLP_OK;
}

static int by_begin(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return (x->begin > y->begin) - (x->begin < y->begin);
}

static int by_layer(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->layer != y->layer)
		return (x->layer > y->layer) - (x->layer < y->layer);
	return (int)y->is_weight - (int)x->is_weight; /* weight first */
}

/* Ranges sorted by begin: from 0, no overlap, no hole, to the end. */
static mlp_status check_ranges(struct entry *e, size_t n, size_t data_size,
			       mlp_msg *msg)
{
	size_t at = 0;

	qsort(e, n, sizeof(*e), by_begin);
	for (size_t i = 0; i < n; i++) {
		if (e[i].begin < at)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensors %s and %s overlap in the data",
				    show(e[i - 1].name).s, show(e[i].name).s);
		if (e[i].begin > at)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "the data has a hole of %zu bytes before tensor %s",
				    e[i].begin - at, show(e[i].name).s);
		at = e[i].end;
	}
	if (at != data_size)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "the data has %zu bytes after its last tensor",
			    data_size - at);
	return MLP_OK;
}

/* The activations, from opts or from __metadata__["activations"]. */
static mlp_status read_acts(const json_t *meta, const mlp_load_opts *opts,
			    size_t n_layers, mlp_act *acts, mlp_msg *msg)
{
	const json_t *v;
	mlp_msg why;
	size_t count;

	if (opts != NULL && opts->acts != NULL) {
		if (opts->n_acts != n_layers)
			return mlpi_fail(msg, MLP_ESIZE,
				    "%zu activations given for %zu layers",
				    opts->n_acts, n_layers);
		for (size_t l = 0; l < n_layers; l++) {
			if (!mlpi_act_valid(opts->acts[l]))
				return mlpi_fail(msg, MLP_EACT,
					    "activation %zu given is not an activation", l);
			acts[l] = opts->acts[l];
		}
		return MLP_OK;
	}
	v = meta != NULL ? json_object_get(meta, "activations") : NULL;
	if (v == NULL)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "no activations: __metadata__ has no \"activations\" "
			    "(give them in mlp_load_opts)");
	if (mlp_act_parse_list(json_string_value(v), acts, n_layers, &count,
			       &why) != MLP_OK)
		return mlpi_fail(msg, MLP_EFORMAT, "__metadata__ activations for "
				 "%zu layers: %.180s", n_layers, why.text);
	if (count != n_layers)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "__metadata__ activations name %zu activations for %zu layers",
			    count, n_layers);
	return MLP_OK;
}

/* n little-endian floats from src into dst; false if one is not finite. */
static bool copy_floats(float *dst, const unsigned char *src, size_t n)
{
	bool finite = true;

	for (size_t i = 0; i < n; i++) {
		uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
			     (uint32_t)src[4 * i + 2] << 16 |
			     (uint32_t)src[4 * i + 3] << 24;
		memcpy(&dst[i], &u, sizeof(u));
		finite &= (u & 0x7f800000u) != 0x7f800000u;
	}
	return finite;
}

/* Builds the network the checked, layer-sorted entries describe. */
static mlp_status build(struct entry *e, size_t n_layers, const mlp_act *acts,
			const unsigned char *data, mlp_net **out, mlp_msg *msg)
{
	size_t *sizes = malloc((n_layers + 1) * sizeof(size_t));
	mlp_net *net = NULL;
	mlp_status st;

	if (sizes == NULL)
		return mlpi_fail(msg, MLP_ENOMEM, "out of memory");
	sizes[0] = e[0].dims[1];
	for (size_t l = 0; l < n_layers; l++)
		sizes[l + 1] = e[2 * l].dims[0];
	st = mlp_net_create(&net, n_layers, sizes, acts);
	free(sizes);
	if (st != MLP_OK)
		return mlpi_fail(msg, st, "cannot create the network: %s", mlp_strerror(st));
	for (size_t l = 0; l < n_layers; l++) {
		const struct entry *w = &e[2 * l], *b = &e[2 * l + 1];

		if (!copy_floats(mlp_net_weights(net, l), data + w->begin,
				 w->dims[0] * w->dims[1]) ||
		    !copy_floats(mlp_net_bias(net, l), data + b->begin, b->dims[0])) {
			mlp_net_free(net);
			return mlpi_fail(msg, MLP_EFORMAT,
				    "layer %zu (%s or its bias) holds NaN or infinity",
				    l, show(w->name).s);
		}
	}
	*out = net;
	return MLP_OK;
}

/* Layer-sorted entries: a weight then a bias per layer, one prefix, shapes
 * that chain, sizes within the limits. */
static mlp_status check_layers(struct entry *e, size_t n, size_t *n_layers,
			       mlp_msg *msg)
{
	qsort(e, n, sizeof(*e), by_layer);
	for (size_t i = 1; i < n; i++) {
		if (e[i].prefix_len != e[0].prefix_len ||
		    strncmp(e[i].name, e[0].name, e[0].prefix_len) != 0)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: its prefix differs from that of %s",
				    show(e[i].name).s, show(e[0].name).s);
	}
	for (size_t i = 0; i < n; i += 2) {
		struct entry *w = &e[i], *b = i + 1 < n ? &e[i + 1] : NULL;

		if (!w->is_weight)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: layer %zu has a bias but no weight",
				    show(w->name).s, w->layer);
		if (b == NULL || b->layer != w->layer || b->is_weight)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: layer %zu has %s", show(w->name).s,
				    w->layer,
				    b != NULL && b->layer == w->layer ? "two weights"
								      : "no bias");
		if (i + 2 < n && e[i + 2].layer == w->layer)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: layer %zu has two biases",
				    show(e[i + 2].name).s, w->layer);
		if (b->dims[0] != w->dims[0])
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: shape [%zu] does not match the %zu "
				    "outputs of its weight", show(b->name).s,
				    b->dims[0], w->dims[0]);
		if (i > 0 && w->dims[1] != e[i - 2].dims[0])
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: shape [%zu, %zu] does not take the %zu "
				    "outputs of %s", show(w->name).s, w->dims[0],
				    w->dims[1], e[i - 2].dims[0], show(e[i - 2].name).s);
		if (w->dims[0] > MLP_MAX_WIDTH || w->dims[1] > MLP_MAX_WIDTH)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "tensor %s: shape [%zu, %zu] is wider than %u",
				    show(w->name).s, w->dims[0], w->dims[1],
				    MLP_MAX_WIDTH);
	}
	if (n / 2 > MLP_MAX_LAYERS)
		return mlpi_fail(msg, MLP_EFORMAT, "%zu layers exceed the limit of %u",
			    n / 2, MLP_MAX_LAYERS);
	*n_layers = n / 2;
	return MLP_OK;
}

/* The framing of a file: the header length, the header's JSON object
 * (followed only by spaces) into *root, and where the data is. */
static mlp_status read_header(const unsigned char *file, size_t size,
			      json_t **root, const unsigned char **data,
			      size_t *data_size, mlp_msg *msg)
{
	uint64_t header_len = 0;
	const unsigned char *header = file + 8;
	json_error_t jerr;

	if (size < 8)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "the file is %zu bytes, too short for the 8-byte header "
			    "length", size);
	for (int i = 7; i >= 0; i--)
		header_len = header_len << 8 | file[i];
	if (header_len > size - 8)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "the header length %" PRIu64 " runs past the end of the "
			    "file (%zu bytes)", header_len, size);
	if (header_len > MAX_HEADER_BYTES)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "the header length %" PRIu64 " exceeds the limit of %u bytes",
			    header_len, MAX_HEADER_BYTES);
	if (header_len == 0 || header[0] != '{')
		return mlpi_fail(msg, MLP_EFORMAT, "the header does not start with '{'");
	*root = json_loadb((const char *)header, (size_t)header_len,
			   JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &jerr);
	if (*root == NULL)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "the header is not valid JSON: %s (byte %d)", jerr.text,
			    jerr.position);
	for (size_t i = (size_t)jerr.position; i < header_len; i++) {
		if (header[i] != ' ')
			return mlpi_fail(msg, MLP_EFORMAT,
				    "the header has something other than spaces "
				    "after its JSON object (byte %zu)", i);
	}
	if (!json_is_object(*root))
		return mlpi_fail(msg, MLP_EFORMAT, "the header is not a JSON object");
	*data = header + header_len;
	*data_size = size - 8 - (size_t)header_len;
	return MLP_OK;
}

/* __metadata__: an object of strings. */
static mlp_status check_meta(const json_t *v, mlp_msg *msg)
{
	const char *key;
	json_t *item;

	if (!json_is_object(v))
		return mlpi_fail(msg, MLP_EFORMAT, "__metadata__ is not an object");
	json_object_foreach((json_t *)v, key, item) {
		if (!json_is_string(item))
			return mlpi_fail(msg, MLP_EFORMAT,
				    "__metadata__ %s is not a string", show(key).s);
	}
	return MLP_OK;
}

/* Every tensor's entry of the header, checked, into e (room for every
 * key), their number into *n; the metadata into *meta (NULL: none). */
static mlp_status read_entries(json_t *root, size_t data_size,
			       struct entry *e, size_t *n, const json_t **meta,
			       mlp_msg *msg)
{
	const char *key;
	json_t *v;
	mlp_status st;

	*n = 0;
	*meta = NULL;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "__metadata__") == 0) {
			st = check_meta(v, msg);
			*meta = v;
		} else {
			st = check_entry(key, v, data_size, &e[*n], msg);
			*n += st == MLP_OK;
		}
		if (st != MLP_OK)
			return st;
	}
	if (*n == 0)
		return mlpi_fail(msg, MLP_EFORMAT, "the file holds no tensors");
	return MLP_OK;
}

/* A checkpoint's optimizer tensors: named "optimizer.m." or
 * "optimizer.v." and a layer's name. */
#define STATE_PREFIX "optimizer."

static bool is_state(const struct entry *e)
{
	return strncmp(e->name, STATE_PREFIX, strlen(STATE_PREFIX)) == 0;
}

/* Moves the optimizer's entries after the network's; the network's count. */
static size_t split_state(struct entry *e, size_t n)
{
	size_t model = 0;

	for (size_t i = 0; i < n; i++) {
		if (!is_state(&e[i])) {
			struct entry t = e[model];

			e[model++] = e[i];
			e[i] = t;
		}
	}
	return model;
}

/* A metadata string as a whole number, or a hexadecimal float. */
static bool meta_size(const json_t *meta, const char *key, size_t *out)
{
	const char *v = json_string_value(json_object_get(meta, key));
	char *end;
	unsigned long long x;

	if (v == NULL || *v < '0' || *v > '9')
		return false;
	errno = 0;
	x = strtoull(v, &end, 10);
	*out = (size_t)x;
	return errno == 0 && *end == '\0' && (unsigned long long)*out == x;
}

static bool meta_float(const json_t *meta, const char *key, float *out)
{
	const char *v = json_string_value(json_object_get(meta, key));
	char *end;

	if (v == NULL)
		return false;
	*out = strtof(v, &end);
	return end != v && *end == '\0' && isfinite(*out);
}

/* The state of a checkpoint of net: its optimizer tensors, one for each
 * of the network's, with their shapes, and its metadata. */
static mlp_status read_state(const struct entry *e, size_t n,
			     const json_t *meta, const unsigned char *data,
			     const mlp_net *net, struct mlpi_state *state,
			     mlp_msg *msg)
{
	static const char *const parts[2] = { "m", "v" };
	size_t seed, found = 0;

	if (meta == NULL || !meta_size(meta, "checkpoint.epoch", &state->epoch) ||
	    !meta_size(meta, "checkpoint.steps", &state->steps) ||
	    !meta_size(meta, "checkpoint.rows", &state->rows) ||
	    !meta_size(meta, "checkpoint.batch", &state->batch) ||
	    !meta_size(meta, "checkpoint.seed", &seed) ||
	    !meta_float(meta, "checkpoint.lr", &state->lr))
		return mlpi_fail(msg, MLP_EFORMAT, "not a checkpoint: its metadata "
				 "lacks checkpoint.epoch, .steps, .rows, .batch, "
				 ".seed or .lr");
	state->seed = (uint64_t)seed;
	state->M = calloc(net->block_floats, sizeof(float));
	state->V = calloc(net->block_floats, sizeof(float));
	if (state->M == NULL || state->V == NULL) {
		free(state->M), free(state->V);
		state->M = state->V = NULL;
		return mlpi_fail(msg, MLP_ENOMEM, "out of memory for the state");
	}
	for (size_t i = 0; i < n; i++) {
		char name[64];
		bool match = false;

		for (int k = 0; k < 2 && !match; k++) {
			for (size_t l = 0; l < net->n_layers && !match; l++) {
				const struct mlp_layer *ly = &net->layers[l];
				float *dst = (k == 0 ? state->M : state->V) +
					     ((e[i].is_weight ? ly->W : ly->b) -
					      net->block);

				snprintf(name, sizeof(name), STATE_PREFIX "%s.%zu.%s",
					 parts[k], l, e[i].is_weight ? "weight" : "bias");
				if (strcmp(e[i].name, name) != 0)
					continue;
				match = e[i].dims[0] == ly->n_out &&
					(!e[i].is_weight || e[i].dims[1] == ly->n_in);
				if (match && !copy_floats(dst, data + e[i].begin,
							  e[i].is_weight ? ly->n_out * ly->n_in
									 : ly->n_out))
					match = false;
			}
		}
		if (!match) {
			free(state->M), free(state->V);
			state->M = state->V = NULL;
			return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: not a finite "
					 "optimizer tensor of this network",
					 show(e[i].name).s);
		}
		found++;
	}
	if (found != 4 * net->n_layers) {
		free(state->M), free(state->V);
		state->M = state->V = NULL;
		return mlpi_fail(msg, MLP_EFORMAT, "not a checkpoint: %zu optimizer "
				 "tensors for %zu layers (4 a layer)", found,
				 net->n_layers);
	}
	return MLP_OK;
}

mlp_status mlpi_st_read(mlp_net **out, const unsigned char *file, size_t size,
			const mlp_load_opts *opts, struct mlpi_state *state,
			mlp_msg *msg)
{
	const unsigned char *data = NULL;
	const json_t *meta = NULL;
	size_t data_size = 0, n = 0, n_layers = 0, n_model = 0;
	json_t *root = NULL;
	struct entry *e = NULL;
	mlp_act *acts = NULL;
	mlp_status st = read_header(file, size, &root, &data, &data_size, msg);

	if (st == MLP_OK) {
		e = malloc((json_object_size(root) + 1) * sizeof(*e));
		acts = malloc((json_object_size(root) / 2 + 1) * sizeof(*acts));
		if (e == NULL || acts == NULL)
			st = mlpi_fail(msg, MLP_ENOMEM,
				       "out of memory for the header's tensors");
	}
	if (st == MLP_OK)
		st = read_entries(root, data_size, e, &n, &meta, msg);
	if (st == MLP_OK)
		st = check_ranges(e, n, data_size, msg);
	if (st == MLP_OK) {
		n_model = split_state(e, n);
		if (n_model == 0)
			st = mlpi_fail(msg, MLP_EFORMAT, "the file holds no tensors "
				       "of a network, only an optimizer's");
	}
	if (st == MLP_OK)
		st = check_layers(e, n_model, &n_layers, msg);
	if (st == MLP_OK)
		st = read_acts(meta, opts, n_layers, acts, msg);
	if (st == MLP_OK)
		st = build(e, n_layers, acts, data, out, msg);
	if (st == MLP_OK && state != NULL) {
		st = read_state(e + n_model, n - n_model, meta, data, *out, state,
				msg);
		if (st != MLP_OK) {
			mlp_net_free(*out);
			*out = NULL;
		}
	}
	free(e);
	free(acts);
	json_decref(root);
	return st;
}

/* "relu,relu,softmax": the activations of net, malloc'd; NULL when out of
 * memory. */
static char *act_list(const mlp_net *net)
{
	size_t len = 0, at = 0;
	char *s;

	for (size_t l = 0; l < net->n_layers; l++)
		len += strlen(mlp_act_name(net->layers[l].act)) + 1;
	s = malloc(len); /* n_layers ≥ 1: room for the commas and the NUL */
	if (s == NULL)
		return NULL;
	for (size_t l = 0; l < net->n_layers; l++)
		at += (size_t)sprintf(s + at, "%s%s", l > 0 ? "," : "",
				      mlp_act_name(net->layers[l].act));
	return s;
}

/* The tensors of net under `prefix` from byte *at of the data. */
static bool add_tensors(json_t *root, const mlp_net *net, const char *prefix,
			size_t *at_bytes)
{
	size_t at = *at_bytes;
	bool ok = true;
	char name[64];

	for (size_t l = 0; ok && l < net->n_layers; l++) {
		const struct mlp_layer *layer = &net->layers[l];
		size_t wb = layer->n_out * layer->n_in * sizeof(float);
		size_t bb = layer->n_out * sizeof(float);

		snprintf(name, sizeof(name), "%s%zu.weight", prefix, l);
		ok = json_object_set_new(root, name,
			json_pack("{s:s, s:[I,I], s:[I,I]}", "dtype", "F32", "shape",
				  (json_int_t)layer->n_out, (json_int_t)layer->n_in,
				  "data_offsets", (json_int_t)at,
				  (json_int_t)(at + wb))) == 0;
		at += wb;
		snprintf(name, sizeof(name), "%s%zu.bias", prefix, l);
		ok = ok && json_object_set_new(root, name,
			json_pack("{s:s, s:[I], s:[I,I]}", "dtype", "F32", "shape",
				  (json_int_t)layer->n_out, "data_offsets",
				  (json_int_t)at, (json_int_t)(at + bb))) == 0;
		at += bb;
	}
	*at_bytes = at;
	return ok;
}

/* A checkpoint's metadata: what mlp_train needs to go on. */
static bool add_state_meta(json_t *meta, const struct mlpi_state *s)
{
	char v[6][48];

	snprintf(v[0], sizeof(v[0]), "%zu", s->epoch);
	snprintf(v[1], sizeof(v[1]), "%zu", s->steps);
	snprintf(v[2], sizeof(v[2]), "%zu", s->rows);
	snprintf(v[3], sizeof(v[3]), "%zu", s->batch);
	snprintf(v[4], sizeof(v[4]), "%llu", (unsigned long long)s->seed);
	snprintf(v[5], sizeof(v[5]), "%a", (double)s->lr); /* exact */
	return json_object_set_new(meta, "checkpoint.epoch", json_string(v[0])) == 0 &&
	       json_object_set_new(meta, "checkpoint.steps", json_string(v[1])) == 0 &&
	       json_object_set_new(meta, "checkpoint.rows", json_string(v[2])) == 0 &&
	       json_object_set_new(meta, "checkpoint.batch", json_string(v[3])) == 0 &&
	       json_object_set_new(meta, "checkpoint.seed", json_string(v[4])) == 0 &&
	       json_object_set_new(meta, "checkpoint.lr", json_string(v[5])) == 0;
}

/* The tensors of net (and of a checkpoint's state) and the metadata, as a
 * JSON object. */
static json_t *header_json(const mlp_net *net, const char *acts,
			   const struct mlpi_state *state)
{
	json_t *root = json_object(), *meta = json_object();
	bool ok = root != NULL && meta != NULL;
	size_t at = 0;

	ok = ok && add_tensors(root, net, "layers.", &at);
	if (state != NULL)
		ok = ok && add_tensors(root, net, STATE_PREFIX "m.", &at) &&
		     add_tensors(root, net, STATE_PREFIX "v.", &at) &&
		     add_state_meta(meta, state);
	ok = ok && json_object_set_new(meta, "activations", json_string(acts)) == 0 &&
	     json_object_set(root, "__metadata__", meta) == 0;
	json_decref(meta);
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

mlp_status mlpi_st_header(const mlp_net *net, const struct mlpi_state *state,
			  char **out, size_t *out_len, mlp_msg *msg)
{
	char *acts = act_list(net), *text = NULL, *padded;
	json_t *root = acts != NULL ? header_json(net, acts, state) : NULL;
	size_t len, padded_len;

	if (root != NULL)
		text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	free(acts);
	if (text == NULL)
		return mlpi_fail(msg, MLP_ENOMEM, "out of memory for the header");
	/* Spaces up to a multiple of 8, so that the data starts aligned. */
	len = strlen(text);
	padded = mlpi_round_up(len, 8, &padded_len) ? malloc(padded_len) : NULL;
	if (padded == NULL) {
		free(text);
		return mlpi_fail(msg, MLP_ENOMEM, "out of memory for the header");
	}
	memcpy(padded, text, len);
	memset(padded + len, ' ', padded_len - len);
	free(text);
	*out = padded;
	*out_len = padded_len;
	return MLP_OK;
}

#else /* no file support */

mlp_status mlpi_st_read(mlp_net **out, const unsigned char *file, size_t size,
			const mlp_load_opts *opts, struct mlpi_state *state,
			mlp_msg *msg)
{
	(void)out, (void)file, (void)size, (void)opts, (void)state;
	return mlpi_fail(msg, MLP_ENOTSUP, "built without file support");
}

mlp_status mlpi_st_header(const mlp_net *net, const struct mlpi_state *state,
			  char **out, size_t *out_len, mlp_msg *msg)
{
	(void)net, (void)state, (void)out, (void)out_len;
	return mlpi_fail(msg, MLP_ENOTSUP, "built without file support");
}

#endif
