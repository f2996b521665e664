/*
 * tests/linux_test.c - Linux on modvm: the guest that scripts/make-guest builds (a
 * minimal 6.1 kernel and a busybox initramfs) boots to a shell whose console is the
 * serial plugin, reached through the socket stream driver as a script would.
 *
 * Each boot takes seconds on a nested KVM that emulates guest ring-0 code, so this
 * suite is not part of `make check`: `make check-linux` builds the guest (cached)
 * and runs it. The guest is taken from $MODVM_GUEST_DIR, else <builddir>/guest.
 * Without /dev/kvm the suite is skipped; without a guest it fails, saying how to
 * build one.
 */
#include <check.h>
#include <errno.h>
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

/* Generous: a boot took 5-30 s here once, and up to 11 min while the machine was busy. */
#define BOOT_TIMEOUT_S 1200
#define CMD_TIMEOUT_S 120
#define MARKER "MODVM-GUEST-UP cpus="

static char *tmp;
static char *guest_dir;

struct vm_proc {
	pid_t pid;
	int con;                /* the console socket */
	char *log;              /* modvm's stderr */
	char *buf;              /* everything read from the console */
	size_t len, cap;
	size_t mark;            /* expectations look after this offset */
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

static char *guest_file(const char *name)
{
	return tu_fmt("%s/%s", guest_dir, name);
}

/* The guest's recommended command line, as scripts/make-guest wrote it. */
static char *guest_cmdline(void)
{
	char *path = guest_file("cmdline");
	char *text = tu_read_file(path);

	ck_assert_msg(text, "cannot read %s", path);
	text[strcspn(text, "\r\n")] = '\0';
	free(path);
	return text;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Writes an INI for a Linux guest with cpus vCPUs booted from kernel/initrd, whose
 * COM1 goes serial -> char -> socket, plus extra (more sections or keys).
 */
static char *write_ini(int cpus, const char *kernel, const char *initrd, const char *vm_extra,
		       const char *extra, const char *cmdline_extra)
{
	char *ini = tu_fmt("%s/linux.ini", tmp);
	char *k = guest_file(kernel), *i = guest_file(initrd), *cmdline = guest_cmdline();
	char *text = tu_fmt("[vm]\nmemory = 128M\ncpus = %d\n%s\n"
			    "[boot]\nkernel = %s\ninitrd = %s\ncmdline = %s%s\n\n"
			    "[devices/serial/0]\niobase = 0x3f8\nirq = 4\n\n"
			    "[devices/serial/0/lun0]\ndriver = char\n\n"
			    "[devices/serial/0/lun0/attached]\ndriver = socket\npath = %s/console.sock\n\n"
			    "%s",
			    cpus, vm_extra ? vm_extra : "", k, i, cmdline,
			    cmdline_extra ? cmdline_extra : "", tmp, extra ? extra : "");

	tu_write_file(ini, text);
	free(text);
	free(k);
	free(i);
	free(cmdline);
	return ini;
}

static void dump_and_fail(struct vm_proc *vm, const char *what)
{
	char *log = tu_read_file(vm->log);
	size_t from = vm->len > 3000 ? vm->len - 3000 : 0;

	fprintf(stderr, "---- console (last %zu bytes) ----\n%.*s\n---- modvm stderr ----\n%s\n",
		vm->len - from, (int)(vm->len - from), vm->buf ? vm->buf + from : "",
		log ? log : "(none)");
	free(log);
	ck_abort_msg("%s", what);
}

static void vm_start(struct vm_proc *vm, const char *ini)
{
	char *bin = tu_fmt("%s/modvm", tu_builddir());
	char *sock = tu_fmt("%s/console.sock", tmp);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	double deadline;

	memset(vm, 0, sizeof(*vm));
	vm->con = -1;
	vm->log = tu_fmt("%s/stderr", tmp);
	vm->pid = fork();
	ck_assert_int_ge(vm->pid, 0);
	if (vm->pid == 0) {
		if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout) ||
		    !freopen(vm->log, "w", stderr))
			_exit(127);
		/* The boot-timer and the i8042 log at info level; the rest stays at the default. */
		execl(bin, bin, "--log", "warn,boot-timer#0=info,i8042#0=info", "run", ini,
		      (char *)NULL);
		_exit(127);
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	deadline = now_s() + 30;
	for (;;) {
		int status;

		vm->con = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(vm->con, 0);
		if (!connect(vm->con, (struct sockaddr *)&addr, sizeof(addr)))
			break;
		close(vm->con);
		vm->con = -1;
		if (waitpid(vm->pid, &status, WNOHANG) == vm->pid) {
			vm->pid = 0;
			dump_and_fail(vm, "modvm ended before its console socket appeared");
		}
		if (now_s() > deadline)
			dump_and_fail(vm, "the console socket did not appear within 30 s");
		usleep(20000);
	}
	free(bin);
	free(sock);
}

/* Reads console output for up to timeout_ms; false on EOF. */
static bool vm_read(struct vm_proc *vm, int timeout_ms)
{
	struct pollfd pfd = { .fd = vm->con, .events = POLLIN };
	char chunk[65536];
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return true;
	n = read(vm->con, chunk, sizeof(chunk));
	if (n <= 0)
		return n < 0 && errno == EINTR;
	if (vm->len + (size_t)n + 1 > vm->cap) {
		vm->cap = (vm->len + (size_t)n + 1) * 2;
		vm->buf = realloc(vm->buf, vm->cap);
		ck_assert_ptr_nonnull(vm->buf);
	}
	memcpy(vm->buf + vm->len, chunk, (size_t)n);
	vm->len += (size_t)n;
	vm->buf[vm->len] = '\0';
	return true;
}

/*
 * Waits until the console shows needle after the mark; moves the mark past it and
 * returns where it starts.
 */
static size_t vm_expect(struct vm_proc *vm, const char *needle, int timeout_s)
{
	double deadline = now_s() + timeout_s;

	for (;;) {
		const char *at = vm->buf && vm->len > vm->mark ? strstr(vm->buf + vm->mark, needle)
							       : NULL;

		if (at) {
			size_t pos = (size_t)(at - vm->buf);

			vm->mark = pos + strlen(needle);
			return pos;
		}
		if (now_s() > deadline) {
			char *what = tu_fmt("no '%s' on the console within %d s", needle, timeout_s);

			dump_and_fail(vm, what);
		}
		if (!vm_read(vm, 200))
			dump_and_fail(vm, tu_fmt("the console closed while waiting for '%s'", needle));
	}
}

static void vm_send(struct vm_proc *vm, const char *text, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(vm->con, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "cannot write to the console: %s", strerror(errno));
		off += (size_t)n;
	}
}

