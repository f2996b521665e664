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
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct kvm {
	int sys_fd;                 /* /dev/kvm */
	int vm_fd;
	int run_size;               /* bytes to mmap from a vCPU fd */
	struct kvm_cpuid2 *cpuid;   /* KVM_GET_SUPPORTED_CPUID: each vCPU's starts from it */
	bool has_tsc_deadline;      /* KVM_CAP_TSC_DEADLINE_TIMER */
	bool has_all_pv;            /* offer every KVM paravirtual feature ([vm] kvm_pv = host) */
	/* The in-kernel PICs, IOAPIC and PIT as created: what a reset puts back. */
	struct kvm_irqchip reset_chips[3];
	struct kvm_pit_state2 reset_pit;
};

/* Where /dev/kvm is, overridable for tests through $MODVM_KVM_DEVICE. */
const char *kvm_device_path(void);
/* Opens /dev/kvm and creates a VM (its TSS and identity map; no irqchip yet). */
int kvm_open(struct kvm *kvm, struct err *err);
/*
 * Creates the in-kernel irqchip and PIT and keeps their reset state; with is_split,
 * only the local APICs (the rest is vmm/irqchip.c's). After the RAM's
 * memory slots (kvm_set_memory): each slot added once the irqchip exists waits for an
 * SRCU grace period in the kernel, a scheduler tick or more.
 */
int kvm_create_irqchip(struct kvm *kvm, bool is_split, struct err *err);
void kvm_close(struct kvm *kvm);
int kvm_set_memory(struct kvm *kvm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
		   struct err *err);
/*
 * Creates vCPU id of count and maps its kvm_run; sets its CPUID (cpuid_build: the
 * supported leaves with this vCPU's APIC id and the VM's topology).
 */
int kvm_vcpu_create(struct kvm *kvm, unsigned id, unsigned count, int *fd, struct kvm_run **run,
		    struct err *err);
void kvm_vcpu_destroy(struct kvm *kvm, int fd, struct kvm_run *run);
int kvm_irq_line(struct kvm *kvm, uint32_t irq, int level);
/* Puts the in-kernel irqchip and PIT back to their power-on state. */
int kvm_reset_irqchip(struct kvm *kvm, struct err *err);
/*
 * Gives the in-kernel IOAPIC the id the MP table announces, now and after every reset.
 * Its ID register has 4 bits: KVM keeps the low 4 of id.
 */
int kvm_set_ioapic_id(struct kvm *kvm, uint32_t id, struct err *err);

/*
 * cpuid.c: fills out (room entries) with what vCPU id of count sees: supported, with
 * the initial APIC id and logical count in leaf 1, leaf 4's core counts, leaves 0xB
 * and 0x1F rebuilt (one package of count cores, one thread each), AMD's 0x80000008
 * and 0x8000001E likewise, the hypervisor bit, and TSC-deadline when has_tsc_deadline;
 * KVM's paravirtual features limited to QEMU's default set unless has_all_pv.
 * PDM_ERR_INVALID_ARG when id >= count or out is too small (room < supported + 6).
 */
int cpuid_build(const struct kvm_cpuid2 *supported, unsigned id, unsigned count,
		bool has_tsc_deadline, bool has_all_pv, struct kvm_cpuid2 *out, uint32_t room);

#endif
