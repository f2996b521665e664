/*
 * pdm/device.c - device instances: construction in config order, teardown in reverse,
 * and the device helper table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdm/instance.h"
#include "util/log.h"

static struct pdm_device *pdm_dev_of(struct pdm_dev_ins *ins)
{
	return PDM_CONTAINER_OF(ins, struct pdm_device, ins);
}

const char *pdm_where(const struct cfg_node *node, char *buf, size_t size)
{
	const char *origin = node->origin;
	int line = node->line;

	if (!line && node->values) {
		origin = node->values->origin;
		line = node->values->line;
	}
	for (const struct cfg_node *child = node->first_child; !line && child;
	     child = child->next_sibling)
		if (child->line) {
			origin = child->origin;
			line = child->line;
		}
	if (origin && line)
		snprintf(buf, size, "%s:%d: [%s]", origin, line, node->path);
	else if (origin)
		snprintf(buf, size, "%s: [%s]", origin, node->path);
	else
		snprintf(buf, size, "[%s]", node->path);
	return buf;
}

pthread_mutex_t *pdm_dev_lock_of(struct pdm_dev_ins *ins)
{
	return &pdm_dev_of(ins)->lock;
}

static void *pdm_dev_base_query(struct pdm_ibase *base, const char *iid)
{
	struct pdm_device *device = PDM_CONTAINER_OF(base, struct pdm_device, base);

	if (!strcmp(iid, PDM_IBASE_IID))
		return base;
	return device->type->reg.query_interface ?
	       device->type->reg.query_interface(&device->ins, iid) : NULL;
}

void pdm_init(struct pdm *pdm, struct pdm_registry *registry, const struct pdm_host *host)
{
	memset(pdm, 0, sizeof(*pdm));
	pdm->registry = registry;
	pdm->host = host;
	pdm->devices_tail = &pdm->devices;
	pthread_mutex_init(&pdm->threads_lock, NULL);
	pthread_mutex_init(&pdm->async_lock, NULL);
	/* The round's deadlines are CLOCK_MONOTONIC: a clock change must not stretch them. */
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pdm->async_cond, &attr);
	pthread_condattr_destroy(&attr);
}

size_t pdm_device_count(const struct pdm *pdm)
{
	size_t count = 0;

	for (struct pdm_device *d = pdm->devices; d; d = d->next)
		count++;
	return count;
}

/* Chains bottom-up, then the destructor: DESIGN.md's destroy order. */
static void pdm_device_destroy(struct pdm_device *device)
{
	struct pdm_lun *lun, *next;

	pdm_threads_destroy(device->pdm, device);
	for (lun = device->luns; lun; lun = lun->next)
		pdm_chain_stop_threads(lun->top);
	for (lun = device->luns; lun; lun = lun->next)
		pdm_chain_destroy(lun->top);
	log_debug("pdm", "destroying device '%s'", device->name);
	if (device->type->reg.destruct)
		device->type->reg.destruct(&device->ins);
	for (lun = device->luns; lun; lun = next) {
		next = lun->next;
		free(lun);
	}
	device->type->instance_count--;
	pthread_mutex_destroy(&device->lock);
	free(device->ins.data);
	free(device);
}

static int pdm_device_construct(struct pdm *pdm, struct pdm_dev_type *type, struct cfg_node *node,
				uint32_t instance, struct err *err)
{
	struct pdm_device *device;
	char where[512];
	int status;

	pdm_where(node, where, sizeof(where));
	if (type->reg.max_instances && type->instance_count >= type->reg.max_instances)
		return err_set(err, PDM_ERR_TOO_MANY, "%s: device '%s' allows %u instances at most",
			       where, type->reg.name, type->reg.max_instances);
	device = calloc(1, sizeof(*device));
	if (!device)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	device->ins.data = calloc(1, type->reg.instance_size ? type->reg.instance_size : 1);
	if (!device->ins.data) {
		free(device);
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	}
	snprintf(device->name, sizeof(device->name), "%s#%u", type->reg.name, instance);
	device->ins.version = PDM_ABI_VERSION;
	device->ins.size = sizeof(device->ins);
	device->ins.hlp = &pdm_dev_hlp;
	device->ins.reg = &type->reg;
	device->ins.name = device->name;
	device->ins.instance = instance;
	device->pdm = pdm;
	device->type = type;
	device->cfg = node;
	device->base.query_interface = pdm_dev_base_query;
	pthread_mutex_init(&device->lock, NULL);
	type->instance_count++;

	log_debug("pdm", "constructing device '%s'", device->name);
	device->is_constructing = true;
	status = type->reg.construct(&device->ins);
	device->is_constructing = false;
	if (status) {
		const char *why = device->err.msg[0] ? device->err.msg :
				  device->chain_err.msg[0] ? device->chain_err.msg :
				  pdm_status_message(status);

		/* A device that wrapped a failed attach in its own words keeps both. */
		if (device->err.msg[0] && device->chain_err.msg[0] &&
		    !strstr(device->err.msg, device->chain_err.msg))
			err_set(err, status, "%s: device '%s': %s: %s", where, device->name,
				device->err.msg, device->chain_err.msg);
		else
			err_set(err, status, "%s: device '%s': %s", where, device->name, why);
		pdm_device_destroy(device);
		return status < 0 ? status : PDM_ERR_CONSTRUCT;
	}
	*pdm->devices_tail = device;
	pdm->devices_tail = &device->next;
	return 0;
}

