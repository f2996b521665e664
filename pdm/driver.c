/*
 * pdm/driver.c - driver instances, LUN chains, and the driver helper table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdm/instance.h"
#include "util/log.h"

static struct pdm_driver *pdm_drv_of(struct pdm_drv_ins *ins)
{
	return PDM_CONTAINER_OF(ins, struct pdm_driver, ins);
}

static void *pdm_drv_base_query(struct pdm_ibase *base, const char *iid)
{
	struct pdm_driver *driver = PDM_CONTAINER_OF(base, struct pdm_driver, base);

	if (!strcmp(iid, PDM_IBASE_IID))
		return base;
	return driver->type->reg.query_interface(&driver->ins, iid);
}

/*
 * Every thread of the chain is stopped before any link goes: a worker of an upper link
 * may be using the link below it.
 */
void pdm_chain_stop_threads(struct pdm_driver *top)
{
	for (struct pdm_driver *driver = top; driver; driver = driver->below)
		pdm_threads_destroy(driver->pdm, driver);
}

static void pdm_chain_destroy_links(struct pdm_driver *driver)
{
	if (!driver)
		return;
	pdm_chain_destroy_links(driver->below);
	log_debug("pdm", "destroying driver '%s'", driver->name);
	if (driver->type->reg.destruct)
		driver->type->reg.destruct(&driver->ins);
	driver->type->instance_count--;
	free(driver->ins.data);
	free(driver);
}

void pdm_chain_destroy(struct pdm_driver *top)
{
	pdm_chain_stop_threads(top);
	pdm_chain_destroy_links(top);
}

int pdm_chain_construct(struct pdm_device *device, struct cfg_node *node, const char *name_prefix,
			struct pdm_ibase *above, struct pdm_driver **top, struct err *err)
{
	struct pdm *pdm = device->pdm;
	struct cfg_value *value = node ? cfg_value_find(node, "driver") : NULL;
	struct pdm_drv_type *type;
	struct pdm_driver *driver;
	int status;

	*top = NULL;
	if (!value)
		return PDM_ERR_NO_DRIVER;
	type = pdm_registry_find_drv(pdm->registry, value->text);
	if (!type)      /* pdm_check_config reports this with file:line first */
		return err_set(err, PDM_ERR_NOT_FOUND, "%s:%d: %s/driver: unknown driver '%s'",
			       value->origin, value->line, node->path, value->text);
	if (type->reg.max_instances && type->instance_count >= type->reg.max_instances)
		return err_set(err, PDM_ERR_TOO_MANY, "driver '%s' allows %u instances at most",
			       type->reg.name, type->reg.max_instances);

	driver = calloc(1, sizeof(*driver));
	if (!driver)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	driver->ins.data = calloc(1, type->reg.instance_size ? type->reg.instance_size : 1);
	if (!driver->ins.data) {
		free(driver);
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	}
	snprintf(driver->name, sizeof(driver->name), "%s/%s", name_prefix, type->reg.name);
	driver->ins.version = PDM_ABI_VERSION;
	driver->ins.size = sizeof(driver->ins);
	driver->ins.hlp = &pdm_drv_hlp;
	driver->ins.reg = &type->reg;
	driver->ins.name = driver->name;
	driver->ins.instance = type->instance_count++;    /* given back by pdm_chain_destroy_links */
	driver->ins.above = above;
	driver->pdm = pdm;
	driver->type = type;
	driver->device = device;
	driver->cfg = node;
	driver->base.query_interface = pdm_drv_base_query;

	log_debug("pdm", "constructing driver '%s'", driver->name);
	driver->is_constructing = true;
	status = type->reg.construct(&driver->ins);
	driver->is_constructing = false;
	/* NO_DRIVER means "nothing configured here" to the link above: never pass it up. */
	if (status == PDM_ERR_NO_DRIVER)
		status = PDM_ERR_CONSTRUCT;
	if (status) {
		char where[512];

		pdm_where(node, where, sizeof(where));
		if (driver->err.msg[0])
			err_set(err, status, "driver '%s' (%s): %s", driver->name, where,
				driver->err.msg);
		else if (!err || !err->msg[0] || err->status != status)
			err_set(err, status, "driver '%s' (%s): construct failed: %s",
				driver->name, where, pdm_status_message(status));
		pdm_chain_destroy(driver);
		return status < 0 ? status : PDM_ERR_CONSTRUCT;
	}
	*top = driver;
	return 0;
}

/* ---- the driver helper table ---- */

static int pdm_drv_error(struct pdm_drv_ins *ins, int status, const char *fmt, ...)
{
	struct pdm_driver *driver = pdm_drv_of(ins);
	va_list ap;

	va_start(ap, fmt);
	err_vset(&driver->err, status, fmt, ap);
	va_end(ap);
	return status;
}

static void pdm_drv_log(struct pdm_drv_ins *ins, enum pdm_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, ins->name, fmt, ap);
	va_end(ap);
}

static int pdm_drv_cfg_error(struct pdm_driver *driver, int status, struct err *e)
{
	if (status && status != PDM_ERR_CFG_MISSING)
		err_set(&driver->err, status, "%s", e->msg);
	return status;
}

static int pdm_drv_cfg_get_int(struct pdm_drv_ins *ins, const char *key, int64_t *value)
{
	struct pdm_driver *driver = pdm_drv_of(ins);
	struct err e;

	return pdm_drv_cfg_error(driver, cfg_get_int(driver->cfg, driver->type->reg.config, key,
						     value, &e), &e);
}

