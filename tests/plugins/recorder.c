/*
 * tests/plugins/recorder.c - a test device and driver that log every callback.
 *
 * Device "trec" and driver "tlink" append "<event> <instance>" lines to the file named
 * by their `log` key, so a test can assert the exact order of constructs, power
 * notifications and destructs. Both can be told to fail in construct; the device can
 * demand an interface from its LUN 0 driver (`need`), and attach several LUNs.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <modvm/device.h>
#include <modvm/driver.h>

#define TREC_IID "modvm.test.trec-up.v1"
#define TLINK_IID "modvm.test.tlink.v1"

struct trec {
	struct pdm_dev_ins *dev;
	const char *log;
	struct pdm_ibase ibase;
	int up_marker;                  /* the interface the device gives its drivers */
};

struct tlink {
	struct pdm_drv_ins *drv;
	const char *log;
	struct pdm_ibase *below;
	int marker;                     /* the interface TLINK_IID */
	struct pdm_thread *thread;
	int thread_runs;
};

static void rec_log(const char *log, const char *event, const char *name)
{
	FILE *f;

	if (!log || !(f = fopen(log, "a")))
		return;
	fprintf(f, "%s %s\n", event, name);
	fclose(f);
}

/* ---- the device ---- */

static void *trec_query(struct pdm_ibase *base, const char *iid)
{
	struct trec *trec = PDM_CONTAINER_OF(base, struct trec, ibase);

	if (!strcmp(iid, PDM_IBASE_IID))
		return base;
	if (!strcmp(iid, TREC_IID))
		return &trec->up_marker;
	return NULL;
}

static int trec_construct(struct pdm_dev_ins *dev)
{
	struct trec *trec = dev->data;
	const struct pdm_dev_hlp *hlp = dev->hlp;
	const char *need = NULL;
	int64_t luns = 0;
	bool fail = false;
	int status;

	trec->dev = dev;
	trec->ibase.query_interface = trec_query;
	hlp->cfg_get_path(dev, "log", &trec->log);
	rec_log(trec->log, "construct", dev->name);
	if ((status = hlp->cfg_get_bool(dev, "fail", &fail)) ||
	    (status = hlp->cfg_get_int(dev, "luns", &luns)))
		return status;
	if (hlp->cfg_get_string(dev, "need", &need) == PDM_ERR_CFG_MISSING)
		need = NULL;
	for (uint32_t lun = 0; lun < luns; lun++) {
		struct pdm_ibase *below;

		status = hlp->driver_attach(dev, lun, &trec->ibase, &below);
		if (status == PDM_ERR_NO_DRIVER)
			continue;
		if (status)
			return status;
		if (lun == 0 && need && !pdm_ibase_query(below, need))
			return hlp->error(dev, PDM_ERR_NO_INTERFACE,
					  "the driver on lun0 does not provide interface '%s'", need);
	}
	if (fail)
		return hlp->error(dev, PDM_ERR_CONSTRUCT, "told to fail by its config");
	return 0;
}

static void trec_destruct(struct pdm_dev_ins *dev)
{
	rec_log(((struct trec *)dev->data)->log, "destruct", dev->name);
}

static void trec_power_on(struct pdm_dev_ins *dev)
{
	rec_log(((struct trec *)dev->data)->log, "power-on", dev->name);
}

static void trec_power_off(struct pdm_dev_ins *dev)
{
	rec_log(((struct trec *)dev->data)->log, "power-off", dev->name);
}

static const struct pdm_cfg_key trec_config[] = {
	{ .name = "log", .type = PDM_CFG_PATH, .help = "file the events are appended to" },
	{ .name = "fail", .type = PDM_CFG_BOOL, .def = "no", .help = "fail in construct" },
	{ .name = "luns", .type = PDM_CFG_INT, .def = "1", .min = 0, .max = 8,
	  .help = "how many LUNs to attach" },
	{ .name = "need", .type = PDM_CFG_STRING, .help = "interface id lun0 must provide" },
	{ 0 }
};

static const struct pdm_dev_reg trec_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "trec",
	.description = "test device that records its callbacks",
	.instance_size = sizeof(struct trec),
	.config = trec_config,
	.construct = trec_construct,
	.destruct = trec_destruct,
	.power_on = trec_power_on,
	.power_off = trec_power_off,
};

/* ---- the driver ---- */

static int tlink_thread(struct pdm_thread *thread, void *user)
{
	struct tlink *tlink = user;

	rec_log(tlink->log, "thread-run", tlink->drv->name);
	tlink->thread_runs++;
	while (tlink->drv->hlp->thread_is_running(thread))
		usleep(1000);   /* no wakeup callback: suspend must wait for this loop to notice */
	rec_log(tlink->log, "thread-stop", tlink->drv->name);
	return 0;
}

static void *tlink_query(struct pdm_drv_ins *drv, const char *iid)
{
	struct tlink *tlink = drv->data;

	return strcmp(iid, TLINK_IID) ? NULL : &tlink->marker;
}

static int tlink_construct(struct pdm_drv_ins *drv)
{
	struct tlink *tlink = drv->data;
	const struct pdm_drv_hlp *hlp = drv->hlp;
	bool fail = false, thread = false;
	int status;

	tlink->drv = drv;
	hlp->cfg_get_path(drv, "log", &tlink->log);
	rec_log(tlink->log, "construct", drv->name);
	if (!pdm_ibase_query(drv->above, TREC_IID) && !pdm_ibase_query(drv->above, TLINK_IID))
		return hlp->error(drv, PDM_ERR_NO_INTERFACE,
				  "the link above provides neither '%s' nor '%s'", TREC_IID, TLINK_IID);
	hlp->cfg_get_bool(drv, "fail", &fail);
	hlp->cfg_get_bool(drv, "thread", &thread);
	status = hlp->attach(drv, &tlink->below);
	if (status && status != PDM_ERR_NO_DRIVER)
		return status;
	if (thread && (status = hlp->thread_create(drv, &tlink->thread, tlink_thread, NULL, tlink,
						   "spin")))
		return status;
	if (fail)
		return hlp->error(drv, PDM_ERR_CONSTRUCT, "told to fail by its config");
	return 0;
}

static void tlink_destruct(struct pdm_drv_ins *drv)
{
	rec_log(((struct tlink *)drv->data)->log, "destruct", drv->name);
}

static void tlink_power_on(struct pdm_drv_ins *drv)
{
	rec_log(((struct tlink *)drv->data)->log, "power-on", drv->name);
}

static void tlink_power_off(struct pdm_drv_ins *drv)
{
	rec_log(((struct tlink *)drv->data)->log, "power-off", drv->name);
}

static const struct pdm_cfg_key tlink_config[] = {
	{ .name = "log", .type = PDM_CFG_PATH, .help = "file the events are appended to" },
	{ .name = "fail", .type = PDM_CFG_BOOL, .def = "no", .help = "fail in construct" },
	{ .name = "thread", .type = PDM_CFG_BOOL, .def = "no", .help = "run a worker thread" },
	{ 0 }
};

static const struct pdm_drv_reg tlink_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_reg),
	.name = "tlink",
	.description = "test driver that records its callbacks and passes through",
	.instance_size = sizeof(struct tlink),
	.config = tlink_config,
	.construct = tlink_construct,
	.destruct = tlink_destruct,
	.power_on = tlink_power_on,
	.power_off = tlink_power_off,
	.query_interface = tlink_query,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	int status = cb->register_device(cb, &trec_reg);

	return status ? status : cb->register_driver(cb, &tlink_reg);
}
