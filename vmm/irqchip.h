/*
 * vmm/irqchip.h - the PC's interrupt controllers and timer in user space, for
 * [vm] irqchip = split: the 8259A pair, the IOAPIC and the 8254 PIT. KVM keeps each
 * vCPU's local APIC (KVM_CAP_SPLIT_IRQCHIP), as with QEMU's microvm and
 * kernel-irqchip=split.
 *
 * Why: the in-kernel PIC, IOAPIC and PIT each unregister their I/O ranges when the VM
 * is destroyed, and each unregistration waits for an SRCU grace period. On some hosts
 * that makes a VM's teardown take tens of milliseconds (bench/README.md, "start").
 *
 * Three pure models come first: register state and the rules of each chip, with no
 * locks, threads or KVM, so vmm/irqchip_test can drive them register by register.
 * The PIT takes the time as an argument for the same reason. Then the glue that
 * gives them to a VM (irqchip_*): port and MMIO ranges, the delivery of an IOAPIC
 * interrupt as an MSI to the local APICs, the PIC's ExtINT to vCPU 0, end-of-interrupt
 * exits for level-triggered pins, and the PIT's timer thread.
 */
#ifndef VMM_IRQCHIP_H
#define VMM_IRQCHIP_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* ---- 8259A pair: master at 0x20, slave at 0xa0 on the master's IRQ 2 ---- */

struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t line;               /* the input levels, to see edges */
	uint8_t elcr;               /* level-triggered inputs (ports 0x4d0/0x4d1) */
	uint8_t elcr_mask;          /* which inputs may be level-triggered */
	uint8_t base;               /* ICW2: the vector of IRQ 0 */
	uint8_t lowest;             /* the input with the lowest priority is lowest - 1 */
	uint8_t init_step;          /* 0: ready; 2, 3, 4: the ICW expected next */
	bool needs_icw4, is_single, is_auto_eoi, is_rotate_auto_eoi, is_special_nested;
	bool reads_isr, is_poll, is_special_mask;
};

struct pic {
	struct pic_chip chip[2];    /* master, slave */
};

void pic_reset(struct pic *pic);
/* Sets input irq (0-15) to level; the slave's output feeds the master's input 2. */
void pic_set_irq(struct pic *pic, unsigned irq, int level);
/* The master's INTR output: an input is requested, unmasked and of high enough priority. */
bool pic_output(const struct pic *pic);
/* The interrupt acknowledge cycle: the vector to deliver (IRQ 7's when spurious). */
uint8_t pic_ack(struct pic *pic);
/* The vector pic_ack would return now, changing nothing. */
uint8_t pic_vector(const struct pic *pic);
/* Ports: 0x20, 0x21, 0xa0, 0xa1 and the ELCRs 0x4d0, 0x4d1. */
uint8_t pic_read(struct pic *pic, uint16_t port);
void pic_write(struct pic *pic, uint16_t port, uint8_t value);

/* ---- IOAPIC: 24 pins, version 0x11, at 0xfec00000 ---- */

#define IOAPIC_PINS 24
#define IOAPIC_ADDR 0xfec00000u
#define IOAPIC_SIZE 0x100u     /* as KVM's in-kernel IOAPIC claims */

/* Redirection entry bits. */
#define IOAPIC_RTE_VECTOR       0xffull
#define IOAPIC_RTE_DELIVERY     (7ull << 8)
#define IOAPIC_RTE_DEST_LOGICAL (1ull << 11)
#define IOAPIC_RTE_PENDING      (1ull << 12)
#define IOAPIC_RTE_ACTIVE_LOW   (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR   (1ull << 14)
#define IOAPIC_RTE_LEVEL        (1ull << 15)
#define IOAPIC_RTE_MASKED       (1ull << 16)
#define IOAPIC_DELIVERY_EXTINT  7u

/* An interrupt as the local APICs take it: an MSI's address and data. */
struct ioapic_msi {
	uint64_t address;
	uint32_t data;
};

struct ioapic {
	uint32_t select;            /* IOREGSEL */
	uint8_t id;                 /* 4 bits */
	uint32_t line;              /* the input levels */
	uint64_t rte[IOAPIC_PINS];
	/* Sends an interrupt; pin's entry says where (called with the model's lock held). */
	void (*deliver)(void *user, unsigned pin, uint64_t rte);
	void *user;
};

