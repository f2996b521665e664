/*
 * vmm/kvm.c - the KVM backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/kvm.h"

/*
 * The TSS and identity map go in the 4 GiB hole below the BIOS, where QEMU and
 * kvmtool put them: Intel's real-mode emulation needs both, outside guest RAM.
 */
#define KVM_TSS_ADDR 0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull
#define KVM_MAX_CPUID_ENTRIES 256

const char *kvm_device_path(void)
{
	const char *path = getenv("MODVM_KVM_DEVICE");

	return path && *path ? path : "/dev/kvm";
}

static int kvm_fail(struct err *err, const char *what)
{
	int saved = errno;

	return err_set(err, PDM_ERR_KVM, "%s failed: %s", what, strerror(saved));
}

int kvm_open(struct kvm *kvm, struct err *err)
{
	static const int caps[] = { KVM_CAP_IRQCHIP, KVM_CAP_PIT2, KVM_CAP_USER_MEMORY,
				    KVM_CAP_SET_TSS_ADDR, KVM_CAP_IMMEDIATE_EXIT,
				    KVM_CAP_EXT_CPUID };
	static const char *const cap_names[] = { "KVM_CAP_IRQCHIP", "KVM_CAP_PIT2",
						 "KVM_CAP_USER_MEMORY", "KVM_CAP_SET_TSS_ADDR",
						 "KVM_CAP_IMMEDIATE_EXIT", "KVM_CAP_EXT_CPUID" };
	uint64_t identity = KVM_IDENTITY_MAP_ADDR;
	int version;

	memset(kvm, 0, sizeof(*kvm));
	kvm->vm_fd = -1;
	kvm->sys_fd = open(kvm_device_path(), O_RDWR | O_CLOEXEC);
	if (kvm->sys_fd < 0)
		return err_set(err, PDM_ERR_KVM, "cannot open '%s': %s", kvm_device_path(),
			       strerror(errno));
	version = ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		err_set(err, PDM_ERR_KVM, "'%s' speaks KVM API %d, modvm needs %d",
			kvm_device_path(), version, KVM_API_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, caps[i]) <= 0) {
			err_set(err, PDM_ERR_KVM, "this KVM lacks %s", cap_names[i]);
			goto fail;
		}
	kvm->run_size = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_size <= 0) {
		kvm_fail(err, "KVM_GET_VCPU_MMAP_SIZE");
		goto fail;
	}
	kvm->cpuid = calloc(1, sizeof(*kvm->cpuid) +
			       KVM_MAX_CPUID_ENTRIES * sizeof(kvm->cpuid->entries[0]));
	if (!kvm->cpuid) {
		err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
		goto fail;
	}
	kvm->cpuid->nent = KVM_MAX_CPUID_ENTRIES;
	if (ioctl(kvm->sys_fd, KVM_GET_SUPPORTED_CPUID, kvm->cpuid) < 0) {
		kvm_fail(err, "KVM_GET_SUPPORTED_CPUID");
		goto fail;
	}
	kvm->has_tsc_deadline = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION,
				      KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, 0);
	if (kvm->vm_fd < 0) {
		kvm_fail(err, "KVM_CREATE_VM");
		goto fail;
	}
	if (ioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0) {
		kvm_fail(err, "KVM_SET_TSS_ADDR");
		goto fail;
	}
	/* Optional (Intel only, and absent on some nested hosts): ignore its failure. */
	ioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity);
	return 0;
fail:
	kvm_close(kvm);
	return err ? err->status : PDM_ERR_KVM;
}

