/*
 * plugins/stdio/stdio_test.c - the console on a terminal: ./modvm runs with its stdin
 * and stdout on the slave side of a real pty, as in a user's shell; the test types on
 * the master side and reads the terminal's settings from the slave.
 *
 * Needs KVM (skips without it): the guest is tests/guests/echo.bin, which echoes its
 * serial input until a newline and then exits with status 15.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tests/testutil.h"

/* Generous: under valgrind a modvm takes seconds to start. */
#define WAIT_MS 60000
#define ECHO_EXIT 15            /* echo.bin's debug-exit 7 */

struct console {
	pid_t pid;
	int master;                 /* the test's side: keys in, screen out */
	int slave;                  /* held to read the settings modvm gives the terminal */
	struct termios before;
	char screen[65536];         /* what modvm wrote to the terminal */
	size_t screen_len;
	int status;                 /* exit status, 128 + signal, or -1 while running */
};

static char *tmp;
static struct console con;

static void setup(void)
{
	tmp = tu_tmpdir();
	memset(&con, 0, sizeof(con));
	con.master = con.slave = -1;
	con.status = -1;
}

static void teardown(void)
{
	if (con.status < 0 && con.pid > 0) {
		kill(con.pid, SIGKILL);
		waitpid(con.pid, NULL, 0);
	}
	if (con.master >= 0)
		close(con.master);
	if (con.slave >= 0)
		close(con.slave);
	tu_rmtree(tmp);
	free(tmp);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * An INI file: serial#0 -> char -> stdio at iobase (COM1 for echo.bin), then extra
 * sections. Returns its path (malloc'ed).
 */
static char *write_ini(const char *guest, const char *iobase, const char *extra)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[boot]\nflat = %s/tests/guests/%s.bin\n"
			    "[devices/serial/0]\niobase = %s\n[devices/serial/0/lun0]\ndriver = char\n"
			    "[devices/serial/0/lun0/attached]\ndriver = stdio\n"
			    "[devices/debug-exit/0]\n%s",
			    tu_builddir(), guest, iobase, extra ? extra : "");

	tu_write_file(ini, text);
	free(text);
	return ini;
}

/*
 * Starts ./modvm with args (NULL-terminated) in a new session whose controlling
 * terminal is the pty, in its foreground, as a shell would; stderr goes to a file.
 */
static void console_start(const char *const *args)
{
	char *bin = tu_fmt("%s/modvm", tu_builddir());
	char *err = tu_fmt("%s/stderr", tmp);
	const char *argv[16] = { bin };
	int fd;

	for (int i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	ck_assert_int_eq(openpty(&con.master, &con.slave, NULL, NULL, NULL), 0);
	ck_assert_int_eq(tcgetattr(con.slave, &con.before), 0);
	con.pid = fork();
	ck_assert_int_ge(con.pid, 0);
	if (con.pid == 0) {
		fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || setsid() < 0 || ioctl(con.slave, TIOCSCTTY, 0) < 0 ||
		    dup2(con.slave, STDIN_FILENO) < 0 || dup2(con.slave, STDOUT_FILENO) < 0 ||
		    dup2(fd, STDERR_FILENO) < 0)
			_exit(127);
		close(con.master);
		close(con.slave);
		close(fd);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(fcntl(con.master, F_SETFL, O_NONBLOCK), 0);
	free(bin);
	free(err);
}

/* Reads what modvm wrote to the terminal, waiting up to ms for the first of it. */
static void console_read(int ms)
{
	struct pollfd pfd = { .fd = con.master, .events = POLLIN };
	ssize_t count;

	if (poll(&pfd, 1, ms) <= 0)
		return;
	while (con.screen_len < sizeof(con.screen) - 1 &&
	       (count = read(con.master, con.screen + con.screen_len,
			     sizeof(con.screen) - 1 - con.screen_len)) > 0)
		con.screen_len += (size_t)count;
	con.screen[con.screen_len] = '\0';
}

static void console_type(const char *keys, size_t len)
{
	ck_assert_int_eq(write(con.master, keys, len), (ssize_t)len);
}

static bool console_has_exited(int options)
{
	int status;

	if (con.status >= 0)
		return true;
	if (waitpid(con.pid, &status, options) != con.pid)
		return false;
	con.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return true;
}

/* Waits for modvm to exit, reading the screen meanwhile; returns its status. */
static int console_wait(void)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!console_has_exited(WNOHANG)) {
		if (now_ms() > deadline)
			kill(con.pid, SIGKILL);
		console_read(10);
	}
	console_read(0);
	return con.status;
}

