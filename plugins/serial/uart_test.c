/* plugins/serial/uart_test.c - tests of the pure 16550A model. */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "uart.h"

/* The model's environment: records what it is told, serves scripted input. */
struct env {
	uint8_t tx[64];
	size_t tx_count;
	int irq_level;
	unsigned irq_calls;
	uint8_t input[64];
	size_t input_len, input_pos;
	unsigned pull_calls;
	size_t last_pull_len;
};

static struct env env;
static struct uart uart;

static void env_transmit(void *opaque, uint8_t byte)
{
	struct env *e = opaque;

	if (e->tx_count < sizeof(e->tx))
		e->tx[e->tx_count] = byte;
	e->tx_count++;
}

static void env_set_irq(void *opaque, int level)
{
	struct env *e = opaque;

	ck_assert_int_ne(level, e->irq_level);      /* only changes are reported */
	e->irq_level = level;
	e->irq_calls++;
}

static size_t env_pull_input(void *opaque, uint8_t *buf, size_t len)
{
	struct env *e = opaque;
	size_t count = e->input_len - e->input_pos;

	e->pull_calls++;
	e->last_pull_len = len;
	if (count > len)
		count = len;
	memcpy(buf, e->input + e->input_pos, count);
	e->input_pos += count;
	return count;
}

static const struct uart_ops env_ops = {
	.transmit = env_transmit,
	.set_irq = env_set_irq,
	.pull_input = env_pull_input,
};

static void setup(void)
{
	memset(&env, 0, sizeof(env));
	uart_init(&uart, &env_ops, &env);
}

static void env_queue_input(const char *text)
{
	size_t len = strlen(text);

	ck_assert_uint_le(env.input_len + len, sizeof(env.input));
	memcpy(env.input + env.input_len, text, len);
	env.input_len += len;
}

static void enter_loopback(void)
{
	uart_write(&uart, UART_MCR, UART_MCR_LOOP);
}

/* Reset. */

START_TEST(lsr_reports_thre_and_temt_after_reset)
{
	ck_assert_uint_eq(uart_read(&uart, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}
END_TEST

START_TEST(registers_hold_their_reset_values)
{
	ck_assert_uint_eq(uart_read(&uart, UART_IER), 0);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
	ck_assert_uint_eq(uart_read(&uart, UART_LCR), 0);
	ck_assert_uint_eq(uart_read(&uart, UART_MCR), 0);
	ck_assert_uint_eq(uart_read(&uart, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
	ck_assert_uint_eq(uart_read(&uart, UART_SCR), 0);
	ck_assert_int_eq(env.irq_calls, 0);
}
END_TEST

START_TEST(reset_undoes_guest_writes_and_lowers_the_irq)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	uart_write(&uart, UART_SCR, 0x5a);
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	ck_assert_int_eq(env.irq_level, 1);
	enter_loopback();
	uart_write(&uart, UART_THR, 'x');
	uart_write(&uart, UART_LCR, 0x1b);

	uart_reset(&uart);
	ck_assert_int_eq(env.irq_level, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_IER), 0);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
	ck_assert_uint_eq(uart_read(&uart, UART_LCR), 0);
	ck_assert_uint_eq(uart_read(&uart, UART_MCR), 0);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ck_assert_uint_eq(uart_read(&uart, UART_SCR), 0);
}
END_TEST

START_TEST(reset_pulls_waiting_input)
{
	env_queue_input("ab");
	uart_reset(&uart);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'a');
}
END_TEST

/* Registers. */

START_TEST(divisor_latch_is_reached_only_with_dlab_set)
{
	uart_write(&uart, UART_LCR, UART_LCR_DLAB | 0x03);
	uart_write(&uart, UART_DLL, 0x01);
	uart_write(&uart, UART_DLM, 0x02);
	ck_assert_uint_eq(uart_read(&uart, UART_DLL), 0x01);
	ck_assert_uint_eq(uart_read(&uart, UART_DLM), 0x02);
	ck_assert_uint_eq(env.tx_count, 0);                     /* DLL write sent nothing */
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);  /* IER untouched */

	uart_write(&uart, UART_LCR, 0x03);
	ck_assert_uint_eq(uart_read(&uart, UART_IER), 0);
	uart_write(&uart, UART_IER, UART_IER_ERBFI);
	uart_write(&uart, UART_LCR, UART_LCR_DLAB | 0x03);
	ck_assert_uint_eq(uart_read(&uart, UART_DLL), 0x01);
	ck_assert_uint_eq(uart_read(&uart, UART_DLM), 0x02);
	ck_assert_uint_eq(uart_read(&uart, UART_LCR), UART_LCR_DLAB | 0x03);
}
END_TEST

