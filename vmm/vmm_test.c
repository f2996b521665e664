/*
 * vmm/vmm_test.c - the VM on real KVM with real plugins: create/destroy cycles, the
 * hello guest end to end through serial -> char -> file, debug-exit statuses, 2 vCPUs,
 * unhandled ports, power-off of a busy guest, illegal state changes, failures.
 * Skips (exit 77) where /dev/kvm cannot be opened.
 */
#include <check.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/registry.h"
#include "tests/testutil.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static char *tmp;
static struct pdm_registry registry;
static struct cfg_tree *tree;

static void setup(void)
{
	tmp = tu_tmpdir();
	tu_load_registry(&registry);
}

static void teardown(void)
{
	cfg_free(tree);
	tree = NULL;
	pdm_registry_release(&registry);
	tu_rmtree(tmp);
	free(tmp);
}

/*
 * A VM running guest `guest` (tests/guests/<guest>.bin, or examples/ for hello) with a
 * serial port whose output goes to out.txt, a debug-exit device, and `extra` sections.
 */
static struct cfg_tree *vm_config(const char *guest, const char *vm_section, const char *extra)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *bin = !strcmp(guest, "hello") ? tu_fmt("%s/examples/hello.bin", tu_builddir()) :
		    tu_fmt("%s/tests/guests/%s.bin", tu_builddir(), guest);
	char *text = tu_fmt("[vm]\nmemory = 16M\n%s\n[boot]\nflat = %s\n"
			    "[devices/serial/0]\n[devices/serial/0/lun0]\ndriver = char\n"
			    "[devices/serial/0/lun0/attached]\ndriver = file\npath = out.txt\n"
			    "[devices/debug-exit/0]\n%s", vm_section, bin, extra);
	struct cfg_diag diag;
	struct cfg_tree *t = NULL;

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &t, &diag), 0);
	ck_assert_int_eq(vm_check_config(t, &registry, &diag), 0);
	cfg_diag_release(&diag);
	free(ini);
	free(bin);
	free(text);
	return t;
}

static char *output(void)
{
	char *path = tu_fmt("%s/out.txt", tmp);
	char *text = tu_read_file(path);

	free(path);
	return text;
}

static int open_fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int count = 0;

	while (dir && readdir(dir))
		count++;
	if (dir)
		closedir(dir);
	return count;
}

/* Creates, powers on, waits until it stops; returns the final state. */
static enum pdm_vm_state run_vm(struct vm **vm)
{
	struct err err = { 0 };

	ck_assert_msg(vm_create(tree, &registry, vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_state(*vm), PDM_VM_CREATED);
	ck_assert_msg(vm_power_on(*vm, &err) == 0, "%s", err.msg);
	return vm_wait_stopped(*vm);
}

START_TEST(create_destroy_cycles_leave_nothing_behind)
{
	int fds = open_fd_count();
	struct err err = { 0 };

	tree = vm_config("hello", "cpus = 2", "");
	for (int i = 0; i < 5; i++) {
		struct vm *vm;

		ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(vm_cpu_count(vm), 2);
		vm_destroy(vm);
	}
	ck_assert_int_eq(open_fd_count(), fds);
}
END_TEST

START_TEST(hello_guest_greets_through_the_file_driver_and_exits)
{
	struct vm *vm;
	char *out;

	tree = vm_config("hello", "", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), 1);    /* debug-exit value 0 */
	vm_destroy(vm);
	out = output();
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "Hello from a modvm guest!\n");
	free(out);
}
END_TEST

START_TEST(debug_exit_value_becomes_the_exit_status)
{
	struct vm *vm;
	char *out;

	tree = vm_config("exit42", "", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), (42 << 1) | 1);
	vm_destroy(vm);
	out = output();
	ck_assert_str_eq(out, "exit42\n");
	free(out);
}
END_TEST

START_TEST(debug_exit_port_is_configurable)
{
	struct vm *vm;
	struct err err = { 0 };

	/* Moved away from 0xf4, the guest's exit write goes nowhere: it must not end the VM. */
	tree = vm_config("exit42", "", "");
	ck_assert_int_eq(cfg_set(tree, "devices/debug-exit/0", "iobase", "0x501", "-o", 0), 0);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	usleep(300000);
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);
	ck_assert_int_eq(vm_power_off(vm, &err), 0);
	ck_assert_int_eq(vm_exit_status(vm), -1);
	vm_destroy(vm);
}
END_TEST

