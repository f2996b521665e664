/*
 * boot-done: tell the VMM that the guest is up by writing 123 to I/O port
 * 0x440, modvm's "boot-timer" device. The modvm test guest's /init runs it
 * right after printing its MODVM-GUEST-UP marker.
 *
 * Freestanding on purpose (no libc): a static glibc binary would weigh
 * ~700 KiB, this one about 1 KiB. Built by scripts/make-guest with
 *   gcc -static -Os -nostdlib -ffreestanding -fno-stack-protector -no-pie
 *
 * It is its own process so that a port write that faults (no such port
 * permission, a VMM that refuses it) kills only it, never init. Exit
 * status: 0 written, 1 ioperm() failed (the reason is printed).
 */

#define SYS_write	1
#define SYS_ioperm	173
#define SYS_exit	60

#define BOOT_TIMER_PORT	0x440
#define BOOT_DONE_VALUE	123

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ __volatile__("syscall"
			     : "=a" (ret)
			     : "a" (nr), "D" (a), "S" (b), "d" (c)
			     : "rcx", "r11", "memory");
	return ret;
}

static void say(const char *s)
{
	long n = 0;

	while (s[n])
		n++;
	sys3(SYS_write, 2, (long)s, n);
}

static void outb(unsigned char value, unsigned short port)
{
	__asm__ __volatile__("outb %0, %1" : : "a" (value), "Nd" (port));
}

__attribute__((noreturn, force_align_arg_pointer)) void _start(void)
{
	long ret = sys3(SYS_ioperm, BOOT_TIMER_PORT, 1, 1);
	int status = 0;

	if (ret < 0) {
		say("boot-done: ioperm(0x440) failed\n");
		status = 1;
	} else {
		outb(BOOT_DONE_VALUE, BOOT_TIMER_PORT);
	}
	for (;;)
		sys3(SYS_exit, status, 0, 0);
}
