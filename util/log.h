/*
 * util/log.h - levelled logging with per-component filters, to stderr.
 *
 * A line reads "modvm: <component>: <message>". The filter is a list such as
 * "info" or "warn,pdm=debug,serial#0=debug": a bare level sets the default, and
 * component=level overrides it for one component (a core subsystem or an instance
 * name). It comes from $MODVM_LOG or `modvm -v` / `--log`. Thread-safe: each line is
 * written with one call.
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <modvm/pdm.h>

/* Parses a filter; returns 0, or PDM_ERR_INVALID_ARG for a bad one (nothing changed). */
int log_set_filter(const char *filter);
bool log_enabled(enum pdm_log_level level, const char *component);
void log_msg(enum pdm_log_level level, const char *component, const char *fmt, ...)
	PDM_PRINTF(3, 4);
void log_vmsg(enum pdm_log_level level, const char *component, const char *fmt, va_list ap)
	PDM_PRINTF(3, 0);

#define log_error(comp, ...) log_msg(PDM_LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...) log_msg(PDM_LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...) log_msg(PDM_LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) log_msg(PDM_LOG_DEBUG, comp, __VA_ARGS__)

#endif
