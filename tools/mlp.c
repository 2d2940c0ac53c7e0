/* mlp.c — the mlp command-line program: help, and dispatch to a command. */
#include "tool.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: mlp COMMAND [OPTIONS] ...\n"
	"\n"
	"  mlp info MODEL            layers, widths, activations, parameters\n"
	"  mlp run MODEL [INPUT]     outputs of the network for rows of inputs\n"
	"  mlp train --sizes ... --out MODEL DATA\n"
	"                            train a network on CSV or IDX data\n"
	"\n"
	"MODEL is a safetensors file. 'mlp COMMAND --help' tells more.\n"
	"\n"
	"Exit status: 0 success, 1 a file could not be read or written,\n"
	"2 a wrong command line, 3 a model file mlp cannot run, 4 wrong data\n"
	"(a bad row, width or label), 5 training diverged.\n";

int main(int argc, char **argv)
{
	if (argc < 2)
		return fputs(usage, stderr), EXIT_USAGE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help"))
		return fputs(usage, stdout), EXIT_OK;
	if (!strcmp(argv[1], "--version"))
		return printf("mlp %s (%s)\n", mlp_version_string(), mlp_blas_info()),
		       EXIT_OK;
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "train"))
		return cmd_train(argc - 1, argv + 1);
	fprintf(stderr, "mlp: unknown command '%s'\n\n%s", argv[1], usage);
	return EXIT_USAGE;
}