/* The first line at or below a section (an instance may be written only as lun sections). */
static int pdm_first_line(const struct cfg_node *node)
{
	int first = node->line;

	for (const struct cfg_value *v = node->values; v; v = v->next)
		if (v->line && (!first || v->line < first))
			first = v->line;
	for (const struct cfg_node *child = node->first_child; child; child = child->next_sibling) {
		int line = pdm_first_line(child);

		if (line && (!first || line < first))
			first = line;
	}
	return first;
}

struct pdm_instance_node {
	struct cfg_node *node;
	int line;                   /* 0 (from -o only): after the file's, in tree order */
	size_t index;
};

static int pdm_instance_cmp(const void *a, const void *b)
{
	const struct pdm_instance_node *x = a, *y = b;

	if (x->line != y->line)
		return !x->line ? 1 : !y->line ? -1 : x->line < y->line ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

int pdm_construct(struct pdm *pdm, struct cfg_node *root, struct err *err)
{
	struct cfg_node *devices = cfg_find(root, "devices");
	struct pdm_instance_node *order = NULL;
	size_t count = 0, cap = 0;
	int status = 0;

	if (!devices)
		return 0;
	/* In the order the instances first appear in the file, whatever their type. */
	for (struct cfg_node *tnode = devices->first_child; tnode; tnode = tnode->next_sibling)
		for (struct cfg_node *inode = tnode->first_child; inode; inode = inode->next_sibling) {
			if (count == cap) {
				struct pdm_instance_node *grown;

				cap = cap ? cap * 2 : 16;
				grown = realloc(order, cap * sizeof(*order));
				if (!grown) {
					free(order);
					return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
				}
				order = grown;
			}
			order[count] = (struct pdm_instance_node){ inode, pdm_first_line(inode), count };
			count++;
		}
	qsort(order, count, sizeof(*order), pdm_instance_cmp);
	for (size_t i = 0; i < count && !status; i++) {
		struct cfg_node *inode = order[i].node;
		struct pdm_dev_type *type = pdm_registry_find_dev(pdm->registry, inode->parent->name);
		char *end;
		unsigned long instance = strtoul(inode->name, &end, 10);

		if (!type || *end || end == inode->name)   /* pdm_check_config said why */
			status = err_set(err, PDM_ERR_CFG, "[%s]: not a device instance", inode->path);
		else
			status = pdm_device_construct(pdm, type, inode, (uint32_t)instance, err);
	}
	free(order);
	if (status)
		pdm_destroy(pdm);
	return status;
}

void pdm_destroy(struct pdm *pdm)
{
	size_t count = pdm_device_count(pdm);
	struct pdm_device **order;
	struct pdm_device *device;
	size_t i = 0;

	if (!count)
		return;
	/* Reverse construction order; the list is singly linked, so take a snapshot. */
	order = malloc(count * sizeof(*order));
	if (!order) {
		for (device = pdm->devices; device; ) {
			struct pdm_device *next = device->next;

			pdm_device_destroy(device);
			device = next;
		}
	} else {
		for (device = pdm->devices; device; device = device->next)
			order[i++] = device;
		while (i--)
			pdm_device_destroy(order[i]);
		free(order);
	}
	pdm->devices = NULL;
	pdm->devices_tail = &pdm->devices;
	pdm_threads_destroy(pdm, NULL);
}

void pdm_release(struct pdm *pdm)
{
	pdm_destroy(pdm);
	pthread_mutex_destroy(&pdm->threads_lock);
	pthread_mutex_destroy(&pdm->async_lock);
	pthread_cond_destroy(&pdm->async_cond);
}

/* ---- the device helper table ---- */

static int pdm_dev_error(struct pdm_dev_ins *ins, int status, const char *fmt, ...)
{
	struct pdm_device *device = pdm_dev_of(ins);
	va_list ap;

	va_start(ap, fmt);
	err_vset(&device->err, status, fmt, ap);
	va_end(ap);
	return status;
}

static void pdm_dev_log(struct pdm_dev_ins *ins, enum pdm_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, ins->name, fmt, ap);
	va_end(ap);
}

