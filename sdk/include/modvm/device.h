/*
 * modvm/device.h - the device API: registration record, instance, helper table.
 *
 * A device type is described by a static struct pdm_dev_reg registered from
 * pdm_module_register(). For each [devices/<name>/<N>] section the core allocates a
 * struct pdm_dev_ins plus reg->instance_size zeroed bytes of instance data, validates
 * the section against reg->config, and calls reg->construct. Everything the device
 * needs from the core goes through ins->hlp.
 *
 * Threads and locks: construct, destruct and the power callbacks run on EMT 0 (or the
 * thread creating the VM), one instance at a time, with no device lock held. I/O port
 * and MMIO handlers run on the EMT of the vCPU that made the access, with the device
 * lock held: a device that also touches its state from a worker thread takes the
 * same lock with hlp->lock / hlp->unlock. Handlers must not block for long.
 */
#ifndef MODVM_DEVICE_H
#define MODVM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <modvm/pdm.h>

struct pdm_dev_hlp;

/* A device instance, allocated and owned by the core. Read-only to the plugin. */
struct pdm_dev_ins {
	uint32_t version;                /* PDM_ABI_VERSION of the core */
	uint32_t size;                   /* sizeof(struct pdm_dev_ins) in the core */
	const struct pdm_dev_hlp *hlp;   /* the core API */
	const struct pdm_dev_reg *reg;   /* the record this instance was made from */
	const char *name;                /* "<type>#<N>", for messages */
	uint32_t instance;               /* N of [devices/<type>/<N>] */
	void *data;                      /* reg->instance_size bytes, zeroed, 16-aligned */
};

/* Flags of a device registration. */
#define PDM_DEVREG_F_NOTIFY_FIRST 0x1u  /* suspend/reset/power-off: device before drivers */

/*
 * I/O port handlers. offset is the port minus the registered base; size is 1, 2 or 4.
 * An in handler stores the value (only the low size bytes count). Return PDM_OK, or a
 * negative status, which the core counts and treats as all-ones read / ignored write.
 */
typedef int (*pdm_ioport_in_fn)(struct pdm_dev_ins *dev, void *user, uint16_t offset,
				uint32_t *value, unsigned size);
typedef int (*pdm_ioport_out_fn)(struct pdm_dev_ins *dev, void *user, uint16_t offset,
				 uint32_t value, unsigned size);
/* MMIO handlers. offset is from the registered base; len is 1, 2, 4 or 8. */
typedef int (*pdm_mmio_read_fn)(struct pdm_dev_ins *dev, void *user, uint64_t offset,
				void *buf, unsigned len);
typedef int (*pdm_mmio_write_fn)(struct pdm_dev_ins *dev, void *user, uint64_t offset,
				 const void *buf, unsigned len);

struct pdm_dev_reg {
	uint32_t abi_version;       /* PDM_ABI_VERSION */
	uint32_t size;              /* sizeof(struct pdm_dev_reg) */
	const char *name;           /* the type name used in [devices/<name>/<N>] */
	const char *description;    /* one line */
	uint32_t flags;             /* PDM_DEVREG_F_* */
	uint32_t max_instances;     /* 0: no limit */
	size_t instance_size;       /* bytes of ins->data */
	const struct pdm_cfg_key *config;   /* schema; NULL: no keys */

	/* Required. Returns PDM_OK, or a status with a message set by hlp->error. */
	int (*construct)(struct pdm_dev_ins *dev);
	/*
	 * Optional. Called after a successful or a failed construct (so it must cope with
	 * a partly constructed instance), after the LUN chains were destroyed.
	 */
	void (*destruct)(struct pdm_dev_ins *dev);
	/* Optional power notifications; they cannot fail. */
	void (*power_on)(struct pdm_dev_ins *dev);
	void (*reset)(struct pdm_dev_ins *dev);
	void (*suspend)(struct pdm_dev_ins *dev);
	void (*resume)(struct pdm_dev_ins *dev);
	void (*power_off)(struct pdm_dev_ins *dev);
	/* Optional: a driver was attached to / detached from a LUN at runtime. */
	int (*attach)(struct pdm_dev_ins *dev, uint32_t lun);
	void (*detach)(struct pdm_dev_ins *dev, uint32_t lun);
	/*
	 * Optional: the device's base interface, used for a LUN whose driver_attach passed
	 * above == NULL. Return NULL for an unknown iid.
	 */
	void *(*query_interface)(struct pdm_dev_ins *dev, const char *iid);
};

/*
 * The core API for devices. Grows only at its end; check hlp->size before using a
 * member newer than the ABI minor you need.
 */
struct pdm_dev_hlp {
	uint32_t version;           /* PDM_ABI_VERSION of the core */
	uint32_t size;              /* sizeof(struct pdm_dev_hlp) in the core */

	/* Sets the instance's error message and returns status (for `return hlp->error(...)`). */
	int (*error)(struct pdm_dev_ins *dev, int status, const char *fmt, ...) PDM_PRINTF(3, 4);
	/* Logs a line prefixed with the instance name. Any thread. */
	void (*log)(struct pdm_dev_ins *dev, enum pdm_log_level level, const char *fmt, ...)
		PDM_PRINTF(3, 4);

