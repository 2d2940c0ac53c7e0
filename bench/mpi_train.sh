#!/usr/bin/env bash
# Data-parallel training on 1 and 2 ranks, one BLAS thread a rank, three
# times each, alternating (a shared machine drifts): bench/mpi_train.c.
#
#   bench/mpi_train.sh path/to/bench_mpi_train [BATCH]
set -euo pipefail
exe=${1:?usage: bench/mpi_train.sh path/to/bench_mpi_train [BATCH]}
batch=${2:-256}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
for round in 1 2 3; do
	for ranks in 1 2; do
		mpirun -np "$ranks" --oversubscribe --bind-to none "$exe" "$batch" 3
	done
done
