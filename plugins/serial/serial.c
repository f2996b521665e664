/* plugins/serial/serial.c - the "serial" device: a 16550A UART on 8 I/O ports. */

#include <string.h>

#include <modvm/char.h>
#include <modvm/device.h>
#include <modvm/interface.h>
#include <modvm/pdm.h>

#include "uart.h"

#define SERIAL_LUN 0

/*
 * Locking: every access to the model happens under the device lock. The core holds it
 * around the I/O handlers; data_available (char driver's worker) and reset take it.
 * Hence the model's callbacks (connector->write/read, hlp->irq_set) run with it held,
 * which is the order <modvm/char.h> prescribes (device lock, then the char driver's).
 */
struct serial {
	struct pdm_dev_ins *dev;
	struct uart uart;
	uint16_t iobase;
	uint32_t irq;

	struct pdm_ibase ibase;                  /* our base, for the driver on LUN 0 */
	struct pdm_ichar_port port;              /* what the char driver calls */
	struct pdm_ichar_connector *connector;   /* NULL: no driver, output discarded */

	uint64_t tx_error_count;                 /* bytes the driver failed to take */
	uint64_t irq_error_count;                /* failed irq_set calls */
};

/* The model's environment. */

static void serial_transmit(void *opaque, uint8_t byte)
{
	struct serial *serial = opaque;

	if (serial->connector && serial->connector->write(serial->connector, &byte, 1) < 0)
		serial->tx_error_count++;   /* the char driver logs the first failure */
}

static void serial_set_irq(void *opaque, int level)
{
	struct serial *serial = opaque;
	struct pdm_dev_ins *dev = serial->dev;

	if (dev->hlp->irq_set(dev, serial->irq, level) < 0 && !serial->irq_error_count++)
		dev->hlp->log(dev, PDM_LOG_WARN, "cannot set irq %u to %d", serial->irq, level);
}

static size_t serial_pull_input(void *opaque, uint8_t *buf, size_t len)
{
	struct serial *serial = opaque;

	if (!serial->connector)
		return 0;
	return serial->connector->read(serial->connector, buf, len);
}

static const struct uart_ops serial_uart_ops = {
	.transmit = serial_transmit,
	.set_irq = serial_set_irq,
	.pull_input = serial_pull_input,
};

/*
 * Guest-facing handlers, on an EMT with the device lock held. A 16550A has 8-bit
 * registers: a wider access is split into byte accesses at consecutive offsets, as the
 * ISA bus does; bytes beyond the 8 registers read as 0xff and ignore writes.
 */

static int serial_io_in(struct pdm_dev_ins *dev, void *user, uint16_t offset,
			uint32_t *value, unsigned size)
{
	struct serial *serial = user;
	uint32_t result = 0;
	unsigned i;

	if (size < 1 || size > 4) {
		*value = UINT32_MAX;
		return PDM_ERR_INVALID_ARG;
	}
	for (i = 0; i < size; i++) {
		unsigned reg = (unsigned)offset + i;
		uint8_t byte = reg < UART_REG_COUNT ? uart_read(&serial->uart, reg) : 0xff;

		result |= (uint32_t)byte << (8 * i);
	}
	*value = result;
	return PDM_OK;
}

static int serial_io_out(struct pdm_dev_ins *dev, void *user, uint16_t offset,
			 uint32_t value, unsigned size)
{
	struct serial *serial = user;
	unsigned i;

	if (size < 1 || size > 4)
		return PDM_ERR_INVALID_ARG;
	for (i = 0; i < size; i++) {
		unsigned reg = (unsigned)offset + i;

		if (reg < UART_REG_COUNT)
			uart_write(&serial->uart, reg, (uint8_t)(value >> (8 * i)));
	}
	return PDM_OK;
}

/* Backend callbacks. */

/* The char driver's worker has input: pull what fits, under the device lock. */
static void serial_data_available(struct pdm_ichar_port *port)
{
	struct serial *serial = PDM_CONTAINER_OF(port, struct serial, port);
	struct pdm_dev_ins *dev = serial->dev;

	dev->hlp->lock(dev);
	uart_input_available(&serial->uart);
	dev->hlp->unlock(dev);
}