static void vm_command(struct vm_proc *vm, const char *cmd)
{
	vm_send(vm, cmd, strlen(cmd));
	vm_send(vm, "\n", 1);
}

/* Waits for modvm to exit (reading the console meanwhile); returns its status. */
static int vm_wait(struct vm_proc *vm, int timeout_s)
{
	double deadline = now_s() + timeout_s;
	int status;

	for (;;) {
		pid_t done = waitpid(vm->pid, &status, WNOHANG);

		if (done == vm->pid)
			break;
		if (now_s() > deadline) {
			kill(vm->pid, SIGKILL);
			waitpid(vm->pid, &status, 0);
			vm->pid = 0;
			dump_and_fail(vm, tu_fmt("modvm did not exit within %d s", timeout_s));
		}
		if (vm->con >= 0 && !vm_read(vm, 100)) {
			close(vm->con);
			vm->con = -1;
		} else if (vm->con < 0) {
			usleep(100000);
		}
	}
	vm->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void vm_release(struct vm_proc *vm)
{
	if (vm->pid > 0) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
	}
	if (vm->con >= 0)
		close(vm->con);
	free(vm->buf);
	free(vm->log);
}

/* The marker line's CPU count. */
static int vm_expect_marker(struct vm_proc *vm)
{
	size_t at = vm_expect(vm, MARKER, BOOT_TIMEOUT_S);

	vm_expect(vm, "\n", 10);
	return atoi(vm->buf + at + strlen(MARKER));
}

/*
 * bytes of guest output through Linux's interrupt-driven 8250 driver: every byte
 * arrives, in order. The markers are put together by the shell (S''TART) so that the
 * echo of the command line cannot match them. Then a 4 KiB line pasted at once: far
 * more than the UART's FIFO, and as much as the guest tty's line buffer, so the tty is
 * put in non-canonical mode; the guest keeps exactly 4096 bytes and sends them back
 * for comparison.
 */
