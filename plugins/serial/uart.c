/* plugins/serial/uart.c - the 16550A register model (National PC16550D datasheet). */

#include <string.h>

#include "uart.h"

/*
 * The divisor latch is not touched by a hardware master reset (its content is
 * undefined); we load 12, i.e. 9600 baud from the PC's 1.8432 MHz clock, as a BIOS
 * would, so a guest that never programs it reads a sensible value.
 */
#define UART_RESET_DIVISOR 12

/*
 * With nothing attached to the modem inputs we report a connected, ready line
 * (CTS, DSR, DCD), as most virtual UARTs do: guests that wait for CTS or DCD work.
 */
#define UART_IDLE_MODEM_LINES (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)

static unsigned uart_rx_capacity(const struct uart *uart)
{
	/* In 16450 mode the receiver has just its holding register. */
	return uart->fcr & UART_FCR_FE ? UART_FIFO_SIZE : 1;
}

static unsigned uart_rx_trigger(const struct uart *uart)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };

	if (!(uart->fcr & UART_FCR_FE))
		return 1;
	return levels[(uart->fcr & UART_FCR_TRIGGER) >> 6];
}

/* The modem status inputs: the MCR outputs in loopback, an idle line otherwise. */
static uint8_t uart_modem_lines(const struct uart *uart)
{
	uint8_t lines = 0;

	if (!(uart->mcr & UART_MCR_LOOP))
		return UART_IDLE_MODEM_LINES;
	if (uart->mcr & UART_MCR_RTS)
		lines |= UART_MSR_CTS;
	if (uart->mcr & UART_MCR_DTR)
		lines |= UART_MSR_DSR;
	if (uart->mcr & UART_MCR_OUT1)
		lines |= UART_MSR_RI;
	if (uart->mcr & UART_MCR_OUT2)
		lines |= UART_MSR_DCD;
	return lines;
}

/* Resamples the modem inputs into MSR, latching the delta bits of what changed. */
static void uart_update_msr(struct uart *uart)
{
	uint8_t old = uart->msr & ~UART_MSR_DELTAS;
	uint8_t lines = uart_modem_lines(uart);
	uint8_t deltas = uart->msr & UART_MSR_DELTAS;
	uint8_t changed = old ^ lines;

	if (changed & UART_MSR_CTS)
		deltas |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		deltas |= UART_MSR_DDSR;
	if (changed & UART_MSR_DCD)
		deltas |= UART_MSR_DDCD;
	/* TERI latches on the trailing edge of RI only. */
	if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
		deltas |= UART_MSR_TERI;
	uart->msr = lines | deltas;
}

