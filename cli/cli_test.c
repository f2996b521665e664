/*
 * cli/cli_test.c - the `modvm` command end to end, as a user runs it.
 *
 * Built twice: cli_test covers what needs no KVM (check, plugins, usage);
 * cli_run_test (CLI_TEST_RUN) runs guests and skips (exit 77) without /dev/kvm.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/testutil.h"

static char *tmp;
static const char *stdin_text;      /* what the next modvm() reads on stdin (NULL: /dev/null) */

struct result {
	int status;             /* exit status, or 128 + signal */
	char *out;
	char *err;
};

static void setup(void)
{
	tmp = tu_tmpdir();
}

static void teardown(void)
{
	tu_rmtree(tmp);
	free(tmp);
}

static void result_release(struct result *r)
{
	free(r->out);
	free(r->err);
}

/*
 * Runs ./modvm with argv (NULL-terminated) from the build tree, stdin from a file
 * holding stdin_text (empty when unset).
 * If term_when is set, sends SIGTERM once its stderr contains that text. Kills it
 * after 60 s.
 */
static struct result modvm(const char *term_when, const char *const *args)
{
	char *bin = tu_fmt("%s/modvm", tu_builddir());
	char *out = tu_fmt("%s/stdout", tmp), *err = tu_fmt("%s/stderr", tmp);
	const char *argv[32] = { bin };
	struct result r = { 0 };
	int status, waited_ms = 0;
	bool is_term_sent = false;
	pid_t pid;

	char *in = tu_fmt("%s/stdin", tmp);

	tu_write_file(in, stdin_text ? stdin_text : "");
	stdin_text = NULL;
	for (int i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen(in, "r", stdin) || !freopen(out, "w", stdout) ||
		    !freopen(err, "w", stderr))
			_exit(127);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);

		if (done == pid)
			break;
		usleep(10000);
		waited_ms += 10;
		if (term_when && !is_term_sent) {
			char *text = tu_read_file(err);

			if (text && strstr(text, term_when)) {
				kill(pid, SIGTERM);
				is_term_sent = true;
			}
			free(text);
		}
		if (waited_ms == 60000)
			kill(pid, SIGKILL);
	}
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r.out = tu_read_file(out);
	r.err = tu_read_file(err);
	free(in);
	free(bin);
	free(out);
	free(err);
	return r;
}

/*
 * examples/hello.ini names hello.bin relative to itself; in a VPATH build the binary
 * is in the build tree, so the test runs a copy of the INI file pointing at it.
 */
static char *hello_ini(void)
{
	char *src, *text, *at, *patched, *copy;

	if (!strcmp(tu_srcdir(), tu_builddir()))
		return tu_fmt("%s/examples/hello.ini", tu_srcdir());
	src = tu_fmt("%s/examples/hello.ini", tu_srcdir());
	text = tu_read_file(src);
	ck_assert_ptr_nonnull(text);
	at = strstr(text, "flat = hello.bin");
	ck_assert_ptr_nonnull(at);
	patched = tu_fmt("%.*sflat = %s/examples/hello.bin%s", (int)(at - text), text,
			 tu_builddir(), at + strlen("flat = hello.bin"));
	copy = tu_fmt("%s/hello.ini", tmp);
	tu_write_file(copy, patched);
	free(src);
	free(text);
	free(patched);
	return copy;
}

#ifndef CLI_TEST_RUN

START_TEST(check_accepts_the_hello_example)
{
	char *ini = hello_ini();
	struct result r = modvm(NULL, (const char *[]){ "check", ini, NULL });

	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "hello.ini: ok"));
	result_release(&r);
	free(ini);
}
END_TEST

