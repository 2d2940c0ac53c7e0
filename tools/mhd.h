/*
 * mhd.h — libmicrohttpd, opened when mlp serve starts (mhd.c) rather than
 * linked: its TLS libraries would take address space from every command,
 * which the BLAS's threads need under a tight ulimit -v.
 */
#ifndef MLP_TOOL_MHD_H
#define MLP_TOOL_MHD_H

#include <microhttpd.h>

#include <stdbool.h>
#include <stddef.h>

/* The functions mlp serve calls, with libmicrohttpd's own types. */
struct mhd_api {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_quiesce_daemon) *quiesce_daemon;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_suspend_connection) *suspend_connection;
	__typeof__(MHD_resume_connection) *resume_connection;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
};

extern struct mhd_api mhd;

/* Opens the library and finds every function: true, or false with why
 * in err. */
bool mhd_load(char *err, size_t size);

#endif
