/*
 * bench/rawkvm.c - the raw-KVM reference for bench/exit-dispatch and bench/start: the
 * smallest program that runs a flat real-mode guest the way modvm's flat loader does,
 * with no VMM around the KVM_RUN loop.
 *
 *   rawkvm [-e] [-b | -s] GUEST.bin [SINK_PORT]
 *
 * It sets the VM up as vmm/kvm.c does (TSS and identity map below 4 GiB, 16 MiB of RAM,
 * then the in-kernel irqchip and PIT, the supported CPUID), copies GUEST.bin to
 * guest-physical 0x10000 and enters it at 1000:0000 with every segment 0x1000,
 * SP = 0xfff0, FLAGS = 0x2. Each KVM_EXIT_IO to SINK_PORT (default 0x500) is counted
 * and the guest resumed; a write to the debug-exit port 0xf4 ends the run. It prints
 * the number of sink exits and exits 0; on any failure it says why and exits 1, or 77
 * when /dev/kvm cannot be opened or cannot create a VM (the benchmark then skips).
 *
 * With -e (echo, for bench/start), each byte written to SINK_PORT is written at once to
 * standard output, nothing else is printed there, and a write of v to debug-exit ends
 * the run with exit status (v << 1) | 1, as `modvm run` does. With -b (bare), the VM
 * has no in-kernel irqchip and PIT: the least a VM needs to run such a guest; a guest
 * HLT then exits to us, and we wait, as the guest would, for an interrupt that cannot
 * come (until we are killed). With -s (split), the VM has KVM's local APICs only
 * (KVM_CAP_SPLIT_IRQCHIP), as modvm with [vm] irqchip = split before its user-space
 * PIC, IOAPIC and PIT: the floor for that configuration.
 *
 * Single-threaded on purpose: modvm's cost of running the vCPU on an EMT thread, of
 * the plugin dispatch and of the device lock is exactly what the benchmark measures.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_SIZE (16u << 20)
#define TSS_ADDR 0xfffbd000ul
#define IDENTITY_MAP_ADDR 0xfffbc000ull
#define FLAT_ADDR 0x10000u
#define FLAT_SEGMENT 0x1000u
#define FLAT_SP 0xfff0u
#define DEBUG_EXIT_PORT 0xf4
#define MAX_CPUID 256

static void die_status(const char *what, int status)
{
	fprintf(stderr, "rawkvm: %s: %s\n", what, strerror(errno));
	exit(status);
}

static void die(const char *what)
{
	die_status(what, 1);
}

int main(int argc, char **argv)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity = IDENTITY_MAP_ADDR;
	struct kvm_userspace_memory_region region;
	struct kvm_cpuid2 *cpuid;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	unsigned long sink_port = 0x500;
	unsigned long long exits = 0, other = 0;
	int echo = 0, bare = 0, split = 0, exit_value = 0;
	int sys_fd, vm_fd, cpu_fd, bin_fd, run_size;
	struct stat st;
	uint8_t *ram;
	ssize_t n;

	for (; argc > 1 && (!strcmp(argv[1], "-e") || !strcmp(argv[1], "-b") ||
			    !strcmp(argv[1], "-s")); argv++, argc--) {
		if (argv[1][1] == 'e')
			echo = 1;
		else if (argv[1][1] == 'b')
			bare = 1;
		else
			split = 1;
	}
	if (argc < 2 || argc > 3 || (bare && split)) {
		fprintf(stderr, "usage: rawkvm [-e] [-b | -s] GUEST.bin [SINK_PORT]\n");
		return 1;
	}
	if (argc == 3)
		sink_port = strtoul(argv[2], NULL, 0);

	if ((sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
		die_status("open /dev/kvm", 77);
	if (ioctl(sys_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "rawkvm: unexpected KVM API version\n");
		return 1;
	}
	if ((run_size = ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	cpuid = calloc(1, sizeof(*cpuid) + MAX_CPUID * sizeof(cpuid->entries[0]));
	if (!cpuid)
		die("calloc");
	cpuid->nent = MAX_CPUID;
	if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	if ((vm_fd = ioctl(sys_fd, KVM_CREATE_VM, 0)) < 0)
		die_status("KVM_CREATE_VM", 77);
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, TSS_ADDR) < 0)
		die("KVM_SET_TSS_ADDR");
	ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity);     /* optional, as in modvm */

	/* RAM before the irqchip, as in modvm: a memory slot added after it waits longer. */
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap guest RAM");
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)ram,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	if (split) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };

		if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
			die("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)");
	} else if (!bare) {
		if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
			die("KVM_CREATE_IRQCHIP");
		if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
			die("KVM_CREATE_PIT2");
	}

	if ((bin_fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0)
		die(argv[1]);
	if (fstat(bin_fd, &st) < 0 || st.st_size > RAM_SIZE - FLAT_ADDR) {
		fprintf(stderr, "rawkvm: %s: not a regular file that fits in RAM\n", argv[1]);
		return 1;
	}
	n = read(bin_fd, ram + FLAT_ADDR, (size_t)st.st_size);
	if (n != st.st_size)
		die(argv[1]);
	close(bin_fd);

	if ((cpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0)) < 0)
		die("KVM_CREATE_VCPU");
	if (ioctl(cpu_fd, KVM_SET_CPUID2, cpuid) < 0)
		die("KVM_SET_CPUID2");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu_fd, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	if (ioctl(cpu_fd, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	struct kvm_segment *segs[] = { &sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs,
				       &sregs.ss };
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		segs[i]->selector = FLAT_SEGMENT;
		segs[i]->base = FLAT_ADDR;
	}
	if (ioctl(cpu_fd, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	regs = (struct kvm_regs){ .rip = 0, .rsp = FLAT_SP, .rflags = 0x2 };
	if (ioctl(cpu_fd, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	for (;;) {
		if (ioctl(cpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_IO) {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;

			if (run->io.port == sink_port) {
				exits++;
				if (echo && run->io.direction == KVM_EXIT_IO_OUT &&
				    write(STDOUT_FILENO, data, 1) != 1)
					die("write to standard output");
				continue;
			}
			if (run->io.port == DEBUG_EXIT_PORT &&
			    run->io.direction == KVM_EXIT_IO_OUT) {
				exit_value = data[0];
				break;
			}
			other++;        /* an unclaimed port: ignored, as modvm does */
			continue;
		}
		if (run->exit_reason == KVM_EXIT_HLT && bare) {
			/* No irqchip, so no interrupt will come: wait to be killed. */
			for (;;)
				pause();
		}
		fprintf(stderr, "rawkvm: unexpected exit reason %u after %llu sink exits\n",
			run->exit_reason, exits);
		return 1;
	}
	if (other)
		fprintf(stderr, "rawkvm: %llu exits to other ports\n", other);
	if (echo)
		return ((exit_value << 1) | 1) & 0xff;
	printf("%llu\n", exits);
	return 0;
}
