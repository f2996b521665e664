/*
 * plugins/i8042/i8042.c - the "i8042" device: just enough of a PC keyboard controller
 * for a guest to reset the machine.
 *
 * The command 0xfe written to port 0x64 pulses the CPU reset line; PCs (and Linux's
 * reboot=k) reset that way. Port 0x92 (the "fast A20" port) resets on a write with bit
 * 0 set, as on most chipsets. The reset goes through the VM's power protocol, so
 * [vm] on_reset = poweroff turns it into a power-off. There is no keyboard: the status
 * register says the output buffer is empty and the input buffer ready, and data reads
 * return 0.
 */
#include <stdbool.h>
#include <stddef.h>

#include <modvm/device.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define PORT92 0x92

#define I8042_CMD_PULSE_RESET 0xfe
#define I8042_STATUS_SYSTEM_FLAG 0x04   /* self-test passed, as after a BIOS */
#define PORT92_RESET 0x01

struct i8042 {
	struct pdm_dev_ins *dev;
	uint8_t port92;
	uint64_t reset_count;
	bool is_reset_asked;            /* since the last reset: log the first request only */
};

/* ---- guest-facing handlers ---- */

/* Both ways to pulse the reset line. Linux's reboot=k sends 0xfe ten times. */
static int i8042_request_reset(struct pdm_dev_ins *dev, struct i8042 *kbc, const char *how)
{
	kbc->reset_count++;
	if (!kbc->is_reset_asked) {
		kbc->is_reset_asked = true;
		dev->hlp->log(dev, PDM_LOG_INFO, "the guest pulsed the reset line (%s)", how);
	}
	return dev->hlp->vm_request_reset(dev);
}

static int i8042_data_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
			 unsigned size)
{
	*value = 0;     /* no keyboard here */
	return 0;
}

static int i8042_data_out(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t value,
			  unsigned size)
{
	return 0;
}

static int i8042_cmd_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
			unsigned size)
{
	*value = I8042_STATUS_SYSTEM_FLAG;
	return 0;
}

static int i8042_cmd_out(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t value,
			 unsigned size)
{
	struct i8042 *kbc = user;

	if ((value & 0xff) == I8042_CMD_PULSE_RESET)
		return i8042_request_reset(dev, kbc, "0xfe to port 0x64");
	return 0;       /* other commands: no keyboard here */
}

static int port92_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
		     unsigned size)
{
	*value = ((struct i8042 *)user)->port92;
	return 0;
}

static int port92_out(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t value,
		      unsigned size)
{
	struct i8042 *kbc = user;

	/* Bit 0 resets on its rising edge; the A20 bit (1) is kept but has no effect. */
	if ((value & PORT92_RESET) && !(kbc->port92 & PORT92_RESET)) {
		kbc->port92 = (uint8_t)(value & ~PORT92_RESET);
		return i8042_request_reset(dev, kbc, "bit 0 of port 0x92");
	}
	kbc->port92 = (uint8_t)value;
	return 0;
}

/* ---- lifecycle ---- */

static int i8042_construct(struct pdm_dev_ins *dev)
{
	struct i8042 *kbc = dev->data;
	int status;

	kbc->dev = dev;
	if (dev->hlp->size < offsetof(struct pdm_dev_hlp, vm_request_reset) + sizeof(void *))
		return dev->hlp->error(dev, PDM_ERR_NOT_SUPPORTED, "this modvm cannot reset a VM");
	/*
	 * The data port and the command/status port, not the three between: 0x61 is the
	 * PIT's gate and speaker port, modvm's own with [vm] irqchip = split.
	 */
	status = dev->hlp->ioport_register(dev, I8042_DATA_PORT, 1, kbc, i8042_data_in,
					   i8042_data_out, "i8042 data");
	if (!status)
		status = dev->hlp->ioport_register(dev, I8042_CMD_PORT, 1, kbc, i8042_cmd_in,
						   i8042_cmd_out, "i8042 command/status");
	if (!status)
		status = dev->hlp->ioport_register(dev, PORT92, 1, kbc, port92_in, port92_out,
						   "port 92");
	return status;
}

static void i8042_reset(struct pdm_dev_ins *dev)
{
	struct i8042 *kbc = dev->data;

	kbc->port92 = 0;
	kbc->is_reset_asked = false;
}

static void i8042_destruct(struct pdm_dev_ins *dev)
{
	struct i8042 *kbc = dev->data;

	if (kbc->reset_count)
		dev->hlp->log(dev, PDM_LOG_DEBUG, "the guest asked for %llu resets",
			      (unsigned long long)kbc->reset_count);
}

/* ---- registration ---- */

static const struct pdm_dev_reg i8042_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "i8042",
	.description = "keyboard controller reset (0xfe to port 0x64) and port 0x92 reset",
	.max_instances = 1,
	.instance_size = sizeof(struct i8042),
	.construct = i8042_construct,
	.destruct = i8042_destruct,
	.reset = i8042_reset,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &i8042_reg);
}
