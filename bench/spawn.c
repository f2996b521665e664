/*
 * bench/spawn.c - the process harness of bench/start: runs one command and times it from
 * fork to the first byte it writes on its standard output (the guest's first
 * instruction, forwarded by the VMM) and to its exit, and reports its memory.
 *
 *   spawn [--hold MS] [--ram BYTES] [--timeout MS] [--err FILE] [--smaps FILE]
 *         -- COMMAND [ARG...]
 *
 * The command runs with standard input /dev/null, standard output a pipe to us and
 * standard error FILE (default /dev/null). Times are CLOCK_MONOTONIC, taken here:
 *   t0      just before fork()
 *   first   read() of the pipe has returned the first byte
 *   exit    wait4() has returned
 * It prints one line of key=value pairs on standard output:
 *
 *   first_ns total_ns status bytes maxrss_kb cpu_us t0_ns
 *
 * (status: the exit status, or 128 + signal; bytes: how many bytes the command wrote
 * in all; maxrss_kb: ru_maxrss of wait4; cpu_us: user + system time of the command;
 * t0_ns: t0 itself, to line the run up with CLOCK_MONOTONIC timestamps it logs).
 *
 * With --hold MS the command is expected to keep running after its first byte (the
 * guest halts): MS milliseconds after the first byte, its /proc/PID/status and
 * /proc/PID/smaps are read, then it is killed (SIGKILL) and reaped. The line then has
 *
 *   first_ns status rss_kb hwm_kb anon_kb file_kb shmem_kb pss_kb ram_kb ram_maps
 *   threads maxrss_kb
 *
 * rss_kb, anon_kb, file_kb, shmem_kb, hwm_kb and threads are VmRSS, RssAnon, RssFile,
 * RssShmem, VmHWM and Threads of /proc/PID/status; pss_kb is the Pss of
 * /proc/PID/smaps_rollup (each shared page divided among its users). ram_kb is the
 * resident part of guest RAM: the Rss of the anonymous mappings exactly --ram BYTES
 * long (ram_maps says how many there were: 1 is what is expected, 0 that guest RAM was
 * not found).
 * --smaps FILE also copies /proc/PID/smaps there, for a closer look.
 *
 * fork() rather than posix_spawn(): ru_maxrss is the largest of the process's mm
 * before and after exec, and a forked copy of this small program holds only its few
 * anonymous pages (a vfork child would share, and count, our whole address space).
 *
 * Exit status: 0 when a line was printed, 1 on failure (the command did not write a
 * byte within --timeout MS, default 10000, or could not be started), 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: spawn [--hold MS] [--ram BYTES] [--timeout MS] [--err FILE] "
			"[--smaps FILE] -- COMMAND [ARG...]\n");
	exit(2);
}

static int status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return -1;
}

/* Value of "Key:" in /proc/PID/status (kB for the Vm and Rss lines), -1 if absent. */
static long status_field(const char *text, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, len) && p[len] == ':')
			return strtol(p + len + 1, NULL, 10);
	return -1;
}

static char *read_file(const char *path)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

#define MAX_ANON 1024

struct anon_map {
	unsigned long long lo, hi;
	long rss_kb;
};

/*
 * Sums the Rss of guest RAM in smaps text: the anonymous mappings that lie end to end
 * and together span exactly ram bytes. A VMM may split its RAM into several (modvm
 * asks for huge pages above the first 2 MiB only, which makes two). *maps gets how
 * many such spans there were.
 */
