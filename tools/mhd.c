/* mhd.c — libmicrohttpd, opened at run time (mhd.h). */
#include "mhd.h"

#include <dlfcn.h>
#include <stdio.h>

struct mhd_api mhd;

/* Its name in Debian 12 (0.9.75) and later, then the development link. */
static const char *const names[] = { "libmicrohttpd.so.12",
				     "libmicrohttpd.so" };

bool mhd_load(char *err, size_t size)
{
	void *lib = NULL;
	struct {
		const char *name;
		void **slot;
	} fns[] = {
#define FN(f) { "MHD_" #f, (void **)&mhd.f }
		FN(start_daemon), FN(stop_daemon), FN(quiesce_daemon),
		FN(get_daemon_info), FN(suspend_connection),
		FN(resume_connection), FN(create_response_from_buffer),
		FN(add_response_header), FN(queue_response),
		FN(destroy_response),
#undef FN
	};

	for (size_t i = 0; lib == NULL && i < sizeof(names) / sizeof(names[0]); i++)
		lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(err, size, "cannot open libmicrohttpd (Debian: "
			 "libmicrohttpd12): %s", dlerror());
		return false;
	}
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		/* POSIX: a function's address passes through void *. */
		*fns[i].slot = dlsym(lib, fns[i].name);
		if (*fns[i].slot == NULL) {
			snprintf(err, size, "libmicrohttpd has no %s: %s",
				 fns[i].name, dlerror());
			return false;
		}
	}
	/* The library stays open until the process ends. */
	return true;
}
