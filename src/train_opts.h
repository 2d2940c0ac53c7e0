/*
 * train_opts.h — training options: read from the caller's struct, checked,
 * the learning rate of each epoch, the steps of an epoch (train_opts.c).
 */
#ifndef MLP_TRAIN_OPTS_H
#define MLP_TRAIN_OPTS_H

#include "util.h"

/* mlp_train_lr for options already checked (epoch 1 .. epochs). */
float mlpi_train_lr(const mlp_train_opts *opts, size_t epoch);

/* The caller's options (struct_size bytes of them) as this library's
 * struct: the fields they hold as given, the rest the defaults; MLP_EINVAL,
 * with the reason, for a struct_size it does not know. */
mlp_status mlpi_opts_read(const mlp_train_opts *in, mlp_train_opts *out,
			  mlp_msg *msg);

/* The values of the options alone, each in its range and the ranges that
 * join them (warmup < epochs), whatever the build, CPU, rows or network;
 * with for_train false, those a trainer needs. */
mlp_status mlpi_check_values(const mlp_train_opts *o, bool for_train,
			     mlp_msg *msg);
/* The checks of mlp_train_check; with for_train false, those a trainer
 * needs (the fields up to batch_size). net may be NULL. */
mlp_status mlpi_check_opts(const mlp_net *net, const mlp_train_opts *o,
			   bool for_train, mlp_msg *msg);

/* The rows a step (of each worker, sharded) and the steps an epoch of
 * mlp_train for `total` rows trained on. */
void mlpi_epoch_steps(size_t total, size_t batch_size, bool drop_last,
		      bool sharded, size_t workers, size_t *batch,
		      size_t *steps);

#endif /* MLP_TRAIN_OPTS_H */
