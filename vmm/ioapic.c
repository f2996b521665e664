/*
 * vmm/ioapic.c - the I/O APIC (82093AA, version 0x11, 24 pins) as a pure register
 * model ([vm] irqchip = split; see vmm/irqchip.h).
 *
 * Edge-triggered pins send an interrupt on each rising edge while unmasked.
 * Level-triggered pins send one when the line is high, unmasked and the remote IRR
 * is clear, and set the remote IRR; the local APIC's EOI of that vector clears it and,
 * if the line is still high, the interrupt is sent again. Polarity is the line's as
 * the board wires it: ISA lines are active high, and nothing here is active low.
 * Version 0x11 has no EOI register (that came with 0x20); KVM's in-kernel IOAPIC is
 * the same version, so guests see no difference between the two irqchip modes.
 */
#include "vmm/irqchip.h"

#define IOAPIC_REG_ID       0x00
#define IOAPIC_REG_VERSION  0x01
#define IOAPIC_REG_ARB      0x02
#define IOAPIC_REG_TABLE    0x10
#define IOAPIC_VERSION      0x11
#define IOAPIC_OFF_SELECT   0x00
#define IOAPIC_OFF_WINDOW   0x10

/* What a guest may write in an entry: not the delivery status nor the remote IRR. */
#define IOAPIC_RTE_RO (IOAPIC_RTE_PENDING | IOAPIC_RTE_REMOTE_IRR)

void ioapic_reset(struct ioapic *io)
{
	io->select = 0;
	io->line = 0;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		io->rte[pin] = IOAPIC_RTE_MASKED;
}

/* Sends pin's interrupt if its entry and line allow it now. */
static void ioapic_service(struct ioapic *io, unsigned pin)
{
	uint64_t *rte = &io->rte[pin];

	if (*rte & IOAPIC_RTE_MASKED || !(io->line & (1u << pin)))
		return;
	/*
	 * An ExtINT pin passes the PIC's vector on, whose EOI the PIC sees, never this
	 * entry's: it is treated as edge-triggered, or its remote IRR would stay set.
	 */
	if ((*rte & IOAPIC_RTE_LEVEL) &&
	    (*rte & IOAPIC_RTE_DELIVERY) >> 8 != IOAPIC_DELIVERY_EXTINT) {
		if (*rte & IOAPIC_RTE_REMOTE_IRR)
			return;
		*rte |= IOAPIC_RTE_REMOTE_IRR;
	}
	io->deliver(io->user, pin, *rte);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	uint32_t bit = 1u << pin;
	bool was_high;

	if (pin >= IOAPIC_PINS)
		return;
	was_high = io->line & bit;
	if (!level) {
		io->line &= ~bit;
		return;
	}
	io->line |= bit;
	if (io->rte[pin] & IOAPIC_RTE_LEVEL || !was_high)
		ioapic_service(io, pin);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *rte = &io->rte[pin];

		if ((*rte & IOAPIC_RTE_VECTOR) != vector || !(*rte & IOAPIC_RTE_LEVEL) ||
		    !(*rte & IOAPIC_RTE_REMOTE_IRR))
			continue;
		*rte &= ~IOAPIC_RTE_REMOTE_IRR;
		ioapic_service(io, pin);
	}
}

static uint32_t ioapic_reg_read(const struct ioapic *io, uint32_t reg)
{
	switch (reg) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return (uint32_t)(io->id & 0xf) << 24;
	case IOAPIC_REG_VERSION:
		return (uint32_t)(IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	default:
		if (reg >= IOAPIC_REG_TABLE && reg < IOAPIC_REG_TABLE + 2 * IOAPIC_PINS) {
			uint64_t rte = io->rte[(reg - IOAPIC_REG_TABLE) / 2];

			return (uint32_t)(reg & 1 ? rte >> 32 : rte);
		}
		return 0xffffffffu;     /* no such register */
	}
}

static void ioapic_reg_write(struct ioapic *io, uint32_t reg, uint32_t value)
{
	unsigned pin;
	uint64_t *rte, next;

	if (reg == IOAPIC_REG_ID) {
		io->id = (uint8_t)((value >> 24) & 0xf);
		return;
	}
	if (reg < IOAPIC_REG_TABLE || reg >= IOAPIC_REG_TABLE + 2 * IOAPIC_PINS)
		return;                 /* the version and arbitration registers are read-only */
	pin = (reg - IOAPIC_REG_TABLE) / 2;
	rte = &io->rte[pin];
	if (reg & 1)
		next = (*rte & 0xffffffffull) | (uint64_t)value << 32;
	else
		next = (*rte & ~0xffffffffull) | value;
	next = (next & ~IOAPIC_RTE_RO) | (*rte & IOAPIC_RTE_RO);
	if (!(next & IOAPIC_RTE_LEVEL))
		next &= ~IOAPIC_RTE_REMOTE_IRR;         /* meaningful for level pins only */
	*rte = next;
	/* Unmasking a level pin whose line is high sends it (an edge was missed for good). */
	if (next & IOAPIC_RTE_LEVEL)
		ioapic_service(io, pin);
}

uint32_t ioapic_read(struct ioapic *io, uint64_t offset)
{
	if (offset == IOAPIC_OFF_SELECT)
		return io->select;
	if (offset == IOAPIC_OFF_WINDOW)
		return ioapic_reg_read(io, io->select);
	return 0xffffffffu;
}

void ioapic_write(struct ioapic *io, uint64_t offset, uint32_t value)
{
	if (offset == IOAPIC_OFF_SELECT)
		io->select = value & 0xff;
	else if (offset == IOAPIC_OFF_WINDOW)
		ioapic_reg_write(io, io->select, value);
}

struct ioapic_msi ioapic_rte_msi(uint64_t rte)
{
	uint64_t dest = (rte >> 56) & 0xff;
	uint32_t mode = (uint32_t)((rte & IOAPIC_RTE_DELIVERY) >> 8);

	return (struct ioapic_msi){
		.address = 0xfee00000ull | dest << 12 |
			   (rte & IOAPIC_RTE_DEST_LOGICAL ? 1u << 2 : 0),
		.data = (uint32_t)(rte & IOAPIC_RTE_VECTOR) | mode << 8 |
			(rte & IOAPIC_RTE_LEVEL ? 1u << 15 | 1u << 14 : 0),
	};
}
