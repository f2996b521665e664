/*
 * vmm/irqchip.c - the user-space PIC, IOAPIC and PIT in a VM ([vm] irqchip = split).
 *
 * Locks: irqchip.lock guards the PIC and the IOAPIC; pit_lock the PIT. The PIT thread
 * raises IRQ 0 with pit_lock released, so the order is pit_lock, then lock, never the
 * other way. Port and MMIO handlers run under the chip's lock (iom takes it).
 *
 * Delivery. An IOAPIC interrupt goes to the local APICs as an MSI (KVM_SIGNAL_MSI).
 * For a level-triggered pin KVM must also know the pin's vector, so that the EOI of
 * it comes back to us (KVM_EXIT_IOAPIC_EOI) and the remote IRR can be cleared: such
 * pins get an MSI route at GSI = pin, from which KVM builds each vCPU's EOI-exit
 * bitmap. Routes are set only when a level-triggered pin first fires or changes, as
 * KVM_SET_GSI_ROUTING waits for an SRCU grace period. The PIC's output reaches vCPU 0
 * as an ExtINT (KVM_INTERRUPT) when its local APIC takes one (LINT0 in ExtINT mode,
 * or the APIC disabled), through an interrupt window when it cannot take it yet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "util/log.h"
#include "vmm/irqchip.h"
#include "vmm/vcpu.h"

/* As KVM's in-kernel PIT (min_timer_period_us): a guest cannot ask for more IRQs. */
#define IRQCHIP_PIT_MIN_PERIOD_NS 200000u

static uint64_t irqchip_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- PIC and IOAPIC (under ic->lock) ---- */

/* The PIC's output changed maybe: vCPU 0 looks at it before it next enters the guest. */
static void irqchip_pic_update(struct irqchip *ic)
{
	bool is_pending = pic_output(&ic->pic);

	if (is_pending == ic->is_extint_pending)
		return;
	__atomic_store_n(&ic->is_extint_pending, is_pending, __ATOMIC_SEQ_CST);
	if (is_pending && ic->vm->vcpus)
		vcpu_kick(&ic->vm->vcpus[0], VCPU_FF_CHECK_STATE);
}

/* Gives KVM the MSI route of every level-triggered pin that fired. */
static void irqchip_route_level(struct irqchip *ic, unsigned pin, uint64_t rte)
{
	struct {
		struct kvm_irq_routing head;
		struct kvm_irq_routing_entry e[IOAPIC_PINS];
	} table;
	const uint64_t key = IOAPIC_RTE_VECTOR | IOAPIC_RTE_DELIVERY | IOAPIC_RTE_DEST_LOGICAL |
			     IOAPIC_RTE_LEVEL | 0xffull << 56;
	uint32_t pins = ic->level_pins | 1u << pin;
	unsigned n = 0;

	if ((ic->level_pins & (1u << pin)) && !((ic->routed_rte[pin] ^ rte) & key))
		return;
	memset(&table, 0, sizeof(table));
	for (unsigned p = 0; p < IOAPIC_PINS; p++) {
		struct ioapic_msi msi;

		if (!(pins & (1u << p)))
			continue;
		msi = ioapic_rte_msi(p == pin ? rte : ic->routed_rte[p]);
		table.e[n].gsi = p;
		table.e[n].type = KVM_IRQ_ROUTING_MSI;
		table.e[n].u.msi.address_lo = (uint32_t)msi.address;
		table.e[n].u.msi.address_hi = (uint32_t)(msi.address >> 32);
		table.e[n].u.msi.data = msi.data;
		n++;
	}
	table.head.nr = n;
	if (ioctl(ic->vm->kvm.vm_fd, KVM_SET_GSI_ROUTING, &table) < 0) {
		/* Not recorded: the pin's next interrupt tries again. */
		log_warn("irqchip", "IOAPIC pin %u: KVM_SET_GSI_ROUTING failed: %s; its EOIs "
			 "may not reach the IOAPIC", pin, strerror(errno));
		return;
	}
	ic->level_pins = pins;
	ic->routed_rte[pin] = rte;
}

