/* util/log.c - levelled logging with per-component filters. */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"

#define LOG_MAX_RULES 16

struct log_rule {
	char component[64];
	enum pdm_log_level level;
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum pdm_log_level log_default = PDM_LOG_WARN;
static struct log_rule log_rules[LOG_MAX_RULES];
static int log_rule_count;

static const char *const log_level_names[] = {
	[PDM_LOG_ERROR] = "error",
	[PDM_LOG_WARN] = "warn",
	[PDM_LOG_INFO] = "info",
	[PDM_LOG_DEBUG] = "debug",
};

static enum pdm_log_level log_parse_level(const char *s, size_t len)
{
	for (int i = PDM_LOG_ERROR; i <= PDM_LOG_DEBUG; i++)
		if (strlen(log_level_names[i]) == len && !strncasecmp(s, log_level_names[i], len))
			return i;
	return PDM_LOG_INVALID;
}

int log_set_filter(const char *filter)
{
	struct log_rule rules[LOG_MAX_RULES];
	enum pdm_log_level def = log_default;
	int count = 0;
	const char *p = filter;

	while (*p) {
		const char *end = strchr(p, ',');
		const char *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);

		eq = memchr(p, '=', len);
		if (!eq) {
			def = log_parse_level(p, len);
			if (def == PDM_LOG_INVALID)
				return PDM_ERR_INVALID_ARG;
		} else {
			size_t clen = (size_t)(eq - p);

			if (count == LOG_MAX_RULES || clen == 0 || clen >= sizeof(rules[0].component))
				return PDM_ERR_INVALID_ARG;
			memcpy(rules[count].component, p, clen);
			rules[count].component[clen] = '\0';
			rules[count].level = log_parse_level(eq + 1, len - clen - 1);
			if (rules[count].level == PDM_LOG_INVALID)
				return PDM_ERR_INVALID_ARG;
			count++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	pthread_mutex_lock(&log_lock);
	log_default = def;
	memcpy(log_rules, rules, sizeof(rules[0]) * (size_t)count);
	log_rule_count = count;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

bool log_enabled(enum pdm_log_level level, const char *component)
{
	enum pdm_log_level limit;

	pthread_mutex_lock(&log_lock);
	limit = log_default;
	for (int i = 0; i < log_rule_count; i++)
		if (component && !strcasecmp(log_rules[i].component, component))
			limit = log_rules[i].level;
	pthread_mutex_unlock(&log_lock);
	return level <= limit;
}

void log_vmsg(enum pdm_log_level level, const char *component, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (!log_enabled(level, component))
		return;
	n = snprintf(line, sizeof(line), "modvm: %s%s%s", component ? component : "",
		     component ? ": " : "", level == PDM_LOG_ERROR ? "error: " :
		     level == PDM_LOG_WARN ? "warning: " : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void log_msg(enum pdm_log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, component, fmt, ap);
	va_end(ap);
}
