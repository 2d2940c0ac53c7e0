/*
 * mlp.c — the mlp command-line program: dispatch, help, and what the
 * commands share.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <stdarg.h>
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
	"\n"
	"MODEL is a safetensors file. 'mlp COMMAND --help' tells more.\n"
	"\n"
	"Exit status: 0 success, 1 a file could not be read or written,\n"
	"2 a wrong command line, 3 a model file mlp cannot run, 4 wrong data\n"
	"(a bad row, width or label), 5 training diverged.\n";

int die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("mlp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

size_t parse_acts(const char *list, mlp_act *acts, size_t max)
{
	size_t n = 0;
	const char *s = list;

	for (;;) {
		char name[32];
		size_t len = strcspn(s, ",");

		if (n == max || len >= sizeof(name)) {
			die(EXIT_USAGE, "too many activations, or one too long: %s", list);
			return 0;
		}
		memcpy(name, s, len);
		name[len] = '\0';
		if (mlp_act_parse(name, &acts[n]) != MLP_OK) {
			die(EXIT_USAGE,
			    "unknown activation '%s' (identity, relu, leaky_relu, "
			    "sigmoid, tanh, gelu, gelu_tanh, silu, softmax)", name);
			return 0;
		}
		n++;
		if (s[len] != ',')
			return n;
		s += len + 1;
	}
}

int load_model(const char *path, const char *act_list, mlp_net **out)
{
	mlp_act acts[MLP_MAX_LAYERS];
	mlp_load_opts opts = { NULL, 0 };
	mlp_msg msg = { { 0 } };
	mlp_status st;

	if (act_list != NULL) {
		opts.n_acts = parse_acts(act_list, acts, MLP_MAX_LAYERS);
		if (opts.n_acts == 0)
			return EXIT_USAGE;
		opts.acts = acts;
	}
	st = mlp_net_load(out, path, &opts, &msg);
	if (st == MLP_OK)
		return EXIT_OK;
	if (st == MLP_EIO)
		return die(EXIT_FAIL, "%s", msg.text);
	if (st == MLP_ENOMEM)
		return die(EXIT_FAIL, "%s: out of memory", path);
	if (st == MLP_ENOTSUP)
		return die(EXIT_FAIL, "this mlp was built without model files");
	return die(EXIT_MODEL, "%s: %s", path, msg.text);
}

/* OpenBLAS 0.3.21 runs its slowest (Prescott) kernels on CPUs newer than
 * it; OPENBLAS_CORETYPE picks the right ones, but only from the start of
 * the process: so the program sets it and starts itself again. An
 * OPENBLAS_CORETYPE already set is left alone. */
static void prefer_fast_blas(char **argv)
{
#if defined(__x86_64__) && defined(__GNUC__)
	const char *core = NULL;

	if (getenv("OPENBLAS_CORETYPE") != NULL ||
	    strstr(mlp_blas_info(), " Prescott ") == NULL)
		return;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		core = "SkylakeX";
	else if (__builtin_cpu_supports("avx2"))
		core = "Haswell";
	if (core != NULL && setenv("OPENBLAS_CORETYPE", core, 1) == 0)
		execv("/proc/self/exe", argv);
#else
	(void)argv;
#endif
}

int main(int argc, char **argv)
{
	prefer_fast_blas(argv);
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
