/* util/err.c - error status and message. */

#include <stdio.h>
#include <string.h>

#include "util/err.h"

int err_vset(struct err *e, int status, const char *fmt, va_list ap)
{
	if (e) {
		e->status = status;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	return status;
}

int err_set(struct err *e, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, status, fmt, ap);
	va_end(ap);
	return status;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Cut the old message rather than the prefix, which says where the error is. */
	snprintf(e->msg, sizeof(e->msg), "%s: %.*s", prefix,
		 (int)(sizeof(e->msg) - strlen(prefix) - 3), old);
}

void err_clear(struct err *e)
{
	if (e) {
		e->status = 0;
		e->msg[0] = '\0';
	}
}
