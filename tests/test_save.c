/*
 * test_save.c — saving at the edges: a saving process killed at random
 * instants, many times over, leaves the target loadable and no stray file
 * (with an unnamed temporary file and with a named one); symbolic links,
 * permission bits, read-only targets, names of NAME_MAX bytes, the file
 * size limit, and parameters that are not finite.
 *
 * MLP_KILL_ROUNDS sets the number of kills per way of saving (default 60).
 */
#define _GNU_SOURCE /* strndup, usleep */
#include "support.h"

#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A 1.6 MB model: large enough that a save takes a while to write. */
static mlp_net *big_net(uint64_t seed)
{
	static const size_t sizes[] = { 400, 800, 100, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_SOFTMAX };
	mlp_net *net;

	ck_assert_int_eq(mlp_net_create(&net, 3, sizes, acts), MLP_OK);
	ck_assert_int_eq(mlp_net_init(net, seed), MLP_OK);
	return net;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The entries of dir other than `keep`, each a stale temporary file
 * (".mlp-<pid>.<n>.tmp"): their number; fails on any other file. */
static size_t stray_temps(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		const char *s = e->d_name;

		if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
		    strcmp(s, keep) == 0)
			continue;
		ck_assert_msg(strncmp(s, ".mlp-", 5) == 0 &&
			      strstr(s, ".tmp") != NULL,
			      "a stray file that is not a temporary file: %s", s);
		n++;
	}
	closedir(d);
	return n;
}

/* A child saving two different models in turn, as fast as it can, killed
 * with SIGKILL after a random time of up to twice a save's length; after
 * each kill the target loads and is one of the two, and only temporary
 * files of the killed process lie beside it, which the next save removes. */
START_TEST(killed_saves_leave_no_trace)
{
	const char *env = getenv("MLP_KILL_ROUNDS");
	int rounds = env != NULL ? atoi(env) : 60;
	const char *dir = test_dir();
	char path[128];
	mlp_net *nets[2] = { big_net(1), big_net(2) }, *back;
	uint64_t hashes[2] = { param_hash(nets[0]), param_hash(nets[1]) };
	size_t traces = 0, max_traces = 0;
	unsigned seed = 12345u + (unsigned)_i;
	double t0, save_time;

	mlpi_io_ways(_i == 0, true);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	t0 = now();
	ck_assert_int_eq(mlp_net_save(nets[0], path, NULL), MLP_OK);
	save_time = now() - t0;
	for (int r = 0; r < rounds; r++) {
		pid_t pid = fork();
		size_t stray;
		int status;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			for (unsigned k = 0;; k++)
				if (mlp_net_save(nets[k % 2], path, NULL) != MLP_OK)
					_exit(3);
		}
		usleep((useconds_t)(rand_r(&seed) % 1000 * save_time * 2e3));
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status), "the saving child failed, "
			      "status %d", status);
		ck_assert_int_eq(mlp_net_load(&back, path, NULL, NULL), MLP_OK);
		ck_assert(param_hash(back) == hashes[0] ||
			  param_hash(back) == hashes[1]);
		mlp_net_free(back);
		stray = stray_temps(dir, "model.safetensors");
		traces += stray > 0;
		max_traces = stray > max_traces ? stray : max_traces;
	}
	/* The next save removes the traces of dead processes. */
	ck_assert_int_eq(mlp_net_save(nets[1], path, NULL), MLP_OK);
	ck_assert_uint_eq(dir_entries(dir), 1);
	fprintf(stderr, "%s: %d kills (a save takes %.1f ms): %zu left a "
		"temporary file (at most %zu at once), all removed by the next "
		"save\n", _i == 0 ? "unnamed temporary file" : "named temporary file",
		rounds, save_time * 1e3, traces, max_traces);
	mlpi_io_ways(true, true);
	mlp_net_free(nets[0]);
	mlp_net_free(nets[1]);
	dir_remove(dir);
}
END_TEST

