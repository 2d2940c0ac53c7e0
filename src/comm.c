/*
 * comm.c — what the workers of a parallel run agree on, in one exchange
 * (mlp_comm's sum_doubles): a status, values that must be the same on
 * every worker, and sums.
 *
 * A status travels as a count of the workers that met it: after the sum,
 * every worker sees the same counts and returns the same status, the first
 * in the order of mlp_status. A value that must be the same travels as its
 * 16-bit pieces c and their squares: all workers hold the same c exactly
 * when size·Σc² = (Σc)², and every term is an integer below 2⁵³, so the
 * sums are exact and every worker reaches the same verdict.
 */
#include "comm.h"

#include <string.h>

enum { N_STATUS = MLP_EWORKERS + 1, PIECES = 4 };

mlp_status mlpi_agree(const mlp_comm *c, mlp_status st, const uint64_t *same,
		      size_t n_same, double *sums, size_t n_sums)
{
	double v[N_STATUS + 2 * PIECES * MLPI_AGREE_MAX + MLPI_AGREE_MAX];
	double *pieces = v + N_STATUS, *add = pieces + 2 * PIECES * n_same;
	size_t n = N_STATUS + 2 * PIECES * n_same + n_sums;

	if (c == NULL)
		return st;
	memset(v, 0, sizeof(v));
	if (st != MLP_OK)
		v[(unsigned)st < N_STATUS ? st : MLP_EINVAL] = 1;
	for (size_t i = 0; i < n_same; i++)
		for (size_t k = 0; k < PIECES; k++) {
			double piece = (double)((same[i] >> (16 * k)) & 0xffff);

			pieces[2 * (PIECES * i + k)] = piece;
			pieces[2 * (PIECES * i + k) + 1] = piece * piece;
		}
	for (size_t i = 0; i < n_sums; i++)
		add[i] = sums[i];
	if (c->sum_doubles(c->ctx, v, n) != 0)
		return MLP_ECOMM;
	for (size_t i = 0; i < n_sums; i++)
		sums[i] = add[i];
	for (size_t i = 1; i < N_STATUS; i++)
		if (v[i] > 0)
			return (mlp_status)i;
	for (size_t i = 0; i < PIECES * n_same; i++)
		if ((double)c->size * pieces[2 * i + 1] != pieces[2 * i] * pieces[2 * i])
			return MLP_EWORKERS;
	return MLP_OK;
}
