/*
 * internal.h — every internal header, for the tests and the bench, which
 * reach inside the library. The library's own files include the headers
 * of the layers they use (src/layers.txt), never this one.
 */
#ifndef MLP_INTERNAL_H
#define MLP_INTERNAL_H

#include "util.h"
#include "rng.h"
#include "openmp.h"
#include "cpu.h"
#include "json.h"
#include "net.h"
#include "dense.h"
#include "blas_core.h"
#include "kernel_fp32.h"
#include "bf16.h"
#include "loss.h"
#include "train_opts.h"
#include "optim.h"
#include "comm.h"
#include "train_bf16.h"
#include "trainer.h"
#include "checkpoint.h"
#include "files.h"

#endif /* MLP_INTERNAL_H */
