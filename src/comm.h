/*
 * comm.h — what workers training together agree on (comm.c).
 */
#ifndef MLP_COMM_H
#define MLP_COMM_H

#include "util.h"

/* The workers of c agree, in one exchange: on a status (the first, in the
 * order of mlp_status, that any worker passed; MLP_EWORKERS when a value of
 * `same` differs between workers), and on the sums over the workers of
 * `sums`, in place. At most MLPI_AGREE_MAX of each. Alone (c NULL): st,
 * and nothing exchanged. MLP_ECOMM when the exchange fails. */
#define MLPI_AGREE_MAX 8
mlp_status mlpi_agree(const mlp_comm *c, mlp_status st, const uint64_t *same,
		      size_t n_same, double *sums, size_t n_sums);

#endif /* MLP_COMM_H */