START_TEST(registers_other_than_the_divisor_latch_ignore_dlab)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	uart_write(&uart, UART_LCR, UART_LCR_DLAB);
	uart_write(&uart, UART_MCR, UART_MCR_DTR);
	uart_write(&uart, UART_SCR, 0x77);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	ck_assert_uint_eq(uart_read(&uart, UART_MCR), UART_MCR_DTR);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ck_assert_uint_eq(uart_read(&uart, UART_SCR), 0x77);
	/* DLAB set: neither the DLL nor the DLM write reached THR or IER. */
	uart_write(&uart, UART_DLL, 0x55);
	uart_write(&uart, UART_DLM, UART_IER_ETBEI);
	ck_assert_uint_eq(env.tx_count, 0);
	ck_assert_int_eq(env.irq_level, 0);
	uart_write(&uart, UART_LCR, 0x03);
	ck_assert_uint_eq(uart_read(&uart, UART_IER), 0);
}
END_TEST

START_TEST(divisor_latch_reads_the_pc_default_after_reset)
{
	uart_write(&uart, UART_LCR, UART_LCR_DLAB);
	ck_assert_uint_eq(uart_read(&uart, UART_DLL), 12);
	ck_assert_uint_eq(uart_read(&uart, UART_DLM), 0);
}
END_TEST

START_TEST(scratch_register_keeps_what_was_written)
{
	uart_write(&uart, UART_SCR, 0xa5);
	ck_assert_uint_eq(uart_read(&uart, UART_SCR), 0xa5);
	uart_write(&uart, UART_SCR, 0x5a);
	ck_assert_uint_eq(uart_read(&uart, UART_SCR), 0x5a);
}
END_TEST

START_TEST(unused_bits_of_ier_and_mcr_read_zero)
{
	uart_write(&uart, UART_IER, 0xf0);
	ck_assert_uint_eq(uart_read(&uart, UART_IER), 0);
	uart_write(&uart, UART_MCR, 0xe3);
	ck_assert_uint_eq(uart_read(&uart, UART_MCR), 0x03);
}
END_TEST

START_TEST(out_of_range_offsets_read_all_ones_and_ignore_writes)
{
	uart_write(&uart, 8, 0x00);
	uart_write(&uart, 1000, 0x00);
	ck_assert_uint_eq(uart_read(&uart, 8), 0xff);
	ck_assert_uint_eq(uart_read(&uart, 1000), 0xff);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}
END_TEST