START_TEST(check_reports_every_problem_with_file_and_line)
{
	char *ini = tu_fmt("%s/bad.ini", tmp);
	struct result r;

	tu_write_file(ini,
		      "[vm]\n"
		      "memory = lots\n"                 /* 2: not an integer */
		      "cpus = 0\n"                      /* 3: out of range */
		      "[boot]\n"
		      "flat = missing.bin\n"            /* 5: no such file */
		      "[devices/serial/0]\n"
		      "iobase = 0x3f8\n"
		      "speed = 9600\n"                  /* 8: unknown key */
		      "[devices/serial/0/lun0]\n"
		      "driver = nosuch\n"               /* 10: unknown driver */
		      "[devics/debug-exit/0]\n");       /* 11: unknown section */
	r = modvm(NULL, (const char *[]){ "check", ini, NULL });
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "bad.ini:2: vm/memory"), "%s", r.err);
	ck_assert_msg(strstr(r.err, "bad.ini:3: vm/cpus"), "%s", r.err);
	ck_assert_msg(strstr(r.err, "bad.ini:5:") && strstr(r.err, "missing.bin"), "%s", r.err);
	ck_assert_msg(strstr(r.err, "bad.ini:8: devices/serial/0/speed"), "%s", r.err);
	ck_assert_msg(strstr(r.err, "bad.ini:10:") && strstr(r.err, "'nosuch'"), "%s", r.err);
	ck_assert_msg(strstr(r.err, "bad.ini:11: devics/debug-exit/0"), "%s", r.err);
	ck_assert_msg(strstr(r.err, "6 problems"), "%s", r.err);
	result_release(&r);
	free(ini);
}
END_TEST

START_TEST(overrides_are_applied_and_checked)
{
	char *ini = hello_ini();
	struct result r = modvm(NULL, (const char *[]){ "check", "-o", "devices/serial/0/irq=99", ini, NULL });

	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "-o: devices/serial/0/irq") && strstr(r.err, "99"), "%s", r.err);
	result_release(&r);
	r = modvm(NULL, (const char *[]){ "check", "-o", "noequals", ini, NULL });
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "noequals"), "%s", r.err);
	result_release(&r);
	r = modvm(NULL, (const char *[]){ "check", "-o", "vm/memory=32M", ini, NULL });
	ck_assert_int_eq(r.status, 0);
	result_release(&r);
	free(ini);
}
END_TEST

START_TEST(plugins_lists_modules_types_and_keys)
{
	struct result r = modvm(NULL, (const char *[]){ "plugins", NULL });

	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "core plugin ABI 1.2"));
	ck_assert_ptr_nonnull(strstr(r.out, "serial.so (ABI 1.2)"));
	ck_assert_ptr_nonnull(strstr(r.out, "device serial:"));
	ck_assert_ptr_nonnull(strstr(r.out, "device debug-exit:"));
	ck_assert_ptr_nonnull(strstr(r.out, "driver char:"));
	ck_assert_ptr_nonnull(strstr(r.out, "driver stdio:"));
	ck_assert_ptr_nonnull(strstr(r.out, "driver file:"));
	ck_assert_msg(strstr(r.out, "iobase") && strstr(r.out, "0x3f8"), "%s", r.out);
	result_release(&r);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
	struct result r = modvm(NULL, (const char *[]){ "frobnicate", "x.ini", NULL });

	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "unknown command 'frobnicate'"));
	result_release(&r);
	r = modvm(NULL, (const char *[]){ NULL });
	ck_assert_int_eq(r.status, 2);
	result_release(&r);
	r = modvm(NULL, (const char *[]){ "--help", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: modvm"));
	result_release(&r);
	r = modvm(NULL, (const char *[]){ "--version", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "plugin ABI 1.2"));
	result_release(&r);
}
END_TEST

START_TEST(missing_file_is_reported)
{
	struct result r = modvm(NULL, (const char *[]){ "check", "/nonexistent/vm.ini", NULL });

	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "/nonexistent/vm.ini"), "%s", r.err);
	result_release(&r);
}
END_TEST

#else /* CLI_TEST_RUN */

