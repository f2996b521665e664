/*
 * vmm/pit.c - the 8254 programmable interval timer as a pure register model
 * ([vm] irqchip = split; see vmm/irqchip.h). The caller passes the time, in
 * nanoseconds of any monotonic clock, to every call.
 *
 * A channel's count is computed from when it was loaded, at 1.193182 MHz, so reading
 * it costs nothing while it runs. Modes 0-5 count and drive OUT as the data sheet
 * says, with these simplifications, which are QEMU's too: the gate of channel 2
 * (port 0x61 bit 0) restarts modes 1, 2, 3 and 5 on its rising edge and is otherwise
 * ignored, and BCD counting is reported in the status but counts in binary.
 * Channels 0 and 1 have their gate tied high. As with KVM's in-kernel PIT, nothing
 * counts after a reset until the guest writes a count: no interrupt comes unasked.
 */
#include "vmm/irqchip.h"

#define PIT_PORT_CONTROL 0x43
#define PIT_PORT_GATE    0x61
#define PIT_NS           1000000000u
#define PIT_REFRESH_NS   15085u         /* port 0x61 bit 4 toggles at ~66 kHz */

static uint64_t pit_ticks(const struct pit_channel *c, uint64_t now_ns)
{
	if (now_ns <= c->load_ns)
		return 0;
	return (uint64_t)((unsigned __int128)(now_ns - c->load_ns) * PIT_HZ / PIT_NS);
}

/* The first nanosecond at which ticks clock pulses have passed since the load. */
static uint64_t pit_ns_at(const struct pit_channel *c, uint64_t ticks)
{
	return c->load_ns + (uint64_t)(((unsigned __int128)ticks * PIT_NS + PIT_HZ - 1) / PIT_HZ);
}

static uint16_t pit_count(const struct pit_channel *c, uint64_t now_ns)
{
	uint64_t d = pit_ticks(c, now_ns);

	if (!c->is_loaded)
		return (uint16_t)c->reload;
	switch (c->mode) {
	case 2:
		return (uint16_t)(c->reload - d % c->reload);
	case 3:
		return (uint16_t)(c->reload - (2 * d) % c->reload);
	default:        /* 0, 1, 4, 5: one pass down, then wrapping from 0xffff */
		return (uint16_t)((c->reload - d) & 0xffff);
	}
}

static bool pit_channel_out(const struct pit_channel *c, uint64_t now_ns)
{
	uint64_t d = pit_ticks(c, now_ns);

	if (!c->is_loaded)
		return c->mode != 0;    /* mode 0 drives OUT low from its control word on */
	switch (c->mode) {
	case 0:                 /* high once the count ends */
	case 1:                 /* low from the trigger until the count ends */
		return d >= c->reload;
	case 2:
		return d % c->reload != c->reload - 1;  /* low for the clock at count 1 */
	case 3:
		return d % c->reload < (c->reload + 1) / 2;
	default:        /* 4, 5: a low pulse of one clock at the end of the count */
		return d != c->reload;
	}
}

bool pit_out(const struct pit *pit, unsigned channel, uint64_t now_ns)
{
	return channel < 3 && pit_channel_out(&pit->ch[channel], now_ns);
}

void pit_reset(struct pit *pit, uint64_t now_ns)
{
	*pit = (struct pit){ 0 };
	for (unsigned i = 0; i < 3; i++)
		pit->ch[i] = (struct pit_channel){
			.reload = 0x10000, .load_ns = now_ns, .mode = 3, .access = 3,
			.gate = i != 2,
		};
}

uint64_t pit_next_irq(const struct pit *pit, uint64_t now_ns)
{
	const struct pit_channel *c = &pit->ch[0];
	uint64_t d = pit_ticks(c, now_ns);

	if (!c->is_loaded)
		return UINT64_MAX;
	switch (c->mode) {
	case 0:
	case 4:                 /* once, at the end of the count */
		return d < c->reload ? pit_ns_at(c, c->reload) : UINT64_MAX;
	case 2:
	case 3:                 /* at the end of every period */
		return pit_ns_at(c, (d / c->reload + 1) * c->reload);
	default:                /* 1, 5: need a gate edge, and channel 0's gate is tied high */
		return UINT64_MAX;
	}
}

