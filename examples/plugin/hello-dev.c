/* examples/plugin/hello-dev.c - the "hello-dev" device: one I/O port, built out of tree. */

/*
 * A guest that reads the port gets the byte set by the `value` key; a byte it writes
 * there is logged (at level info: run `modvm -v` to see it). It shows the whole shape
 * of a plugin: the two exported symbols, a registration record, a config schema, a
 * constructor that reads its keys and claims a port, and port handlers.
 *
 * Build it against the installed SDK with the Makefile beside this file.
 */
#include <stdint.h>

#include <modvm/device.h>
#include <modvm/pdm.h>

/* The state of one instance; the core allocates it zeroed (reg.instance_size). */
struct hello_dev {
	uint16_t port;
	uint8_t value;
};

/*
 * Guest-facing handlers: on the EMT of the vCPU that made the access, with the device
 * lock held. offset is 0 (we claim one port); size is the access width, 1, 2 or 4.
 */
static int hello_dev_io_in(struct pdm_dev_ins *dev, void *user, uint16_t offset,
			   uint32_t *value, unsigned size)
{
	struct hello_dev *hello = user;

	*value = hello->value;
	return PDM_OK;
}

static int hello_dev_io_out(struct pdm_dev_ins *dev, void *user, uint16_t offset,
			    uint32_t value, unsigned size)
{
	struct hello_dev *hello = user;

	dev->hlp->log(dev, PDM_LOG_INFO, "guest wrote 0x%x (%u byte%s) to port 0x%x", value,
		      size, size == 1 ? "" : "s", hello->port);
	return PDM_OK;
}

/*
 * Runs once per [devices/hello-dev/<N>] section, after the core checked the section
 * against hello_dev_config: the values are there and in range.
 */
static int hello_dev_construct(struct pdm_dev_ins *dev)
{
	const struct pdm_dev_hlp *hlp = dev->hlp;
	struct hello_dev *hello = dev->data;
	int64_t port, value;
	int rc;

	rc = hlp->cfg_get_int(dev, "iobase", &port);
	if (rc < 0)
		return hlp->error(dev, rc, "cannot read 'iobase': %s", pdm_status_message(rc));
	rc = hlp->cfg_get_int(dev, "value", &value);
	if (rc < 0)
		return hlp->error(dev, rc, "cannot read 'value': %s", pdm_status_message(rc));
	hello->port = (uint16_t)port;
	hello->value = (uint8_t)value;

	/* On failure the core has set a message naming the port's current owner. */
	return hlp->ioport_register(dev, hello->port, 1, hello, hello_dev_io_in,
				    hello_dev_io_out, "hello-dev");
}

static const struct pdm_cfg_key hello_dev_config[] = {
	{ .name = "iobase", .type = PDM_CFG_INT, .def = "0x500", .min = 0, .max = 0xffff,
	  .help = "the i/o port" },
	{ .name = "value", .type = PDM_CFG_INT, .def = "0x42", .min = 0, .max = 0xff,
	  .help = "the byte a read of the port returns" },
	{ .name = NULL },
};

static const struct pdm_dev_reg hello_dev_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "hello-dev",
	.description = "example: one port that reads as a set byte and logs writes",
	.instance_size = sizeof(struct hello_dev),
	.config = hello_dev_config,
	.construct = hello_dev_construct,
};

/* The two exported symbols: the ABI word the loader reads first, and the entry point. */
PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &hello_dev_reg);
}
