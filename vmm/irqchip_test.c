/*
 * vmm/irqchip_test.c - the user-space 8259A pair, IOAPIC and 8254 PIT of
 * [vm] irqchip = split, register by register, without KVM: each test drives a model
 * as a guest would and checks what a guest (or the local APIC) would see.
 */
#include <check.h>
#include <string.h>

#include "vmm/irqchip.h"

/* ---- 8259A ---- */

static struct pic pic;

/* The BIOS's and Linux's initialization: vectors 0x20 and 0x28, cascade on IRQ 2. */
static void pic_init_like_linux(bool auto_eoi)
{
	pic_reset(&pic);
	pic_write(&pic, 0x20, 0x11);            /* ICW1: edge, cascade, ICW4 */
	pic_write(&pic, 0x21, 0x20);            /* ICW2 */
	pic_write(&pic, 0x21, 0x04);            /* ICW3: slave on IRQ 2 */
	pic_write(&pic, 0x21, auto_eoi ? 0x03 : 0x01);
	pic_write(&pic, 0xa0, 0x11);
	pic_write(&pic, 0xa1, 0x28);
	pic_write(&pic, 0xa1, 0x02);
	pic_write(&pic, 0xa1, 0x01);
	pic_write(&pic, 0x21, 0x00);            /* OCW1: nothing masked */
	pic_write(&pic, 0xa1, 0x00);
}

START_TEST(pic_initialization_sets_vectors_and_mask)
{
	pic_init_like_linux(false);
	ck_assert(!pic_output(&pic));
	pic_write(&pic, 0x21, 0xfb);
	ck_assert_uint_eq(pic_read(&pic, 0x21), 0xfb);
	ck_assert_uint_eq(pic_read(&pic, 0xa1), 0x00);
	pic_set_irq(&pic, 1, 1);                /* masked: requested, not signalled */
	ck_assert_uint_eq(pic_read(&pic, 0x20), 0x02);     /* IRR */
	ck_assert(!pic_output(&pic));
	pic_write(&pic, 0x21, 0x00);
	ck_assert(pic_output(&pic));
	ck_assert_uint_eq(pic_ack(&pic), 0x21);
	pic_write(&pic, 0x20, 0x0b);            /* OCW3: read ISR */
	ck_assert_uint_eq(pic_read(&pic, 0x20), 0x02);
	ck_assert(!pic_output(&pic));
}
END_TEST

START_TEST(pic_priority_eoi_and_nesting)
{
	pic_init_like_linux(false);
	pic_set_irq(&pic, 4, 1);
	pic_set_irq(&pic, 3, 1);
	ck_assert_uint_eq(pic_ack(&pic), 0x23);    /* the lower input first */
	/* IRQ 4 waits for IRQ 3's EOI; IRQ 0 (higher) may nest. */
	ck_assert(!pic_output(&pic));
	pic_set_irq(&pic, 0, 1);
	ck_assert(pic_output(&pic));
	ck_assert_uint_eq(pic_ack(&pic), 0x20);
	pic_write(&pic, 0x20, 0x20);            /* non-specific EOI: IRQ 0, the highest */
	ck_assert(!pic_output(&pic));
	pic_write(&pic, 0x20, 0x63);            /* specific EOI of IRQ 3 */
	ck_assert(pic_output(&pic));
	ck_assert_uint_eq(pic_ack(&pic), 0x24);
	pic_write(&pic, 0x20, 0x20);
	ck_assert(!pic_output(&pic));
	/* An edge input requests once per rising edge. */
	pic_set_irq(&pic, 4, 1);
	ck_assert(!pic_output(&pic));
	pic_set_irq(&pic, 4, 0);
	pic_set_irq(&pic, 4, 1);
	ck_assert(pic_output(&pic));
}
END_TEST

START_TEST(pic_slave_cascades_through_irq2)
{
	pic_init_like_linux(false);
	pic_set_irq(&pic, 12, 1);
	pic_set_irq(&pic, 9, 1);
	ck_assert(pic_output(&pic));
	ck_assert_uint_eq(pic_ack(&pic), 0x29);    /* the slave's IRQ 1 */
	pic_write(&pic, 0xa0, 0x20);
	pic_write(&pic, 0x20, 0x20);
	/* The slave's second request reaches the master again after its EOI. */
	ck_assert(pic_output(&pic));
	ck_assert_uint_eq(pic_ack(&pic), 0x2c);
	pic_write(&pic, 0xa1, 0xff);            /* masked at the slave: nothing pending */
	pic_write(&pic, 0xa0, 0x20);
	pic_write(&pic, 0x20, 0x20);
	pic_set_irq(&pic, 10, 1);
	ck_assert(!pic_output(&pic));
	/* Nothing to give when acknowledged: the spurious vector, IRQ 7's. */
	ck_assert_uint_eq(pic_ack(&pic), 0x27);
}
END_TEST

