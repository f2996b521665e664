/* tests/testutil.c - helpers shared by the libcheck suites. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

void tu_require_kvm(void)
{
	const char *path = getenv("MODVM_KVM_DEVICE");
	int fd;

	if (!path || !*path)
		path = "/dev/kvm";
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("SKIP: cannot open %s (%s): the tests that run guests need KVM\n", path,
		       strerror(errno));
		fflush(stdout);
		exit(77);
	}
	close(fd);
}

const char *tu_builddir(void)
{
	const char *dir = getenv("MODVM_BUILDDIR");

	return dir && *dir ? dir : ".";
}

const char *tu_srcdir(void)
{
	const char *dir = getenv("MODVM_SRCDIR");

	return dir && *dir ? dir : ".";
}

char *tu_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

char *tu_tmpdir(void)
{
	char *dir = strdup("/tmp/modvm-test-XXXXXX");

	if (!dir || !mkdtemp(dir))
		abort();
	return dir;
}

static int tu_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

void tu_rmtree(const char *dir)
{
	nftw(dir, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f))
		abort();
}

char *tu_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (len + 4096 + 1) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

int tu_count(const char *text, const char *needle)
{
	int count = 0;

	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		count++;
	return count;
}

struct tu_run tu_run_modvm(const char *dir, const char *const *args, int timeout_s)
{
	char *bin = tu_fmt("%s/modvm", tu_builddir());
	char *out = tu_fmt("%s/modvm.stdout", dir), *err = tu_fmt("%s/modvm.stderr", dir);
	const char *argv[64] = { bin };
	struct tu_run run = { 0 };
	int status, waited_ms = 0;
	pid_t pid;

	for (int i = 0; args[i] && i < 62; i++)
		argv[i + 1] = args[i];
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		if (!freopen("/dev/null", "r", stdin) || !freopen(out, "w", stdout) ||
		    !freopen(err, "w", stderr))
			_exit(127);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, WNOHANG) != pid) {
		usleep(10000);
		waited_ms += 10;
		if (waited_ms == timeout_s * 1000)
			kill(pid, SIGKILL);
	}
	run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	run.out = tu_read_file(out);
	run.err = tu_read_file(err);
	if (!run.out || !run.err)
		abort();
	free(bin);
	free(out);
	free(err);
	return run;
}

void tu_run_release(struct tu_run *run)
{
	free(run->out);
	free(run->err);
	run->out = run->err = NULL;
}