static void *serial_query_interface(struct pdm_ibase *base, const char *iid)
{
	struct serial *serial = PDM_CONTAINER_OF(base, struct serial, ibase);

	if (!strcmp(iid, PDM_IBASE_IID))
		return &serial->ibase;
	if (!strcmp(iid, PDM_ICHAR_PORT_IID))
		return &serial->port;
	return NULL;
}

/* Lifecycle. */

static int serial_construct(struct pdm_dev_ins *dev)
{
	const struct pdm_dev_hlp *hlp = dev->hlp;
	struct serial *serial = dev->data;
	struct pdm_ibase *below = NULL;
	int64_t iobase, irq;
	int rc;

	serial->dev = dev;
	serial->ibase.query_interface = serial_query_interface;
	serial->port.data_available = serial_data_available;
	uart_init(&serial->uart, &serial_uart_ops, serial);

	rc = hlp->cfg_get_int(dev, "iobase", &iobase);
	if (rc < 0)
		return hlp->error(dev, rc, "cannot read 'iobase': %s", pdm_status_message(rc));
	rc = hlp->cfg_get_int(dev, "irq", &irq);
	if (rc < 0)
		return hlp->error(dev, rc, "cannot read 'irq': %s", pdm_status_message(rc));
	/* The schema checks the ranges; stay safe should a core not. */
	if (iobase < 0 || iobase > 0x10000 - UART_REG_COUNT)
		return hlp->error(dev, PDM_ERR_CFG, "'iobase' 0x%llx is outside 0..0xfff8",
				  (unsigned long long)iobase);
	if (irq < 0 || irq > 23)
		return hlp->error(dev, PDM_ERR_CFG, "'irq' %lld is outside 0..23", (long long)irq);
	serial->iobase = (uint16_t)iobase;
	serial->irq = (uint32_t)irq;

	rc = hlp->ioport_register(dev, serial->iobase, UART_REG_COUNT, serial,
				  serial_io_in, serial_io_out, "serial");
	if (rc < 0)
		return rc;      /* the core's message names the overlapping owner */

	rc = hlp->driver_attach(dev, SERIAL_LUN, &serial->ibase, &below);
	if (rc == PDM_ERR_NO_DRIVER) {
		hlp->log(dev, PDM_LOG_INFO, "no driver on lun %d: guest output is discarded",
			 SERIAL_LUN);
		return PDM_OK;
	}
	if (rc < 0)
		return rc;      /* the failing driver set the message */
	serial->connector = pdm_ibase_query(below, PDM_ICHAR_CONNECTOR_IID);
	if (!serial->connector)
		return hlp->error(dev, PDM_ERR_NO_INTERFACE,
				  "the driver on lun %d lacks interface '%s'", SERIAL_LUN,
				  PDM_ICHAR_CONNECTOR_IID);
	return PDM_OK;
}

/* On EMT 0 with no lock held; the char driver's worker may still call us. */
static void serial_reset(struct pdm_dev_ins *dev)
{
	struct serial *serial = dev->data;

	dev->hlp->lock(dev);
	uart_reset(&serial->uart);
	dev->hlp->unlock(dev);
}

static void serial_destruct(struct pdm_dev_ins *dev)
{
	struct serial *serial = dev->data;

	if (serial->tx_error_count)
		dev->hlp->log(dev, PDM_LOG_INFO, "%llu output bytes were lost",
			      (unsigned long long)serial->tx_error_count);
	if (serial->uart.overrun_count)
		dev->hlp->log(dev, PDM_LOG_DEBUG, "%llu loopback bytes overran the fifo",
			      (unsigned long long)serial->uart.overrun_count);
}

static const struct pdm_cfg_key serial_config[] = {
	{ .name = "iobase", .type = PDM_CFG_INT, .def = "0x3f8", .min = 0, .max = 0xfff8,
	  .help = "first of the 8 i/o ports (COM1 0x3f8, COM2 0x2f8, COM3 0x3e8, COM4 0x2e8)" },
	{ .name = "irq", .type = PDM_CFG_INT, .def = "4", .min = 0, .max = 23,
	  .help = "interrupt line (COM1 4, COM2 3)" },
	{ .name = NULL },
};

static const struct pdm_dev_reg serial_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "serial",
	.description = "16550A UART; lun 0 takes a char driver",
	.flags = 0,
	.max_instances = 0,
	.instance_size = sizeof(struct serial),
	.config = serial_config,
	.construct = serial_construct,
	.destruct = serial_destruct,
	.reset = serial_reset,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &serial_reg);
}