static uint8_t pit_status(const struct pit_channel *c, uint64_t now_ns)
{
	return (uint8_t)((pit_channel_out(c, now_ns) ? 0x80 : 0) | (c->is_loaded ? 0 : 0x40) |
			 c->access << 4 | c->mode << 1 | (c->is_bcd ? 1 : 0));
}

static void pit_latch_count(struct pit_channel *c, uint64_t now_ns)
{
	if (c->is_count_latched)
		return;                 /* a second latch before the first was read is ignored */
	c->latched_count = pit_count(c, now_ns);
	c->is_count_latched = true;
	c->latch_high = false;
}

static void pit_control(struct pit *pit, uint8_t value, uint64_t now_ns)
{
	unsigned sc = value >> 6;
	struct pit_channel *c;

	if (sc == 3) {                  /* read-back: bits 1-3 choose the channels */
		for (unsigned i = 0; i < 3; i++) {
			c = &pit->ch[i];
			if (!(value & (2u << i)))
				continue;
			if (!(value & 0x20))
				pit_latch_count(c, now_ns);
			if (!(value & 0x10) && !c->is_status_latched) {
				c->latched_status = pit_status(c, now_ns);
				c->is_status_latched = true;
			}
		}
		return;
	}
	c = &pit->ch[sc];
	if (!(value & 0x30)) {          /* counter latch command */
		pit_latch_count(c, now_ns);
		return;
	}
	c->access = (value >> 4) & 3;
	c->mode = (value >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;           /* 6 and 7 are 2 and 3 */
	c->is_bcd = value & 1;
	c->is_loaded = false;
	c->write_high = c->read_high = false;
	c->is_count_latched = c->is_status_latched = false;
}

static void pit_load(struct pit_channel *c, uint32_t count, uint64_t now_ns)
{
	c->reload = count ? count : 0x10000;
	c->load_ns = now_ns;
	c->is_loaded = true;
}

void pit_write(struct pit *pit, uint16_t port, uint8_t value, uint64_t now_ns)
{
	struct pit_channel *c;

	if (port == PIT_PORT_GATE) {
		c = &pit->ch[2];
		pit->speaker_data = value & 0x02;
		if ((value & 1) && !c->gate && c->mode != 0 && c->mode != 4)
			c->load_ns = now_ns;    /* a rising gate (re)starts modes 1, 2, 3, 5 */
		c->gate = value & 1;
		return;
	}
	if (port == PIT_PORT_CONTROL) {
		pit_control(pit, value, now_ns);
		return;
	}
	if (port < 0x40 || port > 0x42)
		return;
	c = &pit->ch[port - 0x40];
	switch (c->access) {
	case 1:
		pit_load(c, value, now_ns);
		break;
	case 2:
		pit_load(c, (uint32_t)value << 8, now_ns);
		break;
	default:
		if (!c->write_high) {
			c->write_low = value;
			c->write_high = true;
		} else {
			c->write_high = false;
			pit_load(c, c->write_low | (uint32_t)value << 8, now_ns);
		}
		break;
	}
}

/* One byte of a 16-bit count, as the channel's access mode orders them. */
static uint8_t pit_byte(uint8_t access, bool *high, uint16_t count)
{
	bool is_high = access == 2 || (access == 3 && *high);

	if (access == 3)
		*high = !*high;
	return (uint8_t)(is_high ? count >> 8 : count);
}

uint8_t pit_read(struct pit *pit, uint16_t port, uint64_t now_ns)
{
	struct pit_channel *c;

	if (port == PIT_PORT_GATE)
		return (uint8_t)((pit_channel_out(&pit->ch[2], now_ns) ? 0x20 : 0) |
				 ((now_ns / PIT_REFRESH_NS) & 1 ? 0x10 : 0) |
				 (pit->speaker_data ? 0x02 : 0) | (pit->ch[2].gate ? 0x01 : 0));
	if (port < 0x40 || port > 0x42)
		return 0xff;            /* the control word cannot be read */
	c = &pit->ch[port - 0x40];
	if (c->is_status_latched) {
		c->is_status_latched = false;
		return c->latched_status;
	}
	if (c->is_count_latched) {
		uint8_t byte = pit_byte(c->access, &c->latch_high, c->latched_count);

		if (c->access != 3 || !c->latch_high)
			c->is_count_latched = false;    /* every byte of it was read */
		return byte;
	}
	return pit_byte(c->access, &c->read_high, pit_count(c, now_ns));
}
