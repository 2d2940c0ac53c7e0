/* status.c — status messages, messages for the caller, and the library
 * version. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

unsigned mlp_version(void)
{
	return MLP_VERSION_NUMBER;
}

const char *mlp_version_string(void)
{
	return MLP_VERSION_STRING;
}

const char *mlp_strerror(mlp_status s)
{
	switch (s) {
	case MLP_OK:
		return "success";
	case MLP_ENULL:
		return "a required pointer argument is NULL";
	case MLP_ESIZE:
		return "a size is zero or sizes do not fit each other";
	case MLP_ETOOBIG:
		return "a size or a product of sizes is too large";
	case MLP_EACT:
		return "unknown activation";
	case MLP_EWORKSPACE:
		return "the workspace was made for another network";
	case MLP_ENOMEM:
		return "out of memory";
	case MLP_EINVAL:
		return "invalid argument";
	case MLP_ENOTSUP:
		return "not supported by this build";
	case MLP_EIO:
		return "input/output error";
	case MLP_EFORMAT:
		return "malformed model file";
	case MLP_ENONFINITE:
		return "a value is NaN or infinite";
	case MLP_ELOSS:
		return "the loss does not fit the output activation";
	case MLP_EDIVERGED:
		return "training diverged: a loss, gradient or update is not finite";
	case MLP_ECOMM:
		return "a transfer between the workers failed";
	case MLP_EWORKERS:
		return "the workers of a parallel run disagree";
	case MLP_EBUSY:
		return "the queue is full: nothing was queued";
	}
	return "unknown status";
}

mlp_status mlpi_fail(mlp_msg *msg, mlp_status status, const char *fmt, ...)
{
	va_list ap;

	if (msg != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg->text, sizeof(msg->text), fmt, ap);
		va_end(ap);
	}
	return status;
}

void mlpi_msg_clear(mlp_msg *msg)
{
	if (msg != NULL)
		msg->text[0] = '\0';
}
