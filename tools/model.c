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