START_TEST(run_hello_prints_the_greeting_and_exits_with_the_guest_status)
{
	char *ini = hello_ini();
	struct result r;

	r = modvm(NULL, (const char *[]){ "run", ini, NULL });
	ck_assert_msg(r.status == 1, "status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "Hello from a modvm guest!\n");
	ck_assert_str_eq(r.err, "");
	result_release(&r);
	free(ini);
}
END_TEST

START_TEST(run_applies_overrides)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *bin = tu_fmt("%s/tests/guests/exit42.bin", tu_builddir());
	char *set = tu_fmt("boot/flat=%s", bin);
	struct result r;

	tu_write_file(ini, "[boot]\nflat = nothing-yet.bin\n[devices/serial/0]\n"
		      "[devices/serial/0/lun0]\ndriver = char\n"
		      "[devices/serial/0/lun0/attached]\ndriver = stdio\n[devices/debug-exit/0]\n");
	r = modvm(NULL, (const char *[]){ "run", "-o", set, ini, NULL });
	ck_assert_msg(r.status == 85, "status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "exit42\n");
	result_release(&r);
	free(ini);
	free(bin);
	free(set);
}
END_TEST

START_TEST(console_input_reaches_the_guest)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[boot]\nflat = %s/tests/guests/echo.bin\n[devices/serial/0]\n"
			    "[devices/serial/0/lun0]\ndriver = char\n"
			    "[devices/serial/0/lun0/attached]\ndriver = stdio\n[devices/debug-exit/0]\n",
			    tu_builddir());
	struct result r;

	tu_write_file(ini, text);
	/* Longer than the UART's 16-byte FIFO: the char driver must hold back, not drop. */
	stdin_text = "typed at the console, and more than sixteen bytes of it\n";
	r = modvm(NULL, (const char *[]){ "run", ini, NULL });
	ck_assert_msg(r.status == 15, "status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "typed at the console, and more than sixteen bytes of it\n");
	result_release(&r);
	free(ini);
	free(text);
}
END_TEST

START_TEST(sigterm_powers_the_vm_off_and_exits_0)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *plugdir = tu_fmt("%s/plugins", tmp);
	char *cmd = tu_fmt("mkdir -p '%s' && cp '%s/tests/plugins/.libs/sink.so' '%s'", plugdir,
			   tu_builddir(), plugdir);
	char *text = tu_fmt("[plugins]\npath = plugins\n[vm]\ncpus = 2\n[boot]\nflat = %s/tests/guests/spin.bin\n"
			    "[devices/sink/0]\niobase = 0x500\n", tu_builddir());
	struct result r;

	ck_assert_int_eq(system(cmd), 0);
	tu_write_file(ini, text);
	/* Signal it once the guest runs (the state change is logged at debug level). */
	r = modvm("-> running", (const char *[]){ "run", "--log", "warn,vm=debug", ini, NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.err, "running -> powering-off") && strstr(r.err, "-> off"), "%s",
		      r.err);
	result_release(&r);
	free(ini); free(plugdir); free(cmd); free(text);
}
END_TEST

START_TEST(slow_power_off_logs_whom_it_waits_for)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *plugdir = tu_fmt("%s/plugins", tmp);
	char *cmd = tu_fmt("mkdir -p '%s' && cp '%s/tests/plugins/.libs/sink.so' "
			   "'%s/tests/plugins/.libs/recorder.so' '%s'", plugdir, tu_builddir(),
			   tu_builddir(), plugdir);
	char *text = tu_fmt("[plugins]\npath = plugins\n[boot]\nflat = %s/tests/guests/spin.bin\n"
			    "[devices/sink/0]\niobase = 0x500\n"
			    "[devices/trec/0]\nluns = 0\nasync_ms = 2500\n", tu_builddir());
	struct result r;

	ck_assert_int_eq(system(cmd), 0);
	tu_write_file(ini, text);
	/* Its power-off completes 2.5 s later: the wait is logged at 1 and 2 s, then its length. */
	r = modvm("-> running", (const char *[]){ "run", "--log", "warn,vm=debug", ini, NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.err, "power-off: still waiting for 'trec#0' after 1 s") &&
		      strstr(r.err, "power-off: still waiting for 'trec#0' after 2 s") &&
		      !strstr(r.err, "after 4 s") &&
		      strstr(r.err, "'trec#0' took 2.") && strstr(r.err, " s to complete its power-off notification"),
		      "%s", r.err);
	result_release(&r);
	free(ini); free(plugdir); free(cmd); free(text);
}
END_TEST

