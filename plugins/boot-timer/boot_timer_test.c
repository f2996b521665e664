/*
 * plugins/boot-timer/boot_timer_test.c - the boot-timer device end to end: `modvm run`
 * with tests/guests/boottime.bin, which signals twice (with writes of other values
 * between), and the log lines on stderr. Needs KVM (skips without it).
 */
#include <check.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/testutil.h"

/* The format the plugin promises (docs/modvm.ini.5), anchored to whole lines. */
#define LINE_RE "^modvm: boot-timer#0: guest boot done ([0-9]+)\\.([0-9]{3}) ms after modvm started$"

static char *tmp;

static void setup(void)
{
	tmp = tu_tmpdir();
}

static void teardown(void)
{
	tu_rmtree(tmp);
	free(tmp);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct tu_run run_guest(const char *log, const char *device)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[boot]\nflat = %s/tests/guests/boottime.bin\n%s"
			    "[devices/debug-exit/0]\n", tu_builddir(), device);
	struct tu_run run;

	tu_write_file(ini, text);
	run = tu_run_modvm(tmp, (const char *[]){ "run", "--log", log, ini, NULL }, 60);
	free(ini);
	free(text);
	return run;
}

/*
 * Collects the times (in µs) of the lines matching LINE_RE; returns how many there
 * were. Fails the test on a line that mentions the device but does not match.
 */
static int boot_times(const char *text, uint64_t *us, int max)
{
	regex_t re;
	regmatch_t m[3];
	char *copy = strdup(text), *save = NULL;
	int count = 0;

	ck_assert_int_eq(regcomp(&re, LINE_RE, REG_EXTENDED), 0);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, "guest boot done"))
			continue;
		ck_assert_msg(regexec(&re, line, 3, m, 0) == 0, "line not in the format: '%s'", line);
		if (count < max)
			us[count] = strtoull(line + m[1].rm_so, NULL, 10) * 1000 +
				    strtoull(line + m[2].rm_so, NULL, 10);
		count++;
	}
	regfree(&re);
	free(copy);
	return count;
}

START_TEST(each_signal_logs_the_time_since_modvm_started)
{
	uint64_t before = now_ns(), wall_us, us[4];
	struct tu_run run = run_guest("warn,boot-timer#0=info", "[devices/boot-timer/0]\n");
	int count;

	wall_us = (now_ns() - before) / 1000;
	ck_assert_msg(run.status == 1, "status %d: %s", run.status, run.err);
	count = boot_times(run.err, us, 4);
	/* Two signals; the writes of 122 and 0x17b in between are not. */
	ck_assert_msg(count == 2, "%d lines: %s", count, run.err);
	/* Measured from modvm's start: after it, within the run, in order. */
	ck_assert_uint_gt(us[0], 0);
	ck_assert_uint_le(us[0], us[1]);
	ck_assert_msg(us[1] <= wall_us, "%llu us logged, the run took %llu us",
		      (unsigned long long)us[1], (unsigned long long)wall_us);
	tu_run_release(&run);
}
END_TEST

START_TEST(the_lines_are_info_level)
{
	struct tu_run run = run_guest("warn", "[devices/boot-timer/0]\n");
	uint64_t us[1];

	ck_assert_msg(run.status == 1, "status %d: %s", run.status, run.err);
	ck_assert_int_eq(boot_times(run.err, us, 1), 0);
	tu_run_release(&run);
}
END_TEST

START_TEST(without_the_device_nothing_is_logged)
{
	struct tu_run run = run_guest("info", "");
	uint64_t us[1];

	ck_assert_msg(run.status == 1, "status %d: %s", run.status, run.err);
	ck_assert_int_eq(boot_times(run.err, us, 1), 0);
	tu_run_release(&run);
}
END_TEST

START_TEST(iobase_moves_the_port)
{
	struct tu_run run = run_guest("warn,boot-timer#0=info",
				      "[devices/boot-timer/0]\niobase = 0x444\n");
	uint64_t us[1];

	ck_assert_msg(run.status == 1, "status %d: %s", run.status, run.err);
	ck_assert_int_eq(boot_times(run.err, us, 1), 0);
	tu_run_release(&run);
}
END_TEST

static Suite *boot_timer_suite(void)
{
	Suite *s = suite_create("boot-timer");
	TCase *tc = tcase_create("guest");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, each_signal_logs_the_time_since_modvm_started);
	tcase_add_test(tc, the_lines_are_info_level);
	tcase_add_test(tc, without_the_device_nothing_is_logged);
	tcase_add_test(tc, iobase_moves_the_port);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

	tu_require_kvm();
	runner = srunner_create(boot_timer_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
