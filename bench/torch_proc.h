/* torch_proc.h — PyTorch as a co-process (bench/torch_bench.py). */
#ifndef MLP_BENCH_TORCH_PROC_H
#define MLP_BENCH_TORCH_PROC_H

#include "mlp.h"

#include <stdbool.h>
#include <stddef.h>

struct torch_proc;

/* Starts `python script` with the BLAS and OpenMP thread counts set to
 * threads, and OPENBLAS_CORETYPE to coretype (NULL: as inherited); NULL
 * with a reason in why (of why_size bytes) on failure. */
struct torch_proc *torch_start(const char *python, const char *script,
			       int threads, const char *coretype, char *why,
			       size_t why_size);

/* Sends one command line and reads the answer; true for "ok". The text after
 * "ok " (or the error) goes to reply. */
bool torch_cmd(struct torch_proc *t, char *reply, size_t reply_size,
	       const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

void torch_stop(struct torch_proc *t);

/* Waits, up to a second, until PyTorch's process uses no CPU time: after
 * its first answers it kept a core busy for about 0.1 s (its own work after
 * the reply), which slowed the first timed runs of the bench. */
void torch_settle(struct torch_proc *t);

/* The files the commands name: n floats, raw little-endian (this machine's
 * order, x86); and a network's parameters as one such list, W₀ b₀ W₁ b₁ …
 * (mlp_net_get_params), nn.Linear's layout. false when it cannot write. */
bool torch_write_floats(const char *path, const float *v, size_t n);
bool torch_write_params(const char *path, const mlp_net *net);

#endif