START_TEST(lsr_and_msr_ignore_writes)
{
	uart_write(&uart, UART_LSR, 0xff);
	uart_write(&uart, UART_MSR, 0x00);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ck_assert_uint_eq(uart_read(&uart, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
}
END_TEST

START_TEST(thr_write_transmits_the_byte)
{
	uart_write(&uart, UART_THR, 'h');
	uart_write(&uart, UART_THR, 'i');
	ck_assert_uint_eq(env.tx_count, 2);
	ck_assert_uint_eq(env.tx[0], 'h');
	ck_assert_uint_eq(env.tx[1], 'i');
	ck_assert_uint_eq(uart_read(&uart, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}
END_TEST

/* Loopback. */

START_TEST(loopback_puts_written_byte_in_rbr_instead_of_the_line)
{
	enter_loopback();
	uart_write(&uart, UART_THR, 'Q');
	ck_assert_uint_eq(env.tx_count, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'Q');
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, 0);
}
END_TEST

START_TEST(loopback_msr_reflects_mcr_outputs)
{
	/* Linux's 8250 probe: RTS|OUT2 in loopback must read back as CTS|DCD. */
	uart_write(&uart, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
	ck_assert_uint_eq(uart_read(&uart, UART_MSR) & 0xf0, UART_MSR_CTS | UART_MSR_DCD);
	uart_write(&uart, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	ck_assert_uint_eq(uart_read(&uart, UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_RI);
	uart_write(&uart, UART_MCR, UART_MCR_LOOP);
	ck_assert_uint_eq(uart_read(&uart, UART_MSR) & 0xf0, 0);
}
END_TEST

START_TEST(msr_latches_deltas_until_read)
{
	uart_read(&uart, UART_MSR);
	uart_write(&uart, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1);  /* all of CTS/DSR/DCD drop */
	ck_assert_uint_eq(uart_read(&uart, UART_MSR),
			  UART_MSR_RI | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
	ck_assert_uint_eq(uart_read(&uart, UART_MSR), UART_MSR_RI);
	/* RI's trailing edge sets TERI; its rising edge did not. */
	uart_write(&uart, UART_MCR, UART_MCR_LOOP);
	ck_assert_uint_eq(uart_read(&uart, UART_MSR), UART_MSR_TERI);
}
END_TEST

START_TEST(loopback_cuts_off_line_input)
{
	enter_loopback();
	env_queue_input("z");
	uart_input_available(&uart);
	ck_assert_uint_eq(env.pull_calls, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, 0);

	uart_write(&uart, UART_MCR, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'z');
}
END_TEST

/* FIFO. */

START_TEST(fifo_holds_sixteen_bytes_then_reports_overrun)
{
	unsigned i;

	uart_write(&uart, UART_FCR, UART_FCR_FE);
	enter_loopback();
	for (i = 0; i < UART_FIFO_SIZE + 1; i++)
		uart_write(&uart, UART_THR, (uint8_t)('a' + i));
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & (UART_LSR_DR | UART_LSR_OE),
			  UART_LSR_DR | UART_LSR_OE);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_OE, 0);    /* read clears OE */
	for (i = 0; i < UART_FIFO_SIZE; i++) {
		ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
		ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'a' + i);
	}
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(uart.overrun_count, 1);
}
END_TEST

START_TEST(without_fifo_a_second_byte_overruns_the_holding_register)
{
	enter_loopback();
	uart_write(&uart, UART_THR, '1');
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_OE, 0);
	uart_write(&uart, UART_THR, '2');
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_OE, UART_LSR_OE);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), '2');
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, 0);
}
END_TEST

START_TEST(fcr_receive_clear_empties_the_fifo)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	enter_loopback();
	uart_write(&uart, UART_THR, 'x');
	uart_write(&uart, UART_THR, 'y');
	uart_write(&uart, UART_FCR, UART_FCR_FE | UART_FCR_RFR);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, 0);
	uart_write(&uart, UART_THR, 'z');
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'z');
}
END_TEST

START_TEST(switching_fifo_mode_empties_the_fifo)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	enter_loopback();
	uart_write(&uart, UART_THR, 'x');
	uart_write(&uart, UART_FCR, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, 0);
}
END_TEST

START_TEST(iir_reports_fifo_mode_in_its_top_bits)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE | 0xc0);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	/* Without FE the other FCR bits do not take. */
	uart_write(&uart, UART_FCR, 0xc0);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
}
END_TEST

