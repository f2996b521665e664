/*
 * plugins/socket/socket_test.c - the console on a UNIX socket: ./modvm runs with
 * serial#0 -> char -> socket, and the test is its client over a real socket.
 *
 * Needs KVM (skips without it). The guests: tests/guests/echo.bin echoes its serial
 * input until a newline, then exits with status 15; examples/hello.bin greets and exits 1;
 * tests/guests/outloop.bin writes 1000 bytes to port 0x500 and exits 1.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/testutil.h"

/* Generous: under valgrind a modvm takes seconds to start. */
#define WAIT_MS 60000
#define ECHO_EXIT 15            /* echo.bin's debug-exit 7 */

static char *tmp;
static char *sock_path;
static pid_t pid;
static int status;              /* exit status, 128 + signal, or -1 while running */

static void setup(void)
{
	tmp = tu_tmpdir();
	sock_path = tu_fmt("%s/console.sock", tmp);
	pid = 0;
	status = -1;
}

static void teardown(void)
{
	if (status < 0 && pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	tu_rmtree(tmp);
	free(sock_path);
	free(tmp);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts ./modvm run on an INI file with the socket console; stdin is /dev/null. */
static void start(const char *flat, const char *iobase, const char *wait)
{
	char *bin = tu_fmt("%s/modvm", tu_builddir());
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *out = tu_fmt("%s/stdout", tmp), *err = tu_fmt("%s/stderr", tmp);
	char *text = tu_fmt("[boot]\nflat = %s/%s\n"
			    "[devices/serial/0]\niobase = %s\n[devices/serial/0/lun0]\ndriver = char\n"
			    "[devices/serial/0/lun0/attached]\ndriver = socket\npath = %s\nwait = %s\n"
			    "[devices/debug-exit/0]\n",
			    tu_builddir(), flat, iobase, sock_path, wait);

	tu_write_file(ini, text);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "r", stdin) || !freopen(out, "w", stdout) ||
		    !freopen(err, "w", stderr))
			_exit(127);
		execl(bin, bin, "run", ini, (char *)NULL);
		_exit(127);
	}
	free(bin);
	free(ini);
	free(out);
	free(err);
	free(text);
}

static bool has_exited(int options)
{
	int raw;

	if (status >= 0)
		return true;
	if (waitpid(pid, &raw, options) != pid)
		return false;
	status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
	return true;
}

static int finish(void)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!has_exited(WNOHANG)) {
		if (now_ms() > deadline)
			kill(pid, SIGKILL);
		usleep(10000);
	}
	return status;
}

static char *read_text(const char *name)
{
	char *path = tu_fmt("%s/%s", tmp, name);
	char *text = tu_read_file(path);

	free(path);
	return text ? text : strdup("");
}

static struct sockaddr_un address(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	ck_assert_uint_lt(strlen(path), sizeof(addr.sun_path));
	strcpy(addr.sun_path, path);
	return addr;
}

/* Connects to the console, retrying while modvm is still starting. */
static int attach(void)
{
	struct sockaddr_un addr = address(sock_path);
	int64_t deadline = now_ms() + WAIT_MS;
	int fd;

	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		if (!connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
			return fd;
		close(fd);
		ck_assert_msg(!has_exited(WNOHANG), "modvm exited (%d) before a client got in", status);
		ck_assert_msg(now_ms() < deadline, "cannot connect to %s: %s", sock_path,
			      strerror(errno));
		usleep(20000);
	}
}

static void send_all(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads exactly len bytes (or fails after WAIT_MS); NUL-terminates buf. */
static void recv_exactly(int fd, char *buf, size_t len)
{
	int64_t deadline = now_ms() + WAIT_MS;
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t count;

		ck_assert_msg(now_ms() < deadline, "got %zu of %zu bytes", done, len);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		count = recv(fd, buf + done, len - done, 0);
		ck_assert_msg(count > 0, "the console closed after %zu of %zu bytes", done, len);
		done += (size_t)count;
	}
	buf[len] = '\0';
}

/* True when nothing arrives on fd within ms. */
static bool stays_quiet(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 0;
}

START_TEST(input_comes_back_through_the_echo_guest_without_loss)
{
	enum { SIZE = 20000 };      /* over the char driver's 4 KiB ring, the FIFO's 16 bytes */
	char *data = malloc(SIZE + 1), *got = malloc(SIZE + 1);
	int fd;

	for (size_t i = 0; i < SIZE; i++)
		data[i] = (char)('a' + i % 26);
	data[SIZE - 1] = '\n';
	start("tests/guests/echo.bin", "0x3f8", "yes");
	fd = attach();
	send_all(fd, data, SIZE);
	recv_exactly(fd, got, SIZE);
	ck_assert(!memcmp(got, data, SIZE));
	ck_assert_int_eq(finish(), ECHO_EXIT);
	close(fd);
	free(data);
	free(got);
}
END_TEST

START_TEST(a_client_can_leave_and_another_take_its_place)
{
	char got[16];
	int fd;

	start("tests/guests/echo.bin", "0x3f8", "yes");
	fd = attach();
	send_all(fd, "first ", 6);
	recv_exactly(fd, got, 6);
	ck_assert_str_eq(got, "first ");
	close(fd);
	fd = attach();
	send_all(fd, "second\n", 7);
	recv_exactly(fd, got, 7);
	ck_assert_str_eq(got, "second\n");
	ck_assert_int_eq(finish(), ECHO_EXIT);
	close(fd);
}
END_TEST