/* A symbolic link is followed (relative, and to a file not yet there): the
 * file it points to is replaced and the link stays a link. */
START_TEST(symlink_is_followed)
{
	const char *dir = test_dir();
	char link[128], target[128], dangling[128];
	mlp_net *net = big_net(3), *back;
	struct stat sb;

	snprintf(target, sizeof(target), "%s/real.safetensors", dir);
	snprintf(link, sizeof(link), "%s/link.safetensors", dir);
	snprintf(dangling, sizeof(dangling), "%s/dangling.safetensors", dir);
	ck_assert_int_eq(mlp_net_save(net, target, NULL), MLP_OK);
	ck_assert_int_eq(symlink("real.safetensors", link), 0);
	mlpi_io_ways(_i == 0, true);
	ck_assert_int_eq(mlp_net_init(net, 4), MLP_OK);
	ck_assert_int_eq(mlp_net_save(net, link, NULL), MLP_OK);
	ck_assert_int_eq(lstat(link, &sb), 0);
	ck_assert(S_ISLNK(sb.st_mode));
	ck_assert_int_eq(mlp_net_load(&back, target, NULL, NULL), MLP_OK);
	ck_assert_uint_eq(param_hash(back), param_hash(net));
	mlp_net_free(back);
	/* A link to a file that does not exist yet creates that file. */
	ck_assert_int_eq(symlink("new.safetensors", dangling), 0);
	ck_assert_int_eq(mlp_net_save(net, dangling, NULL), MLP_OK);
	ck_assert_int_eq(lstat(dangling, &sb), 0);
	ck_assert(S_ISLNK(sb.st_mode));
	snprintf(target, sizeof(target), "%s/new.safetensors", dir);
	ck_assert_int_eq(mlp_net_load(&back, target, NULL, NULL), MLP_OK);
	ck_assert_uint_eq(param_hash(back), param_hash(net));
	ck_assert_uint_eq(dir_entries(dir), 4);
	mlpi_io_ways(true, true);
	mlp_net_free(back);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* An existing file keeps its permission bits (0600 stays private, 0640
 * stays 0640); a new one gets 0666 less the umask; a read-only file is not
 * replaced (MLP_EIO) and stays as it was. */
START_TEST(modes_are_kept)
{
	static const mode_t modes[] = { 0600, 0640, 0604 };
	const char *dir = test_dir();
	char path[128];
	mlp_net *net = big_net(5);
	mlp_msg msg;
	struct stat sb;
	size_t size;
	unsigned char *before, *after;

	mlpi_io_ways(_i == 0, true);
	umask(022);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	ck_assert_int_eq(mlp_net_save(net, path, NULL), MLP_OK);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0644);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ck_assert_int_eq(chmod(path, modes[i]), 0);
		ck_assert_int_eq(mlp_net_save(net, path, NULL), MLP_OK);
		ck_assert_int_eq(stat(path, &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, modes[i]);
	}
	ck_assert_int_eq(chmod(path, 0444), 0);
	before = file_read(path, &size);
	ck_assert_int_eq(mlp_net_init(net, 6), MLP_OK);
	ck_assert_int_eq(mlp_net_save(net, path, &msg), MLP_EIO);
	ck_assert_msg(strstr(msg.text, "read-only") != NULL, "%s", msg.text);
	after = file_read(path, &size);
	ck_assert_mem_eq(before, after, size);
	ck_assert_uint_eq(dir_entries(dir), 1);
	mlpi_io_ways(true, true);
	free(before);
	free(after);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* A name of NAME_MAX bytes saves and loads: the temporary name is short. */
START_TEST(longest_name_saves)
{
	const char *dir = test_dir();
	char path[512];
	size_t len = strlen(dir) + 1;
	mlp_net *net = big_net(7), *back;

	snprintf(path, sizeof(path), "%s/", dir);
	memset(path + len, 'm', NAME_MAX);
	path[len + NAME_MAX] = '\0';
	mlpi_io_ways(_i == 0, true);
	ck_assert_int_eq(mlp_net_save(net, path, NULL), MLP_OK);
	ck_assert_int_eq(mlp_net_save(net, path, NULL), MLP_OK);
	ck_assert_int_eq(mlp_net_load(&back, path, NULL, NULL), MLP_OK);
	ck_assert_uint_eq(param_hash(back), param_hash(net));
	ck_assert_uint_eq(dir_entries(dir), 1);
	mlpi_io_ways(true, true);
	mlp_net_free(back);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* Under a file size limit smaller than the file, with SIGXFSZ at its
 * default action (which kills a process that writes past the limit): the
 * save returns MLP_EIO, the process lives, and nothing is left. A child
 * runs it, so that a kill shows as a failure of this test alone. */
START_TEST(file_size_limit_is_an_error)
{
	const char *dir = test_dir();
	char path[128];
	mlp_net *net = big_net(8);
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	mlpi_io_ways(_i == 0, true);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 1 << 20, 1 << 20 };
		mlp_msg msg;

		signal(SIGXFSZ, SIG_DFL);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(4);
		if (mlp_net_save(net, path, &msg) != MLP_EIO)
			_exit(5);
		_exit(strstr(msg.text, "ulimit -f") != NULL ? 0 : 6);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "the saving child was killed by "
		      "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_uint_eq(dir_entries(dir), 0);
	mlpi_io_ways(true, true);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* A parameter that is not finite is refused, naming its tensor, and no
 * file is written. */
START_TEST(nonfinite_parameters_not_saved)
{
	const char *dir = test_dir();
	char path[128];
	mlp_net *net = big_net(9);
	mlp_msg msg;
	const float bad = _i == 0 ? NAN : INFINITY;

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	net->layers[1].b[7] = bad;
	ck_assert_int_eq(mlp_net_save(net, path, &msg), MLP_ENONFINITE);
	ck_assert_msg(strstr(msg.text, "tensor 1.bias") != NULL, "%s", msg.text);
	net->layers[1].b[7] = 0.0f;
	net->layers[2].W[3] = -bad;
	ck_assert_int_eq(mlp_net_save(net, path, &msg), MLP_ENONFINITE);
	ck_assert_msg(strstr(msg.text, "tensor 2.weight") != NULL, "%s",
		      msg.text);
	ck_assert_uint_eq(dir_entries(dir), 0);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

/* Where an unnamed file cannot be given a name (no /proc), the model is
 * written again under a temporary name: the save succeeds, the file
 * loads, and nothing else is left. */
START_TEST(unnamed_file_that_cannot_be_linked)
{
	const char *dir = test_dir();
	char path[128];
	mlp_net *net = big_net(10), *back;
	mlp_msg msg;

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	mlpi_io_ways(true, false);
	ck_assert_msg(mlp_net_save(net, path, &msg) == MLP_OK, "%s", msg.text);
	mlpi_io_ways(true, true);
	ck_assert_int_eq(mlp_net_load(&back, path, NULL, NULL), MLP_OK);
	ck_assert_uint_eq(param_hash(back), param_hash(net));
	ck_assert_uint_eq(dir_entries(dir), 1);
	mlp_net_free(back);
	mlp_net_free(net);
	dir_remove(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("save");
	TCase *tc = tcase_create("edges");

	tcase_set_timeout(tc, 600);
	/* Each twice: the unnamed temporary file, then the named one. */
	tcase_add_loop_test(tc, killed_saves_leave_no_trace, 0, 2);
	tcase_add_loop_test(tc, symlink_is_followed, 0, 2);
	tcase_add_loop_test(tc, modes_are_kept, 0, 2);
	tcase_add_loop_test(tc, longest_name_saves, 0, 2);
	tcase_add_loop_test(tc, file_size_limit_is_an_error, 0, 2);
	tcase_add_loop_test(tc, nonfinite_parameters_not_saved, 0, 2);
	tcase_add_test(tc, unnamed_file_that_cannot_be_linked);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