static int pdm_dev_cfg_error(struct pdm_device *device, int status, struct err *e)
{
	if (status && status != PDM_ERR_CFG_MISSING)
		err_set(&device->err, status, "%s", e->msg);
	return status;
}

static int pdm_dev_cfg_get_int(struct pdm_dev_ins *ins, const char *key, int64_t *value)
{
	struct pdm_device *device = pdm_dev_of(ins);
	struct err e;

	return pdm_dev_cfg_error(device, cfg_get_int(device->cfg, device->type->reg.config, key,
						     value, &e), &e);
}

static int pdm_dev_cfg_get_bool(struct pdm_dev_ins *ins, const char *key, bool *value)
{
	struct pdm_device *device = pdm_dev_of(ins);
	struct err e;

	return pdm_dev_cfg_error(device, cfg_get_bool(device->cfg, device->type->reg.config, key,
						      value, &e), &e);
}

static int pdm_dev_cfg_get_string(struct pdm_dev_ins *ins, const char *key, const char **value)
{
	struct pdm_device *device = pdm_dev_of(ins);
	struct err e;

	return pdm_dev_cfg_error(device, cfg_get_string(device->cfg, device->type->reg.config,
							key, value, &e), &e);
}

static int pdm_dev_cfg_get_path(struct pdm_dev_ins *ins, const char *key, const char **value)
{
	struct pdm_device *device = pdm_dev_of(ins);
	struct err e;

	return pdm_dev_cfg_error(device, cfg_get_path(device->cfg, device->type->reg.config,
						      key, value, &e), &e);
}

static int pdm_dev_ioport_register(struct pdm_dev_ins *ins, uint16_t port, uint32_t count,
				   void *user, pdm_ioport_in_fn in, pdm_ioport_out_fn out,
				   const char *desc)
{
	struct pdm_device *device = pdm_dev_of(ins);
	const struct pdm_host *host = device->pdm->host;

	if (!device->is_constructing)
		return pdm_dev_error(ins, PDM_ERR_STATE, "i/o ports can only be registered in the constructor");
	if (!host || !host->ioport_register)
		return pdm_dev_error(ins, PDM_ERR_NOT_SUPPORTED, "no i/o port space in this context");
	return host->ioport_register(host->ctx, ins, port, count, user, in, out, desc, &device->err);
}

static int pdm_dev_mmio_register(struct pdm_dev_ins *ins, uint64_t gpa, uint64_t size, void *user,
				 pdm_mmio_read_fn read, pdm_mmio_write_fn write, const char *desc)
{
	struct pdm_device *device = pdm_dev_of(ins);
	const struct pdm_host *host = device->pdm->host;

	if (!device->is_constructing)
		return pdm_dev_error(ins, PDM_ERR_STATE, "mmio ranges can only be registered in the constructor");
	if (!host || !host->mmio_register)
		return pdm_dev_error(ins, PDM_ERR_NOT_SUPPORTED, "no mmio space in this context");
	return host->mmio_register(host->ctx, ins, gpa, size, user, read, write, desc, &device->err);
}

static int pdm_dev_irq_set(struct pdm_dev_ins *ins, uint32_t irq, int level)
{
	const struct pdm_host *host = pdm_dev_of(ins)->pdm->host;

	return host && host->irq_set ? host->irq_set(host->ctx, irq, level) : PDM_ERR_NOT_SUPPORTED;
}

static int pdm_dev_phys_read(struct pdm_dev_ins *ins, uint64_t gpa, void *buf, size_t len)
{
	const struct pdm_host *host = pdm_dev_of(ins)->pdm->host;

	return host && host->phys_read ? host->phys_read(host->ctx, gpa, buf, len) :
	       PDM_ERR_NOT_SUPPORTED;
}

