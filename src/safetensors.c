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
#include "dense.h"
#include "files.h"
#include "json.h"
#include "quant.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits on the header, which bound what reading it takes (64 bytes a
 * value and the text: at most 32 MiB; see json_read.c). A
 * network of MLP_MAX_LAYERS layers saved as a checkpoint has 6 × 4096
 * tensors of 8 values each, 196,608 values, in some 4 MB of text; the
 * limits leave room for names with long prefixes and for metadata. */
#define MAX_HEADER_BYTES (1u << 24)
#define MAX_HEADER_VALUES (1u << 18)
#define MAX_HEADER_DEPTH 64

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

/* The element types a file may hold, converted to float on loading; I8
 * only for the weights of a quantised network. */
enum dtype { F32, F16, BF16, F64, I8 };

static const struct {
	const char *name;
	size_t bytes;
} dtypes[] = {
	[F32] = { "F32", 4 }, [F16] = { "F16", 2 }, [BF16] = { "BF16", 2 },
	[F64] = { "F64", 8 }, [I8] = { "I8", 1 },
};

/* A quantised network's scales: "quant.<layer>.weight_scale" [n_out] and
 * "quant.<layer>.input_scale" [1]. */
#define QUANT_PREFIX "quant."
enum { QUANT_WEIGHT_SCALE = 1, QUANT_INPUT_SCALE = 2 };

/* The names of the scaling tensors, in the order of net->scaling. */
static const char *const scaling_names[4] = {
	"scaling.input.mean", "scaling.input.std", "scaling.target.mean",
	"scaling.target.std",
};

/* One tensor of the header, once its entry is checked. */
struct entry {
	enum dtype dtype;
	int scaling;       /* 1 + its index in scaling_names, or 0 */
	int quant;         /* QUANT_WEIGHT_SCALE, QUANT_INPUT_SCALE, or 0 */
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
static bool get_size(const struct mlpi_json *v, size_t max, size_t *out)
{
	if (v == NULL || v->type != MLPI_JSON_NUMBER || !v->integer ||
	    v->ival < 0 || (uint64_t)v->ival > (uint64_t)max)
		return false;
	*out = (size_t)v->ival;
	return true;
}

/* A string's text, or NULL for any other value (or none). */
static const char *string_value(const struct mlpi_json *v)
{
	return v != NULL && v->type == MLPI_JSON_STRING ? v->str : NULL;
}

/* "quant.<layer>.weight_scale" or ".input_scale", floats of rank 1. */
static mlp_status check_quant_entry(const char *key, struct entry *e,
				    mlp_msg *msg)
{
	struct name n = show(key);
	const char *p = key + strlen(QUANT_PREFIX);
	size_t digits = 0;

	e->layer = 0;
	while (isdigit((unsigned char)p[digits]) && digits < 10)
		e->layer = e->layer * 10 + (size_t)(p[digits++] - '0');
	if (digits == 0 || digits > 9 || p[digits] != '.')
		e->quant = 0;
	else if (strcmp(p + digits, ".weight_scale") == 0)
		e->quant = QUANT_WEIGHT_SCALE;
	else if (strcmp(p + digits, ".input_scale") == 0)
		e->quant = QUANT_INPUT_SCALE;
	if (e->quant == 0)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: not a quantisation "
				 "tensor (quant.<layer>.weight_scale, "
				 "quant.<layer>.input_scale)", n.s);
	if (e->dtype == I8 || e->rank != 1)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: a scale is a float "
				 "tensor of 1 dimension", n.s);
	if (e->quant == QUANT_INPUT_SCALE && e->dims[0] != 1)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: shape [%zu], not "
				 "[1]: one input scale a layer", n.s, e->dims[0]);
	return MLP_OK;
}