START_TEST(pic_auto_eoi_poll_and_rotation)
{
	pic_init_like_linux(true);
	pic_set_irq(&pic, 5, 1);
	ck_assert_uint_eq(pic_ack(&pic), 0x25);
	pic_write(&pic, 0x20, 0x0b);
	ck_assert_uint_eq(pic_read(&pic, 0x20), 0x00);     /* auto-EOI: nothing in service */

	pic_init_like_linux(false);
	pic_set_irq(&pic, 6, 1);
	pic_write(&pic, 0x20, 0x0c);            /* OCW3: poll */
	ck_assert_uint_eq(pic_read(&pic, 0x20), 0x86);
	pic_write(&pic, 0x20, 0x0c);
	ck_assert_uint_eq(pic_read(&pic, 0x20), 0x00);     /* 6 is in service, nothing else */
	pic_write(&pic, 0x20, 0x20);

	/* Set priority: IRQ 4 lowest, so IRQ 5 now wins over IRQ 1. */
	pic_write(&pic, 0x20, 0xc4);
	pic_set_irq(&pic, 1, 1);
	pic_set_irq(&pic, 5, 1);
	ck_assert_uint_eq(pic_ack(&pic), 0x25);
}
END_TEST

/* What vCPU 0's injection relies on: the vector is known before it is acknowledged. */
START_TEST(pic_vector_is_what_the_ack_will_give_and_changes_nothing)
{
	/* IRQ 10 through IRQ 2; IRQ 3 after the EOIs; then nothing: IRQ 7's, spurious. */
	static const uint8_t want[] = { 0x2a, 0x23, 0x27 };
	struct pic before;

	pic_init_like_linux(false);
	pic_set_irq(&pic, 10, 1);
	pic_set_irq(&pic, 3, 1);
	for (int i = 0; i < 3; i++) {
		uint8_t vector = pic_vector(&pic);

		before = pic;
		ck_assert_uint_eq(pic_vector(&pic), vector);
		ck_assert(!memcmp(&before, &pic, sizeof(pic)));
		ck_assert_uint_eq(pic_ack(&pic), vector);
		ck_assert_uint_eq(vector, want[i]);
		pic_write(&pic, 0xa0, 0x20);
		pic_write(&pic, 0x20, 0x20);
	}
}
END_TEST

/* Special fully nested mode: the slave interrupts while another of its inputs is served. */
START_TEST(pic_special_fully_nested_lets_the_slave_nest)
{
	pic_init_like_linux(false);
	pic_write(&pic, 0x20, 0x11);
	pic_write(&pic, 0x21, 0x20);
	pic_write(&pic, 0x21, 0x04);
	pic_write(&pic, 0x21, 0x11);            /* ICW4: special fully nested */
	pic_write(&pic, 0x21, 0x00);
	pic_set_irq(&pic, 12, 1);
	ck_assert_uint_eq(pic_ack(&pic), 0x2c);
	pic_set_irq(&pic, 9, 1);                /* higher priority at the slave */
	ck_assert(pic_output(&pic));
	ck_assert_uint_eq(pic_ack(&pic), 0x29);
}
END_TEST

START_TEST(pic_elcr_makes_inputs_level_triggered)
{
	pic_init_like_linux(false);
	pic_write(&pic, 0x4d1, 0xff);           /* slave: all that may be level */
	ck_assert_uint_eq(pic_read(&pic, 0x4d1), 0xde);
	pic_write(&pic, 0x4d0, 0x07);           /* master's 0-2 cannot be */
	ck_assert_uint_eq(pic_read(&pic, 0x4d0), 0x00);
	pic_set_irq(&pic, 11, 1);
	ck_assert_uint_eq(pic_ack(&pic), 0x2b);
	pic_write(&pic, 0xa0, 0x20);
	pic_write(&pic, 0x20, 0x20);
	/* Still high: requested again at once; low: gone without an acknowledge. */
	ck_assert(pic_output(&pic));
	pic_set_irq(&pic, 11, 0);
	ck_assert(!pic_output(&pic));
}
END_TEST