static int pdm_dev_phys_write(struct pdm_dev_ins *ins, uint64_t gpa, const void *buf, size_t len)
{
	const struct pdm_host *host = pdm_dev_of(ins)->pdm->host;

	return host && host->phys_write ? host->phys_write(host->ctx, gpa, buf, len) :
	       PDM_ERR_NOT_SUPPORTED;
}

static void pdm_dev_lock(struct pdm_dev_ins *ins)
{
	pthread_mutex_lock(&pdm_dev_of(ins)->lock);
}

static void pdm_dev_unlock(struct pdm_dev_ins *ins)
{
	pthread_mutex_unlock(&pdm_dev_of(ins)->lock);
}

static int pdm_dev_driver_attach(struct pdm_dev_ins *ins, uint32_t lun, struct pdm_ibase *above,
				 struct pdm_ibase **below)
{
	struct pdm_device *device = pdm_dev_of(ins);
	struct pdm_lun *entry, **tail;
	char name[32], prefix[96];
	int status;

	*below = NULL;
	if (!device->is_constructing)
		return pdm_dev_error(ins, PDM_ERR_STATE, "driver_attach is only allowed in the constructor");
	for (tail = &device->luns; *tail; tail = &(*tail)->next)
		if ((*tail)->lun == lun)
			return pdm_dev_error(ins, PDM_ERR_BUSY, "lun%u is already attached", lun);
	entry = calloc(1, sizeof(*entry));
	if (!entry)
		return pdm_dev_error(ins, PDM_ERR_NO_MEMORY, "out of memory");
	snprintf(name, sizeof(name), "lun%u", lun);
	snprintf(prefix, sizeof(prefix), "%s/%s", device->name, name);
	status = pdm_chain_construct(device, cfg_child(device->cfg, name), prefix,
				     above ? above : &device->base, &entry->top, &device->chain_err);
	if (status) {
		free(entry);
		return status;
	}
	entry->lun = lun;
	*tail = entry;
	*below = &entry->top->base;
	return 0;
}

static int pdm_dev_thread_create(struct pdm_dev_ins *ins, struct pdm_thread **thread,
				 pdm_thread_fn fn, pdm_thread_wakeup_fn wakeup, void *user,
				 const char *name)
{
	struct pdm_device *device = pdm_dev_of(ins);

	if (!device->is_constructing)
		return pdm_dev_error(ins, PDM_ERR_STATE, "threads can only be created in the constructor");
	return pdm_thread_create(device->pdm, device, device->name, thread, fn, wakeup, user, name,
				 &device->err);
}

static enum pdm_vm_state pdm_dev_vm_state(struct pdm_dev_ins *ins)
{
	const struct pdm_host *host = pdm_dev_of(ins)->pdm->host;

	return host && host->vm_state ? host->vm_state(host->ctx) : PDM_VM_CREATED;
}

static int pdm_dev_vm_request_poweroff(struct pdm_dev_ins *ins, int exit_status)
{
	const struct pdm_host *host = pdm_dev_of(ins)->pdm->host;

	log_debug(ins->name, "requests power-off (exit status %d)", exit_status);
	return host && host->request_poweroff ? host->request_poweroff(host->ctx, exit_status) :
	       PDM_ERR_NOT_SUPPORTED;
}

/* ---- ABI 1.1 ---- */

static int pdm_dev_set_async_notification(struct pdm_dev_ins *ins,
					  bool (*done)(struct pdm_dev_ins *dev))
{
	struct pdm_device *device = pdm_dev_of(ins);
	int status = pdm_check_async(device->pdm, ins, done != NULL, &device->err);

	if (status) {
		log_error(ins->name, "%s", device->err.msg);
		return status;
	}
	device->notify.async_done.dev = done;
	device->notify.is_pending = true;
	return 0;
}

static void pdm_dev_async_notification_completed(struct pdm_dev_ins *ins)
{
	pdm_async_completed(pdm_dev_of(ins)->pdm);
}

static int pdm_dev_vm_request_reset(struct pdm_dev_ins *ins)
{
	const struct pdm_host *host = pdm_dev_of(ins)->pdm->host;

	log_debug(ins->name, "requests a reset");
	return host && host->request_reset ? host->request_reset(host->ctx) : PDM_ERR_NOT_SUPPORTED;
}

static int pdm_dev_vm_request_suspend(struct pdm_dev_ins *ins)
{
	const struct pdm_host *host = pdm_dev_of(ins)->pdm->host;

	log_debug(ins->name, "requests a suspend");
	return host && host->request_suspend ? host->request_suspend(host->ctx) :
	       PDM_ERR_NOT_SUPPORTED;
}