/* Checks one tensor's entry against the data of data_size bytes. */
static mlp_status check_entry(const char *key, const struct mlpi_json *v,
			      size_t data_size, struct entry *e, mlp_msg *msg)
{
	struct name n = show(key);
	const struct mlpi_json *dtype, *shape, *offsets, *item;
	size_t bytes, i;
	int t = -1;

	e->name = key;
	if (v->type != MLPI_JSON_OBJECT)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: its entry is not an object", n.s);
	for (item = v->first; item != NULL; item = item->next) {
		const char *k = item->key;

		if (strcmp(k, "dtype") != 0 && strcmp(k, "shape") != 0 &&
		    strcmp(k, "data_offsets") != 0)
			return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: unknown key %s", n.s,
				    show(k).s);
	}
	dtype = mlpi_json_get(v, "dtype");
	shape = mlpi_json_get(v, "shape");
	offsets = mlpi_json_get(v, "data_offsets");
	if (dtype == NULL || shape == NULL || offsets == NULL)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: missing %s", n.s,
			    dtype == NULL ? "dtype" : shape == NULL ? "shape"
								   : "data_offsets");
	if (dtype->type != MLPI_JSON_STRING)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: dtype is not a string", n.s);
	for (int k = 0; k < (int)(sizeof(dtypes) / sizeof(dtypes[0])); k++)
		if (strcmp(dtype->str, dtypes[k].name) == 0)
			t = k;
	if (t < 0)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: dtype %s is not supported (F32, F16, BF16, "
			    "F64, or I8 for quantised weights)", n.s,
			    show(dtype->str).s);
	e->dtype = (enum dtype)t;
	bytes = dtypes[t].bytes;
	if (shape->type != MLPI_JSON_ARRAY || shape->count == 0)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: shape is not a non-empty list", n.s);
	e->rank = shape->count;
	for (i = 0, item = shape->first; item != NULL; i++, item = item->next) {
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
	if (offsets->type != MLPI_JSON_ARRAY || offsets->count != 2 ||
	    !get_size(offsets->first, SIZE_MAX, &e->begin) ||
	    !get_size(offsets->first->next, SIZE_MAX, &e->end))
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: data_offsets is not [begin, end] of "
			    "non-negative integers", n.s);
	if (e->begin > e->end)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: data_offsets [%zu, %zu] end before they begin",
			    n.s, e->begin, e->end);
	if (bytes != e->end - e->begin)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: its shape is %zu bytes of %s but data_offsets "
			    "[%zu, %zu] span %zu", n.s, bytes, dtypes[t].name, e->begin, e->end,
			    e->end - e->begin);
	if (e->end > data_size)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "tensor %s: data_offsets [%zu, %zu] run past the end of "
			    "the data (%zu bytes)", n.s, e->begin, e->end, data_size);
	e->scaling = 0;
	e->quant = 0;
	if (strncmp(key, QUANT_PREFIX, strlen(QUANT_PREFIX)) == 0)
		return check_quant_entry(key, e, msg);
	if (e->dtype == I8 && (e->rank != 2 || strncmp(key, "scaling.", 8) == 0 ||
			       strncmp(key, "optimizer.", 10) == 0))
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: I8 is only for the "
				 "weights of a quantised network", n.s);
	for (int k = 0; k < 4; k++)
		if (strcmp(key, scaling_names[k]) == 0)
			e->scaling = k + 1;
	if (e->scaling > 0 && e->rank != 1)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: scaling has 1 "
				 "dimension, not %zu", n.s, e->rank);
	if (e->scaling > 0)
		return MLP_OK;
	if (strncmp(key, "scaling.", 8) == 0)
		return mlpi_fail(msg, MLP_EFORMAT, "tensor %s: not a scaling "
				 "tensor (scaling.input.mean, .std, "
				 "scaling.target.mean, .std)", n.s);
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
static mlp_status read_acts(const struct mlpi_json *meta,
			    const mlp_load_opts *opts, size_t n_layers,
			    mlp_act *acts, mlp_msg *msg)
{
	const struct mlpi_json *v;
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
	v = mlpi_json_get(meta, "activations");
	if (v == NULL)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "no activations: __metadata__ has no \"activations\" "
			    "(give them in mlp_load_opts)");
	if (mlp_act_parse_list(string_value(v), acts, n_layers, &count,
			       &why) != MLP_OK)
		return mlpi_fail(msg, MLP_EFORMAT, "__metadata__ activations for "
				 "%zu layers: %.180s", n_layers, why.text);
	if (count != n_layers)
		return mlpi_fail(msg, MLP_EFORMAT,
			    "__metadata__ activations name %zu activations for %zu layers",
			    count, n_layers);
	return MLP_OK;
}

