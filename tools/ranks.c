/*
 * ranks.c — the mlp program under an MPI launcher (mpirun -np P mlp ...):
 * MPI starts when a launcher started the process, and the P processes, the
 * ranks, share the work. Started otherwise, or built without MPI, the
 * program is one rank, and these calls cost nothing.
 *
 * No rank may be left waiting in a collective that another rank will never
 * enter. The ranks therefore meet in one kind of exchange, an agreement
 * (ranks_agree), at every point where they may have parted: each brings
 * its exit code, and whether it is at the end of its command. A rank that
 * fails between two agreements goes straight to the end (ranks_finish),
 * whose agreement meets the others' next one; every rank then knows, and
 * once a failure is agreed no rank enters another collective. Between two
 * agreements every rank runs the same collectives, whatever its data.
 * Ranks other than 0 hold their messages (report_hold): rank 0 prints the
 * one of the lowest rank that failed, so a failure is said once.
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
/* A failure every rank knows of: no more collectives. */
static bool failed;
static int failed_rc;

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
	report_hold(rank != 0);
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

#if defined(MLP_TOOL_MPI)
/* The message of the rank that failed (not 0) to rank 0, which says it. */
static void relay_message(int from, int rc)
{
	char text[1024];

	if (rank == from) {
		snprintf(text, sizeof(text), "%s", report_held());
		MPI_Send(text, (int)sizeof(text), MPI_CHAR, 0, 1, world);
	} else if (rank == 0) {
		MPI_Recv(text, (int)sizeof(text), MPI_CHAR, from, 1, world,
			 MPI_STATUS_IGNORE);
		text[sizeof(text) - 1] = '\0';
		if (text[0] != '\0')
			fprintf(stderr, "mlp: rank %d: %s\n", from, text);
		else
			fprintf(stderr, "mlp: rank %d failed (exit status %d)\n",
				from, rc);
	}
}

/* The agreement: every rank's exit code (the largest wins), the lowest
 * rank that failed, whether ranks are at their end and others not, and
 * whether `same` is the same everywhere (else the exit code differ_rc,
 * and rank 0 says `what`). */
static int agree(int rc, bool final, uint64_t same, int differ_rc,
		 const char *what)
{
	/* MPI_MAX of each: the lowest failing rank r as count − r. */
	uint64_t v[6] = { (uint64_t)rc, rc != EXIT_OK ? (uint64_t)(count - rank) : 0,
			  final, !final, same, ~same };

	MPI_Allreduce(MPI_IN_PLACE, v, 6, MPI_UINT64_T, MPI_MAX, world);
	rc = (int)v[0];
	if (rc != EXIT_OK && v[1] > 0 && count - (int)v[1] != 0)
		relay_message(count - (int)v[1], rc);
	if (rc == EXIT_OK && v[2] && v[3]) {
		rc = EXIT_USAGE;
		if (rank == 0)
			fprintf(stderr, "mlp: the ranks ran different commands: "
				"give every rank the same command line\n");
	} else if (rc == EXIT_OK && v[4] != ~v[5]) {
		rc = differ_rc;
		if (rank == 0)
			fprintf(stderr, "mlp: %s\n", what);
	}
	report_forget();
	if (rc != EXIT_OK) {
		failed = true;
		failed_rc = rc;
	}
	return rc;
}
#endif

int ranks_agree(int rc)
{
	return ranks_agree_same(rc, 0, EXIT_OK, NULL);
}

int ranks_agree_same(int rc, uint64_t same, int differ_rc, const char *what)
{
#if defined(MLP_TOOL_MPI)
	if (started && count > 1 && !failed)
		return agree(rc, false, same, differ_rc, what);
#else
	(void)same, (void)differ_rc, (void)what;
#endif
	return rc;
}

int ranks_finish(int rc)
{
#if defined(MLP_TOOL_MPI)
	if (started && count > 1)
		return failed ? failed_rc : agree(rc, true, 0, EXIT_OK, NULL);
#endif
	return rc;
}

int ranks_share(float **X, size_t *n, size_t width)
{
#if defined(MLP_TOOL_MPI)
	unsigned long long rows = *n;
	size_t at = 0, total;
	int rc = EXIT_OK;

	if (!started || count == 1)
		return EXIT_OK;
	MPI_Bcast(&rows, 1, MPI_UNSIGNED_LONG_LONG, 0, world);
	if (rank != 0) {
		free(*X);
		*X = NULL;
		*n = (size_t)rows;
		if (rows > 0 && !(*X = malloc((size_t)rows * width * sizeof(float))))
			rc = report_error(EXIT_FAIL, "out of memory for %llu rows",
					  rows);
	}
	/* Every rank has room for the rows, or none takes them. */
	rc = ranks_agree(rc);
	total = (size_t)rows * width;
	while (rc == EXIT_OK && at < total) {
		int k = total - at > (size_t)INT_MAX ? INT_MAX : (int)(total - at);

		MPI_Bcast(*X + at, k, MPI_FLOAT, 0, world);
		at += (size_t)k;
	}
	return rc;
#else
	(void)X, (void)n, (void)width;
	return EXIT_OK;
#endif
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
