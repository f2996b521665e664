/*
 * modvm/driver.h - the driver API: registration record, instance, helper table.
 *
 * A driver is one link of a LUN chain. Its instance knows the base interface of the
 * link above (ins->above) and exposes its own through reg->query_interface; in its
 * constructor it attaches the link below with hlp->attach. For the section
 * [devices/serial/0/lun0] the driver's config is that section (less its `driver`
 * key); the link below is described by [devices/serial/0/lun0/attached], and so on.
 *
 * Threads: construct, destruct and the power callbacks run on EMT 0 (or the thread
 * creating the VM), one instance at a time. Interface calls come on whatever thread
 * the neighbour documents.
 */
#ifndef MODVM_DRIVER_H
#define MODVM_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <modvm/pdm.h>

struct pdm_drv_hlp;

/* A driver instance, allocated and owned by the core. Read-only to the plugin. */
struct pdm_drv_ins {
	uint32_t version;                /* PDM_ABI_VERSION of the core */
	uint32_t size;                   /* sizeof(struct pdm_drv_ins) in the core */
	const struct pdm_drv_hlp *hlp;   /* the core API */
	const struct pdm_drv_reg *reg;   /* the record this instance was made from */
	const char *name;                /* "<device>#<N>/lun<L>/<driver>", for messages */
	uint32_t instance;               /* count of this driver type's instances before it */
	void *data;                      /* reg->instance_size bytes, zeroed, 16-aligned */
	struct pdm_ibase *above;         /* the base interface of the link above */
};

struct pdm_drv_reg {
	uint32_t abi_version;       /* PDM_ABI_VERSION */
	uint32_t size;              /* sizeof(struct pdm_drv_reg) */
	const char *name;           /* the name used in `driver = <name>` */
	const char *description;    /* one line */
	uint32_t flags;             /* none defined yet; 0 */
	uint32_t max_instances;     /* 0: no limit */
	size_t instance_size;       /* bytes of ins->data */
	const struct pdm_cfg_key *config;   /* schema; NULL: no keys */

	/* Required. Returns PDM_OK, or a status with a message set by hlp->error. */
	int (*construct)(struct pdm_drv_ins *drv);
	/* Optional; called after the chain below was destroyed, also after a failed construct. */
	void (*destruct)(struct pdm_drv_ins *drv);
	/* Optional power notifications; they cannot fail. */
	void (*power_on)(struct pdm_drv_ins *drv);
	void (*reset)(struct pdm_drv_ins *drv);
	void (*suspend)(struct pdm_drv_ins *drv);
	void (*resume)(struct pdm_drv_ins *drv);
	void (*power_off)(struct pdm_drv_ins *drv);
	/* Optional: runtime attach/detach of the link below. */
	int (*attach)(struct pdm_drv_ins *drv);
	void (*detach)(struct pdm_drv_ins *drv);
	/* Required: the driver's interfaces, for the link above (NULL for an unknown iid). */
	void *(*query_interface)(struct pdm_drv_ins *drv, const char *iid);
};

/* The core API for drivers. Grows only at its end. */
struct pdm_drv_hlp {
	uint32_t version;           /* PDM_ABI_VERSION of the core */
	uint32_t size;              /* sizeof(struct pdm_drv_hlp) in the core */

	int (*error)(struct pdm_drv_ins *drv, int status, const char *fmt, ...) PDM_PRINTF(3, 4);
	void (*log)(struct pdm_drv_ins *drv, enum pdm_log_level level, const char *fmt, ...)
		PDM_PRINTF(3, 4);

	/* As pdm_dev_hlp.cfg_get_*, for the driver's own section. Construct time only. */
	int (*cfg_get_int)(struct pdm_drv_ins *drv, const char *key, int64_t *value);
	int (*cfg_get_bool)(struct pdm_drv_ins *drv, const char *key, bool *value);
	int (*cfg_get_string)(struct pdm_drv_ins *drv, const char *key, const char **value);
	int (*cfg_get_path)(struct pdm_drv_ins *drv, const char *key, const char **value);

	/*
	 * Constructs the driver configured below this one (the `attached` section) and
	 * returns its base in *below. PDM_ERR_NO_DRIVER (no message set) when none is
	 * configured. Construct time only.
	 */
	int (*attach)(struct pdm_drv_ins *drv, struct pdm_ibase **below);

	/* Worker threads: see pdm_thread_fn in <modvm/pdm.h>. Construct time only. */
	int (*thread_create)(struct pdm_drv_ins *drv, struct pdm_thread **thread,
			     pdm_thread_fn fn, pdm_thread_wakeup_fn wakeup, void *user,
			     const char *name);
	bool (*thread_is_running)(struct pdm_thread *thread);

	enum pdm_vm_state (*vm_state)(struct pdm_drv_ins *drv);

	/* ---- ABI 1.1: as in struct pdm_dev_hlp ---- */
	int (*set_async_notification)(struct pdm_drv_ins *drv, bool (*done)(struct pdm_drv_ins *drv));
	void (*async_notification_completed)(struct pdm_drv_ins *drv);
	int (*runtime_error)(struct pdm_drv_ins *drv, enum pdm_runtime_error kind, const char *id,
			     const char *fmt, ...) PDM_PRINTF(4, 5);

	/* ---- ABI 1.2: as in struct pdm_dev_hlp ---- */

	/*
	 * Asks the core to power the VM off, asynchronously (a console escape, a closed
	 * backend). exit_status >= 0 becomes the status `modvm run` exits with (the first
	 * one set wins); < 0 leaves it as it is. Any thread, interface callbacks included.
	 */
	int (*vm_request_poweroff)(struct pdm_drv_ins *drv, int exit_status);
	/* Asks for a reset through the power protocol ([vm] on_reset applies). Any thread. */
	int (*vm_request_reset)(struct pdm_drv_ins *drv);
};

#endif