START_TEST(two_vcpus_run_the_guest_and_power_off)
{
	struct vm *vm;
	char *out;

	tree = vm_config("hello", "cpus = 2", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_uint_eq(vm_cpu_count(vm), 2);
	ck_assert_int_eq(vm_exit_status(vm), 1);
	vm_destroy(vm);
	out = output();
	ck_assert_str_eq(out, "Hello from a modvm guest!\n");
	free(out);
}
END_TEST

START_TEST(unhandled_ports_read_all_ones_and_are_counted)
{
	struct vm_stats stats;
	struct vm *vm;

	tree = vm_config("unhandled", "", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), (1 << 1) | 1);   /* all three widths read ~0 */
	vm_get_stats(vm, &stats);
	ck_assert_uint_eq(stats.unhandled_pio, 4);              /* 1 write, 3 reads */
	ck_assert_uint_eq(stats.handler_errors, 0);
	vm_destroy(vm);
}
END_TEST

START_TEST(mmio_reaches_its_device_and_unclaimed_mmio_reads_all_ones)
{
	struct vm_stats stats;
	struct vm *vm;

	tree = vm_config("mmio", "",
			 "[devices/sink/0]\niobase = 0x500\nmmio = 0xd0000000\nvalue = 0x11223344\n");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), (1 << 1) | 1);
	vm_get_stats(vm, &stats);
	ck_assert_uint_eq(stats.unhandled_mmio, 1);
	ck_assert_uint_eq(stats.unhandled_pio, 0);
	vm_destroy(vm);
}
END_TEST

START_TEST(mmio_over_guest_ram_is_refused)
{
	struct err err = { 0 };
	struct vm *vm = NULL;

	tree = vm_config("hello", "", "[devices/sink/0]\niobase = 0x500\nmmio = 0x100000\n");
	ck_assert_int_eq(vm_create(tree, &registry, &vm, &err), PDM_ERR_DUPLICATE);
	ck_assert_msg(strstr(err.msg, "guest RAM") && strstr(err.msg, "sink#0"), "%s", err.msg);
}
END_TEST

START_TEST(power_off_from_another_thread_stops_a_busy_guest)
{
	struct vm_stats stats;
	struct err err = { 0 };
	struct vm *vm;

	tree = vm_config("spin", "cpus = 2", "[devices/sink/0]\niobase = 0x500\n");
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	usleep(200000);
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);
	ck_assert_msg(vm_power_off(vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_state(vm), PDM_VM_OFF);
	vm_get_stats(vm, &stats);
	ck_assert_uint_gt(stats.exits, 10);
	ck_assert_uint_eq(stats.unhandled_pio, 0);
	vm_destroy(vm);
}
END_TEST

START_TEST(illegal_state_changes_name_the_current_state)
{
	struct err err = { 0 };
	struct vm *vm;

	tree = vm_config("spin", "", "[devices/sink/0]\niobase = 0x500\n");
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	ck_assert_int_eq(vm_power_on(vm, &err), PDM_ERR_STATE);
	ck_assert_msg(strstr(err.msg, "the VM is running") && strstr(err.msg, "powering-on"),
		      "%s", err.msg);
	ck_assert_int_eq(vm_power_off(vm, &err), 0);
	ck_assert_int_eq(vm_power_off(vm, &err), PDM_ERR_STATE);
	ck_assert_msg(strstr(err.msg, "the VM is off") && strstr(err.msg, "destroying"), "%s",
		      err.msg);
	vm_destroy(vm);
}
END_TEST

START_TEST(port_conflict_names_the_owner)
{
	struct err err = { 0 };
	struct vm *vm = NULL;

	tree = vm_config("hello", "", "[devices/sink/0]\niobase = 0x3fc\ncount = 2\n");
	ck_assert_int_eq(vm_create(tree, &registry, &vm, &err), PDM_ERR_DUPLICATE);
	ck_assert_ptr_null(vm);
	ck_assert_msg(strstr(err.msg, "sink#0") && strstr(err.msg, "0x3fc") &&
		      strstr(err.msg, "'serial#0'"), "%s", err.msg);
	cfg_free(tree);
	/* With [vm] irqchip = split the PIT's ports are the machine's own. */
	tree = vm_config("hello", "irqchip = split", "[devices/sink/0]\niobase = 0x42\n");
	ck_assert_int_eq(vm_create(tree, &registry, &vm, &err), PDM_ERR_DUPLICATE);
	ck_assert_ptr_null(vm);
	ck_assert_msg(strstr(err.msg, "sink#0") && strstr(err.msg, "port 0x42") &&
		      strstr(err.msg, "'machine' (8254 PIT, 0x40-0x43)"), "%s", err.msg);
}
END_TEST

static void count_reset(struct vm *v, void *user)
{
	atomic_fetch_add((_Atomic int *)user, 1);
}

