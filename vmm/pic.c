/*
 * vmm/pic.c - the 8259A programmable interrupt controller pair of a PC, as a pure
 * register model ([vm] irqchip = split; see vmm/irqchip.h).
 *
 * What guests use of it: the initialization words (ICW1-4, with ICW4's auto-EOI and
 * special fully nested modes), the mask, specific and non-specific EOIs with and
 * without rotation, priority rotation, reading IRR or ISR, poll mode, the special
 * mask mode, and the edge/level control registers (ELCR) at 0x4d0/0x4d1.
 * Not modelled: MCS-80/85 mode (ICW1 bit 0 clear with 8080 vectors) and ICW1's
 * level-triggered bit (the ELCR is what PCs use); buffered mode has no effect here.
 */
#include "vmm/irqchip.h"

#define PIC_SLAVE_INPUT 2

/* Priority (0 highest) of the highest-priority bit in mask, or 8 when mask is empty. */
static unsigned pic_priority(const struct pic_chip *c, uint8_t mask)
{
	unsigned p = 0;

	if (!mask)
		return 8;
	while (!(mask & (1u << ((p + c->lowest) & 7))))
		p++;
	return p;
}

/* The input this chip would interrupt with now, or -1. */
static int pic_pending(const struct pic_chip *c, bool is_master)
{
	unsigned want = pic_priority(c, c->irr & ~c->imr);
	uint8_t in_service = c->isr;

	if (want == 8)
		return -1;
	if (c->is_special_mask)
		in_service &= ~c->imr;
	/* Special fully nested: the slave may interrupt while one of its inputs is served. */
	if (c->is_special_nested && is_master)
		in_service &= ~(1u << PIC_SLAVE_INPUT);
	return want < pic_priority(c, in_service) ? (int)((want + c->lowest) & 7) : -1;
}

static void pic_input(struct pic_chip *c, unsigned input, int level)
{
	uint8_t bit = (uint8_t)(1u << input);

	if (c->elcr & bit) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= ~bit;
	} else if (level && !(c->line & bit)) {
		c->irr |= bit;          /* a rising edge */
	}
	if (level)
		c->line |= bit;
	else
		c->line &= ~bit;
}

/*
 * The slave's output is the master's input 2: requested exactly while the slave has
 * an interrupt to give. So a second request of the slave's reaches the master once the
 * first was acknowledged, though the wire never went low in between (QEMU pulses it
 * for the same reason), and a request withdrawn at the slave (a level line that fell)
 * is withdrawn at the master too, rather than ending as a spurious IRQ 15.
 */
static void pic_cascade(struct pic *pic)
{
	struct pic_chip *m = &pic->chip[0];

	if (pic_pending(&pic->chip[1], false) >= 0)
		m->irr |= 1u << PIC_SLAVE_INPUT;
	else
		m->irr &= (uint8_t)~(1u << PIC_SLAVE_INPUT);
}

/* ICW1: everything but the ELCR and, as QEMU keeps them, level-triggered requests. */
static void pic_chip_reset(struct pic_chip *c)
{
	*c = (struct pic_chip){ .elcr = c->elcr, .elcr_mask = c->elcr_mask,
				.irr = c->irr & c->elcr, .line = c->line & c->elcr };
}

void pic_reset(struct pic *pic)
{
	*pic = (struct pic){ 0 };
	/* Inputs 0-2 of the master and 0 and 5 of the slave are edge-only (timer, keyboard...). */
	pic->chip[0].elcr_mask = 0xf8;
	pic->chip[1].elcr_mask = 0xde;
}

void pic_set_irq(struct pic *pic, unsigned irq, int level)
{
	if (irq >= 16)
		return;
	if (irq >= 8) {
		pic_input(&pic->chip[1], irq - 8, level);
		pic_cascade(pic);
	} else {
		pic_input(&pic->chip[0], irq, level);
	}
}

bool pic_output(const struct pic *pic)
{
	return pic_pending(&pic->chip[0], true) >= 0;
}

/* One chip's part of an acknowledge: the input leaves IRR and, without auto-EOI, enters ISR. */
static void pic_ack_input(struct pic_chip *c, unsigned input)
{
	uint8_t bit = (uint8_t)(1u << input);

	if (!(c->elcr & bit))
		c->irr &= ~bit;         /* a level-triggered request stays while its line is high */
	if (c->is_auto_eoi) {
		if (c->is_rotate_auto_eoi)
			c->lowest = (uint8_t)((input + 1) & 7);
	} else {
		c->isr |= bit;
	}
}