START_TEST(trigger_level_selects_data_available_over_timeout)
{
	unsigned i;

	uart_write(&uart, UART_FCR, UART_FCR_FE | 0x40);    /* trigger at 4 bytes */
	uart_write(&uart, UART_IER, UART_IER_ERBFI);
	enter_loopback();
	uart_write(&uart, UART_THR, '0');
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
	ck_assert_int_eq(env.irq_level, 1);
	for (i = 1; i < 4; i++)
		uart_write(&uart, UART_THR, (uint8_t)('0' + i));
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	for (i = 0; i < 4; i++)
		uart_read(&uart, UART_RBR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	ck_assert_int_eq(env.irq_level, 0);
}
END_TEST

START_TEST(fcr_clear_bits_need_the_fifo_enable_bit)
{
	/*
	 * The datasheet: FCR bits other than FE are only programmed when FE is written
	 * as 1 too, so a 16450-mode guest writing RFR alone keeps its received byte.
	 */
	env_queue_input("h");
	uart_input_available(&uart);
	uart_write(&uart, UART_FCR, UART_FCR_RFR | UART_FCR_XFR);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'h');
}
END_TEST

/* _i is the FCR trigger field (0..3); the levels are 1, 4, 8 and 14 bytes. */
START_TEST(each_trigger_level_raises_data_available_at_its_count)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };
	unsigned level = levels[_i], i;

	uart_write(&uart, UART_FCR, (uint8_t)(UART_FCR_FE | (_i << 6)));
	uart_write(&uart, UART_IER, UART_IER_ERBFI);
	enter_loopback();
	for (i = 1; i < level; i++) {
		uart_write(&uart, UART_THR, (uint8_t)i);
		/* Below the trigger the (untimed) character timeout is what is pending. */
		ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
	}
	uart_write(&uart, UART_THR, (uint8_t)level);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	ck_assert_int_eq(env.irq_level, 1);
	/* One byte read drops the count below the trigger: back to the timeout. */
	uart_read(&uart, UART_RBR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR),
			  UART_IIR_FIFO | (level > 1 ? UART_IIR_CTI : UART_IIR_NO_INT));
}
END_TEST

START_TEST(changing_the_trigger_level_keeps_the_fifo)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE | 0xc0);    /* 14 bytes */
	uart_write(&uart, UART_IER, UART_IER_ERBFI);
	enter_loopback();
	uart_write(&uart, UART_THR, 'a');
	uart_write(&uart, UART_THR, 'b');
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
	/* Linux's set_termios rewrites FCR with FE still set: no flush. */
	uart_write(&uart, UART_FCR, UART_FCR_FE);           /* 1 byte */
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'a');
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'b');
}
END_TEST

/* Interrupts. */

START_TEST(rx_data_interrupt_beats_thre)
{
	uart_write(&uart, UART_IER, UART_IER_ERBFI | UART_IER_ETBEI);
	enter_loopback();
	uart_write(&uart, UART_THR, 'r');
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_RDI);
	/* The IIR read did not acknowledge THRE, which was not the one reported. */
	uart_read(&uart, UART_RBR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_THRI);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
}
END_TEST

START_TEST(line_status_interrupt_beats_rx_data)
{
	uart_write(&uart, UART_IER, UART_IER_ERBFI | UART_IER_ELSI);
	enter_loopback();
	uart_write(&uart, UART_THR, '1');
	uart_write(&uart, UART_THR, '2');   /* overruns the holding register */
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_RLSI);
	uart_read(&uart, UART_LSR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_RDI);
}
END_TEST

START_TEST(modem_status_interrupt_comes_last)
{
	uart_write(&uart, UART_IER, UART_IER_EDSSI | UART_IER_ETBEI);
	enter_loopback();   /* the modem lines drop: deltas latch */
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_THRI);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_MSI);
	ck_assert_int_eq(env.irq_level, 1);
	uart_read(&uart, UART_MSR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
	ck_assert_int_eq(env.irq_level, 0);
}
END_TEST

START_TEST(interrupt_priority_runs_line_status_data_thre_modem)
{
	/* All four sources pending at once; each is cleared by its own action. */
	uart_write(&uart, UART_IER, UART_IER_MASK);
	enter_loopback();                   /* the modem lines drop: MSR deltas */
	uart_write(&uart, UART_THR, '1');
	uart_write(&uart, UART_THR, '2');   /* overruns the holding register: LSR.OE */
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_RLSI);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_RLSI);  /* IIR does not clear it */
	uart_read(&uart, UART_LSR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_RDI);
	uart_read(&uart, UART_RBR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_THRI);  /* this read clears it */
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_MSI);
	ck_assert_int_eq(env.irq_level, 1);
	uart_read(&uart, UART_MSR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
	ck_assert_int_eq(env.irq_level, 0);
}
END_TEST

