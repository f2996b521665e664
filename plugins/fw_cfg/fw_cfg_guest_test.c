/*
 * plugins/fw_cfg/fw_cfg_guest_test.c - the fw_cfg device as a real guest sees it:
 * `modvm run` with tests/guests/fwcfg.bin, a real-mode flat binary which reads the
 * items through ports 0x510/0x511 and exits with a mask of what differed from the
 * machine it expects (2 vCPUs, 64 MiB, no command line: a flat binary takes none;
 * fw_cfg_test.c covers a command line). Needs KVM (skips without it).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

/* The guest's difference bits (tests/guests/fwcfg.S). */
#define DIFF_CPUS 0x04
#define DIFF_RAM 0x08

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

/* debug-exit's status for the guest's mask */
static int status_of(int mask)
{
	return ((mask << 1) | 1) & 0xff;
}

/* Runs fwcfg.bin on a machine with `vm` as its [vm] section and `device` added. */
static struct tu_run run_guest(const char *vm, const char *device)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[vm]\n%s[boot]\nflat = %s/tests/guests/fwcfg.bin\n"
			    "%s[devices/debug-exit/0]\n", vm, tu_builddir(), device);
	struct tu_run run;

	tu_write_file(ini, text);
	run = tu_run_modvm(tmp, (const char *[]){ "run", ini, NULL }, 60);
	free(ini);
	free(text);
	return run;
}

START_TEST(guest_reads_the_items_as_on_qemu)
{
	struct tu_run run = run_guest("cpus = 2\nmemory = 64M\n", "[devices/fw_cfg/0]\n");

	ck_assert_msg(run.status == status_of(0), "status %d (mask 0x%x): %s", run.status,
		      run.status >> 1, run.err);
	ck_assert_str_eq(run.err, "");
	tu_run_release(&run);
}
END_TEST

/* The same guest on another machine: it must notice exactly what changed. */
START_TEST(guest_sees_a_different_machine_differently)
{
	struct tu_run run = run_guest("cpus = 1\nmemory = 32M\n", "[devices/fw_cfg/0]\n");

	ck_assert_msg(run.status == status_of(DIFF_CPUS | DIFF_RAM),
		      "status %d (mask 0x%x): %s", run.status, run.status >> 1, run.err);
	tu_run_release(&run);
}
END_TEST

/* Without the device every read gives 0xff (unclaimed ports): each check fails. */
START_TEST(without_the_device_the_guest_finds_nothing)
{
	struct tu_run run = run_guest("cpus = 2\nmemory = 64M\n", "");

	ck_assert_msg(run.status == status_of(0x7f), "status %d: %s", run.status, run.err);
	tu_run_release(&run);
}
END_TEST

START_TEST(iobase_moves_the_ports)
{
	struct tu_run run = run_guest("cpus = 2\nmemory = 64M\n",
				      "[devices/fw_cfg/0]\niobase = 0x520\n");

	/* The guest still looks at 0x510: nothing there. */
	ck_assert_msg(run.status == status_of(0x7f), "status %d: %s", run.status, run.err);
	tu_run_release(&run);
}
END_TEST

START_TEST(a_second_instance_is_refused)
{
	struct tu_run run = run_guest("", "[devices/fw_cfg/0]\n[devices/fw_cfg/1]\n"
				      "iobase = 0x520\n");

	ck_assert_int_eq(run.status, 2);
	ck_assert_msg(strstr(run.err, "fw_cfg") && strstr(run.err, "1 instances at most"), "%s",
		      run.err);
	tu_run_release(&run);
}
END_TEST

static Suite *fw_cfg_guest_suite(void)
{
	Suite *s = suite_create("fw_cfg-guest");
	TCase *tc = tcase_create("guest");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, guest_reads_the_items_as_on_qemu);
	tcase_add_test(tc, guest_sees_a_different_machine_differently);
	tcase_add_test(tc, without_the_device_the_guest_finds_nothing);
	tcase_add_test(tc, iobase_moves_the_ports);
	tcase_add_test(tc, a_second_instance_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

	tu_require_kvm();
	runner = srunner_create(fw_cfg_guest_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
