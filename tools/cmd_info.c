/* cmd_info.c — mlp info: what a model file holds. */
#include "tool.h"

#include <getopt.h>
#include <stdlib.h>
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

/* A checkpoint's run: where it is and its main options; a checkpoint
 * whose state is refused is said so (exit 3). */
static int show_checkpoint(const char *path)
{
	mlp_train_opts o = mlp_train_defaults();
	size_t epoch = 0;
	mlp_msg msg;
	mlp_status st = mlp_checkpoint_opts(path, &o, &epoch, &msg);

	if (st == MLP_EFORMAT && strncmp(msg.text, "not a checkpoint", 16) == 0)
		return EXIT_OK;
	if (st == MLP_EFORMAT)
		return report_error(EXIT_MODEL, "%s: the checkpoint is refused: %s",
				    path, msg.text);
	if (st != MLP_OK)
		return report_error(EXIT_FAIL, "%s: %s", path, msg.text);
	printf("  checkpoint  epoch %zu of %zu: %s, --lr %g, --batch %zu, "
	       "--seed %llu (mlp train --resume goes on from it)\n", epoch,
	       o.epochs, o.optim == MLP_OPTIM_SGD ? "sgd" : "adam", (double)o.lr,
	       o.batch_size, (unsigned long long)o.seed);
	return EXIT_OK;
}

/* A quantised model's scales: per layer its input scale and the range of
 * its weight scales. */
static int show_quantized(const mlp_net *net)
{
	printf("  int8     quantised: I8 weights, a scale per output and one per "
	       "layer's inputs (mlp run, eval and serve run it in int8)\n");
	for (size_t l = 0; l < mlp_net_layers(net); l++) {
		size_t n = mlp_net_width(net, l + 1);
		float in, *w = malloc(n * sizeof(float)), lo, hi;
		int rc = w == NULL ? report_error(EXIT_FAIL, "out of memory")
			 : report_status(mlp_net_quant_scales(net, l, &in, w),
					 "the scales of layer %zu", l);

		if (rc != EXIT_OK) {
			free(w);
			return rc;
		}
		lo = hi = w[0];
		for (size_t i = 1; i < n; i++) {
			lo = w[i] < lo ? w[i] : lo;
			hi = w[i] > hi ? w[i] : hi;
		}
		printf("  layer %zu  input scale %.6g, weight scales %.6g to %.6g\n",
		       l, (double)in, (double)lo, (double)hi);
		free(w);
	}
	return EXIT_OK;
}

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
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'a')
			acts = optarg;
		else if (c == 'h')
			return fputs(help, stdout), EXIT_OK;
		else
			return report_usage("info", argv, c);
	}
	if (argc - optind != 1)
		return report_error(EXIT_USAGE, "info: give one MODEL (mlp info "
				    "--help)");
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

		rc = report_status(mlp_net_get_scaling(net, &im, &is, &om, &os),
				   "%s: the scaling", argv[optind]);
		if (rc == EXIT_OK && (im != NULL || om != NULL))
			printf("  scaling  %s%s%s (mlp run and eval apply it)\n",
			       im != NULL ? "inputs" : "",
			       im != NULL && om != NULL ? " and " : "",
			       om != NULL ? "targets" : "");
	}
	if (rc == EXIT_OK && mlp_net_quantized(net))
		rc = show_quantized(net);
	mlp_net_free(net);
	if (rc == EXIT_OK)
		rc = show_checkpoint(argv[optind]);
	if (rc == EXIT_OK && fflush(stdout) != 0)
		rc = report_error(EXIT_FAIL, "cannot write to standard output");
	return rc;
}
