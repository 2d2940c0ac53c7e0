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
	"MODEL is a safetensors file. 'mlp COMMAND --help' tells more;\n"
	"'mlp --version' the BLAS, engines and precisions this build runs.\n"
	"\n"
	"Under an MPI launcher (mpirun -np P mlp ...), train and run share the\n"
	"work among the P processes.\n"
	"\n"
	"Exit status: 0 success, 1 a file could not be read or written,\n"
	"2 a wrong command line, 3 a model file mlp cannot run, 4 wrong data\n"
	"(a bad row, width or label), 5 training diverged.\n";

/* The version, and what this build and this CPU run. */
static int version(void)
{
	printf("mlp %s\n", mlp_version_string());
	printf("BLAS: %s\n", mlp_blas_info());
	printf("engines: %s\n", mlp_engines());
	printf("precisions: fp32%s\n", mlp_precision_supported(MLP_BF16)
		       ? " bf16"
		       : " (bf16: needs oneDNN and a CPU with AVX512_BF16 or AMX)");
	return EXIT_OK;
}

/* The command argv[1] names. */
static int dispatch(int argc, char **argv)
{
	if (argc < 2)
		return fputs(usage, stderr), EXIT_USAGE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help"))
		return fputs(usage, stdout), EXIT_OK;
	if (!strcmp(argv[1], "--version"))
		return version();
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "train"))
		return cmd_train(argc - 1, argv + 1);
	fprintf(stderr, "mlp: unknown command '%s'\n\n%s", argv[1], usage);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	int rc = ranks_start(&argc, &argv);

	if (rc == EXIT_OK)
		rc = dispatch(argc, argv);
	ranks_end();
	return rc;
}
