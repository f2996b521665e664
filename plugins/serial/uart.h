/*
 * plugins/serial/uart.h - a pure 16550A register model, testable without the core.
 *
 * The model holds the registers and the 16-byte receive FIFO and talks to its
 * environment only through struct uart_ops: transmit a byte, set the IRQ output level,
 * pull input bytes. It never blocks and never allocates.
 *
 * Invariants:
 *   - Transmission completes instantly (no baud-rate timing): THR and the transmit
 *     shift register are empty again when uart_write returns, so LSR.THRE and
 *     LSR.TEMT read 1 outside the transmit callback.
 *   - Input is pulled, never pushed: the model calls ops->pull_input whenever its
 *     receive FIFO has room and the receiver is connected (not in loopback), asking for
 *     at most the room it has. So input from the environment is never lost; only
 *     loopback can overrun the FIFO (LSR.OE).
 *   - ops->set_irq is called only when the IRQ output changes level, starting from 0.
 *   - The caller serialises all calls (the serial device does it with its device lock);
 *     the callbacks run inside those calls and must not re-enter the model.
 *
 * Register offsets are those of the PC 16550A (0..7); others read 0xff and ignore
 * writes. Accesses are byte-wide; the glue splits wider ones as the ISA bus would.
 */
#ifndef PLUGINS_SERIAL_UART_H
#define PLUGINS_SERIAL_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register offsets (read / write; DLAB is LCR bit 7). */
#define UART_RBR 0      /* receive buffer (read, DLAB=0) */
#define UART_THR 0      /* transmit holding (write, DLAB=0) */
#define UART_DLL 0      /* divisor latch low (DLAB=1) */
#define UART_IER 1      /* interrupt enable (DLAB=0) */
#define UART_DLM 1      /* divisor latch high (DLAB=1) */
#define UART_IIR 2      /* interrupt identification (read) */
#define UART_FCR 2      /* FIFO control (write) */
#define UART_LCR 3      /* line control */
#define UART_MCR 4      /* modem control */
#define UART_LSR 5      /* line status */
#define UART_MSR 6      /* modem status */
#define UART_SCR 7      /* scratch */
#define UART_REG_COUNT 8

#define UART_IER_ERBFI 0x01     /* received data available */
#define UART_IER_ETBEI 0x02     /* transmitter holding register empty */
#define UART_IER_ELSI 0x04      /* receiver line status */
#define UART_IER_EDSSI 0x08     /* modem status */
#define UART_IER_MASK 0x0f

#define UART_IIR_NO_INT 0x01    /* no interrupt pending */
#define UART_IIR_MSI 0x00       /* modem status */
#define UART_IIR_THRI 0x02      /* transmitter holding register empty */
#define UART_IIR_RDI 0x04       /* received data available */
#define UART_IIR_RLSI 0x06      /* receiver line status */
#define UART_IIR_CTI 0x0c       /* character timeout (FIFO mode) */
#define UART_IIR_FIFO 0xc0      /* FIFOs enabled */

#define UART_FCR_FE 0x01        /* FIFO enable */
#define UART_FCR_RFR 0x02       /* clear the receive FIFO (self-clearing) */
#define UART_FCR_XFR 0x04       /* clear the transmit FIFO (self-clearing) */
#define UART_FCR_DMA 0x08       /* DMA mode select */
#define UART_FCR_TRIGGER 0xc0   /* receive trigger level: 1, 4, 8, 14 bytes */

#define UART_LCR_DLAB 0x80      /* divisor latch access */

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f

#define UART_LSR_DR 0x01        /* data ready */
#define UART_LSR_OE 0x02        /* overrun error */
#define UART_LSR_PE 0x04        /* parity error */
#define UART_LSR_FE 0x08        /* framing error */
#define UART_LSR_BI 0x10        /* break interrupt */
#define UART_LSR_THRE 0x20      /* transmitter holding register empty */
#define UART_LSR_TEMT 0x40      /* transmitter empty */
#define UART_LSR_RXFE 0x80      /* error in receive FIFO */
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

#define UART_FIFO_SIZE 16

/* What the model needs from its environment. Every member is optional. */
struct uart_ops {
	/* A byte left the transmitter (not called in loopback mode). */
	void (*transmit)(void *opaque, uint8_t byte);
	/* The IRQ output changed to level (0 or 1). */
	void (*set_irq)(void *opaque, int level);
	/* Copy up to len input bytes into buf; return how many (0: none waiting). */
	size_t (*pull_input)(void *opaque, uint8_t *buf, size_t len);
};

struct uart {
	const struct uart_ops *ops;
	void *opaque;

	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	bool is_thr_pending;            /* the THRE interrupt source is latched */
	int irq_level;                  /* the IRQ output, as last reported */

	uint8_t rx_fifo[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;

	uint64_t overrun_count;         /* bytes lost to receive overruns */
};

/* Sets up the model in its reset state; no callback is called. */
void uart_init(struct uart *uart, const struct uart_ops *ops, void *opaque);
/* Master reset: registers to their reset values, FIFO emptied, then input pulled. */
void uart_reset(struct uart *uart);
/* A guest read of register offset (0..7); reads may have side effects. */
uint8_t uart_read(struct uart *uart, unsigned offset);
/* A guest write of register offset (0..7). */
void uart_write(struct uart *uart, unsigned offset, uint8_t value);
/* The environment has input waiting: pull what fits and update the IRQ. */
void uart_input_available(struct uart *uart);

#endif