/* The highest-priority pending interrupt, as IIR bits 0..3. */
static uint8_t uart_pending(const struct uart *uart)
{
	if ((uart->ier & UART_IER_ELSI) && (uart->lsr & UART_LSR_ERRORS))
		return UART_IIR_RLSI;
	if ((uart->ier & UART_IER_ERBFI) && uart->rx_count) {
		/*
		 * Below the trigger level the chip signals a character timeout after four
		 * character times without FIFO activity. We model no time, so the timeout
		 * is pending at once: the guest sees every byte without waiting for more.
		 */
		if (uart->rx_count >= uart_rx_trigger(uart))
			return UART_IIR_RDI;
		return UART_IIR_CTI;
	}
	if ((uart->ier & UART_IER_ETBEI) && uart->is_thr_pending)
		return UART_IIR_THRI;
	if ((uart->ier & UART_IER_EDSSI) && (uart->msr & UART_MSR_DELTAS))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

/*
 * Reports the IRQ output when it changes. It is not gated by MCR.OUT2 (the PC's
 * board logic does that on real hardware): like QEMU we leave it to the guest, since
 * simple guests enable interrupts without setting OUT2.
 */
static void uart_update_irq(struct uart *uart)
{
	int level = uart_pending(uart) != UART_IIR_NO_INT;

	if (level == uart->irq_level)
		return;
	uart->irq_level = level;
	if (uart->ops && uart->ops->set_irq)
		uart->ops->set_irq(uart->opaque, level);
}

static void uart_rx_clear(struct uart *uart)
{
	uart->rx_head = 0;
	uart->rx_count = 0;
	uart->lsr &= ~(UART_LSR_DR | UART_LSR_RXFE);
}

/* A byte reached the receiver (from the line or the loopback path). */
static void uart_rx_byte(struct uart *uart, uint8_t byte)
{
	unsigned capacity = uart_rx_capacity(uart);

	if (uart->rx_count >= capacity) {
		uart->lsr |= UART_LSR_OE;
		uart->overrun_count++;
		/*
		 * A 16450 overwrites its holding register; a 16550 in FIFO mode keeps the
		 * FIFO and loses the byte in the shift register.
		 */
		if (capacity == 1)
			uart->rx_fifo[uart->rx_head] = byte;
		return;
	}
	uart->rx_fifo[(uart->rx_head + uart->rx_count) % UART_FIFO_SIZE] = byte;
	uart->rx_count++;
	uart->lsr |= UART_LSR_DR;
}

static uint8_t uart_rx_pop(struct uart *uart)
{
	uint8_t byte;

	if (!uart->rx_count)
		return 0;
	byte = uart->rx_fifo[uart->rx_head];
	uart->rx_head = (uart->rx_head + 1) % UART_FIFO_SIZE;
	if (!--uart->rx_count)
		uart->lsr &= ~UART_LSR_DR;
	return byte;
}

/* Asks the environment for as much input as fits. The receiver is cut off in loopback. */
static void uart_pull_input(struct uart *uart)
{
	uint8_t buf[UART_FIFO_SIZE];
	size_t room, count, i;

	if (!uart->ops || !uart->ops->pull_input || (uart->mcr & UART_MCR_LOOP))
		return;
	while ((room = uart_rx_capacity(uart) - uart->rx_count) > 0) {
		count = uart->ops->pull_input(uart->opaque, buf, room);
		if (!count)
			break;
		if (count > room)       /* a misbehaving environment must not overrun us */
			count = room;
		for (i = 0; i < count; i++)
			uart_rx_byte(uart, buf[i]);
	}
}

static void uart_set_registers(struct uart *uart)
{
	uart->ier = 0;
	uart->lcr = 0;
	uart->mcr = 0;
	uart->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	uart->msr = uart_modem_lines(uart);
	uart->scr = 0;
	uart->fcr = 0;
	uart->dll = UART_RESET_DIVISOR & 0xff;
	uart->dlm = UART_RESET_DIVISOR >> 8;
	uart->is_thr_pending = false;
	uart_rx_clear(uart);
}

static uint8_t uart_read_iir(struct uart *uart)
{
	uint8_t id = uart_pending(uart);

	/* Reading IIR acknowledges a THRE interrupt when it is the one reported. */
	if (id == UART_IIR_THRI) {
		uart->is_thr_pending = false;
		uart_update_irq(uart);
	}
	return id | (uart->fcr & UART_FCR_FE ? UART_IIR_FIFO : 0);
}

static void uart_write_thr(struct uart *uart, uint8_t value)
{
	uart->is_thr_pending = false;
	uart->lsr &= ~(UART_LSR_THRE | UART_LSR_TEMT);
	if (uart->mcr & UART_MCR_LOOP)
		uart_rx_byte(uart, value);
	else if (uart->ops && uart->ops->transmit)
		uart->ops->transmit(uart->opaque, value);
	/* The byte left at once: THR is empty again and raises THRE anew. */
	uart->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
	uart->is_thr_pending = true;
}

static void uart_write_ier(struct uart *uart, uint8_t value)
{
	uint8_t old = uart->ier;

	uart->ier = value & UART_IER_MASK;
	/*
	 * Setting ETBEI while THR is empty raises THRE even if an IIR read acknowledged it
	 * before. Not in the datasheet, but real 16550s do it and Linux's 8250 driver tests
	 * for it (UART_BUG_THRE); we resample on the rising edge, like Bochs and QEMU.
	 */
	if ((uart->ier & UART_IER_ETBEI) && !(old & UART_IER_ETBEI))
		uart->is_thr_pending = (uart->lsr & UART_LSR_THRE) != 0;
}

static void uart_write_fcr(struct uart *uart, uint8_t value)
{
	/*
	 * Switching between 16450 and FIFO mode empties both FIFOs. Otherwise the other
	 * bits are only programmed when FE is written as 1 with them (datasheet, FCR0):
	 * in 16450 mode a write of RFR alone leaves the holding register alone.
	 */
	if ((value ^ uart->fcr) & UART_FCR_FE)
		value |= UART_FCR_RFR | UART_FCR_XFR;
	else if (!(value & UART_FCR_FE))
		return;
	if (value & UART_FCR_RFR)
		uart_rx_clear(uart);
	/* The transmit FIFO is always empty here; clearing it reports THR empty. */
	if (value & UART_FCR_XFR)
		uart->is_thr_pending = true;
	/* The other bits only take when FIFOs are enabled in the same write. */
	uart->fcr = value & UART_FCR_FE ? value & (UART_FCR_FE | UART_FCR_DMA | UART_FCR_TRIGGER) : 0;
	uart_pull_input(uart);
}

static void uart_write_mcr(struct uart *uart, uint8_t value)
{
	bool was_loop = uart->mcr & UART_MCR_LOOP;

	uart->mcr = value & UART_MCR_MASK;
	uart_update_msr(uart);
	if (was_loop && !(uart->mcr & UART_MCR_LOOP))
		uart_pull_input(uart);      /* the receiver is connected again */
}

uint8_t uart_read(struct uart *uart, unsigned offset)
{
	bool is_dlab = uart->lcr & UART_LCR_DLAB;
	uint8_t value;

	switch (offset) {
	case UART_RBR:
		if (is_dlab)
			return uart->dll;
		value = uart_rx_pop(uart);
		uart_pull_input(uart);
		uart_update_irq(uart);
		return value;
	case UART_IER:
		return is_dlab ? uart->dlm : uart->ier;
	case UART_IIR:
		return uart_read_iir(uart);
	case UART_LCR:
		return uart->lcr;
	case UART_MCR:
		return uart->mcr;
	case UART_LSR:
		value = uart->lsr;
		uart->lsr &= ~(UART_LSR_ERRORS | UART_LSR_RXFE);
		uart_update_irq(uart);
		return value;
	case UART_MSR:
		value = uart->msr;
		uart->msr &= ~UART_MSR_DELTAS;
		uart_update_irq(uart);
		return value;
	case UART_SCR:
		return uart->scr;
	}
	return 0xff;
}

void uart_write(struct uart *uart, unsigned offset, uint8_t value)
{
	bool is_dlab = uart->lcr & UART_LCR_DLAB;

	switch (offset) {
	case UART_THR:
		if (is_dlab)
			uart->dll = value;
		else
			uart_write_thr(uart, value);
		break;
	case UART_IER:
		if (is_dlab)
			uart->dlm = value;
		else
			uart_write_ier(uart, value);
		break;
	case UART_FCR:
		uart_write_fcr(uart, value);
		break;
	case UART_LCR:
		uart->lcr = value;
		break;
	case UART_MCR:
		uart_write_mcr(uart, value);
		break;
	case UART_LSR:
	case UART_MSR:
		break;      /* read-only (LSR writes are a factory test mode) */
	case UART_SCR:
		uart->scr = value;
		break;
	default:
		return;
	}
	uart_update_irq(uart);
}

void uart_input_available(struct uart *uart)
{
	uart_pull_input(uart);
	uart_update_irq(uart);
}

void uart_init(struct uart *uart, const struct uart_ops *ops, void *opaque)
{
	memset(uart, 0, sizeof(*uart));
	uart->ops = ops;
	uart->opaque = opaque;
	uart->irq_level = 0;
	uart_set_registers(uart);
}

void uart_reset(struct uart *uart)
{
	uart_set_registers(uart);
	uart_pull_input(uart);
	uart_update_irq(uart);
}