static void irqchip_deliver(void *user, unsigned pin, uint64_t rte)
{
	struct irqchip *ic = user;
	struct ioapic_msi msi;
	struct kvm_msi kmsi;

	if ((rte & IOAPIC_RTE_DELIVERY) >> 8 == IOAPIC_DELIVERY_EXTINT) {
		/* The PIC's interrupt, routed through this pin: acknowledge it now, edge. */
		if (!pic_output(&ic->pic))
			return;
		rte = (rte & ~(IOAPIC_RTE_VECTOR | IOAPIC_RTE_DELIVERY | IOAPIC_RTE_LEVEL)) |
		      pic_ack(&ic->pic);
		irqchip_pic_update(ic);
	} else if (rte & IOAPIC_RTE_LEVEL) {
		irqchip_route_level(ic, pin, rte);
	}
	msi = ioapic_rte_msi(rte);
	kmsi = (struct kvm_msi){
		.address_lo = (uint32_t)msi.address,
		.address_hi = (uint32_t)(msi.address >> 32),
		.data = msi.data,
	};
	if (ioctl(ic->vm->kvm.vm_fd, KVM_SIGNAL_MSI, &kmsi) < 0)
		log_warn("irqchip", "IOAPIC pin %u: KVM_SIGNAL_MSI failed: %s", pin,
			 strerror(errno));
}

int irqchip_set_irq(struct irqchip *ic, uint32_t irq, int level)
{
	if (irq >= IOAPIC_PINS)
		return PDM_ERR_INVALID_ARG;
	pthread_mutex_lock(&ic->lock);
	if (irq < 16) {
		pic_set_irq(&ic->pic, irq, level);
		irqchip_pic_update(ic);
	}
	ioapic_set_irq(&ic->ioapic, irq, level);
	pthread_mutex_unlock(&ic->lock);
	return 0;
}

void irqchip_eoi(struct irqchip *ic, uint8_t vector)
{
	pthread_mutex_lock(&ic->lock);
	ioapic_eoi(&ic->ioapic, vector);
	pthread_mutex_unlock(&ic->lock);
}

void irqchip_set_ioapic_id(struct irqchip *ic, uint8_t id)
{
	pthread_mutex_lock(&ic->lock);
	ic->ioapic.id = id & 0xf;
	pthread_mutex_unlock(&ic->lock);
}

/*
 * Known gap: a vector handed to KVM just before a reset whose rendezvous keeps the
 * vCPU from entering stays queued in KVM (KVM_SET_* do not clear it) and reaches the
 * reset guest at its first STI. Nothing in the KVM API withdraws it.
 */
void irqchip_before_run(struct irqchip *ic, int vcpu_fd, struct kvm_run *run)
{
	if (!__atomic_load_n(&ic->is_extint_pending, __ATOMIC_SEQ_CST) &&
	    !run->request_interrupt_window)
		return;
	pthread_mutex_lock(&ic->lock);
	if (pic_output(&ic->pic) && run->ready_for_interrupt_injection && run->if_flag) {
		struct kvm_interrupt intr = { .irq = pic_vector(&ic->pic) };

		/*
		 * Acknowledged at the PIC only once KVM holds it, and not ready again until
		 * KVM says so after its next exit: the EMT may come back here without
		 * entering the guest (a kick), and KVM keeps one ExtINT at a time.
		 */
		if (ioctl(vcpu_fd, KVM_INTERRUPT, &intr) == 0) {
			pic_ack(&ic->pic);
			run->ready_for_interrupt_injection = 0;
			irqchip_pic_update(ic);
		} else {
			log_warn("irqchip", "KVM_INTERRUPT of vector %#x failed: %s", intr.irq,
				 strerror(errno));
		}
	}
	/* Still one (or another) to give: exit as soon as the vCPU can take it. */
	run->request_interrupt_window = pic_output(&ic->pic);
	pthread_mutex_unlock(&ic->lock);
}

/* ---- port and MMIO handlers ---- */

/*
 * The chips' registers are 8 bits wide: a wider access is one byte cycle per port, as
 * on an ISA bus (a 16-bit IN from 0x20 reads IRR and IMR). iom hands us only accesses
 * that lie within a range.
 */