/* ---- IOAPIC ---- */

static struct ioapic io;
static unsigned sent;
static unsigned sent_pin;
static uint64_t sent_rte;

static void record(void *user, unsigned pin, uint64_t rte)
{
	(void)user;
	sent++;
	sent_pin = pin;
	sent_rte = rte;
}

static void io_setup(void)
{
	memset(&io, 0, sizeof(io));
	io.deliver = record;
	io.id = 2;
	ioapic_reset(&io);
	sent = 0;
}

static uint32_t io_reg(uint32_t reg)
{
	ioapic_write(&io, 0x00, reg);
	return ioapic_read(&io, 0x10);
}

static void io_set(uint32_t reg, uint32_t value)
{
	ioapic_write(&io, 0x00, reg);
	ioapic_write(&io, 0x10, value);
}

START_TEST(ioapic_identifies_itself_and_keeps_read_only_bits)
{
	ck_assert_uint_eq(io_reg(0x00), 2u << 24);
	ck_assert_uint_eq(io_reg(0x01), 0x00170011);   /* 24 pins, version 0x11 */
	ck_assert_uint_eq(io_reg(0x02), 2u << 24);
	io_set(0x00, 0x0f000000);
	ck_assert_uint_eq(io_reg(0x00), 0x0f000000);
	io_set(0x01, 0);
	ck_assert_uint_eq(io_reg(0x01), 0x00170011);
	/* Every pin masked after a reset. */
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		ck_assert_uint_eq(io_reg(0x10 + 2 * pin), 0x00010000);
	/* The delivery status and the remote IRR cannot be written. */
	io_set(0x12, 0x0001a831 | 1u << 12 | 1u << 14);
	ck_assert_uint_eq(io_reg(0x12), 0x0001a831);
	io_set(0x13, 0x03000000);
	ck_assert_uint_eq(io_reg(0x13), 0x03000000);
	ck_assert_uint_eq(io_reg(0x40), 0xffffffff);   /* no such register */
}
END_TEST

START_TEST(ioapic_edge_pins_send_on_rising_edges_while_unmasked)
{
	io_set(0x18, 0x00010031);               /* pin 4: vector 0x31, edge, masked */
	ioapic_set_irq(&io, 4, 1);
	ck_assert_uint_eq(sent, 0);
	ioapic_set_irq(&io, 4, 0);
	io_set(0x18, 0x00000031);
	ioapic_set_irq(&io, 4, 1);
	ck_assert_uint_eq(sent, 1);
	ck_assert_uint_eq(sent_pin, 4);
	ioapic_set_irq(&io, 4, 1);              /* no edge */
	ck_assert_uint_eq(sent, 1);
	ioapic_set_irq(&io, 4, 0);
	ioapic_set_irq(&io, 4, 1);
	ck_assert_uint_eq(sent, 2);
	ck_assert_uint_eq(sent_rte & 0xff, 0x31);
}
END_TEST

START_TEST(ioapic_level_pins_wait_for_the_eoi)
{
	io_set(0x11 + 2 * 9, 0x01000000);       /* pin 9: to APIC 1 */
	io_set(0x10 + 2 * 9, 0x00008041);       /* vector 0x41, level, unmasked */
	ioapic_set_irq(&io, 9, 1);
	ck_assert_uint_eq(sent, 1);
	ck_assert(io_reg(0x10 + 2 * 9) & (1u << 14));  /* remote IRR */
	ioapic_set_irq(&io, 9, 1);
	ck_assert_uint_eq(sent, 1);             /* not again before the EOI */
	ioapic_eoi(&io, 0x42);                  /* another vector */
	ck_assert_uint_eq(sent, 1);
	ioapic_eoi(&io, 0x41);                  /* line still high: sent again */
	ck_assert_uint_eq(sent, 2);
	ioapic_set_irq(&io, 9, 0);
	ioapic_eoi(&io, 0x41);
	ck_assert_uint_eq(sent, 2);
	ck_assert(!(io_reg(0x10 + 2 * 9) & (1u << 14)));
	/* Masked while high, then unmasked: sent then. */
	io_set(0x10 + 2 * 9, 0x00018041);
	ioapic_set_irq(&io, 9, 1);
	ck_assert_uint_eq(sent, 2);
	io_set(0x10 + 2 * 9, 0x00008041);
	ck_assert_uint_eq(sent, 3);
}
END_TEST

