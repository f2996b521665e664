/*
 * bench/qmp-rtt.c - client-side round trip of QMP `stop` and `cont`, for
 * bench/pause-resume. Speaks to any QMP server (modvm's control socket, QEMU's -qmp).
 *
 *   qmp-rtt [-n N] [-w N] [-g US] [-p] [-t MS] SOCKET
 *   qmp-rtt -q [-t MS] SOCKET
 *
 * Connects once (retrying for up to -t ms while the server starts), reads the
 * greeting, negotiates (qmp_capabilities), waits (up to -t ms again) while the VM is
 * in "prelaunch", and makes sure the VM runs (an untimed `cont` if it is paused).
 * Then -w untimed and -n timed iterations of:
 *
 *   send {"execute":"stop"}, read lines until the reply, sleep -g us,
 *   send {"execute":"cont"}, read lines until the reply, sleep -g us
 *
 * A round trip is the time from just before the write of the command to just after
 * the read that completes its reply line (CLOCK_MONOTONIC); event lines on the way
 * are skipped and counted. The gap lets the VM settle in the state it was put in
 * (vCPUs back in the guest after `cont`) before the next command. With -p the VM is
 * left paused at the end (an untimed `stop`), so that it does not compete for the
 * CPUs while another VM is measured.
 *
 * With -q it only sends `quit` after the negotiation and waits (up to the reply
 * timeout) for the reply or for the server to close the connection.
 *
 * Output, one line per timed sample, in order: "stop NS" or "cont NS". From the
 * first iteration on, every stop must bring one STOP event and every cont one RESUME
 * event (checked at the end, after a query-status that drains what is in flight),
 * and the VM must be in the state expected: a command that does nothing is not
 * measured as a fast one.
 *
 * Exit status: 0, or 1 with a message on stderr (cannot connect, an error reply, a
 * timeout, a closed connection, events or states that do not add up).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 20000

static const char *sock_path;
static int fd = -1;
static char buf[1 << 16];
static size_t buf_len;
static unsigned long stop_events, resume_events;

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "qmp-rtt: %s: ", sock_path ? sock_path : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (us > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void connect_socket(long wait_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ns() + (uint64_t)wait_ms * 1000000ull;

	if (strlen(sock_path) >= sizeof(addr.sun_path))
		die("socket path too long");
	strcpy(addr.sun_path, sock_path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return;
		if ((errno != ENOENT && errno != ECONNREFUSED) || now_ns() > deadline)
			die("cannot connect: %s", strerror(errno));
		close(fd);
		sleep_us(10000);
	}
}

/* Returns the next complete line (NUL-terminated, without its end of line). */
static char *read_line(char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(buf, '\n', buf_len);

		if (nl) {
			size_t len = (size_t)(nl - buf);

			if (len >= size)
				die("reply line longer than %zu bytes", size);
			memcpy(line, buf, len);
			line[len] = 0;
			if (len && line[len - 1] == '\r')
				line[len - 1] = 0;
			memmove(buf, nl + 1, buf_len - len - 1);
			buf_len -= len + 1;
			return line;
		}
		if (buf_len == sizeof(buf))
			die("reply line longer than %zu bytes", sizeof(buf));

		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, REPLY_TIMEOUT_MS);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			die("poll: %s", strerror(errno));
		if (rc == 0)
			die("no reply within %d ms", REPLY_TIMEOUT_MS);

		ssize_t n = read(fd, buf + buf_len, sizeof(buf) - buf_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read: %s", strerror(errno));
		if (n == 0)
			die("the server closed the connection");
		buf_len += (size_t)n;
	}
}

static void send_all(const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write: %s", strerror(errno));
		off += (size_t)n;
	}
}

/* A line is an event if it has an "event" member; events are counted and skipped. */
static bool is_event(const char *line)
{
	if (!strstr(line, "\"event\""))
		return false;
	if (strstr(line, "\"STOP\""))
		stop_events++;
	else if (strstr(line, "\"RESUME\""))
		resume_events++;
	return true;
}

/*
 * Sends one command and reads until its reply; returns the round trip in ns and
 * leaves the reply line in reply.
 */
static uint64_t command(const char *cmd, char *reply, size_t size)
{
	char text[256];
	uint64_t t0, t1;

	snprintf(text, sizeof(text), "{\"execute\":\"%s\"}\n", cmd);
	t0 = now_ns();
	send_all(text);
	do
		read_line(reply, size);
	while (is_event(reply));
	t1 = now_ns();
	if (strstr(reply, "\"error\"") || !strstr(reply, "\"return\""))
		die("%s: %s", cmd, reply);
	return t1 - t0;
}

