/* torch_proc.c — see torch_proc.h. */
#define _POSIX_C_SOURCE 200809L
#include "torch_proc.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct torch_proc {
	pid_t pid;
	FILE *to, *from;
};

struct torch_proc *torch_start(const char *python, const char *script,
			       int threads, const char *coretype, char *why,
			       size_t why_size)
{
	int in[2], out[2];
	struct torch_proc *t;
	char reply[256];

	if (access(script, R_OK) != 0) {
		snprintf(why, why_size, "%s not found", script);
		return NULL;
	}
	if (pipe(in) != 0 || pipe(out) != 0) {
		snprintf(why, why_size, "pipe failed");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->pid = fork();
	if (t->pid == 0) {
		char n[16];

		snprintf(n, sizeof(n), "%d", threads);
		setenv("OPENBLAS_NUM_THREADS", n, 1);
		setenv("OMP_NUM_THREADS", n, 1);
		if (coretype != NULL)
			setenv("OPENBLAS_CORETYPE", coretype, 1);
		/* bf16 autocast copies the weights every call: with glibc's
		 * defaults each copy is a fresh mmap and munmap, which made
		 * PyTorch's bf16 runs ten times slower at batch 1 and slowed
		 * the timed runs after them. Freed memory stays in its heap. */
		setenv("MALLOC_MMAP_THRESHOLD_", "33554432", 0); /* glibc's largest */
		setenv("MALLOC_TRIM_THRESHOLD_", "1073741824", 0);
		/* OpenMP threads that spin after a parallel region would take
		 * a core from whatever the bench times next. */
		setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execlp(python, python, script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->to = fdopen(in[1], "w");
	t->from = fdopen(out[0], "r");
	if (t->pid < 0 || t->to == NULL || t->from == NULL ||
	    !torch_cmd(t, reply, sizeof(reply), "hello %d", threads)) {
		snprintf(why, why_size, "%s %s did not start: %s", python, script,
			 t->pid < 0 ? "fork failed" : reply);
		torch_stop(t);
		return NULL;
	}
	snprintf(why, why_size, "%s", reply);
	return t;
}

/* The CPU time PyTorch's process has used, in clock ticks; -1 if unknown. */
static long cpu_ticks(pid_t pid)
{
	char path[64], line[1024], *after;
	unsigned long utime, stime;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	after = fgets(line, sizeof(line), f) != NULL ? strrchr(line, ')') : NULL;
	fclose(f);
	/* After the name: state and 10 fields, then utime and stime. */
	if (after == NULL || sscanf(after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u "
				    "%*u %*u %*u %lu %lu", &utime, &stime) != 2)
		return -1;
	return (long)(utime + stime);
}

void torch_settle(struct torch_proc *t)
{
	long before = -1, now;

	if (t == NULL)
		return;
	for (int i = 0; i < 50; i++) {
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		now = cpu_ticks(t->pid);
		if (now < 0 || now == before)
			return;
		before = now;
	}
}

bool torch_cmd(struct torch_proc *t, char *reply, size_t reply_size,
	       const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vfprintf(t->to, fmt, ap);
	va_end(ap);
	fputc('\n', t->to);
	fflush(t->to);
	if (fgets(line, sizeof(line), t->from) == NULL) {
		snprintf(reply, reply_size, "no answer (python exited; is python3-torch installed?)");
		return false;
	}
	n = strcspn(line, "\n");
	line[n] = '\0';
	if (strncmp(line, "ok", 2) == 0) {
		snprintf(reply, reply_size, "%s", line[2] == ' ' ? line + 3 : "");
		return true;
	}
	snprintf(reply, reply_size, "%s", line);
	return false;
}

void torch_stop(struct torch_proc *t)
{
	if (t == NULL)
		return;
	if (t->to != NULL) {
		fputs("quit\n", t->to);
		fclose(t->to);
	}
	if (t->from != NULL)
		fclose(t->from);
	if (t->pid > 0)
		waitpid(t->pid, NULL, 0);
	free(t);
}

bool torch_write_floats(const char *path, const float *v, size_t n)
{
	FILE *f = fopen(path, "wb");
	bool ok = f != NULL && fwrite(v, sizeof(float), n, f) == n;

	if (f != NULL)
		ok = fclose(f) == 0 && ok;
	return ok;
}

bool torch_write_params(const char *path, const mlp_net *net)
{
	size_t n = mlp_net_param_count(net);
	float *params = malloc(n * sizeof(float));
	bool ok = params != NULL &&
		  mlp_net_get_params(net, params, n) == MLP_OK &&
		  torch_write_floats(path, params, n);

	free(params);
	return ok;
}