/* The k little-endian bytes at p. */
static uint64_t little(const unsigned char *p, size_t k)
{
	uint64_t v = 0;

	while (k-- > 0)
		v = v << 8 | p[k];
	return v;
}

/* An IEEE half as float: exactly (every half is a float). */
static float from_f16(uint32_t h)
{
	uint32_t sign = (h & 0x8000u) << 16, e = h >> 10 & 0x1f, m = h & 0x3ff;
	uint32_t u;
	float f;

	if (e == 0) { /* zero or subnormal: m · 2^-24 */
		f = (float)m * 0x1p-24f;
		return sign ? -f : f;
	}
	u = e == 31 ? sign | 0x7f800000u | m << 13 /* infinity, NaN */
		    : sign | (e - 15 + 127) << 23 | m << 13;
	memcpy(&f, &u, sizeof(f));
	return f;
}

/* n elements of type t from src into dst as float (F16 and BF16 exactly,
 * F64 rounded to nearest); false if one is not finite in float: a NaN, an
 * infinity, or a double beyond float's range. */
static bool copy_floats(float *dst, const unsigned char *src, size_t n,
			enum dtype t)
{
	size_t k = dtypes[t].bytes;
	bool finite = true;

	for (size_t i = 0; i < n; i++) {
		uint64_t v = little(src + k * i, k);
		uint32_t u;
		double d;

		switch (t) {
		case F16:
			dst[i] = from_f16((uint32_t)v);
			break;
		case BF16:
			u = (uint32_t)v << 16;
			memcpy(&dst[i], &u, sizeof(u));
			break;
		case F64:
			memcpy(&d, &v, sizeof(d));
			dst[i] = (float)d;
			break;
		case F32:
			u = (uint32_t)v;
			memcpy(&dst[i], &u, sizeof(u));
			break;
		case I8:
			dst[i] = (float)(int8_t)(uint8_t)v;
			break;
		}
		finite &= isfinite(dst[i]);
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

		if ((w->dtype != I8 &&
		     !copy_floats(mlp_net_weights(net, l), data + w->begin,
				  w->dims[0] * w->dims[1], w->dtype)) ||
		    !copy_floats(mlp_net_bias(net, l), data + b->begin, b->dims[0],
				 b->dtype)) {
			mlp_net_free(net);
			return mlpi_fail(msg, MLP_EFORMAT,
				    "layer %zu (%s or its bias) holds NaN or infinity "
				    "(or, in F64, a value beyond float's range)",
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
			      struct mlpi_json **root, const unsigned char **data,
			      size_t *data_size, mlp_msg *msg)
{
	uint64_t header_len = 0;
	const unsigned char *header = file + 8;
	size_t end;
	mlp_status st;

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
	st = mlpi_json_read(header, (size_t)header_len, MAX_HEADER_VALUES,
			    MAX_HEADER_DEPTH, root, &end, msg);
	if (st != MLP_OK)
		return st;
	for (size_t i = end; i < header_len; i++) {
		if (header[i] != ' ')
			return mlpi_fail(msg, MLP_EFORMAT,
				    "the header has something other than spaces "
				    "after its JSON object (byte %zu)", i);
	}
	if ((*root)->type != MLPI_JSON_OBJECT)
		return mlpi_fail(msg, MLP_EFORMAT, "the header is not a JSON object");
	*data = header + header_len;
	*data_size = size - 8 - (size_t)header_len;
	return MLP_OK;
}

/* __metadata__: an object of strings. */
static mlp_status check_meta(const struct mlpi_json *v, mlp_msg *msg)
{
	if (v->type != MLPI_JSON_OBJECT)
		return mlpi_fail(msg, MLP_EFORMAT, "__metadata__ is not an object");
	for (const struct mlpi_json *item = v->first; item; item = item->next) {
		if (item->type != MLPI_JSON_STRING)
			return mlpi_fail(msg, MLP_EFORMAT,
				    "__metadata__ %s is not a string",
				    show(item->key).s);
	}
	return MLP_OK;
}

/* Every tensor's entry of the header, checked, into e (room for every
 * key), their number into *n; the metadata into *meta (NULL: none). */
static mlp_status read_entries(const struct mlpi_json *root, size_t data_size,
			       struct entry *e, size_t *n,
			       const struct mlpi_json **meta, mlp_msg *msg)
{
	mlp_status st;

	*n = 0;
	*meta = NULL;
	for (const struct mlpi_json *v = root->first; v != NULL; v = v->next) {
		const char *key = v->key;

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

/* The bounds of a scale: sums of int8 products (below 2^31) times an
 * input scale and a weight scale stay below float's largest. */
#define SCALE_MIN 0x1p-48f
#define SCALE_MAX 0x1p48f

/* A quantised network's part: with I8 weights (every layer's, or none),
 * each layer's weight scales and input scale, each once; the weights
 * within [-127, 127], the scales finite in [2^-48, 2^48]. The model
 * entries are layer-sorted (check_layers). */
static mlp_status read_quant(const struct entry *model, const struct entry *q,
			     size_t n_q, const struct mlpi_json *meta,
			     const unsigned char *data, mlp_net *net, mlp_msg *msg)
{
	size_t L = net->n_layers, i8 = 0;
	const struct entry **ws = calloc(2 * L, sizeof(*ws));
	const int8_t **Wq = malloc(L * sizeof(*Wq));
	float **scales = calloc(L, sizeof(*scales)), *in = malloc(L * sizeof(float));
	const char *marked = string_value(mlpi_json_get(meta, "quantization"));
	mlp_status st = MLP_OK;

	for (size_t l = 0; l < L; l++)
		i8 += model[2 * l].dtype == I8;
	if (ws == NULL || Wq == NULL || scales == NULL || in == NULL)
		st = mlpi_fail(msg, MLP_ENOMEM, "out of memory for the scales");
	else if (i8 != 0 && i8 != L)
		st = mlpi_fail(msg, MLP_EFORMAT, "%zu of %zu layers have I8 weights: "
			       "a quantised network has them in every layer", i8, L);
	else if (i8 == 0 && n_q > 0)
		st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s: scales, but no I8 "
			       "weights to scale", show(q[0].name).s);
	else if (mlpi_json_get(meta, "quantization") != NULL &&
		 (marked == NULL || strcmp(marked, "int8") != 0 || i8 == 0))
		st = mlpi_fail(msg, MLP_EFORMAT, "__metadata__ quantization is "
			       "\"int8\", for I8 weights");
	for (size_t k = 0; st == MLP_OK && k < n_q; k++) {
		size_t slot = 2 * q[k].layer + (size_t)(q[k].quant - 1);

		if (q[k].layer >= L || ws[slot] != NULL)
			st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s: %s", show(q[k].name).s,
				       q[k].layer >= L ? "no such layer" : "given twice");
		else if (q[k].quant == QUANT_WEIGHT_SCALE &&
			 q[k].dims[0] != net->layers[q[k].layer].n_out)
			st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s: shape [%zu], not the "
				       "layer's %zu outputs", show(q[k].name).s,
				       q[k].dims[0], net->layers[q[k].layer].n_out);
		else
			ws[slot] = &q[k];
	}
	for (size_t l = 0; st == MLP_OK && i8 > 0 && l < L; l++) {
		const struct mlp_layer *ly = &net->layers[l];
		const struct entry *w = &model[2 * l];

		if (ws[2 * l] == NULL || ws[2 * l + 1] == NULL) {
			st = mlpi_fail(msg, MLP_EFORMAT, "layer %zu has I8 weights but "
				       "no quant.%zu.%s", l, l, ws[2 * l] == NULL
				       ? "weight_scale" : "input_scale");
			break;
		}
		Wq[l] = (const int8_t *)(const void *)(data + w->begin);
		for (size_t j = 0; st == MLP_OK && j < ly->n_out * ly->n_in; j++)
			if (Wq[l][j] == -128)
				st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s[%zu] is -128: "
					       "int8 weights are symmetric, -127 to 127",
					       show(w->name).s, j);
		scales[l] = malloc(ly->n_out * sizeof(float));
		if (st == MLP_OK && scales[l] == NULL)
			st = mlpi_fail(msg, MLP_ENOMEM, "out of memory for the scales");
		if (st == MLP_OK &&
		    (!copy_floats(scales[l], data + ws[2 * l]->begin, ly->n_out,
				  ws[2 * l]->dtype) ||
		     !copy_floats(&in[l], data + ws[2 * l + 1]->begin, 1,
				  ws[2 * l + 1]->dtype)))
			st = mlpi_fail(msg, MLP_EFORMAT, "layer %zu: a scale holds NaN "
				       "or infinity", l);
		for (size_t j = 0; st == MLP_OK && j <= ly->n_out; j++) {
			float s = j < ly->n_out ? scales[l][j] : in[l];

			if (!(s >= SCALE_MIN && s <= SCALE_MAX))
				st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s is %g: a scale "
					       "is from 2^-48 to 2^48", show(ws[2 * l +
					       (j == ly->n_out)]->name).s, (double)s);
		}
	}
	if (st == MLP_OK && i8 > 0) {
		st = mlpi_quant_attach(net, Wq, (const float *const *)scales, in);
		if (st != MLP_OK)
			st = mlpi_fail(msg, st, "out of memory for the int8 weights");
	}
	for (size_t l = 0; scales != NULL && l < L; l++)
		free(scales[l]);
	free(scales);
	free(ws);
	free(Wq);
	free(in);
	return st;
}