/* An ExtINT pin passes the PIC's interrupt on; its remote IRR must not stick. */
START_TEST(ioapic_extint_pins_never_wait_for_an_eoi)
{
	io_set(0x10, 0x00008700);               /* pin 0: ExtINT, "level", unmasked */
	ioapic_set_irq(&io, 0, 1);
	ck_assert_uint_eq(sent, 1);
	ck_assert(!(io_reg(0x10) & (1u << 14)));
	ioapic_set_irq(&io, 0, 0);
	ioapic_set_irq(&io, 0, 1);
	ck_assert_uint_eq(sent, 2);
}
END_TEST

START_TEST(ioapic_entries_become_msis)
{
	struct ioapic_msi msi;

	/* Fixed, physical, APIC 3, vector 0x30, edge. */
	msi = ioapic_rte_msi(0x0300000000000030ull);
	ck_assert_uint_eq(msi.address, 0xfee03000u);
	ck_assert_uint_eq(msi.data, 0x0030);
	/* Lowest priority, logical, destination 0x0f, vector 0x51, level. */
	msi = ioapic_rte_msi(0x0f00000000008951ull);
	ck_assert_uint_eq(msi.address, 0xfee0f004u);
	ck_assert_uint_eq(msi.data, 0xc151);
	/* NMI. */
	msi = ioapic_rte_msi(0x0000000000000400ull);
	ck_assert_uint_eq(msi.data, 0x0400);
}
END_TEST

/* ---- 8254 ---- */

static struct pit pit;
#define MS 1000000ull
#define T0 (1000 * MS)

/* ns for n PIT clock pulses, rounded up. */
static uint64_t ticks_ns(uint64_t n)
{
	return (n * 1000000000ull + PIT_HZ - 1) / PIT_HZ;
}

START_TEST(pit_is_silent_until_a_count_is_written)
{
	pit_reset(&pit, T0);
	ck_assert_uint_eq(pit_next_irq(&pit, T0 + 100 * MS), UINT64_MAX);
	pit_write(&pit, 0x43, 0x34, T0);        /* channel 0, lo/hi, mode 2 */
	ck_assert_uint_eq(pit_next_irq(&pit, T0), UINT64_MAX);
	pit_write(&pit, 0x40, 0x9c, T0);
	ck_assert_uint_eq(pit_next_irq(&pit, T0), UINT64_MAX);     /* half a count */
	pit_write(&pit, 0x40, 0x2e, T0);        /* 11932: 100 Hz */
	ck_assert_uint_eq(pit_next_irq(&pit, T0), T0 + ticks_ns(11932));
	/* Periodic: the next period's end, whenever asked. */
	ck_assert_uint_eq(pit_next_irq(&pit, T0 + ticks_ns(11932)), T0 + ticks_ns(2 * 11932));
	ck_assert_uint_eq(pit_next_irq(&pit, T0 + 55 * MS), T0 + ticks_ns(6 * 11932));
}
END_TEST

START_TEST(pit_counts_down_and_latches)
{
	uint64_t at = T0 + ticks_ns(1000);
	uint8_t lo, hi;

	pit_reset(&pit, T0);
	pit_write(&pit, 0x43, 0x30, T0);        /* channel 0, lo/hi, mode 0 */
	pit_write(&pit, 0x40, 0x10, T0);
	pit_write(&pit, 0x40, 0x27, T0);        /* 10000 */
	ck_assert(!pit_out(&pit, 0, at));
	pit_write(&pit, 0x43, 0x00, at);        /* latch channel 0 */
	lo = pit_read(&pit, 0x40, at + 5 * MS); /* the latched value, not the live one */
	hi = pit_read(&pit, 0x40, at + 5 * MS);
	ck_assert_uint_eq(lo | hi << 8, 9000);
	lo = pit_read(&pit, 0x40, at);          /* live again */
	hi = pit_read(&pit, 0x40, at);
	ck_assert_uint_eq(lo | hi << 8, 9000);
	/* Mode 0: one interrupt at terminal count, OUT stays high. */
	ck_assert_uint_eq(pit_next_irq(&pit, at), T0 + ticks_ns(10000));
	ck_assert(pit_out(&pit, 0, T0 + ticks_ns(10000)));
	ck_assert_uint_eq(pit_next_irq(&pit, T0 + ticks_ns(10001)), UINT64_MAX);
	/* Read-back of the status: OUT high, mode 0, lo/hi, binary, count loaded. */
	pit_write(&pit, 0x43, 0xe2, T0 + 20 * MS);
	ck_assert_uint_eq(pit_read(&pit, 0x40, T0 + 20 * MS), 0xb0);
	/* Read-back of status and count together: the status first, then both count bytes. */
	pit_write(&pit, 0x43, 0x30, T0);
	pit_write(&pit, 0x40, 0x10, T0);
	pit_write(&pit, 0x40, 0x27, T0);
	pit_write(&pit, 0x43, 0xc2, T0 + ticks_ns(500));
	ck_assert_uint_eq(pit_read(&pit, 0x40, T0 + 9 * MS), 0x30);     /* OUT low, loaded */
	lo = pit_read(&pit, 0x40, T0 + 9 * MS);
	hi = pit_read(&pit, 0x40, T0 + 9 * MS);
	ck_assert_uint_eq(lo | hi << 8, 9500);
	/* Low-byte-only access, and a count of 0 meaning 65536. */
	pit_write(&pit, 0x43, 0x14, T0);        /* channel 0, lo only, mode 2 */
	pit_write(&pit, 0x40, 0x00, T0);
	ck_assert_uint_eq(pit_next_irq(&pit, T0), T0 + ticks_ns(65536));
	ck_assert_uint_eq(pit_read(&pit, 0x40, T0 + ticks_ns(16)), (65536 - 16) & 0xff);
}
END_TEST

