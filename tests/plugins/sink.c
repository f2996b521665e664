/*
 * tests/plugins/sink.c - a device that claims a port range (and optionally a page of
 * MMIO) and counts accesses. The exit-dispatch benchmark and the I/O tests use it;
 * reads return `value`.
 */
#include <string.h>

#include <modvm/device.h>

struct sink {
	uint64_t writes;
	uint32_t value;
};

static int sink_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
		   unsigned size)
{
	*value = ((struct sink *)user)->value;
	return 0;
}

static int sink_out(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t value,
		    unsigned size)
{
	((struct sink *)user)->writes++;
	return 0;
}

static int sink_mmio_read(struct pdm_dev_ins *dev, void *user, uint64_t offset, void *buf,
			  unsigned len)
{
	uint64_t value = ((struct sink *)user)->value;

	memcpy(buf, &value, len);
	return 0;
}

static int sink_mmio_write(struct pdm_dev_ins *dev, void *user, uint64_t offset,
			   const void *buf, unsigned len)
{
	((struct sink *)user)->writes++;
	return 0;
}

static int sink_construct(struct pdm_dev_ins *dev)
{
	struct sink *sink = dev->data;
	int64_t iobase, count, value, mmio;
	int status;

	if ((status = dev->hlp->cfg_get_int(dev, "iobase", &iobase)) ||
	    (status = dev->hlp->cfg_get_int(dev, "count", &count)) ||
	    (status = dev->hlp->cfg_get_int(dev, "value", &value)) ||
	    (status = dev->hlp->cfg_get_int(dev, "mmio", &mmio)))
		return status;
	sink->value = (uint32_t)value;
	status = dev->hlp->ioport_register(dev, (uint16_t)iobase, (uint32_t)count, sink, sink_in,
					   sink_out, "sink");
	if (!status && mmio)
		status = dev->hlp->mmio_register(dev, (uint64_t)mmio, 0x1000, sink, sink_mmio_read,
						 sink_mmio_write, "sink page");
	return status;
}

static const struct pdm_cfg_key sink_config[] = {
	{ .name = "iobase", .type = PDM_CFG_INT, .min = 0, .max = 0xffff,
	  .flags = PDM_CFG_F_REQUIRED, .help = "first port" },
	{ .name = "count", .type = PDM_CFG_INT, .def = "1", .min = 1, .max = 256,
	  .help = "number of ports" },
	{ .name = "value", .type = PDM_CFG_INT, .def = "0x5a", .min = 0, .max = 0xffffffff,
	  .help = "what reads return" },
	{ .name = "mmio", .type = PDM_CFG_INT, .def = "0", .min = 0, .max = 0xfffff000,
	  .help = "guest-physical base of a 4 KiB MMIO page (0: none)" },
	{ 0 }
};

static const struct pdm_dev_reg sink_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "sink",
	.description = "test device: claims ports, counts writes",
	.instance_size = sizeof(struct sink),
	.config = sink_config,
	.construct = sink_construct,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &sink_reg);
}