/* A checkpoint's optimizer tensors: named "optimizer.m.",
 * "optimizer.v." or "optimizer.best." and a layer's name. */
#define STATE_PREFIX "optimizer."

static bool is_state(const struct entry *e)
{
	return strncmp(e->name, STATE_PREFIX, strlen(STATE_PREFIX)) == 0;
}

static bool is_model(const struct entry *e)
{
	return !is_state(e) && e->scaling == 0 && e->quant == 0;
}

static bool is_quant(const struct entry *e)
{
	return e->quant != 0;
}

/* Moves the entries that `keep` takes to the front; their count. */
static size_t partition(struct entry *e, size_t n,
			bool (*keep)(const struct entry *))
{
	size_t front = 0;

	for (size_t i = 0; i < n; i++) {
		if (keep(&e[i])) {
			struct entry t = e[front];

			e[front++] = e[i];
			e[i] = t;
		}
	}
	return front;
}

/* The scaling entries (any order) onto net: each pair whole, of the
 * network's width, finite, the deviations above 0. */
static mlp_status read_scaling(const struct entry *e, size_t n,
			       const unsigned char *data, mlp_net *net,
			       mlp_msg *msg)
{
	size_t widths[2] = { net->sizes[0], net->sizes[net->n_layers] };
	float *v[4] = { NULL, NULL, NULL, NULL };
	mlp_status st = MLP_OK;

	for (size_t i = 0; st == MLP_OK && i < n; i++) {
		int k = e[i].scaling - 1;
		size_t w = widths[k / 2];

		if (e[i].dims[0] != w) {
			st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s: shape [%zu], "
				       "not the network's %zu %s", show(e[i].name).s,
				       e[i].dims[0], w, k < 2 ? "inputs" : "outputs");
			break;
		}
		v[k] = malloc(w * sizeof(float));
		if (v[k] == NULL)
			st = mlpi_fail(msg, MLP_ENOMEM, "out of memory for the "
				       "scaling");
		else if (!copy_floats(v[k], data + e[i].begin, w, e[i].dtype))
			st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s holds NaN or "
				       "infinity", show(e[i].name).s);
		for (size_t j = 0; st == MLP_OK && k % 2 == 1 && j < w; j++)
			if (!(v[k][j] >= FLT_MIN))
				st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s[%zu] is "
					       "%g: a deviation must be at least "
					       "%g (2^-126, the smallest normal "
					       "float), or dividing by it "
					       "overflows", show(e[i].name).s, j,
					       (double)v[k][j], (double)FLT_MIN);
	}
	for (int k = 0; st == MLP_OK && k < 4; k += 2)
		if ((v[k] == NULL) != (v[k + 1] == NULL))
			st = mlpi_fail(msg, MLP_EFORMAT, "%s without %s",
				       scaling_names[v[k] == NULL ? k + 1 : k],
				       scaling_names[v[k] == NULL ? k : k + 1]);
	if (st == MLP_OK) {
		st = mlp_net_set_scaling(net, v[0], v[1], v[2], v[3]);
		if (st != MLP_OK)
			st = mlpi_fail(msg, st == MLP_ENOMEM ? MLP_ENOMEM : MLP_EFORMAT,
				       "%s", st == MLP_ENOMEM ? "out of memory for "
				       "the scaling" : "the scaling is refused");
	}
	for (int k = 0; k < 4; k++)
		free(v[k]);
	return st;
}

