/*
 * tests/testutil.h - small helpers shared by the libcheck suites.
 */
#ifndef TESTS_TESTUTIL_H
#define TESTS_TESTUTIL_H

#include <stdbool.h>

/* Exits 77 (automake's SKIP) with a line saying why when KVM cannot be opened. */
void tu_require_kvm(void);
/* The build and source trees (from make check's environment, else "."). */
const char *tu_builddir(void);
const char *tu_srcdir(void);
/* A malloc'ed printf. */
char *tu_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fresh temporary folder (malloc'ed path); tu_rmtree removes it. */
char *tu_tmpdir(void);
void tu_rmtree(const char *dir);
void tu_write_file(const char *path, const char *text);
/* The whole file, NUL-terminated, malloc'ed; NULL if it cannot be read. */
char *tu_read_file(const char *path);
/* Counts the lines of text that contain needle. */
int tu_count(const char *text, const char *needle);

/* What a run of ./modvm gave. */
struct tu_run {
	int status;             /* exit status, or 128 + signal */
	char *out;              /* what it wrote to stdout, NUL-terminated */
	char *err;              /* and to stderr */
};
/*
 * Runs the build tree's ./modvm with args (NULL-terminated), stdin from /dev/null,
 * stdout and stderr through files in dir; kills it after timeout_s seconds.
 * tu_run_release frees what it returned.
 */
struct tu_run tu_run_modvm(const char *dir, const char *const *args, int timeout_s);
void tu_run_release(struct tu_run *run);

#endif