START_TEST(startup_errors_exit_2_and_name_the_cause)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[boot]\nflat = %s/tests/guests/exit42.bin\n"
			    "[devices/serial/0]\n[devices/serial/0/lun0]\ndriver = char\n"
			    "[devices/serial/0/lun0/attached]\ndriver = file\n"
			    "path = /nonexistent/dir/out.txt\n", tu_builddir());
	struct result r;

	tu_write_file(ini, text);
	r = modvm(NULL, (const char *[]){ "run", ini, NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "/nonexistent/dir/out.txt") && strstr(r.err, "serial#0"),
		      "%s", r.err);
	result_release(&r);
	free(ini);
	free(text);
}
END_TEST

/*
 * `modvm run` loads the plugin modules after KVM has made the VM; still, a config with a
 * problem gets its problem reported, at its line, even where KVM cannot be opened, and
 * a good config then gets the KVM error, naming the device file.
 */
START_TEST(run_reports_config_problems_before_kvm_ones)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *bad = tu_fmt("[boot]\nflat = %s/tests/guests/exit42.bin\n"
			   "[devices/debug-exit/0]\niobase = 0x10000\n", tu_builddir());
	char *good = tu_fmt("[boot]\nflat = %s/tests/guests/exit42.bin\n"
			    "[devices/debug-exit/0]\n", tu_builddir());
	struct result r;

	setenv("MODVM_KVM_DEVICE", "/nonexistent/kvm", 1);
	tu_write_file(ini, bad);
	r = modvm(NULL, (const char *[]){ "run", ini, NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "vm.ini:4") && strstr(r.err, "iobase") &&
		      !strstr(r.err, "/nonexistent/kvm"), "%s", r.err);
	result_release(&r);

	tu_write_file(ini, good);
	r = modvm(NULL, (const char *[]){ "run", ini, NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "/nonexistent/kvm"), "%s", r.err);
	result_release(&r);
	unsetenv("MODVM_KVM_DEVICE");
	free(ini);
	free(bad);
	free(good);
}
END_TEST

#endif

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("modvm");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
#ifndef CLI_TEST_RUN
	tcase_add_test(tc, check_accepts_the_hello_example);
	tcase_add_test(tc, check_reports_every_problem_with_file_and_line);
	tcase_add_test(tc, overrides_are_applied_and_checked);
	tcase_add_test(tc, plugins_lists_modules_types_and_keys);
	tcase_add_test(tc, usage_errors_exit_2);
	tcase_add_test(tc, missing_file_is_reported);
#else
	tcase_add_test(tc, run_hello_prints_the_greeting_and_exits_with_the_guest_status);
	tcase_add_test(tc, run_applies_overrides);
	tcase_add_test(tc, console_input_reaches_the_guest);
	tcase_add_test(tc, sigterm_powers_the_vm_off_and_exits_0);
	tcase_add_test(tc, startup_errors_exit_2_and_name_the_cause);
	tcase_add_test(tc, slow_power_off_logs_whom_it_waits_for);
	tcase_add_test(tc, run_reports_config_problems_before_kvm_ones);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

#ifdef CLI_TEST_RUN
	tu_require_kvm();
#endif
	runner = srunner_create(cli_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