/* The state of a checkpoint of net: its metadata, checked, and its
 * optimizer tensors, one of each part for each of the network's tensors,
 * with their shapes: "optimizer.m.", "optimizer.v." and, with keep_best
 * once an epoch was best, "optimizer.best." and a layer's name. */
static mlp_status read_state(const struct entry *e, size_t n,
			     const struct mlpi_json *meta,
			     const unsigned char *data,
			     const mlp_net *net, struct mlpi_state *state,
			     mlp_msg *msg)
{
	static const char *const parts[3] = { "m", "v", "best" };
	float **blocks[3] = { &state->M, &state->V, &state->best };
	size_t found = 0, want;
	int n_parts;
	mlp_status st = mlpi_checkpoint_meta_read(meta, state, msg);

	if (st != MLP_OK)
		return st;
	n_parts = state->opts.keep_best && state->best_epoch > 0 ? 3 : 2;
	want = 2 * (size_t)n_parts * net->n_layers;
	for (int k = 0; k < n_parts; k++) {
		*blocks[k] = calloc(net->block_floats, sizeof(float));
		if (*blocks[k] == NULL)
			st = mlpi_fail(msg, MLP_ENOMEM, "out of memory for the state");
	}
	for (size_t i = 0; st == MLP_OK && i < n; i++) {
		char name[64];
		bool match = false;

		for (int k = 0; k < n_parts && !match; k++) {
			for (size_t l = 0; l < net->n_layers && !match; l++) {
				const struct mlp_layer *ly = &net->layers[l];
				float *dst = *blocks[k] +
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
									 : ly->n_out,
							  e[i].dtype))
					match = false;
			}
		}
		if (!match)
			st = mlpi_fail(msg, MLP_EFORMAT, "tensor %s: not a finite "
				       "optimizer tensor of this network",
				       show(e[i].name).s);
		found++;
	}
	if (st == MLP_OK && found != want)
		st = mlpi_fail(msg, MLP_EFORMAT, "not a checkpoint: %zu optimizer "
			       "tensors for %zu layers (%d a layer)", found,
			       net->n_layers, 2 * n_parts);
	if (st == MLP_OK)
		st = mlpi_checkpoint_check(net, state, msg);
	if (st != MLP_OK) {
		for (int k = 0; k < 3; k++) {
			free(*blocks[k]);
			*blocks[k] = NULL;
		}
	}
	return st;
}

