/* plugins/debug-exit/debug-exit.c - the "debug-exit" device: a port that powers the VM off. */

#include <stdint.h>

#include <modvm/device.h>
#include <modvm/pdm.h>

/*
 * Like QEMU's isa-debug-exit: a write of value v (the access width's bytes, 1, 2 or 4)
 * to any of the claimed ports asks the core to power the VM off with exit status
 * (v << 1) | 1. The operating system keeps only the low 8 bits of a process's exit
 * status, so `modvm run` exits with ((v << 1) | 1) & 0xff: always odd, never 0, which
 * tells a guest-reported result from modvm's own 0. We pass the value masked to 31
 * bits, which keeps those 8 bits and keeps it non-negative (a negative status would
 * mean "leave it as it is"). Reads return 0.
 */
struct debug_exit {
	uint16_t iobase;
	uint32_t size;
};

static int debug_exit_io_in(struct pdm_dev_ins *dev, void *user, uint16_t offset,
			    uint32_t *value, unsigned size)
{
	*value = 0;
	return PDM_OK;
}

static int debug_exit_io_out(struct pdm_dev_ins *dev, void *user, uint16_t offset,
			     uint32_t value, unsigned size)
{
	uint64_t v;
	int status;

	if (size < 1 || size > 4)
		return PDM_ERR_INVALID_ARG;
	v = size == 4 ? value : value & ((1u << (8 * size)) - 1);
	status = (int)(((v << 1) | 1) & INT32_MAX);
	dev->hlp->log(dev, PDM_LOG_INFO, "guest wrote 0x%llx: powering off with exit status %d",
		      (unsigned long long)v, status & 0xff);
	return dev->hlp->vm_request_poweroff(dev, status);
}

static int debug_exit_construct(struct pdm_dev_ins *dev)
{
	const struct pdm_dev_hlp *hlp = dev->hlp;
	struct debug_exit *debug_exit = dev->data;
	int64_t iobase, size;
	int rc;

	rc = hlp->cfg_get_int(dev, "iobase", &iobase);
	if (rc < 0)
		return hlp->error(dev, rc, "cannot read 'iobase': %s", pdm_status_message(rc));
	rc = hlp->cfg_get_int(dev, "size", &size);
	if (rc < 0)
		return hlp->error(dev, rc, "cannot read 'size': %s", pdm_status_message(rc));
	if (size < 1 || size > 4)
		return hlp->error(dev, PDM_ERR_CFG, "'size' %lld is outside 1..4", (long long)size);
	if (iobase < 0 || iobase + size > 0x10000)
		return hlp->error(dev, PDM_ERR_CFG,
				  "'iobase' 0x%llx with 'size' %lld goes past port 0xffff",
				  (unsigned long long)iobase, (long long)size);
	debug_exit->iobase = (uint16_t)iobase;
	debug_exit->size = (uint32_t)size;

	return hlp->ioport_register(dev, debug_exit->iobase, debug_exit->size, debug_exit,
				    debug_exit_io_in, debug_exit_io_out, "debug-exit");
}

static const struct pdm_cfg_key debug_exit_config[] = {
	{ .name = "iobase", .type = PDM_CFG_INT, .def = "0xf4", .min = 0, .max = 0xffff,
	  .help = "first i/o port; writing v exits modvm with status ((v << 1) | 1) & 0xff" },
	{ .name = "size", .type = PDM_CFG_INT, .def = "4", .min = 1, .max = 4,
	  .help = "number of ports claimed from iobase" },
	{ .name = NULL },
};

static const struct pdm_dev_reg debug_exit_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "debug-exit",
	.description = "test port: a write of v powers off with exit status (v << 1) | 1",
	.flags = 0,
	.max_instances = 0,
	.instance_size = sizeof(struct debug_exit),
	.config = debug_exit_config,
	.construct = debug_exit_construct,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &debug_exit_reg);
}