static void check_console_io(struct vm_proc *vm, size_t bytes)
{
	char line[4096];
	char *cmd = tu_fmt("echo S''TART; head -c %zu /dev/zero | tr '\\0' Q; echo; echo E''ND",
			   bytes);
	size_t start, end, count = 0, at;

	vm_command(vm, cmd);
	free(cmd);
	start = vm_expect(vm, "START", CMD_TIMEOUT_S) + strlen("START");
	end = vm_expect(vm, "END", 1800);
	for (size_t i = start; i < end; i++) {
		if (vm->buf[i] == 'Q')
			count++;
		else
			ck_assert_msg(strchr("\r\n", vm->buf[i]), "unexpected byte %#x at %zu",
				      (unsigned char)vm->buf[i], i - start);
	}
	ck_assert_int_eq(count, bytes);

	for (size_t i = 0; i < sizeof(line); i++)
		line[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i * 7 + i / 36) % 36];
	vm_command(vm, "stty -icanon -echo; echo R''EADY; head -c 4096 > /tmp/paste; stty sane; "
		   "echo; echo G''OT $(wc -c < /tmp/paste); echo B''EGIN; cat /tmp/paste; "
		   "echo; echo F''INISH");
	vm_expect(vm, "READY", CMD_TIMEOUT_S);
	vm_send(vm, line, sizeof(line));
	vm_expect(vm, "GOT 4096", CMD_TIMEOUT_S);
	at = vm_expect(vm, "BEGIN\r\n", CMD_TIMEOUT_S) + strlen("BEGIN\r\n");
	vm_expect(vm, "FINISH", CMD_TIMEOUT_S);
	ck_assert_msg(!memcmp(vm->buf + at, line, sizeof(line)),
		      "the guest's copy of the pasted line differs");
}

/*
 * Boots take minutes on this nested KVM, so each boot checks as much as it can.
 * This one: PVH on 1 vCPU; a command's output; the boot-timer; 1 MiB of
 * interrupt-driven output; a pasted 4 KiB line; reboot -> power-off -> status 0.
 */
START_TEST(pvh_runs_a_shell_and_powers_off_on_reboot)
{
	struct vm_proc vm;
	char *ini = write_ini(1, "vmlinux", "initramfs.cpio", "on_reset = poweroff\n",
			      "[devices/boot-timer/0]\n", NULL);
	char *log;

	vm_start(&vm, ini);
	ck_assert_int_eq(vm_expect_marker(&vm), 1);

	/* The shell's own output, not the echo of what was typed: 6*7 is computed. */
	vm_command(&vm, "echo \"answer-$((6*7))\"");
	vm_expect(&vm, "answer-42", CMD_TIMEOUT_S);

	check_console_io(&vm, 1048576);

	/* reboot=t: a triple fault, which on_reset = poweroff turns into a power-off. */
	vm_command(&vm, "reboot -f");
	ck_assert_int_eq(vm_wait(&vm, CMD_TIMEOUT_S), 0);
	log = tu_read_file(vm.log);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "guest boot done"), "no boot-timer line in:\n%s", log);
	free(log);
	vm_release(&vm);
	free(ini);
}
END_TEST

/*
 * The bzImage path (64-bit boot protocol, gzip initramfs) on 1 vCPU, and reboot=k:
 * Linux resets through the keyboard controller, and the i8042 says it was asked.
 */
START_TEST(bzimage_on_one_vcpu_runs_a_shell_and_powers_off_on_reboot)
{
	struct vm_proc vm;
	char *ini = write_ini(1, "bzImage", "initramfs.cpio.gz", "on_reset = poweroff\n",
			      "[devices/i8042/0]\n", " reboot=k"), *log;

	vm_start(&vm, ini);
	ck_assert_int_eq(vm_expect_marker(&vm), 1);
	vm_command(&vm, "uname -sr");
	vm_expect(&vm, "Linux 6.1", CMD_TIMEOUT_S);
	vm_command(&vm, "reboot -f");
	ck_assert_int_eq(vm_wait(&vm, CMD_TIMEOUT_S), 0);
	log = tu_read_file(vm.log);
	ck_assert_msg(log && strstr(log, "the guest pulsed the reset line"),
		      "no reset through the i8042; modvm's log:\n%s", log ? log : "(none)");
	free(log);
	vm_release(&vm);
	free(ini);
}
END_TEST