mlp_status mlpi_st_read(mlp_net **out, const unsigned char *file, size_t size,
			const mlp_load_opts *opts, struct mlpi_state *state,
			mlp_msg *msg)
{
	const unsigned char *data = NULL;
	const struct mlpi_json *meta = NULL;
	size_t data_size = 0, n = 0, n_layers = 0, n_model = 0, n_state = 0;
	size_t n_quant = 0;
	mlp_net *net = NULL;
	struct mlpi_json *root = NULL;
	struct entry *e = NULL;
	mlp_act *acts = NULL;
	mlp_status st;

	/* One layout of mlp_load_opts so far: fields added later would take
	 * their defaults for a smaller struct_size. */
	if (opts != NULL && opts->struct_size != sizeof(mlp_load_opts))
		return mlpi_fail(msg, MLP_EINVAL, "opts->struct_size is %zu, not "
				 "%zu, the mlp_load_opts this library knows: "
				 "start from mlp_load_defaults()",
				 opts->struct_size, sizeof(mlp_load_opts));
	st = read_header(file, size, &root, &data, &data_size, msg);
	if (st == MLP_OK) {
		e = malloc((root->count + 1) * sizeof(*e));
		acts = malloc((root->count / 2 + 1) * sizeof(*acts));
		if (e == NULL || acts == NULL)
			st = mlpi_fail(msg, MLP_ENOMEM,
				       "out of memory for the header's tensors");
	}
	if (st == MLP_OK)
		st = read_entries(root, data_size, e, &n, &meta, msg);
	if (st == MLP_OK)
		st = check_ranges(e, n, data_size, msg);
	if (st == MLP_OK) {
		n_model = partition(e, n, is_model);
		n_state = n_model + partition(e + n_model, n - n_model, is_state);
		n_quant = n_state + partition(e + n_state, n - n_state, is_quant);
		if (n_model == 0)
			st = mlpi_fail(msg, MLP_EFORMAT, "the file holds no tensors "
				       "of a network, only an optimizer's");
	}
	/* Whether it is a checkpoint at all, before what a model lacks. */
	if (st == MLP_OK && state != NULL)
		st = mlpi_checkpoint_marked(meta, msg);
	if (st == MLP_OK)
		st = check_layers(e, n_model, &n_layers, msg);
	if (st == MLP_OK)
		st = read_acts(meta, opts, n_layers, acts, msg);
	/* *out is written once all of the file has been read. */
	if (st == MLP_OK)
		st = build(e, n_layers, acts, data, &net, msg);
	if (st == MLP_OK)
		st = read_scaling(e + n_quant, n - n_quant, data, net, msg);
	if (st == MLP_OK)
		st = read_quant(e, e + n_state, n_quant - n_state, meta, data, net,
				msg);
	if (st == MLP_OK && state != NULL)
		st = read_state(e + n_model, n_state - n_model, meta, data, net,
				state, msg);
	if (st == MLP_OK)
		*out = net;
	else
		mlp_net_free(net);
	free(e);
	free(acts);
	free(root);
	return st;
}

