/*
 * ranks.c — the mlp program under an MPI launcher (mpirun -np P mlp ...):
 * MPI starts when a launcher started the process, and the P processes, the
 * ranks, share the work. Started otherwise, or built without MPI, the
 * program is one rank, and these calls cost nothing.
 */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

#if defined(MLP_TOOL_MPI)
#include <limits.h>
#include <mpi.h>

#include <mlp_mpi.h>

static MPI_Comm world;
static mlp_comm comm;
static bool started;
#endif

static int rank, count = 1;

/* Whether a launcher started this process: the variables Open MPI's, the
 * PMI and the PMIx launchers give their processes. */
static bool launched(void)
{
	return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMI_SIZE") != NULL ||
	       getenv("PMIX_RANK") != NULL;
}

int ranks_start(int *argc, char ***argv)
{
	if (!launched())
		return EXIT_OK;
#if defined(MLP_TOOL_MPI)
	MPI_Init(argc, argv);
	started = true;
	world = MPI_COMM_WORLD;
	MPI_Comm_rank(world, &rank);
	MPI_Comm_size(world, &count);
	if (mlp_mpi_comm(&comm, &world) != MLP_OK)
		return report_error(EXIT_FAIL, "MPI cannot say this rank");
	return EXIT_OK;
#else
	(void)argc, (void)argv;
	return report_error(EXIT_USAGE, "started by an MPI launcher, but this mlp "
			    "was built without MPI (meson setup -Dmpi=enabled)");
#endif
}

void ranks_end(void)
{
#if defined(MLP_TOOL_MPI)
	if (started)
		MPI_Finalize();
#endif
}

int rank_id(void)
{
	return rank;
}

int rank_count(void)
{
	return count;
}

const mlp_comm *ranks_comm(void)
{
#if defined(MLP_TOOL_MPI)
	if (started && count > 1)
		return &comm;
#endif
	return NULL;
}

int ranks_agree(int rc)
{
#if defined(MLP_TOOL_MPI)
	if (started)
		MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, world);
#endif
	return rc;
}

int ranks_share(float **X, size_t *n, size_t width)
{
#if defined(MLP_TOOL_MPI)
	unsigned long long rows = *n;
	size_t at = 0, total;

	if (!started || count == 1)
		return EXIT_OK;
	MPI_Bcast(&rows, 1, MPI_UNSIGNED_LONG_LONG, 0, world);
	if (rank != 0) {
		free(*X);
		*X = NULL;
		*n = (size_t)rows;
		if (rows > 0 && !(*X = malloc((size_t)rows * width * sizeof(float))))
			return EXIT_FAIL;
	}
	total = (size_t)rows * width;
	while (at < total) {
		int k = total - at > (size_t)INT_MAX ? INT_MAX : (int)(total - at);

		MPI_Bcast(*X + at, k, MPI_FLOAT, 0, world);
		at += (size_t)k;
	}
#else
	(void)X, (void)n, (void)width;
#endif
	return EXIT_OK;
}

void ranks_gather(float *Y, const size_t *first, size_t width)
{
#if defined(MLP_TOOL_MPI)
	if (!started || count == 1)
		return;
	for (int r = 1; r < count; r++) {
		size_t at = first[r] * width, end = first[r + 1] * width;

		while (at < end) {
			int k = end - at > (size_t)INT_MAX ? INT_MAX : (int)(end - at);

			if (rank == r)
				MPI_Send(Y + at, k, MPI_FLOAT, 0, 0, world);
			else if (rank == 0)
				MPI_Recv(Y + at, k, MPI_FLOAT, r, 0, world,
					 MPI_STATUS_IGNORE);
			at += (size_t)k;
		}
	}
#else
	(void)Y, (void)first, (void)width;
#endif
}