uint8_t pic_vector(const struct pic *pic)
{
	const struct pic_chip *m = &pic->chip[0], *s = &pic->chip[1];
	int irq = pic_pending(m, true), sirq;

	if (irq < 0)
		return (uint8_t)(m->base + 7);
	if (irq != PIC_SLAVE_INPUT)
		return (uint8_t)(m->base + irq);
	sirq = pic_pending(s, false);
	return (uint8_t)(s->base + (sirq >= 0 ? sirq : 7));
}

uint8_t pic_ack(struct pic *pic)
{
	struct pic_chip *m = &pic->chip[0], *s = &pic->chip[1];
	int irq = pic_pending(m, true);
	uint8_t vector;

	if (irq < 0)
		return (uint8_t)(m->base + 7);  /* spurious: IRQ 7's vector, nothing in service */
	pic_ack_input(m, (unsigned)irq);
	if (irq == PIC_SLAVE_INPUT) {
		int sirq = pic_pending(s, false);

		if (sirq >= 0) {
			pic_ack_input(s, (unsigned)sirq);
			vector = (uint8_t)(s->base + sirq);
		} else {
			vector = (uint8_t)(s->base + 7);
		}
		pic_cascade(pic);
	} else {
		vector = (uint8_t)(m->base + irq);
	}
	return vector;
}

/* Poll mode: the read is the acknowledge; bit 7 says whether there was an interrupt. */
static uint8_t pic_poll(struct pic *pic, struct pic_chip *c)
{
	int irq = pic_pending(c, c == &pic->chip[0]);

	c->is_poll = false;
	if (irq < 0)
		return 0;
	pic_ack_input(c, (unsigned)irq);
	pic_cascade(pic);
	return (uint8_t)(0x80 | irq);
}

uint8_t pic_read(struct pic *pic, uint16_t port)
{
	struct pic_chip *c;

	if (port == 0x4d0 || port == 0x4d1)
		return pic->chip[port & 1].elcr;
	c = &pic->chip[(port & 0x80) ? 1 : 0];
	if (c->is_poll)
		return pic_poll(pic, c);
	if (port & 1)
		return c->imr;
	return c->reads_isr ? c->isr : c->irr;
}

/* OCW2: the EOI and rotation commands. */
static void pic_ocw2(struct pic_chip *c, uint8_t value)
{
	unsigned cmd = value >> 5, input = value & 7, p;

	switch (cmd) {
	case 0:                 /* clear rotate in auto-EOI mode */
	case 4:                 /* set it */
		c->is_rotate_auto_eoi = cmd == 4;
		break;
	case 1:                 /* non-specific EOI */
	case 5:                 /* ... and rotate */
		p = pic_priority(c, c->isr);
		if (p == 8)
			break;
		input = (p + c->lowest) & 7;
		c->isr &= (uint8_t)~(1u << input);
		if (cmd == 5)
			c->lowest = (uint8_t)((input + 1) & 7);
		break;
	case 3:                 /* specific EOI */
		c->isr &= (uint8_t)~(1u << input);
		break;
	case 6:                 /* set priority: input becomes the lowest */
		c->lowest = (uint8_t)((input + 1) & 7);
		break;
	case 7:                 /* specific EOI and rotate */
		c->isr &= (uint8_t)~(1u << input);
		c->lowest = (uint8_t)((input + 1) & 7);
		break;
	default:                /* 2: no operation */
		break;
	}
}

void pic_write(struct pic *pic, uint16_t port, uint8_t value)
{
	struct pic_chip *c;

	if (port == 0x4d0 || port == 0x4d1) {
		c = &pic->chip[port & 1];
		c->elcr = value & c->elcr_mask;
		return;
	}
	c = &pic->chip[(port & 0x80) ? 1 : 0];
	if (!(port & 1)) {
		if (value & 0x10) {             /* ICW1: start initializing */
			pic_chip_reset(c);
			c->needs_icw4 = value & 1;
			c->is_single = value & 2;
			c->init_step = 2;
		} else if (value & 0x08) {      /* OCW3 */
			if (value & 0x04)
				c->is_poll = true;
			if (value & 0x02)
				c->reads_isr = value & 1;
			if (value & 0x40)
				c->is_special_mask = value & 0x20;
		} else {
			pic_ocw2(c, value);
		}
	} else {
		switch (c->init_step) {
		case 2:                         /* ICW2: the vector base */
			c->base = value & 0xf8;
			c->init_step = c->is_single ? (c->needs_icw4 ? 4 : 0) : 3;
			break;
		case 3:                         /* ICW3: the cascade wiring, fixed on a PC */
			c->init_step = c->needs_icw4 ? 4 : 0;
			break;
		case 4:                         /* ICW4 */
			c->is_auto_eoi = value & 0x02;
			c->is_special_nested = value & 0x10;
			c->init_step = 0;
			break;
		default:                        /* OCW1: the mask */
			c->imr = value;
			break;
		}
	}
	pic_cascade(pic);
}
