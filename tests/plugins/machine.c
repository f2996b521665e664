/*
 * tests/plugins/machine.c - exercises the ABI 1.2 helpers from a plugin's side.
 *
 * Device "tmachine" calls machine_info in its constructor the ways a plugin may (a
 * record of this SDK's size, one from a newer SDK with members the core does not
 * know, one too small, none at all) and appends what it got to the file named by
 * `log`. Driver "tpower", on its LUN 0, asks the core for a power-off (`poweroff =
 * status`) or a reset (`reset = yes`) from its constructor and logs the statuses.
 */
#include <stdio.h>
#include <string.h>

#include <modvm/device.h>
#include <modvm/driver.h>

/* A record as a plugin built against a later minor would pass it. */
struct newer_machine_info {
	struct pdm_machine_info info;
	uint64_t later[2];
};

static FILE *open_log(const char *log)
{
	return log ? fopen(log, "a") : NULL;
}

/* ---- device tmachine ---- */

static int tmachine_construct(struct pdm_dev_ins *dev)
{
	const struct pdm_dev_hlp *hlp = dev->hlp;
	struct pdm_machine_info info = PDM_MACHINE_INFO_INIT;
	struct newer_machine_info newer;
	struct pdm_ibase *below;
	const char *log;
	FILE *f;
	int status;

	if ((status = hlp->cfg_get_string(dev, "log", &log)))
		return status;
	if (hlp->size < offsetof(struct pdm_dev_hlp, machine_info) + sizeof(void *))
		return hlp->error(dev, PDM_ERR_NOT_SUPPORTED, "no machine_info in this core");
	if (!(f = open_log(log)))
		return hlp->error(dev, PDM_ERR_IO, "cannot open '%s'", log);

	status = hlp->machine_info(dev, &info);
	fprintf(f, "info status=%d version=%#x size=%u cpus=%u reserved=%u ram=%llu cmdline='%s' "
		"name='%s' start=%llu\n", status, info.version, info.size, info.cpus, info.reserved,
		(unsigned long long)info.ram_size, info.cmdline, info.vm_name,
		(unsigned long long)info.start_time_ns);

	memset(&newer, 0xa5, sizeof(newer));
	newer.info.version = PDM_ABI_MAKE(PDM_ABI_MAJOR, PDM_ABI_MINOR + 1);
	newer.info.size = sizeof(newer);
	status = hlp->machine_info(dev, &newer.info);
	fprintf(f, "newer status=%d size=%u later=%llx,%llx cpus=%u\n", status, newer.info.size,
		(unsigned long long)newer.later[0], (unsigned long long)newer.later[1],
		newer.info.cpus);

	memset(&info, 0, sizeof(info));
	info.size = offsetof(struct pdm_machine_info, start_time_ns);
	status = hlp->machine_info(dev, &info);
	fprintf(f, "small status=%d cpus=%u\n", status, info.cpus);
	status = hlp->machine_info(dev, NULL);
	fprintf(f, "null status=%d\n", status);
	fclose(f);

	status = hlp->driver_attach(dev, 0, NULL, &below);
	return status == PDM_ERR_NO_DRIVER ? PDM_OK : status;
}

static const struct pdm_cfg_key tmachine_config[] = {
	{ .name = "log", .type = PDM_CFG_STRING, .flags = PDM_CFG_F_REQUIRED,
	  .help = "file the results are appended to" },
	{ .name = NULL },
};

static const struct pdm_dev_reg tmachine_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "tmachine",
	.description = "test: logs what machine_info gives",
	.config = tmachine_config,
	.construct = tmachine_construct,
};

/* ---- driver tpower ---- */

static void *tpower_query_interface(struct pdm_drv_ins *drv, const char *iid)
{
	return NULL;
}

static int tpower_construct(struct pdm_drv_ins *drv)
{
	const struct pdm_drv_hlp *hlp = drv->hlp;
	const char *log;
	int64_t poweroff;
	bool reset;
	FILE *f;
	int status;

	if ((status = hlp->cfg_get_string(drv, "log", &log)) ||
	    (status = hlp->cfg_get_int(drv, "poweroff", &poweroff)) ||
	    (status = hlp->cfg_get_bool(drv, "reset", &reset)))
		return status;
	if (hlp->size < offsetof(struct pdm_drv_hlp, vm_request_reset) + sizeof(void *))
		return hlp->error(drv, PDM_ERR_NOT_SUPPORTED, "no power requests in this core");
	if (!(f = open_log(log)))
		return hlp->error(drv, PDM_ERR_IO, "cannot open '%s'", log);
	if (poweroff != -2)
		fprintf(f, "poweroff(%lld) status=%d\n", (long long)poweroff,
			hlp->vm_request_poweroff(drv, (int)poweroff));
	if (reset)
		fprintf(f, "reset status=%d\n", hlp->vm_request_reset(drv));
	fclose(f);
	return PDM_OK;
}

static const struct pdm_cfg_key tpower_config[] = {
	{ .name = "log", .type = PDM_CFG_STRING, .flags = PDM_CFG_F_REQUIRED,
	  .help = "file the results are appended to" },
	{ .name = "poweroff", .type = PDM_CFG_INT, .def = "-2", .min = -2, .max = 255,
	  .help = "exit status to request a power-off with (-1: keep it; -2: no request)" },
	{ .name = "reset", .type = PDM_CFG_BOOL, .def = "no", .help = "request a reset" },
	{ .name = NULL },
};

static const struct pdm_drv_reg tpower_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_reg),
	.name = "tpower",
	.description = "test: requests a power-off or reset from its constructor",
	.config = tpower_config,
	.construct = tpower_construct,
	.query_interface = tpower_query_interface,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	int status = cb->register_device(cb, &tmachine_reg);

	return status ? status : cb->register_driver(cb, &tpower_reg);
}
