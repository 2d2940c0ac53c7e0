/*
 * files.h — model files: the safetensors format read and written
 * (safetensors.c), and files saved and loaded whole (io.c).
 */
#ifndef MLP_FILES_H
#define MLP_FILES_H

#include "checkpoint.h"

/* Checks size bytes of a safetensors file and builds its network; tensors
 * named "optimizer.*" are a checkpoint's and left out. With state, the
 * file must be a checkpoint of that network: its state goes to *state,
 * with M and V malloc'd (free them). */
mlp_status mlpi_st_read(mlp_net **out, const unsigned char *file, size_t size,
			const mlp_load_opts *opts, struct mlpi_state *state,
			mlp_msg *msg);
/* The JSON header of net's file, space-padded to a multiple of 8 bytes
 * (malloc'd; the data follows in layer order, each W then b, then with a
 * state, M's tensors and V's in the same order). A quantised network
 * without a state is written as such: per layer b, its weight scales and
 * its input scale; the scaling; then every layer's I8 weights. */
mlp_status mlpi_st_header(const mlp_net *net, const struct mlpi_state *state,
			  char **out, size_t *out_len, mlp_msg *msg);
/* io.c: a checkpoint written atomically, as mlp_net_save writes a model;
 * one read back (its network and state, checked whole); and whether one
 * of net, with or without best parameters, could be written at path. */
mlp_status mlpi_checkpoint_save(const mlp_net *net,
				const struct mlpi_state *state,
				const char *path, mlp_msg *msg);
mlp_status mlpi_checkpoint_load(const char *path, mlp_net **net,
				struct mlpi_state *state, mlp_msg *msg);
mlp_status mlpi_checkpoint_probe(const mlp_net *net, bool best,
				 const char *path, mlp_msg *msg);

/* How saves go about it, for the tests of the ways other systems take:
 * whether they may start from an unnamed file (O_TMPFILE), and whether
 * an unnamed file may be named (false: as on a system without /proc, the
 * file is written again, named). Both true unless a test says otherwise. */
void mlpi_io_ways(bool unnamed, bool link_unnamed);

#endif /* MLP_FILES_H */