int pdm_runtime_error(struct pdm *pdm, const char *source, enum pdm_runtime_error kind,
		      const char *id, const char *fmt, va_list ap)
{
	char message[512];

	if (kind < PDM_RTERR_WARNING || kind > PDM_RTERR_FATAL || !id || !*id)
		return PDM_ERR_INVALID_ARG;
	vsnprintf(message, sizeof(message), fmt, ap);
	log_msg(kind == PDM_RTERR_WARNING ? PDM_LOG_WARN : PDM_LOG_ERROR, source,
		"runtime error '%s'%s: %s", id, kind == PDM_RTERR_FATAL ? " (fatal)" :
		kind == PDM_RTERR_SUSPEND ? " (suspending the VM)" : "", message);
	if (pdm->host && pdm->host->runtime_error)
		pdm->host->runtime_error(pdm->host->ctx, source, kind, id, message);
	return 0;
}

static int pdm_dev_runtime_error(struct pdm_dev_ins *ins, enum pdm_runtime_error kind,
				 const char *id, const char *fmt, ...)
{
	va_list ap;
	int status;

	va_start(ap, fmt);
	status = pdm_runtime_error(pdm_dev_of(ins)->pdm, ins->name, kind, id, fmt, ap);
	va_end(ap);
	return status;
}

/* ---- ABI 1.2 ---- */

/* The end of the record as ABI 1.2 defined it: no caller may pass less. */
#define PDM_MACHINE_INFO_SIZE_1_2 \
	(offsetof(struct pdm_machine_info, start_time_ns) + sizeof(uint64_t))

static int pdm_dev_machine_info(struct pdm_dev_ins *ins, struct pdm_machine_info *info)
{
	const struct pdm_host *host = pdm_dev_of(ins)->pdm->host;
	struct pdm_machine_info full = { .cmdline = "", .vm_name = "" };
	size_t caller_size, size;

	if (!info)
		return pdm_dev_error(ins, PDM_ERR_INVALID_ARG, "machine_info: no record");
	if (info->size < PDM_MACHINE_INFO_SIZE_1_2)
		return pdm_dev_error(ins, PDM_ERR_INVALID_ARG,
				     "machine_info: record size %u is below the %zu bytes of ABI 1.2",
				     info->size, PDM_MACHINE_INFO_SIZE_1_2);
	if (host && host->machine_info)
		host->machine_info(host->ctx, &full);
	/*
	 * A caller built against an older minor gets the members it knows; one built
	 * against a newer minor reads zeros in those the core does not know, and size
	 * tells it where the core's record ended.
	 */
	caller_size = info->size;
	size = caller_size < sizeof(full) ? caller_size : sizeof(full);
	memcpy(info, &full, size);
	if (caller_size > size)
		memset((char *)info + size, 0, caller_size - size);
	info->version = PDM_ABI_VERSION;
	info->size = (uint32_t)size;
	return 0;
}

const struct pdm_dev_hlp pdm_dev_hlp = {
	.version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_hlp),
	.error = pdm_dev_error,
	.log = pdm_dev_log,
	.cfg_get_int = pdm_dev_cfg_get_int,
	.cfg_get_bool = pdm_dev_cfg_get_bool,
	.cfg_get_string = pdm_dev_cfg_get_string,
	.cfg_get_path = pdm_dev_cfg_get_path,
	.ioport_register = pdm_dev_ioport_register,
	.mmio_register = pdm_dev_mmio_register,
	.irq_set = pdm_dev_irq_set,
	.phys_read = pdm_dev_phys_read,
	.phys_write = pdm_dev_phys_write,
	.lock = pdm_dev_lock,
	.unlock = pdm_dev_unlock,
	.driver_attach = pdm_dev_driver_attach,
	.thread_create = pdm_dev_thread_create,
	.thread_is_running = pdm_thread_is_running,
	.vm_state = pdm_dev_vm_state,
	.vm_request_poweroff = pdm_dev_vm_request_poweroff,
	.set_async_notification = pdm_dev_set_async_notification,
	.async_notification_completed = pdm_dev_async_notification_completed,
	.vm_request_reset = pdm_dev_vm_request_reset,
	.vm_request_suspend = pdm_dev_vm_request_suspend,
	.runtime_error = pdm_dev_runtime_error,
	.machine_info = pdm_dev_machine_info,
};
