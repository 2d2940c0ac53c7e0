/* model.c — loading a model file for a command (see tool.h). */
#include "tool.h"

#include <string.h>

int load_model(const char *path, const char *act_list, mlp_net **out)
{
	mlp_act acts[MLP_MAX_LAYERS];
	mlp_load_opts opts = mlp_load_defaults();
	mlp_msg msg;
	mlp_status st;
	int rc;

	if (act_list != NULL) {
		rc = option_acts("act", act_list, acts, MLP_MAX_LAYERS, &opts.n_acts);
		if (rc != EXIT_OK)
			return rc;
		opts.acts = acts;
	}
	st = mlp_net_load(out, path, &opts, &msg);
	switch (st) {
	case MLP_OK:
		return EXIT_OK;
	case MLP_EIO:
	case MLP_ENOMEM:
	case MLP_ENOTSUP:
		return report_error(EXIT_FAIL, "%s", msg.text);
	case MLP_ESIZE:
	case MLP_EACT: /* --act does not fit the file */
		return report_error(EXIT_USAGE, "--act '%s': %s", act_list,
				    msg.text);
	default:
		/* The library's advice is for programs; the tool's is --act. */
		if (act_list == NULL &&
		    strncmp(msg.text, "no activations", 14) == 0)
			return report_error(EXIT_MODEL, "%s: the file names no "
					    "activations (a PyTorch state "
					    "dict?); give them with --act, one "
					    "a layer: --act relu,relu,softmax",
					    path);
		return report_error(EXIT_MODEL, "%s: %s", path, msg.text);
	}
}

int model_precision(const mlp_net *net, const char *path, mlp_precision given,
		    mlp_precision *out)
{
	if (given == PRECISION_MODEL)
		given = mlp_net_quantized(net) ? MLP_INT8 : MLP_FP32;
	else if (given == MLP_INT8 && !mlp_net_quantized(net))
		return report_error(EXIT_USAGE, "--precision int8: %s is not a "
				    "quantised model (make one with mlp "
				    "quantize)", path);
	*out = given;
	return EXIT_OK;
}

/* FNV-1a over n 32-bit words. */
static uint64_t fnv_words(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		uint32_t w;

		memcpy(&w, b + 4 * i, sizeof(w));
		h = (h ^ w) * 0x100000001b3u;
	}
	return h;
}

int model_hash(mlp_net *net, uint64_t *out)
{
	size_t layers = mlp_net_layers(net);
	const float *scaling[4];
	uint64_t h = 0xcbf29ce484222325u;
	size_t widths[2] = { mlp_net_width(net, 0), mlp_net_width(net, layers) };
	int rc = report_status(mlp_net_get_scaling(net, &scaling[0], &scaling[1],
						   &scaling[2], &scaling[3]),
			       "the model's scaling");

	if (rc != EXIT_OK)
		return rc;
	for (size_t l = 0; l < layers; l++) {
		uint32_t shape[3] = { (uint32_t)mlp_net_width(net, l),
				      (uint32_t)mlp_net_width(net, l + 1),
				      (uint32_t)mlp_net_act(net, l) };

		h = fnv_words(h, shape, 3);
		h = fnv_words(h, mlp_net_weights(net, l), shape[0] * (size_t)shape[1]);
		h = fnv_words(h, mlp_net_bias(net, l), shape[1]);
	}
	for (int k = 0; k < 4; k++) {
		uint32_t given = scaling[k] != NULL;

		h = fnv_words(h, &given, 1);
		if (given)
			h = fnv_words(h, scaling[k], widths[k / 2]);
	}
	*out = h;
	return EXIT_OK;
}
