/* floor.c — the raw BLAS floor: see impls.h. */
#include "impls.h"

#include <cblas.h>

void floor_forward(const struct bench_net *net, size_t batch, const float *X,
		   float *Y, float *const tmp[2])
{
	const float *in = X;

	for (size_t l = 0; l < net->n_layers; l++) {
		int n_in = (int)net->sizes[l], n_out = (int)net->sizes[l + 1];
		float *out = l + 1 == net->n_layers ? Y : tmp[l % 2];

		if (batch == 1)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, n_out, n_in, 1.0f,
				    net->W[l], n_in, in, 1, 0.0f, out, 1);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
				    (int)batch, n_out, n_in, 1.0f, in, n_in,
				    net->W[l], n_in, 0.0f, out, n_out);
		in = out;
	}
}