START_TEST(triple_fault_resets_the_vm)
{
	_Atomic int resets = 0;
	struct err err = { 0 };
	struct vm *vm;

	/* The guest triple-faults again after each reset: count a few, then stop it. */
	tree = vm_config("triple", "cpus = 2", "");
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_at_reset_register(vm, count_reset, (void *)&resets), 0);
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	for (int i = 0; i < 1000 && atomic_load(&resets) < 3; i++)
		usleep(10000);
	ck_assert_int_ge(atomic_load(&resets), 3);
	ck_assert_int_eq(vm_power_off(vm, &err), 0);
	ck_assert_int_eq(vm_at_reset_deregister(vm, count_reset, (void *)&resets), 0);
	vm_destroy(vm);
}
END_TEST

/* [vm] values with a fixed set of words are checked where they are written. */
START_TEST(vm_section_words_are_checked_at_their_lines)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[vm]\nmemory = 16M\non_reset = halt\nkvm_pv = all\nirqchip = user\n"
			    "[boot]\nflat = %s/tests/guests/exit42.bin\n", tu_builddir());
	struct cfg_diag diag;
	struct cfg_tree *t = NULL;
	struct vm *vm;

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &t, &diag), 0);
	ck_assert_int_eq(vm_check_config(t, &registry, &diag), PDM_ERR_CFG);
	ck_assert_msg(diag.count == 3, "%zu problems: %s | %s | %s", (size_t)diag.count,
		      diag.lines[0], diag.count > 1 ? diag.lines[1] : "", diag.count > 2 ? diag.lines[2] : "");
	ck_assert_msg(strstr(diag.lines[0], "vm.ini:3: vm/on_reset: expected 'reset' or 'poweroff', "
				     "got 'halt'"), "%s", diag.lines[0]);
	ck_assert_msg(strstr(diag.lines[1], "vm.ini:4: vm/kvm_pv: expected 'default' or 'host', "
				     "got 'all'"), "%s", diag.lines[1]);
	ck_assert_msg(strstr(diag.lines[2], "vm.ini:5: vm/irqchip: expected 'kernel' or 'split', "
				     "got 'user'"), "%s", diag.lines[2]);
	cfg_diag_release(&diag);
	cfg_free(t);
	/* The other word, and a VM made with kvm_pv = host runs. */
	tree = vm_config("exit42", "cpus = 2\nkvm_pv = host", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), (42 << 1) | 1);
	vm_destroy(vm);
	free(text);
	free(ini);
}
END_TEST

START_TEST(triple_fault_powers_off_with_on_reset_poweroff)
{
	struct vm *vm;

	tree = vm_config("triple", "on_reset = poweroff", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), -1);       /* modvm run: exit 0 */
	vm_destroy(vm);
}
END_TEST

/*
 * The PIT's interrupts through the PIC into a real-mode guest, the latched count and
 * channel 2's OUT (tests/guests/timer.S): KVM's chips, then modvm's user-space ones.
 */
START_TEST(timer_guest_runs_on_kernel_and_split_irqchips)
{
	static const char *const modes[] = { "irqchip = kernel", "irqchip = split" };

	for (unsigned i = 0; i < 2; i++) {
		struct vm *vm;

		tree = vm_config("timer", modes[i], "");
		ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
		ck_assert_msg(vm_exit_status(vm) == ((0x11 << 1) | 1), "%s: exit status %d",
			      modes[i], vm_exit_status(vm));
		/* The guest programmed the PIT: modvm's started its thread. */
		ck_assert(vm->irqchip.has_pit_thread == vm->is_split_irqchip);
		vm_destroy(vm);
		cfg_free(tree);
		tree = NULL;
	}
}
END_TEST

/*
 * A level-triggered pin of modvm's IOAPIC (tests/guests/level.S): the serial port's
 * IRQ 4 sent again after an EOI while the line is still high, not sent while it is
 * low, remote IRR set in service and clear after. The EOI comes back from KVM's local
 * APIC as KVM_EXIT_IOAPIC_EOI, through the pin's MSI route.
 */
START_TEST(split_irqchip_level_triggered_pin_is_sent_again_until_the_line_falls)
{
	struct vm *vm;
	char *out;

	tree = vm_config("level", "irqchip = split", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_msg(vm_exit_status(vm) == ((0x11 << 1) | 1), "exit status %d",
		      vm_exit_status(vm));
	ck_assert_uint_eq(vm->irqchip.level_pins, 1u << 4);
	vm_destroy(vm);
	out = output();
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "L");
	free(out);
}
END_TEST

/* A guest that never programs the PIT, on the split irqchip, costs no PIT thread. */
START_TEST(split_irqchip_starts_no_pit_thread_for_a_guest_without_timer)
{
	struct vm *vm;

	tree = vm_config("hello", "irqchip = split", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), 1);
	ck_assert(vm->is_split_irqchip);
	ck_assert(!vm->irqchip.has_pit_thread);
	vm_destroy(vm);
}
END_TEST