/* The "status" of a query-status reply: "running", "paused", ... */
static void query_status(char *status, size_t size)
{
	char reply[4096];
	const char *p, *q;

	command("query-status", reply, sizeof(reply));
	p = strstr(reply, "\"status\"");
	if (!p)
		die("query-status: no status in %s", reply);
	p += strlen("\"status\"");
	p += strspn(p, " \t:");
	if (*p != '"' || !(q = strchr(p + 1, '"')) || (size_t)(q - p) > size)
		die("query-status: cannot read %s", reply);
	memcpy(status, p + 1, (size_t)(q - p - 1));
	status[q - p - 1] = 0;
}

static void expect_status(const char *want, const char *when)
{
	char status[64];

	query_status(status, sizeof(status));
	if (strcmp(status, want))
		die("%s: the VM is %s, expected %s", when, status, want);
}

static long number(const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0)
		die("%s wants a non-negative integer, not '%s'", opt, s);
	return v;
}

int main(int argc, char **argv)
{
	long iterations = 100, warmup = 0, gap_us = 2000, wait_ms = 10000;
	bool park = false, quit = false;
	unsigned long stops = 0, conts = 0;
	char line[4096], status[64];
	uint64_t *samples;
	int opt;

	while ((opt = getopt(argc, argv, "n:w:g:pqt:")) != -1) {
		switch (opt) {
		case 'n': iterations = number("-n", optarg); break;
		case 'w': warmup = number("-w", optarg); break;
		case 'g': gap_us = number("-g", optarg); break;
		case 'p': park = true; break;
		case 'q': quit = true; break;
		case 't': wait_ms = number("-t", optarg); break;
		default:
			fprintf(stderr, "usage: qmp-rtt [-n N] [-w N] [-g US] [-p] [-t MS] SOCKET\n"
				"       qmp-rtt -q [-t MS] SOCKET\n");
			return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: qmp-rtt [-n N] [-w N] [-g US] [-p] [-t MS] SOCKET\n"
				"       qmp-rtt -q [-t MS] SOCKET\n");
		return 1;
	}
	sock_path = argv[optind];
	samples = calloc((size_t)iterations * 2 + 1, sizeof(*samples));
	if (!samples)
		die("out of memory");

	connect_socket(wait_ms);
	read_line(line, sizeof(line));
	if (!strstr(line, "\"QMP\""))
		die("not a QMP greeting: %s", line);
	command("qmp_capabilities", line, sizeof(line));
	if (quit) {
		send_all("{\"execute\":\"quit\"}\n");
		/* The reply, or EOF if the server closes first: either will do. */
		for (;;) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			ssize_t n;

			if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0)
				die("quit: no reply within %d ms", REPLY_TIMEOUT_MS);
			n = read(fd, buf, sizeof(buf) - 1);
			if (n <= 0)
				return 0;
			buf[n] = 0;
			if (strstr(buf, "\"return\""))
				return 0;
			if (strstr(buf, "\"error\""))
				die("quit: %s", buf);
		}
	}

	/* A VMM may serve the socket before the VM is powered on ("prelaunch"). */
	for (uint64_t deadline = now_ns() + (uint64_t)wait_ms * 1000000ull;;) {
		query_status(status, sizeof(status));
		if (strcmp(status, "prelaunch") || now_ns() > deadline)
			break;
		sleep_us(10000);
	}
	if (!strcmp(status, "paused")) {
		command("cont", line, sizeof(line));
		conts++;
	} else if (strcmp(status, "running")) {
		die("the VM is %s, neither running nor paused", status);
	}
	expect_status("running", "at the start");
	/*
	 * Events from before (a RESUME at power-on, after "prelaunch") have come in
	 * ahead of that reply: count from here.
	 */
	stops = conts = 0;
	stop_events = resume_events = 0;
	sleep_us(gap_us);

	for (long i = 0; i < warmup + iterations; i++) {
		uint64_t t_stop, t_cont;

		t_stop = command("stop", line, sizeof(line));
		stops++;
		sleep_us(gap_us);
		t_cont = command("cont", line, sizeof(line));
		conts++;
		sleep_us(gap_us);
		if (i >= warmup) {
			samples[2 * (i - warmup)] = t_stop;
			samples[2 * (i - warmup) + 1] = t_cont;
		}
	}

	if (park) {
		command("stop", line, sizeof(line));
		stops++;
		expect_status("paused", "at the end (parked)");
	} else {
		expect_status("running", "at the end");
	}
	if (stop_events != stops || resume_events != conts)
		die("%lu stop and %lu cont sent, but %lu STOP and %lu RESUME events seen",
		    stops, conts, stop_events, resume_events);
	close(fd);

	for (long i = 0; i < iterations; i++)
		printf("stop %llu\ncont %llu\n", (unsigned long long)samples[2 * i],
		       (unsigned long long)samples[2 * i + 1]);
	free(samples);
	return fflush(stdout) ? 1 : 0;
}
