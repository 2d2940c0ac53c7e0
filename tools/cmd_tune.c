/*
 * cmd_tune.c — mlp tune: plans made by measuring (MLP_MEASURE) for each
 * model, their choices kept as wisdom for mlp run.
 */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <getopt.h>
#include <stdlib.h>

static const char help[] =
	"usage: mlp tune [OPTIONS] MODEL...\n"
	"\n"
	"Times each kernel this build and CPU have on each layer of each MODEL,\n"
	"for batches of 1, 2, 4, ... up to --max-batch rows, and keeps the\n"
	"fastest as wisdom, which mlp run and eval read to plan without\n"
	"measuring.\n"
	"The wisdom already in the file is kept, and added to. It holds for\n"
	"this CPU, this build of mlp and its BLAS, and these threads only.\n"
	"\n"
	"  --max-batch N     the largest batch to plan for (default 256)\n"
	"  --precision P     fp32, bf16 or int8 (default: int8 for a quantised\n"
	"                    model, else fp32)\n"
	"  --time-limit S    seconds of timing a model at most (default 1)\n"
	"  --out FILE        where the wisdom goes (default: $MLP_WISDOM, else\n"
	"                    $XDG_CACHE_HOME/mlp/wisdom, else\n"
	"                    ~/.cache/mlp/wisdom)\n"
	"\n"
	"For each model, prints the plan chosen: per batch size, each layer's\n"
	"kernel.\n";

int cmd_tune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-batch", required_argument, NULL, 'b' },
		{ "precision", required_argument, NULL, 'P' },
		{ "time-limit", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	mlp_plan_opts po = mlp_plan_defaults();
	char path[4096];
	const char *out = NULL;
	float limit = 1.0f;
	mlp_precision precision = PRECISION_MODEL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			rc = option_size("max-batch", optarg, 1, MLP_MAX_BATCH,
					 &po.max_batch);
			if (rc != EXIT_OK)
				return rc;
			break;
		case 'P':
			rc = option_precision("precision", optarg, &precision);
			if (rc != EXIT_OK)
				return rc;
			break;
		case 't':
			rc = option_float("time-limit", optarg, &limit);
			if (rc == EXIT_OK && !(limit > 0 && limit <= 3600))
				rc = report_error(EXIT_USAGE, "--time-limit %s: "
						  "seconds above 0, at most 3600",
						  optarg);
			if (rc != EXIT_OK)
				return rc;
			break;
		case 'o': out = optarg; break;
		case 'h': return fputs(help, stdout), EXIT_OK;
		default: return report_usage("tune", argv, c);
		}
	}
	if (argc - optind < 1)
		return report_error(EXIT_USAGE, "tune: give at least one MODEL "
				    "(mlp tune --help)");
	if (out == NULL && !wisdom_path(path, sizeof(path)))
		return report_error(EXIT_USAGE, "tune: no place for the wisdom: "
				    "give --out, or set MLP_WISDOM, "
				    "XDG_CACHE_HOME or HOME");
	out = out != NULL ? out : path;
	rc = wisdom_read(out, false);
	po.precision = precision;
	po.effort = MLP_MEASURE;
	po.time_limit = limit;
	for (int i = optind; i < argc && rc == EXIT_OK; i++) {
		mlp_plan *plan = NULL;
		mlp_net *net = NULL;
		mlp_msg msg = { "" };
		mlp_status st;

		mlp_plan_opts mo = po;

		rc = load_model(argv[i], NULL, &net);
		if (rc == EXIT_OK)
			rc = model_precision(net, argv[i], po.precision, &mo.precision);
		if (rc != EXIT_OK) {
			mlp_net_free(net);
			break;
		}
		st = mlp_plan_create_opts(&plan, net, &mo, &msg);
		if (st != MLP_OK)
			rc = report_status(st, "%s: cannot plan%s%s", argv[i],
					   msg.text[0] ? ": " : "", msg.text);
		else
			printf("%s: %s\n", argv[i], mlp_plan_describe(plan));
		mlp_plan_free(plan);
		mlp_net_free(net);
	}
	if (rc == EXIT_OK)
		rc = wisdom_write(out);
	if (rc == EXIT_OK)
		fprintf(stderr, "mlp: wisdom written to %s\n", out);
	return rc;
}
