/*
 * tests/plugins/sink.c - a device that claims a port range and counts accesses.
 * The exit-dispatch benchmark and the I/O tests use it; reads return `value`.
 */
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

static int sink_construct(struct pdm_dev_ins *dev)
{
	struct sink *sink = dev->data;
	int64_t iobase, count, value;
	int status;

	if ((status = dev->hlp->cfg_get_int(dev, "iobase", &iobase)) ||
	    (status = dev->hlp->cfg_get_int(dev, "count", &count)) ||
	    (status = dev->hlp->cfg_get_int(dev, "value", &value)))
		return status;
	sink->value = (uint32_t)value;
	return dev->hlp->ioport_register(dev, (uint16_t)iobase, (uint32_t)count, sink, sink_in,
					 sink_out, "sink");
}

static const struct pdm_cfg_key sink_config[] = {
	{ .name = "iobase", .type = PDM_CFG_INT, .min = 0, .max = 0xffff,
	  .flags = PDM_CFG_F_REQUIRED, .help = "first port" },
	{ .name = "count", .type = PDM_CFG_INT, .def = "1", .min = 1, .max = 256,
	  .help = "number of ports" },
	{ .name = "value", .type = PDM_CFG_INT, .def = "0x5a", .min = 0, .max = 0xffffffff,
	  .help = "what reads return" },
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
