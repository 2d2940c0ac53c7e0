/*
 * atomic_file.h — a file replaced whole or not at all: its content goes to
 * an unnamed file (O_TMPFILE) in the target's directory, is flushed to the
 * disk, named ".mlp-<pid>.<n>.tmp" and renamed over the target. A process
 * killed while writing leaves nothing, and one killed between the naming
 * and the rename leaves a temporary file that the next replacement in that
 * directory removes. Where O_TMPFILE is missing the file is named from the
 * start, with the same cleanup.
 *
 * Plain C and POSIX, no other part of mlp: the library saves models with
 * it (io.c), and the mlp program its pictures and logs.
 */
#ifndef MLP_ATOMIC_FILE_H
#define MLP_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum atomic_status {
	ATOMIC_OK,
	ATOMIC_ENOMEM, /* no memory for a file name */
	ATOMIC_EIO,    /* the file could not be made: the message says why */
};

/* How a replacement goes about it. */
struct atomic_opts {
	uint64_t size;     /* the content's size when known: checked against
			    * the file size limit (ulimit -f) before a byte is
			    * written, since SIGXFSZ past it kills by default;
			    * 0 when unknown */
	bool unnamed;      /* may start from an unnamed file (O_TMPFILE) */
	bool link_unnamed; /* may name an unnamed file (false: as on a system
			    * without /proc: the content is written again) */
};

/* Writes the whole content to fd: true, or false with errno set. It may
 * run twice (see link_unnamed), each time on a new, empty file. */
typedef bool (*atomic_writer)(int fd, void *arg);

/* Replaces the file at path (a symbolic link is followed, and the file it
 * names replaced) with what write_fn writes. An existing file keeps its
 * permission bits; a read-only one, or one that is not a regular file, is
 * refused. With keep_fd, the file stays open for writing, as *keep_fd (the
 * caller closes it); otherwise it is closed. opts NULL: size unknown, both
 * ways allowed. ATOMIC_OK, or another status with a message in
 * why[0 .. why_size), "cannot write PATH: the cause"; on failure nothing is
 * left at path but what was there. */
enum atomic_status atomic_replace(const char *path, atomic_writer write_fn,
				  void *arg, const struct atomic_opts *opts,
				  int *keep_fd, char *why, size_t why_size);

/* Whether a file of size bytes (0: unknown) could replace path, without
 * replacing it: the checks of atomic_replace, and a file created in the
 * target's directory and dropped. A status and a message as
 * atomic_replace. */
enum atomic_status atomic_probe(const char *path, uint64_t size, char *why,
				size_t why_size);

/* The process's file size limit in bytes, or UINT64_MAX for none. */
uint64_t atomic_size_limit(void);

/* All of n bytes to fd, through short writes and EINTR: true, or false
 * with errno set. */
bool atomic_write_all(int fd, const void *p, size_t n);

#endif
