/*
 * vmm/mptable.c - the Intel MultiProcessor Specification 1.4 table: how a guest
 * without ACPI finds its CPUs, its IOAPIC and how the ISA interrupts reach it.
 *
 * The floating pointer and the configuration table sit at 0xf0000, in the BIOS area
 * that Linux scans (with the first KiB of RAM and the top KiB of base memory); the
 * memory map marks it reserved. The table describes the machine KVM gives us:
 *   - one processor per vCPU, local APIC id = vCPU index (KVM's default), vCPU 0 the
 *     bootstrap processor;
 *   - one ISA bus, id 0;
 *   - the in-kernel IOAPIC at 0xfec00000, with the id after the last processor's;
 *   - ISA IRQ i on IOAPIC pin i, i = 0..15: KVM's default GSI routing sends GSI i to
 *     IOAPIC pin i (and GSIs 0-15 to the PICs), and the in-kernel PIT raises GSI 0,
 *     so unlike on most PCs the timer is on pin 0 and no override is needed;
 *   - the PIC's ExtINT on LINT0 and NMI on LINT1 of every local APIC (virtual wire
 *     mode: no IMCR, feature byte 2 is 0).
 */
#include <string.h>

#include "vmm/boot.h"

#define MP_FLOAT_SIZE 16
#define MP_HEADER_SIZE 44
#define MP_PROCESSOR_SIZE 20
#define MP_ENTRY_SIZE 8
#define MP_ISA_IRQS 16
#define MP_SPEC_REV 4           /* 1.4 */

enum mp_entry_type {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_IO_INTERRUPT = 3,
	MP_LOCAL_INTERRUPT = 4,
};

enum mp_interrupt_type {
	MP_INT = 0,
	MP_NMI = 1,
	MP_EXTINT = 3,
};

#define MP_CPU_ENABLED 0x1
#define MP_CPU_BSP 0x2
#define MP_IOAPIC_ENABLED 0x1
#define MP_LAPIC_VERSION 0x14   /* what KVM's local APIC reports */
#define MP_IOAPIC_VERSION 0x11  /* what KVM's IOAPIC reports */
#define MP_ALL_LAPICS 0xff

size_t mptable_size(unsigned cpu_count)
{
	return MP_FLOAT_SIZE + MP_HEADER_SIZE + MP_PROCESSOR_SIZE * (size_t)cpu_count +
	       MP_ENTRY_SIZE * (2 + MP_ISA_IRQS + 2);
}

/* The byte that makes len bytes sum to 0 (mod 256) once it is stored. */
static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)-sum;
}

static uint8_t *mp_interrupt(uint8_t *e, enum mp_entry_type type, enum mp_interrupt_type irq_type,
			     uint8_t src_irq, uint8_t dst_id, uint8_t dst_pin)
{
	e[0] = (uint8_t)type;
	e[1] = (uint8_t)irq_type;
	boot_put16(e + 2, 0);   /* polarity and trigger conform to the bus: ISA, edge, high */
	e[4] = 0;               /* source bus: ISA */
	e[5] = src_irq;
	e[6] = dst_id;
	e[7] = dst_pin;
	return e + MP_ENTRY_SIZE;
}

int mptable_write(struct mem *mem, const struct boot_config *cfg, struct err *err)
{
	/* The whole BIOS area: no stale table from an earlier boot survives. */
	uint8_t *area = mem_ptr(mem, BOOT_MPTABLE_ADDR, BOOT_HIGH_ADDR - BOOT_MPTABLE_ADDR);
	uint8_t *fp, *table, *e;
	uint8_t ioapic_id = (uint8_t)cfg->cpu_count;
	uint16_t entries = 0;

	if (!area || mptable_size(cfg->cpu_count) > BOOT_HIGH_ADDR - BOOT_MPTABLE_ADDR ||
	    cfg->cpu_count == 0 || cfg->cpu_count >= MP_ALL_LAPICS)
		return err_set(err, PDM_ERR_INVALID_ARG, "no room for an MP table of %u processors",
			       cfg->cpu_count);
	memset(area, 0, BOOT_HIGH_ADDR - BOOT_MPTABLE_ADDR);
	fp = area;
	table = area + MP_FLOAT_SIZE;
	e = table + MP_HEADER_SIZE;
	for (unsigned i = 0; i < cfg->cpu_count; i++, entries++) {
		e[0] = MP_PROCESSOR;
		e[1] = (uint8_t)i;                      /* local APIC id */
		e[2] = MP_LAPIC_VERSION;
		e[3] = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0);
		boot_put32(e + 4, cfg->cpu_signature);
		boot_put32(e + 8, cfg->cpu_features);
		e += MP_PROCESSOR_SIZE;
	}
	e[0] = MP_BUS;
	e[1] = 0;
	memcpy(e + 2, "ISA   ", 6);
	e += MP_ENTRY_SIZE;
	entries++;
	e[0] = MP_IOAPIC;
	e[1] = ioapic_id;
	e[2] = MP_IOAPIC_VERSION;
	e[3] = MP_IOAPIC_ENABLED;
	boot_put32(e + 4, MPTABLE_IOAPIC_ADDR);
	e += MP_ENTRY_SIZE;
	entries++;
	for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++, entries++)
		e = mp_interrupt(e, MP_IO_INTERRUPT, MP_INT, irq, ioapic_id, irq);
	e = mp_interrupt(e, MP_LOCAL_INTERRUPT, MP_EXTINT, 0, MP_ALL_LAPICS, 0);
	e = mp_interrupt(e, MP_LOCAL_INTERRUPT, MP_NMI, 0, MP_ALL_LAPICS, 1);
	entries += 2;

	memcpy(table, "PCMP", 4);
	boot_put16(table + 4, (uint16_t)(e - table));   /* base table length */
	table[6] = MP_SPEC_REV;
	memcpy(table + 8, "MODVM   ", 8);               /* OEM id */
	memcpy(table + 16, "modvm       ", 12);         /* product id */
	boot_put16(table + 34, entries);
	boot_put32(table + 36, MPTABLE_LAPIC_ADDR);
	table[7] = mp_checksum(table, (size_t)(e - table));

	memcpy(fp, "_MP_", 4);
	boot_put32(fp + 4, BOOT_MPTABLE_ADDR + MP_FLOAT_SIZE);
	fp[8] = 1;                                      /* length in 16-byte units */
	fp[9] = MP_SPEC_REV;
	fp[10] = mp_checksum(fp, MP_FLOAT_SIZE);
	return 0;
}