static int pdm_drv_cfg_get_bool(struct pdm_drv_ins *ins, const char *key, bool *value)
{
	struct pdm_driver *driver = pdm_drv_of(ins);
	struct err e;

	return pdm_drv_cfg_error(driver, cfg_get_bool(driver->cfg, driver->type->reg.config, key,
						      value, &e), &e);
}

static int pdm_drv_cfg_get_string(struct pdm_drv_ins *ins, const char *key, const char **value)
{
	struct pdm_driver *driver = pdm_drv_of(ins);
	struct err e;

	return pdm_drv_cfg_error(driver, cfg_get_string(driver->cfg, driver->type->reg.config,
							key, value, &e), &e);
}

static int pdm_drv_cfg_get_path(struct pdm_drv_ins *ins, const char *key, const char **value)
{
	struct pdm_driver *driver = pdm_drv_of(ins);
	struct err e;

	return pdm_drv_cfg_error(driver, cfg_get_path(driver->cfg, driver->type->reg.config,
						      key, value, &e), &e);
}

static int pdm_drv_attach(struct pdm_drv_ins *ins, struct pdm_ibase **below)
{
	struct pdm_driver *driver = pdm_drv_of(ins);
	struct err e = { 0 };
	int status;

	*below = NULL;
	if (!driver->is_constructing)
		return pdm_drv_error(ins, PDM_ERR_STATE, "attach is only allowed in the constructor");
	if (driver->below)
		return pdm_drv_error(ins, PDM_ERR_BUSY, "a driver is already attached below");
	status = pdm_chain_construct(driver->device, cfg_child(driver->cfg, "attached"),
				     driver->name, &driver->base, &driver->below, &e);
	if (status == PDM_ERR_NO_DRIVER)
		return status;
	if (status)
		return pdm_drv_error(ins, status, "%s", e.msg);
	*below = &driver->below->base;
	return 0;
}

static int pdm_drv_thread_create(struct pdm_drv_ins *ins, struct pdm_thread **thread,
				 pdm_thread_fn fn, pdm_thread_wakeup_fn wakeup, void *user,
				 const char *name)
{
	struct pdm_driver *driver = pdm_drv_of(ins);

	if (!driver->is_constructing)
		return pdm_drv_error(ins, PDM_ERR_STATE, "threads can only be created in the constructor");
	return pdm_thread_create(driver->pdm, driver, driver->name, thread, fn, wakeup, user, name,
				 &driver->err);
}

static enum pdm_vm_state pdm_drv_vm_state(struct pdm_drv_ins *ins)
{
	struct pdm *pdm = pdm_drv_of(ins)->pdm;

	return pdm->host ? pdm->host->vm_state(pdm->host->ctx) : PDM_VM_CREATED;
}

/* ---- ABI 1.1 ---- */

static int pdm_drv_set_async_notification(struct pdm_drv_ins *ins,
					  bool (*done)(struct pdm_drv_ins *drv))
{
	struct pdm_driver *driver = pdm_drv_of(ins);
	int status = pdm_check_async(driver->pdm, ins, done != NULL, &driver->err);

	if (status) {
		log_error(ins->name, "%s", driver->err.msg);
		return status;
	}
	driver->notify.async_done.drv = done;
	driver->notify.is_pending = true;
	return 0;
}

static void pdm_drv_async_notification_completed(struct pdm_drv_ins *ins)
{
	pdm_async_completed(pdm_drv_of(ins)->pdm);
}

static int pdm_drv_runtime_error(struct pdm_drv_ins *ins, enum pdm_runtime_error kind,
				 const char *id, const char *fmt, ...)
{
	va_list ap;
	int status;

	va_start(ap, fmt);
	status = pdm_runtime_error(pdm_drv_of(ins)->pdm, ins->name, kind, id, fmt, ap);
	va_end(ap);
	return status;
}

/* ---- ABI 1.2 ---- */

static int pdm_drv_vm_request_poweroff(struct pdm_drv_ins *ins, int exit_status)
{
	const struct pdm_host *host = pdm_drv_of(ins)->pdm->host;

	log_debug(ins->name, "requests power-off (exit status %d)", exit_status);
	return host && host->request_poweroff ? host->request_poweroff(host->ctx, exit_status) :
	       PDM_ERR_NOT_SUPPORTED;
}

static int pdm_drv_vm_request_reset(struct pdm_drv_ins *ins)
{
	const struct pdm_host *host = pdm_drv_of(ins)->pdm->host;

	log_debug(ins->name, "requests a reset");
	return host && host->request_reset ? host->request_reset(host->ctx) : PDM_ERR_NOT_SUPPORTED;
}

const struct pdm_drv_hlp pdm_drv_hlp = {
	.version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_hlp),
	.error = pdm_drv_error,
	.log = pdm_drv_log,
	.cfg_get_int = pdm_drv_cfg_get_int,
	.cfg_get_bool = pdm_drv_cfg_get_bool,
	.cfg_get_string = pdm_drv_cfg_get_string,
	.cfg_get_path = pdm_drv_cfg_get_path,
	.attach = pdm_drv_attach,
	.thread_create = pdm_drv_thread_create,
	.thread_is_running = pdm_thread_is_running,
	.vm_state = pdm_drv_vm_state,
	.set_async_notification = pdm_drv_set_async_notification,
	.async_notification_completed = pdm_drv_async_notification_completed,
	.runtime_error = pdm_drv_runtime_error,
	.vm_request_poweroff = pdm_drv_vm_request_poweroff,
	.vm_request_reset = pdm_drv_vm_request_reset,
};