int kvm_create_irqchip(struct kvm *kvm, bool is_split, struct err *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (is_split) {
		/* Local APICs in KVM, and routes 0-23 kept for the user-space IOAPIC's pins. */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };

		if (ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0)
			return err_set(err, PDM_ERR_KVM, "%s lacks KVM_CAP_SPLIT_IRQCHIP, which "
				       "[vm] irqchip = split needs", kvm_device_path());
		if (ioctl(kvm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
			return kvm_fail(err, "KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)");
		return 0;
	}
	if (ioctl(kvm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return kvm_fail(err, "KVM_CREATE_IRQCHIP");
	if (ioctl(kvm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return kvm_fail(err, "KVM_CREATE_PIT2");
	for (int chip = 0; chip < 3; chip++) {
		kvm->reset_chips[chip].chip_id = (uint32_t)chip;
		if (ioctl(kvm->vm_fd, KVM_GET_IRQCHIP, &kvm->reset_chips[chip]) < 0)
			return kvm_fail(err, "KVM_GET_IRQCHIP");
	}
	if (ioctl(kvm->vm_fd, KVM_GET_PIT2, &kvm->reset_pit) < 0)
		return kvm_fail(err, "KVM_GET_PIT2");
	return 0;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	free(kvm->cpuid);
	kvm->cpuid = NULL;
	kvm->vm_fd = kvm->sys_fd = -1;
}

int kvm_set_memory(struct kvm *kvm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
		   struct err *err)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return kvm_fail(err, "KVM_SET_USER_MEMORY_REGION");
	return 0;
}

int kvm_vcpu_create(struct kvm *kvm, unsigned id, unsigned count, int *fd, struct kvm_run **run,
		    struct err *err)
{
	uint32_t room = kvm->cpuid->nent + 8;
	struct kvm_cpuid2 *cpuid;
	void *map;
	int rc;

	cpuid = calloc(1, sizeof(*cpuid) + room * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	if (cpuid_build(kvm->cpuid, id, count, kvm->has_tsc_deadline, kvm->has_all_pv, cpuid,
			room)) {
		free(cpuid);
		return err_set(err, PDM_ERR_INVALID_ARG, "cannot build the CPUID of vCPU %u of %u",
			       id, count);
	}
	*fd = ioctl(kvm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (*fd < 0) {
		kvm_fail(err, "KVM_CREATE_VCPU");
		free(cpuid);
		return PDM_ERR_KVM;
	}
	rc = ioctl(*fd, KVM_SET_CPUID2, cpuid);
	if (rc < 0)
		kvm_fail(err, "KVM_SET_CPUID2");
	free(cpuid);
	if (rc < 0) {
		close(*fd);
		*fd = -1;       /* the caller closes it again otherwise: another thread's fd by then */
		return PDM_ERR_KVM;
	}
	map = mmap(NULL, (size_t)kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (map == MAP_FAILED) {
		kvm_fail(err, "mmap of kvm_run");
		close(*fd);
		*fd = -1;
		return PDM_ERR_KVM;
	}
	*run = map;
	return 0;
}

void kvm_vcpu_destroy(struct kvm *kvm, int fd, struct kvm_run *run)
{
	if (run)
		munmap(run, (size_t)kvm->run_size);
	if (fd >= 0)
		close(fd);
}

int kvm_reset_irqchip(struct kvm *kvm, struct err *err)
{
	for (int chip = 0; chip < 3; chip++)
		if (ioctl(kvm->vm_fd, KVM_SET_IRQCHIP, &kvm->reset_chips[chip]) < 0)
			return kvm_fail(err, "KVM_SET_IRQCHIP");
	if (ioctl(kvm->vm_fd, KVM_SET_PIT2, &kvm->reset_pit) < 0)
		return kvm_fail(err, "KVM_SET_PIT2");
	return 0;
}

int kvm_set_ioapic_id(struct kvm *kvm, uint32_t id, struct err *err)
{
	struct kvm_irqchip *ioapic = &kvm->reset_chips[KVM_IRQCHIP_IOAPIC];
	struct kvm_irqchip now = { .chip_id = KVM_IRQCHIP_IOAPIC };

	/* The reset state too: a reset must not give it back the id 0 it was created with. */
	ioapic->chip.ioapic.id = id & 0xf;
	if (ioctl(kvm->vm_fd, KVM_GET_IRQCHIP, &now) < 0)
		return kvm_fail(err, "KVM_GET_IRQCHIP");
	now.chip.ioapic.id = id & 0xf;
	if (ioctl(kvm->vm_fd, KVM_SET_IRQCHIP, &now) < 0)
		return kvm_fail(err, "KVM_SET_IRQCHIP");
	return 0;
}

int kvm_irq_line(struct kvm *kvm, uint32_t irq, int level)
{
	struct kvm_irq_level line = { .irq = irq, .level = level ? 1 : 0 };

	return ioctl(kvm->vm_fd, KVM_IRQ_LINE, &line) < 0 ? PDM_ERR_KVM : 0;
}
