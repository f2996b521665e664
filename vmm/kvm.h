/*
 * vmm/kvm.h - the KVM backend: the system and VM file descriptors, memory slots,
 * vCPU creation, the in-kernel irqchip and PIT.
 *
 * All of it is thin: each function is one or a few ioctls with an error message that
 * names the ioctl and errno.
 */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <linux/kvm.h>
#include <stdint.h>

#include "util/err.h"

struct kvm {
	int sys_fd;                 /* /dev/kvm */
	int vm_fd;
	int run_size;               /* bytes to mmap from a vCPU fd */
	struct kvm_cpuid2 *cpuid;   /* KVM_GET_SUPPORTED_CPUID, for every vCPU */
	/* The in-kernel PICs, IOAPIC and PIT as created: what a reset puts back. */
	struct kvm_irqchip reset_chips[3];
	struct kvm_pit_state2 reset_pit;
};

/* Where /dev/kvm is, overridable for tests through $MODVM_KVM_DEVICE. */
const char *kvm_device_path(void);
/* Opens /dev/kvm and creates a VM with the in-kernel irqchip and PIT. */
int kvm_open(struct kvm *kvm, struct err *err);
void kvm_close(struct kvm *kvm);
int kvm_set_memory(struct kvm *kvm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
		   struct err *err);
/* Creates vCPU id and maps its kvm_run; sets the supported CPUID. */
int kvm_vcpu_create(struct kvm *kvm, unsigned id, int *fd, struct kvm_run **run, struct err *err);
void kvm_vcpu_destroy(struct kvm *kvm, int fd, struct kvm_run *run);
int kvm_irq_line(struct kvm *kvm, uint32_t irq, int level);
/* Puts the in-kernel irqchip and PIT back to their power-on state. */
int kvm_reset_irqchip(struct kvm *kvm, struct err *err);

#endif