static long ram_rss_kb(const char *smaps, unsigned long long ram, int *maps)
{
	static struct anon_map anon[MAX_ANON];
	unsigned n = 0;
	bool in_anon = false;
	long kb = 0;

	*maps = 0;
	for (const char *p = smaps; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		unsigned long long lo, hi, off;
		char perms[8], dev[16];
		unsigned long inode;
		int name_at = 0;

		/* (%n right after the inode: a space in the format would skip the newline) */
		if (sscanf(p, "%llx-%llx %7s %llx %15s %lu%n", &lo, &hi, perms, &off, dev, &inode,
			   &name_at) == 6 && name_at > 0) {
			const char *name = p + name_at;

			while (*name == ' ' || *name == '\t')
				name++;
			/* Anonymous: no file behind it (no name, or an [anon:...] label). */
			in_anon = inode == 0 && n < MAX_ANON &&
				  (*name == '\n' || *name == '\0' || !strncmp(name, "[anon:", 6));
			if (in_anon)
				anon[n++] = (struct anon_map){ lo, hi, 0 };
		} else if (in_anon && !strncmp(p, "Rss:", 4)) {
			anon[n - 1].rss_kb = strtol(p + 4, NULL, 10);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned j = i;
		long sum = anon[i].rss_kb;

		while (anon[j].hi - anon[i].lo < ram && j + 1 < n && anon[j + 1].lo == anon[j].hi)
			sum += anon[++j].rss_kb;
		if (anon[j].hi - anon[i].lo == ram) {
			++*maps;
			kb += sum;
			i = j;
		}
	}
	return kb;
}

int main(int argc, char **argv)
{
	const char *err_path = "/dev/null", *smaps_path = NULL;
	long hold_ms = -1, timeout_ms = 10000;
	unsigned long long ram = 0;
	int out_pipe[2], in_fd, err_fd, wstatus, i;
	int64_t t0, t_first, t_exit;
	struct rusage ru;
	unsigned long bytes = 0;
	struct pollfd pfd;
	char byte, buf[4096];
	ssize_t n;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--hold"))
			hold_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--ram"))
			ram = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--timeout"))
			timeout_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--err"))
			err_path = argv[++i];
		else if (!strcmp(argv[i], "--smaps"))
			smaps_path = argv[++i];
		else
			usage();
	}
	if (i + 1 >= argc)
		usage();
	argv += i + 1;

	if (pipe2(out_pipe, O_CLOEXEC) < 0 ||
	    (in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		perror("spawn: setup");
		return 1;
	}

	t0 = now_ns();
	pid = fork();
	if (pid < 0) {
		perror("spawn: fork");
		return 1;
	}
	if (pid == 0) {
		/* dup2 clears FD_CLOEXEC on the copies. */
		if (dup2(in_fd, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_fd, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		dprintf(2, "spawn: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out_pipe[1]);

	/* The first byte, or EOF (the command ended without one), or the timeout. */
	pfd = (struct pollfd){ .fd = out_pipe[0], .events = POLLIN };
	for (;;) {
		int rc = poll(&pfd, 1, (int)timeout_ms);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			fprintf(stderr, "spawn: %s wrote nothing within %ld ms\n", argv[0], timeout_ms);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return 1;
		}
		n = read(out_pipe[0], &byte, 1);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	t_first = now_ns();
	if (n != 1) {
		if (wait4(pid, &wstatus, 0, &ru) < 0)
			wstatus = 0;
		fprintf(stderr, "spawn: %s ended without writing a byte (status %d)\n", argv[0],
			status_of(wstatus));
		return 1;
	}
	bytes = 1;

	if (hold_ms >= 0) {
		char path[64], *status, *smaps, *rollup;
		long ram_kb = -1;
		int ram_maps = 0;

		if (hold_ms)
			nanosleep(&(struct timespec){ hold_ms / 1000, hold_ms % 1000 * 1000000 }, NULL);
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		status = read_file(path);
		snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
		smaps = read_file(path);
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
		rollup = read_file(path);
		kill(pid, SIGKILL);
		if (wait4(pid, &wstatus, 0, &ru) < 0) {
			perror("spawn: wait4");
			return 1;
		}
		if (!status || !smaps || status_field(status, "VmRSS") < 0) {
			fprintf(stderr, "spawn: %s ended before it could be measured (status %d)\n",
				argv[0], status_of(wstatus));
			return 1;
		}
		if (ram)
			ram_kb = ram_rss_kb(smaps, ram, &ram_maps);
		if (smaps_path) {
			FILE *f = fopen(smaps_path, "w");

			if (f) {
				fputs(smaps, f);
				fclose(f);
			}
		}
		printf("first_ns=%lld status=%d rss_kb=%ld hwm_kb=%ld anon_kb=%ld file_kb=%ld "
		       "shmem_kb=%ld pss_kb=%ld ram_kb=%ld ram_maps=%d threads=%ld maxrss_kb=%ld\n",
		       (long long)(t_first - t0), status_of(wstatus), status_field(status, "VmRSS"),
		       status_field(status, "VmHWM"), status_field(status, "RssAnon"),
		       status_field(status, "RssFile"), status_field(status, "RssShmem"),
		       rollup ? status_field(rollup, "Pss") : -1, ram_kb, ram_maps,
		       status_field(status, "Threads"), ru.ru_maxrss);
		free(status);
		free(smaps);
		free(rollup);
		return 0;
	}

	/* Reap first, then count what else it wrote: the pipe is ours alone. */
	if (wait4(pid, &wstatus, 0, &ru) < 0) {
		perror("spawn: wait4");
		return 1;
	}
	t_exit = now_ns();
	while ((n = read(out_pipe[0], buf, sizeof(buf))) > 0)
		bytes += (unsigned long)n;
	printf("first_ns=%lld total_ns=%lld status=%d bytes=%lu maxrss_kb=%ld cpu_us=%lld t0_ns=%lld\n",
	       (long long)(t_first - t0), (long long)(t_exit - t0), status_of(wstatus), bytes,
	       ru.ru_maxrss,
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec, (long long)t0);
	return 0;
}