/* The header's text as it grows; a failed allocation sticks. */
struct text {
	char *s;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3)))
static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= t->cap - t->len) {
		size_t cap = 2 * t->cap + (size_t)n + 64;
		char *grown = realloc(t->s, cap);

		if (grown == NULL) {
			t->failed = true;
			return;
		}
		t->s = grown;
		t->cap = cap;
		va_start(ap, fmt);
		n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
	}
	if (n < 0)
		t->failed = true;
	else
		t->len += (size_t)n;
}

/* The entries of net's tensors under `prefix`, from byte *at of the data.
 * (Every string of a header is mlp's own ASCII, with nothing to escape.) */
static void add_tensors(struct text *t, const mlp_net *net, const char *prefix,
			size_t *at)
{
	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *layer = &net->layers[l];
		size_t wb = layer->n_out * layer->n_in * sizeof(float);
		size_t bb = layer->n_out * sizeof(float);

		add(t, "%s\"%s%zu.weight\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],"
		    "\"data_offsets\":[%zu,%zu]}", t->len > 1 ? "," : "", prefix,
		    l, layer->n_out, layer->n_in, *at, *at + wb);
		*at += wb;
		add(t, ",\"%s%zu.bias\":{\"dtype\":\"F32\",\"shape\":[%zu],"
		    "\"data_offsets\":[%zu,%zu]}", prefix, l, layer->n_out, *at,
		    *at + bb);
		*at += bb;
	}
}

/* A quantised network's entries: the F32 ones first (per layer its bias,
 * weight scales and input scale), so that they stay 4-byte aligned; its
 * I8 weights come after the scaling (mlpi_st_quant_tail). */
