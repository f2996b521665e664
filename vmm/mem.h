/*
 * vmm/mem.h - guest RAM: anonymous memory mapped into the guest, with bounds-checked
 * access for devices and loaders.
 *
 * Layout (x86): RAM starts at 0; what does not fit below 3 GiB continues at 4 GiB,
 * leaving the hole for MMIO, the LAPIC/IOAPIC and the KVM TSS. Pages are reserved
 * lazily (MAP_NORESERVE), so RSS grows only with what the guest touches.
 */
#ifndef VMM_MEM_H
#define VMM_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/kvm.h"

#define MEM_LOW_LIMIT 0xc0000000ull     /* 3 GiB: start of the MMIO hole */
#define MEM_HIGH_BASE 0x100000000ull    /* 4 GiB */
#define MEM_HUGE_PAGE 0x200000ull        /* 2 MiB; guest RAM below it has none */

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct mem {
	uint8_t *base;                  /* the whole mapping */
	uint64_t size;                  /* guest RAM bytes */
	struct mem_region regions[2];
	unsigned region_count;
};

int mem_init(struct mem *mem, struct kvm *kvm, uint64_t size, struct err *err);
void mem_release(struct mem *mem);
/* A host pointer for [gpa, gpa + len) when it lies wholly in one RAM region, else NULL. */
void *mem_ptr(struct mem *mem, uint64_t gpa, uint64_t len);
int mem_read(struct mem *mem, uint64_t gpa, void *buf, size_t len);
int mem_write(struct mem *mem, uint64_t gpa, const void *buf, size_t len);

#endif