START_TEST(a_masked_source_does_not_hide_a_lower_one)
{
	/* Data waits but ERBFI is off: IIR reports THRE, the next enabled source. */
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	enter_loopback();
	uart_write(&uart, UART_THR, 'x');
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_THRI);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
}
END_TEST

START_TEST(thre_interrupt_is_cleared_by_reading_iir)
{
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	ck_assert_int_eq(env.irq_level, 1);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_THRI);
	ck_assert_int_eq(env.irq_level, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
	/* THR itself stays empty. */
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);
}
END_TEST

START_TEST(thre_interrupt_is_raised_again_by_a_thr_write)
{
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	uart_read(&uart, UART_IIR);
	ck_assert_int_eq(env.irq_level, 0);
	uart_write(&uart, UART_THR, 'x');
	ck_assert_int_eq(env.irq_level, 1);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_THRI);
}
END_TEST

START_TEST(thre_interrupt_is_raised_again_when_etbei_is_set)
{
	/* The sequence Linux's 8250 driver uses to detect UART_BUG_THRE. */
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_THRI);
	uart_write(&uart, UART_IER, 0);
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_THRI);
	/* Rewriting ETBEI while it stays set does not re-raise it. */
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
}
END_TEST

START_TEST(thre_interrupt_stays_masked_without_etbei)
{
	uart_write(&uart, UART_THR, 'x');
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_NO_INT);
	ck_assert_int_eq(env.irq_calls, 0);
}
END_TEST

START_TEST(irq_callback_reports_only_level_changes)
{
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	ck_assert_uint_eq(env.irq_calls, 1);
	uart_write(&uart, UART_SCR, 1);             /* no change: no call */
	uart_write(&uart, UART_IER, UART_IER_ETBEI | UART_IER_ERBFI);
	ck_assert_uint_eq(env.irq_calls, 1);
	uart_write(&uart, UART_IER, 0);
	ck_assert_uint_eq(env.irq_calls, 2);
	ck_assert_int_eq(env.irq_level, 0);
}
END_TEST

START_TEST(input_raises_the_data_available_interrupt)
{
	uart_write(&uart, UART_IER, UART_IER_ERBFI);
	env_queue_input("k");
	uart_input_available(&uart);
	ck_assert_int_eq(env.irq_level, 1);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_RDI);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'k');
	ck_assert_int_eq(env.irq_level, 0);
}
END_TEST

/* Input. */

START_TEST(input_fills_the_fifo_and_no_more)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	env_queue_input("0123456789abcdefXYZ");
	uart_input_available(&uart);
	ck_assert_uint_eq(env.input_pos, UART_FIFO_SIZE);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_OE, 0);
}
END_TEST

START_TEST(input_is_pulled_when_room_appears)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	env_queue_input("0123456789abcdefXYZ");
	uart_input_available(&uart);
	env.pull_calls = 0;
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), '0');
	ck_assert_uint_ge(env.pull_calls, 1);
	ck_assert_uint_eq(env.last_pull_len, 1);
	ck_assert_uint_eq(env.input_pos, UART_FIFO_SIZE + 1);
}
END_TEST

START_TEST(input_in_16450_mode_is_pulled_a_byte_at_a_time)
{
	const char *text = "hello";
	size_t i;

	env_queue_input(text);
	uart_input_available(&uart);
	ck_assert_uint_eq(env.last_pull_len, 1);
	ck_assert_uint_eq(env.input_pos, 1);
	for (i = 0; i < strlen(text); i++)
		ck_assert_uint_eq(uart_read(&uart, UART_RBR), (uint8_t)text[i]);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & (UART_LSR_DR | UART_LSR_OE), 0);
}
END_TEST

