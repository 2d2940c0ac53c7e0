/* cmd_info.c — mlp info: what a model file holds. */
#include "tool.h"

#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
	"usage: mlp info [--act LIST] MODEL\n"
	"\n"
	"Prints the layers of the network in MODEL (a safetensors file), their\n"
	"widths and activations, the number of parameters and the file's size.\n"
	"\n"
	"  --act LIST   the activations, comma-separated, for a file that names\n"
	"               none (a PyTorch state dict), or to override its own\n";

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "act", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *acts = NULL;
	struct stat sb;
	mlp_net *net;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'a')
			acts = optarg;
		else if (c == 'h')
			return fputs(help, stdout), EXIT_OK;
		else
			return fputs(help, stderr), EXIT_USAGE;
	}
	if (argc - optind != 1)
		return fputs(help, stderr), EXIT_USAGE;
	rc = load_model(argv[optind], acts, &net);
	if (rc != EXIT_OK)
		return rc;
	printf("%s: %zu layer%s, %zu parameters", argv[optind],
	       mlp_net_layers(net), mlp_net_layers(net) == 1 ? "" : "s",
	       mlp_net_param_count(net));
	if (stat(argv[optind], &sb) == 0)
		printf(", %lld bytes", (long long)sb.st_size);
	putchar('\n');
	printf("  input    %zu\n", mlp_net_width(net, 0));
	for (size_t l = 0; l < mlp_net_layers(net); l++)
		printf("  layer %zu  %zu -> %zu  %s\n", l, mlp_net_width(net, l),
		       mlp_net_width(net, l + 1), mlp_act_name(mlp_net_act(net, l)));
	{
		const float *im, *is, *om, *os;

		mlp_net_get_scaling(net, &im, &is, &om, &os);
		if (im != NULL || om != NULL)
			printf("  scaling  %s%s%s (mlp run and eval apply it)\n",
			       im != NULL ? "inputs" : "",
			       im != NULL && om != NULL ? " and " : "",
			       om != NULL ? "targets" : "");
	}
	mlp_net_free(net);
	return EXIT_OK;
}