/*
 * SMP: the MP table and per-vCPU CPUID let Linux find and start the second vCPU.
 * Before modvm stopped offering KVM's hypercall-based features, this hung on the
 * nested kvm_pvm host after "Booting SMP configuration" (the AP's paravirtual IPI
 * looped in VMCALL); see docs/modvm.ini.5, [boot].
 */
START_TEST(pvh_on_two_vcpus_sees_both)
{
	struct vm_proc vm;
	char *ini = write_ini(2, "vmlinux", "initramfs.cpio", "on_reset = poweroff\n", NULL, NULL);

	vm_start(&vm, ini);
	vm_expect(&vm, "Booting SMP configuration", BOOT_TIMEOUT_S);
	/* Linux gives an AP 10 s; a hung bring-up never says so, hence a bound here. */
	vm_expect(&vm, "smp: Brought up", 600);
	ck_assert_int_eq(vm_expect_marker(&vm), 2);
	vm_command(&vm, "echo cpus-online-$(cat /sys/devices/system/cpu/online)");
	vm_expect(&vm, "cpus-online-0-1", CMD_TIMEOUT_S);
	vm_command(&vm, "reboot -f");
	ck_assert_int_eq(vm_wait(&vm, CMD_TIMEOUT_S), 0);
	vm_release(&vm);
	free(ini);
}
END_TEST

/*
 * [vm] irqchip = split: modvm's PIC, IOAPIC and PIT instead of KVM's, on 2 vCPUs.
 * The serial port's interrupts go through the user-space IOAPIC as MSIs to the
 * local APICs that Linux chose (logical destinations with 2 CPUs).
 */
START_TEST(pvh_on_two_vcpus_with_the_split_irqchip)
{
	struct vm_proc vm;
	char *ini = write_ini(2, "vmlinux", "initramfs.cpio",
			      "on_reset = poweroff\nirqchip = split\n", NULL, NULL);

	vm_start(&vm, ini);
	ck_assert_int_eq(vm_expect_marker(&vm), 2);
	vm_command(&vm, "echo cpus-online-$(cat /sys/devices/system/cpu/online)");
	vm_expect(&vm, "cpus-online-0-1", CMD_TIMEOUT_S);
	check_console_io(&vm, 262144);
	vm_command(&vm, "reboot -f");
	ck_assert_int_eq(vm_wait(&vm, CMD_TIMEOUT_S), 0);
	vm_release(&vm);
	free(ini);
}
END_TEST

static Suite *linux_suite(void)
{
	Suite *s = suite_create("linux");
	TCase *tc = tcase_create("boot");
	TCase *smp = tcase_create("smp");
	TCase *split = tcase_create("split");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 3600);
	tcase_add_test(tc, pvh_runs_a_shell_and_powers_off_on_reboot);
	tcase_add_test(tc, bzimage_on_one_vcpu_runs_a_shell_and_powers_off_on_reboot);
	suite_add_tcase(s, tc);
	/* A case of its own: CK_RUN_CASE=boot runs the rest without it. */
	tcase_add_checked_fixture(smp, setup, teardown);
	tcase_set_timeout(smp, 3600);
	tcase_add_test(smp, pvh_on_two_vcpus_sees_both);
	suite_add_tcase(s, smp);
	tcase_add_checked_fixture(split, setup, teardown);
	tcase_set_timeout(split, 3600);
	tcase_add_test(split, pvh_on_two_vcpus_with_the_split_irqchip);
	suite_add_tcase(s, split);
	return s;
}

int main(void)
{
	const char *dir = getenv("MODVM_GUEST_DIR");
	const char *need[] = { "vmlinux", "bzImage", "initramfs.cpio", "initramfs.cpio.gz",
			       "cmdline" };
	SRunner *sr;
	int failed;

	tu_require_kvm();
	guest_dir = dir && *dir ? tu_fmt("%s", dir) : tu_fmt("%s/guest", tu_builddir());
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		char *path = guest_file(need[i]);
		struct stat st;

		if (stat(path, &st) < 0) {
			fprintf(stderr, "no Linux guest: '%s': %s (build it with scripts/make-guest "
				"--out %s, or run `make check-linux`)\n", path, strerror(errno),
				guest_dir);
			return 99;
		}
		free(path);
	}
	sr = srunner_create(linux_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free(guest_dir);
	return failed ? 1 : 0;
}