static int irqchip_pic_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
			  unsigned size)
{
	struct irqchip_range *range = user;
	struct irqchip *ic = range->ic;

	(void)dev;
	*value = 0;
	for (unsigned i = 0; i < size; i++)
		*value |= (uint32_t)pic_read(&ic->pic, (uint16_t)(range->base + offset + i)) << 8 * i;
	irqchip_pic_update(ic);         /* a poll-mode read acknowledges */
	return 0;
}

static int irqchip_pic_out(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t value,
			   unsigned size)
{
	struct irqchip_range *range = user;
	struct irqchip *ic = range->ic;

	(void)dev;
	for (unsigned i = 0; i < size; i++)
		pic_write(&ic->pic, (uint16_t)(range->base + offset + i), (uint8_t)(value >> 8 * i));
	irqchip_pic_update(ic);
	return 0;
}

static int irqchip_ioapic_read(struct pdm_dev_ins *dev, void *user, uint64_t offset, void *buf,
			       unsigned len)
{
	struct irqchip *ic = user;
	uint32_t value = ioapic_read(&ic->ioapic, offset & ~3ull);

	(void)dev;
	/* Registers are 32-bit; a narrower read takes its bytes, a wider one reads as 1s above. */
	memset(buf, 0xff, len);
	value >>= 8 * (offset & 3);
	memcpy(buf, &value, len < 4 - (offset & 3) ? len : 4 - (offset & 3));
	return 0;
}

static int irqchip_ioapic_write(struct pdm_dev_ins *dev, void *user, uint64_t offset,
				const void *buf, unsigned len)
{
	struct irqchip *ic = user;
	uint32_t value = 0;

	(void)dev;
	if (offset & 3)
		return 0;               /* as KVM: only aligned accesses reach a register */
	memcpy(&value, buf, len < 4 ? len : 4);
	ioapic_write(&ic->ioapic, offset, value);
	irqchip_pic_update(ic);         /* an ExtINT pin may have acknowledged the PIC */
	return 0;
}

/* ---- the PIT and its thread ---- */

static void *irqchip_pit_main(void *arg);

/*
 * Under pit_lock: when the thread must next raise IRQ 0, and wake it if that changed.
 * The thread starts with the first interrupt due, so that a guest that never programs
 * the PIT does not pay for it; if it cannot start, the next programming tries again.
 */
static int irqchip_pit_schedule(struct irqchip *ic, uint64_t now_ns, uint64_t floor_ns)
{
	uint64_t due = pit_next_irq(&ic->pit, now_ns);

	if (due != UINT64_MAX && due < floor_ns)
		due = floor_ns;
	if (due == ic->pit_due_ns)
		return 0;
	ic->pit_due_ns = due;
	if (ic->has_pit_thread) {
		pthread_cond_signal(&ic->pit_cond);
		return 0;
	}
	if (due == UINT64_MAX || ic->is_pit_stopping)
		return 0;
	if (pthread_create(&ic->pit_thread, NULL, irqchip_pit_main, ic)) {
		ic->pit_due_ns = UINT64_MAX;
		return PDM_ERR_NO_MEMORY;
	}
	ic->has_pit_thread = true;
	return 0;
}

static int irqchip_pit_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
			  unsigned size)
{
	struct irqchip_range *range = user;
	uint64_t now = irqchip_now_ns();

	(void)dev;
	*value = 0;
	for (unsigned i = 0; i < size; i++)
		*value |= (uint32_t)pit_read(&range->ic->pit, (uint16_t)(range->base + offset + i),
					     now) << 8 * i;
	return 0;
}

static int irqchip_pit_out(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t value,
			   unsigned size)
{
	struct irqchip_range *range = user;
	struct irqchip *ic = range->ic;
	uint64_t now = irqchip_now_ns();

	(void)dev;
	for (unsigned i = 0; i < size; i++)
		pit_write(&ic->pit, (uint16_t)(range->base + offset + i), (uint8_t)(value >> 8 * i),
			  now);
	return irqchip_pit_schedule(ic, now, 0);
}