static bool termios_is_raw(const struct termios *tio)
{
	return !(tio->c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) &&
	       !(tio->c_iflag & (ICRNL | IXON)) && (tio->c_oflag & OPOST) &&
	       tio->c_cc[VMIN] == 1 && tio->c_cc[VTIME] == 0;
}

static bool termios_equal(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	       !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc));
}

/* Waits until modvm has put the terminal in raw mode (it powered the VM on). */
static void console_wait_raw(void)
{
	int64_t deadline = now_ms() + WAIT_MS;
	struct termios now;

	for (;;) {
		ck_assert_int_eq(tcgetattr(con.slave, &now), 0);
		if (termios_is_raw(&now))
			return;
		ck_assert_msg(!console_has_exited(WNOHANG), "modvm exited (%d) before raw mode",
			      con.status);
		ck_assert_msg(now_ms() < deadline, "the terminal never went raw");
		console_read(10);
	}
}

/* modvm's CPU time so far, all threads, in clock ticks (utime + stime of /proc/PID/stat). */
static long console_cpu_ticks(void)
{
	char *path = tu_fmt("/proc/%d/stat", (int)con.pid);
	char *text = tu_read_file(path), *p;
	long utime = 0, stime = 0;

	ck_assert_ptr_nonnull(text);
	/* The fields after the command name, which ends with the last ')'. */
	p = strrchr(text, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
				&utime, &stime), 2);
	free(text);
	free(path);
	return utime + stime;
}

/*
 * Waits until modvm stops using CPU: its vCPU, writing to a terminal nobody reads,
 * is blocked once the terminal's buffers (hundreds of KiB) are full.
 */
static void console_wait_stuck(void)
{
	int64_t deadline = now_ms() + WAIT_MS;
	long ticks = console_cpu_ticks(), last;

	do {
		ck_assert_msg(now_ms() < deadline, "the vCPU never blocked");
		last = ticks;
		usleep(500 * 1000);
		ticks = console_cpu_ticks();
	} while (ticks - last > 1);
}

static void assert_terminal_restored(void)
{
	struct termios after;

	ck_assert_int_eq(tcgetattr(con.slave, &after), 0);
	ck_assert_msg(termios_equal(&after, &con.before),
		      "the terminal was not restored (lflag %#x, was %#x)",
		      (unsigned)after.c_lflag, (unsigned)con.before.c_lflag);
}

static char *stderr_text(void)
{
	char *path = tu_fmt("%s/stderr", tmp);
	char *text = tu_read_file(path);

	free(path);
	return text ? text : strdup("");
}

/* Runs the echo guest on the console with extra -o options; returns after raw mode. */
static void start_echo(const char *opt1, const char *opt2)
{
	char *ini = write_ini("echo", "0x3f8", NULL);
	const char *args[8] = { "run" };
	int n = 1;

	if (opt1) {
		args[n++] = "-o";
		args[n++] = opt1;
	}
	if (opt2) {
		args[n++] = "-o";
		args[n++] = opt2;
	}
	args[n++] = ini;
	console_start(args);
	free(ini);
}

START_TEST(terminal_is_raw_while_running_and_restored_at_exit)
{
	char *err;

	start_echo(NULL, NULL);
	console_wait_raw();
	console_type("hi\n", 3);
	ck_assert_int_eq(console_wait(), ECHO_EXIT);
	/* The terminal did not echo: the guest did, once, with LF made CR LF on output. */
	ck_assert_str_eq(con.screen, "hi\r\n");
	assert_terminal_restored();
	err = stderr_text();
	ck_assert_str_eq(err, "");
	free(err);
}
END_TEST

START_TEST(ctrl_c_and_ctrl_backslash_reach_the_guest)
{
	start_echo(NULL, NULL);
	console_wait_raw();
	/* No signal keys: these are bytes for the guest, which echoes them. */
	console_type("\x03\x1c\x1a\n", 4);
	ck_assert_int_eq(console_wait(), ECHO_EXIT);
	ck_assert_str_eq(con.screen, "\x03\x1c\x1a\r\n");
	assert_terminal_restored();
}
END_TEST