/* Rss and THPeligible of the mapping that holds addr, from /proc/self/smaps. */
static void smaps_of(const void *addr, long *rss_kb, int *thp_eligible)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;

	ck_assert_ptr_nonnull(f);
	*rss_kb = *thp_eligible = -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)       /* a mapping's first line */
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (in && !strncmp(line, "Rss:", 4))
			*rss_kb = strtol(line + 4, NULL, 10);
		else if (in && !strncmp(line, "THPeligible:", 12))
			*thp_eligible = (int)strtol(line + 12, NULL, 10);
	}
	fclose(f);
}

/*
 * Guest RAM starts on a 2 MiB boundary (KVM maps huge pages only where host and guest
 * addresses agree modulo 2 MiB), and asks for transparent huge pages above its first
 * 2 MiB only: the hello guest, which lives at 64 KiB, then costs 4 KiB pages, not a
 * 2 MiB one. Where the host's THP mode is not "madvise", only the alignment is checked.
 */
START_TEST(guest_ram_is_aligned_and_huge_only_above_2_mib)
{
	char *mode = tu_read_file("/sys/kernel/mm/transparent_hugepage/enabled");
	bool is_madvise = mode && strstr(mode, "[madvise]");
	long rss_kb;
	int eligible;
	struct vm *vm;

	tree = vm_config("hello", "", "");
	ck_assert_int_eq(run_vm(&vm), PDM_VM_OFF);
	ck_assert_uint_eq((uintptr_t)vm->mem.base & (MEM_HUGE_PAGE - 1), 0);
	if (is_madvise) {
		smaps_of(vm->mem.base, &rss_kb, &eligible);
		ck_assert_int_eq(eligible, 0);
		ck_assert_msg(rss_kb > 0 && rss_kb < 2048, "low 2 MiB: Rss %ld kB", rss_kb);
		smaps_of(vm->mem.base + MEM_HUGE_PAGE, &rss_kb, &eligible);
		ck_assert_int_eq(eligible, 1);
	}
	vm_destroy(vm);
	free(mode);
}
END_TEST

/*
 * A reset while the timer guest runs (it needs 5 ms of PIT ticks at least), with the
 * split irqchip: the guest starts over, finds the PIC's mask back at 0 (it exits 4
 * otherwise), programs the PIC and PIT again and finishes as before.
 */
START_TEST(split_irqchip_is_reset_with_the_vm)
{
	struct err err = { 0 };
	struct vm *vm;

	tree = vm_config("timer", "irqchip = split", "");
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_msg(vm_power_on(vm, &err) == 0, "%s", err.msg);
	usleep(1000);
	ck_assert_msg(vm_reset(vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), (0x11 << 1) | 1);
	vm_destroy(vm);
}
END_TEST

static Suite *vmm_suite(void)
{
	Suite *s = suite_create("vmm");
	TCase *tc = tcase_create("kvm");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, create_destroy_cycles_leave_nothing_behind);
	tcase_add_test(tc, hello_guest_greets_through_the_file_driver_and_exits);
	tcase_add_test(tc, debug_exit_value_becomes_the_exit_status);
	tcase_add_test(tc, debug_exit_port_is_configurable);
	tcase_add_test(tc, two_vcpus_run_the_guest_and_power_off);
	tcase_add_test(tc, unhandled_ports_read_all_ones_and_are_counted);
	tcase_add_test(tc, mmio_reaches_its_device_and_unclaimed_mmio_reads_all_ones);
	tcase_add_test(tc, mmio_over_guest_ram_is_refused);
	tcase_add_test(tc, power_off_from_another_thread_stops_a_busy_guest);
	tcase_add_test(tc, illegal_state_changes_name_the_current_state);
	tcase_add_test(tc, port_conflict_names_the_owner);
	tcase_add_test(tc, triple_fault_resets_the_vm);
	tcase_add_test(tc, triple_fault_powers_off_with_on_reset_poweroff);
	tcase_add_test(tc, vm_section_words_are_checked_at_their_lines);
	tcase_add_test(tc, timer_guest_runs_on_kernel_and_split_irqchips);
	tcase_add_test(tc, split_irqchip_is_reset_with_the_vm);
	tcase_add_test(tc, split_irqchip_starts_no_pit_thread_for_a_guest_without_timer);
	tcase_add_test(tc, guest_ram_is_aligned_and_huge_only_above_2_mib);
	tcase_add_test(tc, split_irqchip_level_triggered_pin_is_sent_again_until_the_line_falls);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

	tu_require_kvm();
	runner = srunner_create(vmm_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