void ioapic_reset(struct ioapic *io);   /* keeps id, deliver and user */
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
/* A local APIC's EOI of vector for a level-triggered interrupt. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);
/* MMIO at offset 0x00 (IOREGSEL) and 0x10 (IOWIN); 32-bit accesses. */
uint32_t ioapic_read(struct ioapic *io, uint64_t offset);
void ioapic_write(struct ioapic *io, uint64_t offset, uint32_t value);
/* The MSI that an entry describes (its vector, destination, modes and trigger). */
struct ioapic_msi ioapic_rte_msi(uint64_t rte);

/* ---- 8254 PIT: channels at 0x40-0x42, control at 0x43, channel 2's gate at 0x61 ---- */

#define PIT_HZ 1193182u

struct pit_channel {
	uint32_t reload;            /* 1..0x10000 (a written 0 means 0x10000) */
	uint64_t load_ns;           /* when counting from reload began */
	uint8_t mode;               /* 0-5 */
	uint8_t access;             /* 1: low byte, 2: high byte, 3: low then high */
	bool is_bcd;                /* accepted, reported, but counted in binary */
	bool is_loaded;             /* a count was written since the mode was set */
	bool gate;
	bool write_high;            /* access 3: the next write is the high byte */
	bool read_high;             /* access 3: the next read is the high byte */
	uint8_t write_low;
	bool is_count_latched, latch_high, is_status_latched;
	uint16_t latched_count;
	uint8_t latched_status;
};

struct pit {
	struct pit_channel ch[3];
	bool speaker_data;          /* port 0x61 bit 1 */
};

void pit_reset(struct pit *pit, uint64_t now_ns);
uint8_t pit_read(struct pit *pit, uint16_t port, uint64_t now_ns);
void pit_write(struct pit *pit, uint16_t port, uint8_t value, uint64_t now_ns);
/* Channel 0's next interrupt after now_ns, or UINT64_MAX when none will come. */
uint64_t pit_next_irq(const struct pit *pit, uint64_t now_ns);
/* The OUT pin of a channel. */
bool pit_out(const struct pit *pit, unsigned channel, uint64_t now_ns);

/* ---- the chips in a VM ---- */

struct vm;
struct irqchip;

/* A port range of a chip: the handlers get it, to know which ports they serve. */
struct irqchip_range {
	struct irqchip *ic;
	uint16_t base;
};

#define IRQCHIP_RANGES 5

struct irqchip {
	struct vm *vm;              /* NULL until irqchip_init */
	struct irqchip_range ranges[IRQCHIP_RANGES];
	pthread_mutex_t lock;       /* pic and ioapic */
	struct pic pic;
	struct ioapic ioapic;
	bool is_extint_pending;     /* the PIC's output, for vCPU 0 */
	uint32_t level_pins;        /* pins whose routes are in KVM (level-triggered) */
	uint64_t routed_rte[IOAPIC_PINS];

	pthread_mutex_t pit_lock;
	pthread_cond_t pit_cond;
	struct pit pit;
	uint64_t pit_due_ns;        /* the interrupt the thread waits for */
	pthread_t pit_thread;
	bool has_pit_thread, is_pit_stopping;
};

/*
 * Sets up the chips for vm, whose KVM VM has a split irqchip: claims their ports and
 * MMIO range in vm->iom. The PIT thread starts when the guest first programs a periodic
 * or one-shot count on channel 0. irqchip_destroy undoes it all.
 */
int irqchip_init(struct irqchip *ic, struct vm *vm, struct err *err);
void irqchip_destroy(struct irqchip *ic);
/* An ISA IRQ (0-15, to the PIC and the IOAPIC) or a GSI (16-23, the IOAPIC). Any thread. */
int irqchip_set_irq(struct irqchip *ic, uint32_t irq, int level);
void irqchip_set_ioapic_id(struct irqchip *ic, uint8_t id);
/* The power-on state of all three (the IOAPIC keeps its id). */
void irqchip_reset(struct irqchip *ic);
/* KVM_EXIT_IOAPIC_EOI. */
void irqchip_eoi(struct irqchip *ic, uint8_t vector);
/*
 * Before vCPU 0 enters the guest: hands the PIC's pending interrupt to KVM when the
 * vCPU can take it, and asks for an exit when it can otherwise.
 */
void irqchip_before_run(struct irqchip *ic, int vcpu_fd, struct kvm_run *run);

#endif