START_TEST(ctrl_a_x_powers_off_and_exits_0)
{
	start_echo(NULL, NULL);
	console_wait_raw();
	console_type("\x01x", 2);
	ck_assert_int_eq(console_wait(), 0);
	ck_assert_str_eq(con.screen, "");
	assert_terminal_restored();
}
END_TEST

START_TEST(ctrl_a_ctrl_a_sends_one_ctrl_a)
{
	start_echo(NULL, NULL);
	console_wait_raw();
	/* Split between writes: the escape state carries from one read to the next. */
	console_type("a\x01", 2);
	console_read(200);
	console_type("\x01" "b\n", 3);
	ck_assert_int_eq(console_wait(), ECHO_EXIT);
	ck_assert_str_eq(con.screen, "a\x01" "b\r\n");
}
END_TEST

START_TEST(ctrl_a_h_prints_help_on_the_terminal_only)
{
	int64_t deadline;

	start_echo(NULL, NULL);
	console_wait_raw();
	console_type("\x01h", 2);
	deadline = now_ms() + WAIT_MS;
	while (!strstr(con.screen, "to the guest\r\n") && now_ms() < deadline)
		console_read(10);
	console_type("Q\n", 2);
	ck_assert_int_eq(console_wait(), ECHO_EXIT);
	/* The guest got only "Q\n": an 'h' reaching it would be echoed before the Q. */
	ck_assert_str_eq(con.screen,
			 "\r\nmodvm console escapes:\r\n"
			 "  Ctrl-A h       print this help\r\n"
			 "  Ctrl-A x       power the VM off and exit\r\n"
			 "  Ctrl-A Ctrl-A  send Ctrl-A to the guest\r\n"
			 "Q\r\n");
}
END_TEST

START_TEST(other_escape_commands_send_nothing)
{
	start_echo(NULL, NULL);
	console_wait_raw();
	console_type("1\x01q2\x01\x03" "3\n", 8);
	ck_assert_int_eq(console_wait(), ECHO_EXIT);
	ck_assert_str_eq(con.screen, "123\r\n");
}
END_TEST

START_TEST(escape_can_be_another_key)
{
	start_echo("devices/serial/0/lun0/attached/escape=^]", NULL);
	console_wait_raw();
	/* Ctrl-A is an ordinary byte now; Ctrl-] x quits. */
	console_type("\x01", 1);
	console_read(200);
	console_type("\x1dx", 2);
	ck_assert_int_eq(console_wait(), 0);
	ck_assert_str_eq(con.screen, "\x01");
}
END_TEST

START_TEST(escape_none_passes_every_byte)
{
	start_echo("devices/serial/0/lun0/attached/escape=none", NULL);
	console_wait_raw();
	console_type("\x01x\x01\x01\n", 5);
	ck_assert_int_eq(console_wait(), ECHO_EXIT);
	ck_assert_str_eq(con.screen, "\x01x\x01\x01\r\n");
}
END_TEST

START_TEST(a_bad_escape_is_a_startup_error)
{
	char *err;

	start_echo("devices/serial/0/lun0/attached/escape=alt-x", NULL);
	ck_assert_int_eq(console_wait(), 2);
	err = stderr_text();
	ck_assert_msg(strstr(err, "'escape' is 'alt-x'"), "%s", err);
	free(err);
	assert_terminal_restored();
}
END_TEST

START_TEST(raw_no_leaves_the_terminal_cooked)
{
	struct termios during;

	start_echo("devices/serial/0/lun0/attached/raw=no", NULL);
	/* Cooked: the terminal echoes the line, then the guest gets it and echoes it. */
	console_type("ok\n", 3);
	ck_assert_int_eq(console_wait(), ECHO_EXIT);
	ck_assert_str_eq(con.screen, "ok\r\nok\r\n");
	ck_assert_int_eq(tcgetattr(con.slave, &during), 0);
	ck_assert(termios_equal(&during, &con.before));
}
END_TEST