START_TEST(input_is_never_lost_while_the_guest_reads)
{
	const char *text = "the quick brown fox jumps over the lazy dog";
	size_t i;

	uart_write(&uart, UART_FCR, UART_FCR_FE);
	env_queue_input(text);
	uart_input_available(&uart);
	for (i = 0; i < strlen(text); i++) {
		ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
		ck_assert_uint_eq(uart_read(&uart, UART_RBR), (uint8_t)text[i]);
	}
	ck_assert_uint_eq(uart_read(&uart, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ck_assert_uint_eq(uart.overrun_count, 0);
}
END_TEST

START_TEST(fifo_clear_pulls_more_input)
{
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	env_queue_input("0123456789abcdefXYZ");
	uart_input_available(&uart);
	uart_write(&uart, UART_FCR, UART_FCR_FE | UART_FCR_RFR);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'X');
}
END_TEST

/* Linux. */

/* The register accesses of a ttyS port's bring-up, in the order Linux's 8250 driver does them. */
START_TEST(linux_8250_probe_and_startup_find_a_16550a_without_bugs)
{
	uint8_t save_ier, save_mcr, save_lcr, old_fcr, iir1, iir, lsr, st1, st2;
	unsigned i, count;

	/* autoconfig: IER holds exactly its low four bits. */
	save_ier = uart_read(&uart, UART_IER);
	uart_write(&uart, UART_IER, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_IER) & 0x0f, 0);
	uart_write(&uart, UART_IER, 0x0f);
	ck_assert_uint_eq(uart_read(&uart, UART_IER) & 0x0f, 0x0f);
	uart_write(&uart, UART_IER, save_ier);
	/* Loopback: RTS and OUT2 come back as CTS and DCD. */
	save_mcr = uart_read(&uart, UART_MCR);
	uart_write(&uart, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
	ck_assert_uint_eq(uart_read(&uart, UART_MSR) & 0xf0, 0x90);
	uart_write(&uart, UART_MCR, save_mcr);
	/* FIFO detection: IIR bits 7:6 after FCR.FE; 3 means a 16550A. */
	save_lcr = uart_read(&uart, UART_LCR);
	uart_write(&uart, UART_LCR, 0xbf);
	uart_write(&uart, UART_FCR, 0);             /* EFR on the chips that have one */
	uart_write(&uart, UART_LCR, 0);
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR) >> 6, 3);
	/* No EFR (it would read 0 at offset 2 with LCR 0x80 or 0xbf). */
	uart_write(&uart, UART_LCR, 0x80);
	ck_assert_uint_ne(uart_read(&uart, 2), 0);
	uart_write(&uart, UART_LCR, 0xbf);
	ck_assert_uint_ne(uart_read(&uart, 2), 0);
	/* Not a TI16750 (64-byte FIFO bit 5, seen with DLAB only). */
	uart_write(&uart, UART_LCR, 0);
	uart_write(&uart, UART_FCR, UART_FCR_FE | 0x20);
	st1 = uart_read(&uart, UART_IIR) >> 5;
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	uart_write(&uart, UART_LCR, UART_LCR_DLAB);
	uart_write(&uart, UART_FCR, UART_FCR_FE | 0x20);
	st2 = uart_read(&uart, UART_IIR) >> 5;
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	uart_write(&uart, UART_LCR, 0);
	ck_assert(!(st1 == 6 && st2 == 7));
	/* Not an XScale (IER bit 6). */
	uart_write(&uart, UART_IER, 0x40);
	ck_assert_uint_eq(uart_read(&uart, UART_IER) & 0x40, 0);
	uart_write(&uart, UART_IER, 0);
	/* size_fifo: 256 bytes at divisor 1 in loopback; what the FIFO kept is its size. */
	old_fcr = uart_read(&uart, UART_IIR);
	uart_write(&uart, UART_FCR, UART_FCR_FE | UART_FCR_RFR | UART_FCR_XFR);
	uart_write(&uart, UART_MCR, UART_MCR_LOOP);
	uart_write(&uart, UART_LCR, UART_LCR_DLAB);
	uart_write(&uart, UART_DLL, 1);
	uart_write(&uart, UART_DLM, 0);
	uart_write(&uart, UART_LCR, 0x03);
	for (i = 0; i < 256; i++)
		uart_write(&uart, UART_THR, (uint8_t)i);
	for (count = 0; (uart_read(&uart, UART_LSR) & UART_LSR_DR) && count < 256; count++)
		ck_assert_uint_eq(uart_read(&uart, UART_RBR), count);
	ck_assert_uint_eq(count, UART_FIFO_SIZE);
	uart_write(&uart, UART_FCR, old_fcr);
	uart_write(&uart, UART_MCR, save_mcr);
	uart_write(&uart, UART_LCR, save_lcr);
	ck_assert_uint_eq(env.tx_count, 0);         /* loopback kept it all off the line */

	/* serial8250_do_startup: FIFOs cleared and off, interrupts cleared. */
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	uart_write(&uart, UART_FCR, UART_FCR_FE | UART_FCR_RFR | UART_FCR_XFR);
	uart_write(&uart, UART_FCR, 0);
	uart_read(&uart, UART_LSR);
	uart_read(&uart, UART_RBR);
	uart_read(&uart, UART_IIR);
	uart_read(&uart, UART_MSR);
	ck_assert_uint_ne(uart_read(&uart, UART_LSR), 0xff);
	uart_write(&uart, UART_LCR, 0x03);
	/* UART_BUG_THRE: THRE must be raised again when THRI is set again. */
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	iir1 = uart_read(&uart, UART_IIR);
	uart_write(&uart, UART_IER, 0);
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	iir = uart_read(&uart, UART_IIR);
	uart_write(&uart, UART_IER, 0);
	ck_assert_uint_eq(iir1, UART_IIR_THRI);
	ck_assert_uint_eq(iir, UART_IIR_THRI);
	uart_write(&uart, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	/* UART_BUG_TXEN: enabling THRI with the transmitter empty must interrupt. */
	uart_write(&uart, UART_IER, UART_IER_ETBEI);
	lsr = uart_read(&uart, UART_LSR);
	iir = uart_read(&uart, UART_IIR);
	uart_write(&uart, UART_IER, 0);
	ck_assert(!((lsr & UART_LSR_TEMT) && (iir & UART_IIR_NO_INT)));
	uart_read(&uart, UART_LSR);
	uart_read(&uart, UART_RBR);
	uart_read(&uart, UART_IIR);
	uart_read(&uart, UART_MSR);
	/* set_termios: 115200 8N1, FIFO trigger at 8, receive interrupts on. */
	uart_write(&uart, UART_LCR, UART_LCR_DLAB | 0x03);
	uart_write(&uart, UART_DLL, 1);
	uart_write(&uart, UART_DLM, 0);
	uart_write(&uart, UART_LCR, 0x03);
	uart_write(&uart, UART_FCR, UART_FCR_FE);
	uart_write(&uart, UART_FCR, UART_FCR_FE | 0x80);
	uart_write(&uart, UART_IER, UART_IER_ELSI | UART_IER_ERBFI);
	ck_assert_int_eq(env.irq_level, 0);

	/* A typed byte: interrupt, character timeout (below the trigger), read. */
	env_queue_input("x");
	uart_input_available(&uart);
	ck_assert_int_eq(env.irq_level, 1);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_uint_eq(uart_read(&uart, UART_RBR), 'x');
	ck_assert_int_eq(env.irq_level, 0);
	/* start_tx sets THRI; the handler fills the FIFO until the buffer is empty, then stop_tx. */
	uart_write(&uart, UART_IER, UART_IER_ELSI | UART_IER_ERBFI | UART_IER_ETBEI);
	ck_assert_int_eq(env.irq_level, 1);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
	ck_assert_int_eq(env.irq_level, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);
	uart_write(&uart, UART_THR, 'o');
	uart_write(&uart, UART_THR, 'k');
	ck_assert_int_eq(env.irq_level, 1);         /* the FIFO drained: THRE again */
	uart_write(&uart, UART_IER, UART_IER_ELSI | UART_IER_ERBFI);
	ck_assert_int_eq(env.irq_level, 0);
	ck_assert_uint_eq(uart_read(&uart, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	ck_assert_uint_eq(env.tx_count, 2);
	ck_assert_mem_eq(env.tx, "ok", 2);
}
END_TEST

static Suite *uart_suite(void)
{
	Suite *s = suite_create("uart");
	TCase *tc;

	tc = tcase_create("reset");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, lsr_reports_thre_and_temt_after_reset);
	tcase_add_test(tc, registers_hold_their_reset_values);
	tcase_add_test(tc, reset_undoes_guest_writes_and_lowers_the_irq);
	tcase_add_test(tc, reset_pulls_waiting_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("registers");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, divisor_latch_is_reached_only_with_dlab_set);
	tcase_add_test(tc, divisor_latch_reads_the_pc_default_after_reset);
	tcase_add_test(tc, registers_other_than_the_divisor_latch_ignore_dlab);
	tcase_add_test(tc, scratch_register_keeps_what_was_written);
	tcase_add_test(tc, unused_bits_of_ier_and_mcr_read_zero);
	tcase_add_test(tc, out_of_range_offsets_read_all_ones_and_ignore_writes);
	tcase_add_test(tc, lsr_and_msr_ignore_writes);
	tcase_add_test(tc, thr_write_transmits_the_byte);
	suite_add_tcase(s, tc);

	tc = tcase_create("loopback");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, loopback_puts_written_byte_in_rbr_instead_of_the_line);
	tcase_add_test(tc, loopback_msr_reflects_mcr_outputs);
	tcase_add_test(tc, msr_latches_deltas_until_read);
	tcase_add_test(tc, loopback_cuts_off_line_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("fifo");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, fifo_holds_sixteen_bytes_then_reports_overrun);
	tcase_add_test(tc, without_fifo_a_second_byte_overruns_the_holding_register);
	tcase_add_test(tc, fcr_receive_clear_empties_the_fifo);
	tcase_add_test(tc, switching_fifo_mode_empties_the_fifo);
	tcase_add_test(tc, iir_reports_fifo_mode_in_its_top_bits);
	tcase_add_test(tc, trigger_level_selects_data_available_over_timeout);
	tcase_add_loop_test(tc, each_trigger_level_raises_data_available_at_its_count, 0, 4);
	tcase_add_test(tc, changing_the_trigger_level_keeps_the_fifo);
	tcase_add_test(tc, fcr_clear_bits_need_the_fifo_enable_bit);
	suite_add_tcase(s, tc);

	tc = tcase_create("interrupts");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, rx_data_interrupt_beats_thre);
	tcase_add_test(tc, line_status_interrupt_beats_rx_data);
	tcase_add_test(tc, modem_status_interrupt_comes_last);
	tcase_add_test(tc, interrupt_priority_runs_line_status_data_thre_modem);
	tcase_add_test(tc, a_masked_source_does_not_hide_a_lower_one);
	tcase_add_test(tc, thre_interrupt_is_cleared_by_reading_iir);
	tcase_add_test(tc, thre_interrupt_is_raised_again_by_a_thr_write);
	tcase_add_test(tc, thre_interrupt_is_raised_again_when_etbei_is_set);
	tcase_add_test(tc, thre_interrupt_stays_masked_without_etbei);
	tcase_add_test(tc, irq_callback_reports_only_level_changes);
	tcase_add_test(tc, input_raises_the_data_available_interrupt);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, input_fills_the_fifo_and_no_more);
	tcase_add_test(tc, input_is_pulled_when_room_appears);
	tcase_add_test(tc, input_in_16450_mode_is_pulled_a_byte_at_a_time);
	tcase_add_test(tc, input_is_never_lost_while_the_guest_reads);
	tcase_add_test(tc, fifo_clear_pulls_more_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("linux");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, linux_8250_probe_and_startup_find_a_16550a_without_bugs);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(uart_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
