/*
 * fuzz_load.c — libFuzzer target for the model-file loader: any bytes go to
 * mlp_net_load_memory; a file it accepts also runs a forward pass, and a
 * quantised one a pass of an int8 plan too. The
 * sanitizers report anything the loader reads, writes or leaks wrongly.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_load -dict=tests/fuzz/load.dict CORPUS tests/fuzz/corpus
 */
#include <mlp.h>

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mlp_net *net = NULL;
	mlp_workspace *ws = NULL;
	mlp_msg msg;

	if (mlp_net_load_memory(&net, data, size, NULL, &msg) != MLP_OK)
		return 0;
	/* Small networks only: a forward pass of a huge one proves nothing
	 * more and slows the fuzzer. */
	if (mlp_net_param_count(net) <= 100000 &&
	    mlp_workspace_create(&ws, net, 2) == MLP_OK) {
		size_t n_in = mlp_net_width(net, 0);
		size_t n_out = mlp_net_width(net, mlp_net_layers(net));
		float *X = calloc(2 * n_in, sizeof(float));
		float *Y = malloc(2 * n_out * sizeof(float));

		if (X != NULL && Y != NULL)
			mlp_forward(net, ws, 2, X, Y);
		if (X != NULL && Y != NULL && mlp_net_quantized(net)) {
			mlp_plan *plan = NULL;

			for (size_t i = 0; i < 2 * n_in; i++)
				X[i] = (float)i - 1.5f;
			if (mlp_plan_create(&plan, net, MLP_INT8, 2) == MLP_OK)
				mlp_plan_forward(plan, 2, X, Y);
			mlp_plan_free(plan);
		}
		free(X);
		free(Y);
		mlp_workspace_free(ws);
	}
	mlp_net_free(net);
	return 0;
}