START_TEST(pit_channel_2_gate_and_out_on_port_0x61)
{
	pit_reset(&pit, T0);
	ck_assert_uint_eq(pit_read(&pit, 0x61, T0) & 0x03, 0);
	/* Linux's PIT calibration: gate on, speaker off, mode 0, then poll OUT. */
	pit_write(&pit, 0x61, 0x01, T0);
	pit_write(&pit, 0x43, 0xb0, T0);        /* channel 2, lo/hi, mode 0 */
	pit_write(&pit, 0x42, 0xff, T0);
	pit_write(&pit, 0x42, 0xff, T0);
	ck_assert_uint_eq(pit_read(&pit, 0x61, T0 + ticks_ns(100)) & 0x21, 0x01);
	ck_assert_uint_eq(pit_read(&pit, 0x61, T0 + ticks_ns(0xffff)) & 0x21, 0x21);
	/* Channel 2 never raises IRQ 0. */
	ck_assert_uint_eq(pit_next_irq(&pit, T0), UINT64_MAX);
	/* Mode 3's square wave: high for the first half of each period. */
	pit_write(&pit, 0x43, 0xb6, T0);
	pit_write(&pit, 0x42, 100, T0);
	pit_write(&pit, 0x42, 0, T0);
	ck_assert(pit_out(&pit, 2, T0 + ticks_ns(10)));
	ck_assert(!pit_out(&pit, 2, T0 + ticks_ns(60)));
	ck_assert(pit_out(&pit, 2, T0 + ticks_ns(110)));
}
END_TEST

static Suite *irqchip_suite(void)
{
	Suite *s = suite_create("irqchip");
	TCase *tc = tcase_create("pic");

	tcase_add_test(tc, pic_initialization_sets_vectors_and_mask);
	tcase_add_test(tc, pic_priority_eoi_and_nesting);
	tcase_add_test(tc, pic_slave_cascades_through_irq2);
	tcase_add_test(tc, pic_auto_eoi_poll_and_rotation);
	tcase_add_test(tc, pic_elcr_makes_inputs_level_triggered);
	tcase_add_test(tc, pic_vector_is_what_the_ack_will_give_and_changes_nothing);
	tcase_add_test(tc, pic_special_fully_nested_lets_the_slave_nest);
	suite_add_tcase(s, tc);
	tc = tcase_create("ioapic");
	tcase_add_checked_fixture(tc, io_setup, NULL);
	tcase_add_test(tc, ioapic_identifies_itself_and_keeps_read_only_bits);
	tcase_add_test(tc, ioapic_edge_pins_send_on_rising_edges_while_unmasked);
	tcase_add_test(tc, ioapic_level_pins_wait_for_the_eoi);
	tcase_add_test(tc, ioapic_entries_become_msis);
	tcase_add_test(tc, ioapic_extint_pins_never_wait_for_an_eoi);
	suite_add_tcase(s, tc);
	tc = tcase_create("pit");
	tcase_add_test(tc, pit_is_silent_until_a_count_is_written);
	tcase_add_test(tc, pit_counts_down_and_latches);
	tcase_add_test(tc, pit_channel_2_gate_and_out_on_port_0x61);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(irqchip_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
