/* mlp.c — the mlp command-line program: help, and dispatch to a command. */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: mlp COMMAND [OPTIONS] ...\n"
	"\n"
	"  mlp info MODEL            layers, widths, activations, parameters\n"
	"  mlp run MODEL [INPUT]     outputs of the network for rows of inputs\n"
	"  mlp train --sizes ... --out MODEL DATA\n"
	"                            train a network on CSV or IDX data\n"
	"  mlp eval MODEL DATA       loss, accuracy and confusion matrix, or\n"
	"                            MSE, MAE and R^2, on labelled data\n"
	"  mlp plot LOG.csv... OUT.png\n"
	"                            training curves from mlp train --log\n"
	"  mlp quantize MODEL CALIB --out QMODEL\n"
	"                            an int8 model, calibrated on rows of inputs\n"
	"  mlp tune MODEL...         time the kernels on this machine, keep the\n"
	"                            fastest as wisdom for mlp run and eval\n"
	"  mlp serve MODEL...        answer inference requests over HTTP (Open\n"
	"                            Inference Protocol), batching them\n"
	"\n"
	"MODEL is a safetensors file. 'mlp COMMAND --help' tells more;\n"
	"'mlp --version' the BLAS, engines and precisions this build runs.\n"
	"\n"
	"Under an MPI launcher (mpirun -np P mlp ...), train and run share the\n"
	"work among the P processes; the other commands run on rank 0 alone.\n"
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
		       ? " bf16 int8"
		       : " int8 (bf16: needs a CPU with AVX512_BF16 or AMX)");
	return EXIT_OK;
}

/* A command that computes: under an address-space limit, OpenBLAS takes
 * its buffer first (limits.c). */
static int computing(int (*cmd)(int, char **), int argc, char **argv)
{
	int rc = limits_reserve_blas();

	return rc != EXIT_OK ? rc : cmd(argc, argv);
}

/* The command argv[1] names. Under an MPI launcher, train and run share
 * their work among the ranks; the others run on rank 0 alone. */
static int dispatch(int argc, char **argv)
{
	if (rank_id() != 0 && (argc < 2 || (strcmp(argv[1], "train") != 0 &&
					    strcmp(argv[1], "run") != 0)))
		return EXIT_OK;
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
		return computing(cmd_run, argc - 1, argv + 1);
	if (!strcmp(argv[1], "train"))
		return computing(cmd_train, argc - 1, argv + 1);
	if (!strcmp(argv[1], "eval"))
		return computing(cmd_eval, argc - 1, argv + 1);
	if (!strcmp(argv[1], "plot"))
		return cmd_plot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "quantize"))
		return computing(cmd_quantize, argc - 1, argv + 1);
	if (!strcmp(argv[1], "tune"))
		return computing(cmd_tune, argc - 1, argv + 1);
	if (!strcmp(argv[1], "serve"))
		return computing(cmd_serve, argc - 1, argv + 1);
	fprintf(stderr, "mlp: unknown command '%s'\n\n%s", argv[1], usage);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	int rc;

	/* The commands say what is wrong with an option (report_usage). */
	opterr = 0;
	/* Past the file size limit (ulimit -f) a write fails, and the file
	 * being written is dropped, instead of the process being killed
	 * half-way through it. */
	signal(SIGXFSZ, SIG_IGN);
	rest_threads(argv);
	limits_fit_blas(argv);
	rc = ranks_start(&argc, &argv);

	if (rc == EXIT_OK)
		rc = dispatch(argc, argv);
	rc = ranks_finish(rc);
	ranks_end();
	return rc;
}