	/*
	 * Config values of the instance's section, defaults applied. key must be declared
	 * in the schema. PDM_ERR_CFG_MISSING: optional key without default, not set.
	 * Strings stay valid for the instance's life. Construct time only.
	 */
	int (*cfg_get_int)(struct pdm_dev_ins *dev, const char *key, int64_t *value);
	int (*cfg_get_bool)(struct pdm_dev_ins *dev, const char *key, bool *value);
	int (*cfg_get_string)(struct pdm_dev_ins *dev, const char *key, const char **value);
	int (*cfg_get_path)(struct pdm_dev_ins *dev, const char *key, const char **value);

	/*
	 * Claims ports [port, port + count). PDM_ERR_DUPLICATE names the current owner
	 * when the range overlaps another. Construct time only.
	 */
	int (*ioport_register)(struct pdm_dev_ins *dev, uint16_t port, uint32_t count, void *user,
			       pdm_ioport_in_fn in, pdm_ioport_out_fn out, const char *desc);
	/* Claims guest-physical [gpa, gpa + size) outside guest RAM. Construct time only. */
	int (*mmio_register)(struct pdm_dev_ins *dev, uint64_t gpa, uint64_t size, void *user,
			     pdm_mmio_read_fn read, pdm_mmio_write_fn write, const char *desc);

	/*
	 * Sets an interrupt line (ISA IRQ 0-15, GSI up to 23) of the VM's interrupt
	 * controllers to 0 or 1: KVM's, or modvm's with [vm] irqchip = split. Report
	 * changes of level: an edge-triggered line interrupts on 0 -> 1. Any thread.
	 */
	int (*irq_set)(struct pdm_dev_ins *dev, uint32_t irq, int level);

	/* Guest-physical memory access, bounds-checked against guest RAM. Any thread. */
	int (*phys_read)(struct pdm_dev_ins *dev, uint64_t gpa, void *buf, size_t len);
	int (*phys_write)(struct pdm_dev_ins *dev, uint64_t gpa, const void *buf, size_t len);

	/* The device lock, held by the core around every I/O handler call. Recursive: no. */
	void (*lock)(struct pdm_dev_ins *dev);
	void (*unlock)(struct pdm_dev_ins *dev);

	/*
	 * Constructs the driver chain configured for LUN lun ([devices/<type>/<N>/lun<lun>])
	 * and returns the top driver's base in *below. above is the device's base for this
	 * LUN (NULL: one built on reg->query_interface). PDM_ERR_NO_DRIVER (no message
	 * set) when no driver is configured there; the device decides whether that is an
	 * error. Construct time only.
	 */
	int (*driver_attach)(struct pdm_dev_ins *dev, uint32_t lun, struct pdm_ibase *above,
			     struct pdm_ibase **below);

	/* Worker threads: see pdm_thread_fn in <modvm/pdm.h>. Construct time only. */
	int (*thread_create)(struct pdm_dev_ins *dev, struct pdm_thread **thread,
			     pdm_thread_fn fn, pdm_thread_wakeup_fn wakeup, void *user,
			     const char *name);
	bool (*thread_is_running)(struct pdm_thread *thread);

	/* The VM's current state. Any thread. */
	enum pdm_vm_state (*vm_state)(struct pdm_dev_ins *dev);
	/*
	 * Asks the core to power the VM off (asynchronously: returns at once). exit_status
	 * >= 0 becomes the status `modvm run` exits with; < 0 leaves it as it is. Any thread.
	 */
	int (*vm_request_poweroff)(struct pdm_dev_ins *dev, int exit_status);

	/* ---- ABI 1.1 ---- */

	/*
	 * Asks for more time in the suspend, reset or power-off callback being run (see
	 * <modvm/pdm.h>); only valid inside such a callback. done is called on EMT 0.
	 */
	int (*set_async_notification)(struct pdm_dev_ins *dev, bool (*done)(struct pdm_dev_ins *dev));
	/* The work behind a pending notification is finished: re-ask done(). Any thread. */
	void (*async_notification_completed)(struct pdm_dev_ins *dev);
	/*
	 * Guest-triggered reset (a reset port, a keyboard-controller pulse) or suspend,
	 * through the power protocol. Asynchronous: returns at once. Any thread.
	 * With [vm] on_reset = poweroff a reset request powers the VM off instead.
	 */
	int (*vm_request_reset)(struct pdm_dev_ins *dev);
	int (*vm_request_suspend)(struct pdm_dev_ins *dev);
	/*
	 * Reports a runtime error: id is a short stable name ("disk-full"), the message
	 * says what happened. PDM_RTERR_SUSPEND suspends the VM and PDM_RTERR_FATAL stops it
	 * (asynchronously). Any thread.
	 */
	int (*runtime_error)(struct pdm_dev_ins *dev, enum pdm_runtime_error kind, const char *id,
			     const char *fmt, ...) PDM_PRINTF(4, 5);

	/* ---- ABI 1.2 ---- */

	/*
	 * Fills *info with what the machine is: vCPUs, RAM, [boot] cmdline, the VM's name,
	 * when modvm started (see struct pdm_machine_info in <modvm/pdm.h> for how size
	 * works). PDM_ERR_INVALID_ARG, with a message, when info is NULL or info->size is
	 * smaller than the ABI 1.2 record. Any thread.
	 */
	int (*machine_info)(struct pdm_dev_ins *dev, struct pdm_machine_info *info);
};

#endif
