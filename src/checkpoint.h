/*
 * checkpoint.h — a checkpoint's training state, its metadata and how far
 * it is trusted (checkpoint.c).
 */
#ifndef MLP_CHECKPOINT_H
#define MLP_CHECKPOINT_H

#include "net.h"

struct mlpi_json;

/* A checkpoint's training state besides the parameters (checkpoint.c):
 * the optimizer's moments M and V (block_floats each, laid out as the
 * parameter block; SGD's velocity in M) and, with keep_best once an epoch
 * was best, that epoch's parameters; where mlp_train was; and the run's
 * options. */
struct mlpi_state {
	float *M, *V, *best;
	size_t epoch, steps, rows, workers; /* rows: those trained on */
	float lr;                  /* the rate in force */
	size_t best_epoch;         /* of the lowest held-out loss; 0: none */
	double best_loss;
	mlp_train_opts opts;       /* the fields a checkpoint records */
};

/* The checkpoint's metadata as JSON members, each followed by a comma
 * (malloc'd), or NULL for no memory. */
char *mlpi_checkpoint_meta(const struct mlpi_state *s);
/* MLP_OK when the metadata marks a checkpoint (checkpoint.epoch), else
 * MLP_EFORMAT "not a checkpoint". */
mlp_status mlpi_checkpoint_marked(const struct mlpi_json *meta, mlp_msg *msg);
/* The metadata of a checkpoint into *s (but M, V, best), every field
 * parsed strictly: MLP_EFORMAT with the field and the rule, or "not a
 * checkpoint" when it has none. */
mlp_status mlpi_checkpoint_meta_read(const struct mlpi_json *meta,
				     struct mlpi_state *s, mlp_msg *msg);
/* A checkpoint read whole, its parts against each other: the options in
 * range, the epoch and steps, the rate in force, the moments as its
 * optimizer makes them. MLP_EFORMAT with the rule. */
mlp_status mlpi_checkpoint_check(const mlp_net *net, const struct mlpi_state *s,
				 mlp_msg *msg);
/* Whether a run of options o on `rows` rows (those trained on) by
 * `workers` may resume from the checkpoint at path: MLP_EINVAL naming the
 * option and both values otherwise. */
mlp_status mlpi_checkpoint_fits(const struct mlpi_state *s,
				const mlp_train_opts *o, size_t rows,
				size_t workers, const char *path, mlp_msg *msg);

/* A hash of the options that make a run what it is (those a resumed run
 * may not change), for workers to compare. */
uint64_t mlpi_opts_hash(const mlp_train_opts *o);

/* The fields a checkpoint records, from s into the caller's opts of
 * struct_size bytes (those that fit). */
void mlpi_checkpoint_copy_opts(const struct mlpi_state *s, mlp_train_opts *opts,
			       size_t struct_size);

#endif /* MLP_CHECKPOINT_H */