static void add_quant(struct text *t, const mlp_net *net, size_t *at)
{
	for (size_t l = 0; l < net->n_layers; l++) {
		size_t bb = net->layers[l].n_out * sizeof(float);

		add(t, "%s\"layers.%zu.bias\":{\"dtype\":\"F32\",\"shape\":[%zu],"
		    "\"data_offsets\":[%zu,%zu]}", t->len > 1 ? "," : "", l,
		    net->layers[l].n_out, *at, *at + bb);
		*at += bb;
		add(t, ",\"" QUANT_PREFIX "%zu.weight_scale\":{\"dtype\":\"F32\","
		    "\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}", l,
		    net->layers[l].n_out, *at, *at + bb);
		*at += bb;
		add(t, ",\"" QUANT_PREFIX "%zu.input_scale\":{\"dtype\":\"F32\","
		    "\"shape\":[1],\"data_offsets\":[%zu,%zu]}", l, *at, *at + 4);
		*at += 4;
	}
}

static void add_quant_weights(struct text *t, const mlp_net *net, size_t *at)
{
	for (size_t l = 0; l < net->n_layers; l++) {
		const struct mlp_layer *ly = &net->layers[l];

		add(t, ",\"layers.%zu.weight\":{\"dtype\":\"I8\",\"shape\":[%zu,%zu],"
		    "\"data_offsets\":[%zu,%zu]}", l, ly->n_out, ly->n_in, *at,
		    *at + ly->n_out * ly->n_in);
		*at += ly->n_out * ly->n_in;
	}
}

/* The entries of the network's scaling, where it has some. */
static void add_scaling(struct text *t, const mlp_net *net, size_t *at)
{
	size_t widths[2] = { net->sizes[0], net->sizes[net->n_layers] };
	bool has[2] = { net->has_in, net->has_out };

	for (int k = 0; k < 4; k++) {
		size_t w = widths[k / 2];

		if (!has[k / 2])
			continue;
		add(t, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu],"
		    "\"data_offsets\":[%zu,%zu]}", scaling_names[k], w, *at,
		    *at + w * sizeof(float));
		*at += w * sizeof(float);
	}
}

mlp_status mlpi_st_header(const mlp_net *net, const struct mlpi_state *state,
			  char **out, size_t *out_len, mlp_msg *msg)
{
	struct text t = { malloc(256), 0, 256, false };
	size_t at = 0;

	if (t.s == NULL)
		return mlpi_fail(msg, MLP_ENOMEM, "out of memory for the header");
	t.s[0] = '\0';
	add(&t, "{");
	if (state == NULL && mlpi_net_quantized(net)) {
		add_quant(&t, net, &at);
		add_scaling(&t, net, &at);
		add_quant_weights(&t, net, &at);
	} else {
		add_tensors(&t, net, "layers.", &at);
		add_scaling(&t, net, &at);
	}
	if (state != NULL) {
		add_tensors(&t, net, STATE_PREFIX "m.", &at);
		add_tensors(&t, net, STATE_PREFIX "v.", &at);
		if (state->best != NULL)
			add_tensors(&t, net, STATE_PREFIX "best.", &at);
	}
	add(&t, ",\"__metadata__\":{");
	if (state != NULL) {
		char *meta = mlpi_checkpoint_meta(state);

		t.failed |= meta == NULL;
		add(&t, "%s", meta != NULL ? meta : "");
		free(meta);
	}
	if (state == NULL && mlpi_net_quantized(net))
		add(&t, "\"quantization\":\"int8\",");
	add(&t, "\"activations\":\"");
	for (size_t l = 0; l < net->n_layers; l++)
		add(&t, "%s%s", l > 0 ? "," : "", mlp_act_name(net->layers[l].act));
	add(&t, "\"}}");
	/* Spaces up to a multiple of 8, so that the data starts aligned. */
	while (!t.failed && t.len % 8 != 0)
		add(&t, " ");
	if (t.failed) {
		free(t.s);
		return mlpi_fail(msg, MLP_ENOMEM, "out of memory for the header");
	}
	*out = t.s;
	*out_len = t.len;
	return MLP_OK;
}
