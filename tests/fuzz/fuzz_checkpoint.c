/*
 * fuzz_checkpoint.c — libFuzzer target for checkpoints: any bytes go to the
 * reader mlp_train resumes from (the network, the optimizer's tensors and
 * every metadata field, checked against each other); a checkpoint it
 * accepts is then compared with the options it records, as a resumed run
 * compares them, which must accept it. The sanitizers report anything read,
 * written or leaked wrongly.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_checkpoint -dict=tests/fuzz/checkpoint.dict \
 *       CORPUS tests/fuzz/corpus/checkpoint
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlpi_state s = { 0 };
	mlp_net *net = NULL;
	mlp_msg msg;

	if (mlpi_st_read(&net, data, size, NULL, &s, &msg) != MLP_OK)
		return 0;
	/* The run the checkpoint says made it may resume from it. */
	if (mlpi_checkpoint_fits(&s, &s.opts, s.rows, s.workers, "fuzz",
				 &msg) != MLP_OK)
		abort();
	free(s.M);
	free(s.V);
	free(s.best);
	mlp_net_free(net);
	return 0;
}
