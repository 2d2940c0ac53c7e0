/* mlp.c — the mlp command-line program: help, and dispatch to a command. */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
		       ? " bf16"
		       : " (bf16: needs oneDNN and a CPU with AVX512_BF16 or AMX)");
	return EXIT_OK;
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
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "train"))
		return cmd_train(argc - 1, argv + 1);
	if (!strcmp(argv[1], "eval"))
		return cmd_eval(argc - 1, argv + 1);
	if (!strcmp(argv[1], "plot"))
		return cmd_plot(argc - 1, argv + 1);
	fprintf(stderr, "mlp: unknown command '%s'\n\n%s", argv[1], usage);
	return EXIT_USAGE;
}

/* Under an address-space limit (ulimit -v), each of OpenBLAS's worker
 * threads maps a 128 MiB buffer when it starts, and retries forever when
 * it cannot: the program then hangs at its first product or at its exit.
 * Below a limit with room for them, the program starts itself again with
 * OpenBLAS on one thread (the setting must be there before OpenBLAS
 * loads), unless OPENBLAS_NUM_THREADS already says how many. */
static void fit_blas_to_limit(char **argv)
{
	struct rlimit rl;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (getenv("OPENBLAS_NUM_THREADS") != NULL ||
	    getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    cpus <= 1 || rl.rlim_cur >= ((rlim_t)512 + 160 * (rlim_t)cpus) << 20)
		return;
	if (setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0)
		execv("/proc/self/exe", argv);
	/* No re-execution: go on, with OpenBLAS as it is. */
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
	fit_blas_to_limit(argv);
	rc = ranks_start(&argc, &argv);

	if (rc == EXIT_OK)
		rc = dispatch(argc, argv);
	rc = ranks_finish(rc);
	ranks_end();
	return rc;
}