START_TEST(a_second_client_waits_until_the_first_leaves)
{
	char got[8];
	int first, second;

	start("tests/guests/echo.bin", "0x3f8", "yes");
	first = attach();
	second = attach();          /* connected, in the backlog */
	send_all(second, "2\n", 2);
	send_all(first, "1", 1);
	recv_exactly(first, got, 1);
	ck_assert_str_eq(got, "1");
	ck_assert(stays_quiet(second, 300));
	ck_assert(!has_exited(WNOHANG));
	close(first);
	recv_exactly(second, got, 2);
	ck_assert_str_eq(got, "2\n");
	ck_assert_int_eq(finish(), ECHO_EXIT);
	close(second);
}
END_TEST

START_TEST(a_client_that_stops_sending_still_gets_the_output)
{
	char got[8];
	int fd;

	start("tests/guests/echo.bin", "0x3f8", "yes");
	fd = attach();
	/* As socat does at the end of its input: the sending side only. */
	send_all(fd, "bye\n", 4);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	recv_exactly(fd, got, 4);
	ck_assert_str_eq(got, "bye\n");
	ck_assert_int_eq(finish(), ECHO_EXIT);
	close(fd);
}
END_TEST

START_TEST(wait_holds_the_vm_until_a_client_is_there)
{
	char got[64];
	const char *hello = "Hello from a modvm guest!\n";
	int fd;

	start("examples/hello.bin", "0x3f8", "yes");
	usleep(500 * 1000);
	ck_assert_msg(!has_exited(WNOHANG), "the guest ran without a client (status %d)", status);
	fd = attach();
	recv_exactly(fd, got, strlen(hello));
	ck_assert_str_eq(got, hello);
	ck_assert_int_eq(finish(), 1);
	close(fd);
}
END_TEST

START_TEST(output_with_no_client_is_dropped_without_blocking)
{
	char *out;

	/* outloop.bin: 1000 bytes to the UART at 0x500 with nobody attached, then exit. */
	start("tests/guests/outloop.bin", "0x500", "no");
	ck_assert_int_eq(finish(), 1);
	out = read_text("stdout");
	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(the_socket_is_private_and_removed_at_exit)
{
	struct stat st;
	int fd;

	start("tests/guests/echo.bin", "0x3f8", "yes");
	fd = attach();
	ck_assert_int_eq(lstat(sock_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	send_all(fd, "\n", 1);
	ck_assert_int_eq(finish(), ECHO_EXIT);
	ck_assert_int_eq(lstat(sock_path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	close(fd);
}
END_TEST

START_TEST(a_stale_socket_is_replaced)
{
	struct sockaddr_un addr = address(sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char *err;

	/* Bound, never listened on, closed: what a killed modvm leaves. */
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	start("examples/hello.bin", "0x3f8", "no");
	ck_assert_int_eq(finish(), 1);
	err = read_text("stderr");
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(access(sock_path, F_OK), -1);
	free(err);
}
END_TEST

START_TEST(a_file_that_is_not_a_socket_is_refused_and_kept)
{
	char *err, *kept;

	tu_write_file(sock_path, "precious\n");
	start("examples/hello.bin", "0x3f8", "no");
	ck_assert_int_eq(finish(), 2);
	err = read_text("stderr");
	ck_assert_msg(strstr(err, sock_path) && strstr(err, "is not a socket") &&
		      strstr(err, "serial#0/lun0/char/socket"), "%s", err);
	kept = read_text("console.sock");
	ck_assert_str_eq(kept, "precious\n");
	free(err);
	free(kept);
}
END_TEST

START_TEST(a_socket_another_process_listens_on_is_refused)
{
	struct sockaddr_un addr = address(sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct stat st;
	char *err;

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	start("examples/hello.bin", "0x3f8", "no");
	ck_assert_int_eq(finish(), 2);
	err = read_text("stderr");
	ck_assert_msg(strstr(err, "another process listens on") && strstr(err, sock_path),
		      "%s", err);
	ck_assert_int_eq(lstat(sock_path, &st), 0);     /* still the other's */
	close(fd);
	free(err);
}
END_TEST

static Suite *socket_suite(void)
{
	Suite *s = suite_create("socket");
	TCase *tc = tcase_create("console");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, input_comes_back_through_the_echo_guest_without_loss);
	tcase_add_test(tc, a_client_can_leave_and_another_take_its_place);
	tcase_add_test(tc, a_second_client_waits_until_the_first_leaves);
	tcase_add_test(tc, a_client_that_stops_sending_still_gets_the_output);
	tcase_add_test(tc, wait_holds_the_vm_until_a_client_is_there);
	tcase_add_test(tc, output_with_no_client_is_dropped_without_blocking);
	tcase_add_test(tc, the_socket_is_private_and_removed_at_exit);
	tcase_add_test(tc, a_stale_socket_is_replaced);
	tcase_add_test(tc, a_file_that_is_not_a_socket_is_refused_and_kept);
	tcase_add_test(tc, a_socket_another_process_listens_on_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

	tu_require_kvm();
	runner = srunner_create(socket_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