static void *irqchip_pit_main(void *arg)
{
	struct irqchip *ic = arg;

	pthread_mutex_lock(&ic->pit_lock);
	while (!ic->is_pit_stopping) {
		uint64_t now = irqchip_now_ns(), due = ic->pit_due_ns;
		struct timespec until;

		if (due == UINT64_MAX) {
			pthread_cond_wait(&ic->pit_cond, &ic->pit_lock);
			continue;
		}
		if (now < due) {
			until.tv_sec = (time_t)(due / 1000000000u);
			until.tv_nsec = (long)(due % 1000000000u);
			pthread_cond_timedwait(&ic->pit_cond, &ic->pit_lock, &until);
			continue;
		}
		/*
		 * Late ticks are not made up for: the next one is the next period's end
		 * after now, as QEMU's "discard" policy, and never closer than the minimum.
		 */
		irqchip_pit_schedule(ic, now, now + IRQCHIP_PIT_MIN_PERIOD_NS);
		pthread_mutex_unlock(&ic->pit_lock);
		irqchip_set_irq(ic, 0, 1);
		irqchip_set_irq(ic, 0, 0);
		pthread_mutex_lock(&ic->pit_lock);
	}
	pthread_mutex_unlock(&ic->pit_lock);
	return NULL;
}

/* ---- the chips in a VM ---- */

void irqchip_reset(struct irqchip *ic)
{
	uint64_t now = irqchip_now_ns();

	pthread_mutex_lock(&ic->lock);
	pic_reset(&ic->pic);
	ioapic_reset(&ic->ioapic);
	irqchip_pic_update(ic);
	pthread_mutex_unlock(&ic->lock);
	pthread_mutex_lock(&ic->pit_lock);
	pit_reset(&ic->pit, now);
	irqchip_pit_schedule(ic, now, 0);
	pthread_mutex_unlock(&ic->pit_lock);
}

int irqchip_init(struct irqchip *ic, struct vm *vm, struct err *err)
{
	static const struct {
		uint16_t port, count;
		bool is_pit;
		const char *desc;
	} ports[IRQCHIP_RANGES] = {
		{ 0x20, 2, false, "8259A PIC, master" },
		{ 0xa0, 2, false, "8259A PIC, slave" },
		{ 0x4d0, 2, false, "8259A PIC, ELCR" },
		{ 0x40, 4, true, "8254 PIT" },
		{ 0x61, 1, true, "8254 PIT, channel 2 gate" },
	};
	pthread_condattr_t attr;
	int status = 0;

	memset(ic, 0, sizeof(*ic));
	ic->vm = vm;
	pthread_mutex_init(&ic->lock, NULL);
	pthread_mutex_init(&ic->pit_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ic->pit_cond, &attr);
	pthread_condattr_destroy(&attr);
	ic->ioapic.deliver = irqchip_deliver;
	ic->ioapic.user = ic;
	irqchip_reset(ic);

	for (unsigned i = 0; i < IRQCHIP_RANGES && !status; i++) {
		ic->ranges[i] = (struct irqchip_range){ .ic = ic, .base = ports[i].port };
		status = iom_register_pio(&vm->iom, NULL, ports[i].is_pit ? &ic->pit_lock : &ic->lock,
					  ports[i].port, ports[i].count, &ic->ranges[i],
					  ports[i].is_pit ? irqchip_pit_in : irqchip_pic_in,
					  ports[i].is_pit ? irqchip_pit_out : irqchip_pic_out,
					  ports[i].desc, err);
	}
	if (!status)
		status = iom_register_mmio(&vm->iom, NULL, &ic->lock, IOAPIC_ADDR, IOAPIC_SIZE, ic,
					   irqchip_ioapic_read, irqchip_ioapic_write, "IOAPIC", err);
	return status;
}

void irqchip_destroy(struct irqchip *ic)
{
	if (!ic->vm)
		return;                 /* never set up: [vm] irqchip = kernel */
	pthread_mutex_lock(&ic->pit_lock);
	ic->is_pit_stopping = true;
	pthread_cond_signal(&ic->pit_cond);
	pthread_mutex_unlock(&ic->pit_lock);
	if (ic->has_pit_thread)
		pthread_join(ic->pit_thread, NULL);
	pthread_cond_destroy(&ic->pit_cond);
	pthread_mutex_destroy(&ic->pit_lock);
	pthread_mutex_destroy(&ic->lock);
	ic->vm = NULL;
}
