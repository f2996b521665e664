/*
 * util/err.h - an error status with its message, filled where the error is found.
 *
 * Core functions return 0 or a negative PDM_ERR_* status and, on failure, describe it
 * in a struct err the caller passed (which may be NULL when the caller does not care).
 * Messages follow git's rules: lower case, the subject quoted, no full stop.
 */
#ifndef UTIL_ERR_H
#define UTIL_ERR_H

#include <stdarg.h>

#include <modvm/pdm.h>

struct err {
	int status;
	char msg[1024];
};

/* Sets e (if not NULL) and returns status. */
int err_set(struct err *e, int status, const char *fmt, ...) PDM_PRINTF(3, 4);
int err_vset(struct err *e, int status, const char *fmt, va_list ap) PDM_PRINTF(3, 0);
/* Puts "<prefix>: " in front of the message already in e. */
void err_prefix(struct err *e, const char *fmt, ...) PDM_PRINTF(2, 3);
void err_clear(struct err *e);

#endif