START_TEST(sigterm_restores_the_terminal)
{
	start_echo(NULL, NULL);
	console_wait_raw();
	kill(con.pid, SIGTERM);
	ck_assert_int_eq(console_wait(), 0);
	assert_terminal_restored();
}
END_TEST

START_TEST(a_second_signal_restores_the_terminal_before_it_kills)
{
	/*
	 * spin.bin writes to port 0x500 forever: with the console there, its output
	 * fills the terminal, which the test does not read, so the vCPU blocks in the
	 * write and the first SIGTERM's power-off cannot finish. The second one takes
	 * the default action, which skips the stdio driver's power-off and destructor:
	 * modvm must put the terminal back itself first.
	 */
	char *ini = write_ini("spin", "0x500", NULL);

	console_start((const char *const[]){ "run", ini, NULL });
	console_wait_raw();
	console_wait_stuck();
	kill(con.pid, SIGTERM);
	usleep(500 * 1000);
	ck_assert_msg(!console_has_exited(WNOHANG), "exited %d on the first signal", con.status);
	kill(con.pid, SIGTERM);
	/* Waited for without reading the screen: reading would let the vCPU go on. */
	ck_assert(console_has_exited(0));
	ck_assert_int_eq(con.status, 128 + SIGTERM);
	assert_terminal_restored();
	free(ini);
}
END_TEST

START_TEST(a_startup_error_leaves_the_terminal_as_it_was)
{
	char *ini = write_ini("echo", "0x3f8",
			      "[devices/serial/1]\niobase = 0x2f8\n[devices/serial/1/lun0]\n"
			      "driver = char\n[devices/serial/1/lun0/attached]\ndriver = file\n"
			      "path = /nonexistent/dir/out.txt\n");
	char *err;

	console_start((const char *const[]){ "run", ini, NULL });
	ck_assert_int_eq(console_wait(), 2);
	err = stderr_text();
	ck_assert_msg(strstr(err, "/nonexistent/dir/out.txt"), "%s", err);
	assert_terminal_restored();
	free(err);
	free(ini);
}
END_TEST

START_TEST(a_fatal_error_restores_the_terminal)
{
	char *plugdir = tu_fmt("%s/plugins", tmp);
	char *cmd = tu_fmt("mkdir -p '%s' && cp '%s/tests/plugins/.libs/recorder.so' '%s'",
			   plugdir, tu_builddir(), plugdir);
	char *ini = write_ini("echo", "0x3f8",
			      "[plugins]\npath = plugins\n[devices/trec/0]\nluns = 0\nrterr = fatal\n");
	char *err;

	ck_assert_int_eq(system(cmd), 0);
	/* The recorder's worker reports a fatal error once the VM runs: raw mode is on by then. */
	console_start((const char *const[]){ "run", ini, NULL });
	ck_assert_int_eq(console_wait(), 4);
	err = stderr_text();
	ck_assert_msg(strstr(err, "the VM failed"), "%s", err);
	assert_terminal_restored();
	free(err);
	free(ini);
	free(cmd);
	free(plugdir);
}
END_TEST

static Suite *stdio_suite(void)
{
	Suite *s = suite_create("stdio");
	TCase *tc = tcase_create("terminal");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, terminal_is_raw_while_running_and_restored_at_exit);
	tcase_add_test(tc, ctrl_c_and_ctrl_backslash_reach_the_guest);
	tcase_add_test(tc, ctrl_a_x_powers_off_and_exits_0);
	tcase_add_test(tc, ctrl_a_ctrl_a_sends_one_ctrl_a);
	tcase_add_test(tc, ctrl_a_h_prints_help_on_the_terminal_only);
	tcase_add_test(tc, other_escape_commands_send_nothing);
	tcase_add_test(tc, escape_can_be_another_key);
	tcase_add_test(tc, escape_none_passes_every_byte);
	tcase_add_test(tc, a_bad_escape_is_a_startup_error);
	tcase_add_test(tc, raw_no_leaves_the_terminal_cooked);
	tcase_add_test(tc, sigterm_restores_the_terminal);
	tcase_add_test(tc, a_second_signal_restores_the_terminal_before_it_kills);
	tcase_add_test(tc, a_startup_error_leaves_the_terminal_as_it_was);
	tcase_add_test(tc, a_fatal_error_restores_the_terminal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

	tu_require_kvm();
	runner = srunner_create(stdio_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
