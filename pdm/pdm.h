/*
 * pdm/pdm.h - the pluggable device manager: module loading, type registries, device
 * and driver instances with their LUN chains, power notifications, worker threads.
 *
 * Two objects:
 *  - struct pdm_registry: the modules loaded from the search path and the device and
 *    driver types they registered. Independent of any VM: `modvm plugins` and
 *    `modvm check` use it alone.
 *  - struct pdm: the instances of one VM, built from the config tree against a
 *    registry. What a device asks of the VM (ports, MMIO, IRQs, guest memory, power
 *    requests) goes to the struct pdm_host the VM layer passed in, since pdm sits
 *    below vmm.
 *
 * Ordering: devices are constructed in the order their [devices/<type>/<N>] sections
 * (or the first section below one) appear in the file, whatever their type; instances
 * that exist only through -o overrides come last. They are destroyed in reverse. A device's LUN chains are built
 * by its constructor (driver_attach) and destroyed bottom-up before its destructor.
 * All of this runs on one thread at a time (the VM creator, later EMT 0).
 */
#ifndef PDM_PDM_H
#define PDM_PDM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <modvm/device.h>
#include <modvm/driver.h>
#include "config/config.h"
#include "util/err.h"

struct pdm_module {
	char *path;
	void *handle;               /* dlopen handle */
	uint32_t abi_version;       /* as the module declared it */
	bool is_used;               /* pdm_registry_unload_unused: the config names a type */
	struct pdm_module *next;
};

struct pdm_dev_type {
	struct pdm_dev_reg reg;     /* the record, zero-extended to the core's size */
	struct pdm_module *module;
	uint32_t instance_count;
};

struct pdm_drv_type {
	struct pdm_drv_reg reg;
	struct pdm_module *module;
	uint32_t instance_count;
};

struct pdm_registry {
	struct pdm_module *modules;         /* load order */
	struct pdm_dev_type **devs;
	size_t dev_count;
	struct pdm_drv_type **drvs;
	size_t drv_count;
	/*
	 * Set by a caller whose process ends soon after pdm_registry_release: the modules
	 * then stay loaded, and the exit unmaps them with everything else instead of one
	 * dlclose each (a twentieth of a millisecond for four on the bench/ host).
	 */
	bool is_kept_loaded;
};

void pdm_registry_init(struct pdm_registry *registry);
void pdm_registry_release(struct pdm_registry *registry);
/*
 * Loads one module: reads its ABI word from the ELF file before dlopen (so no code of
 * an incompatible module runs, not even its constructors), then dlopen(RTLD_NOW |
 * RTLD_LOCAL), then its entry point. On failure nothing of the module stays
 * registered or loaded and err names the file.
 */
int pdm_registry_load(struct pdm_registry *registry, const char *path, struct err *err);
/*
 * Loads every "*.so" of each folder, in name order. A module whose file name was
 * already loaded from an earlier folder is skipped (earlier folders win, like PATH).
 * A missing folder is skipped. Stops at the first failure.
 */
int pdm_registry_load_dirs(struct pdm_registry *registry, const char *const *dirs,
			   size_t dir_count, struct err *err);
struct pdm_dev_type *pdm_registry_find_dev(struct pdm_registry *registry, const char *name);
struct pdm_drv_type *pdm_registry_find_drv(struct pdm_registry *registry, const char *name);

/*
 * Checks the device part of a config tree without constructing anything: every
 * [devices/<type>/<N>] names a registered type and an instance number, every
 * lun<N> section names a registered driver, and each section is checked against the
 * schema of what it configures. Claims the sections it understood. Every problem
 * goes to diag; returns 0 or PDM_ERR_CFG.
 */
int pdm_check_config(struct pdm_registry *registry, struct cfg_node *root, struct cfg_diag *diag);
/*
 * Loads only what the [devices] part of the tree names: for each device and driver
 * type, the module TYPE.so from the first folder that holds one. Then, if a type is
 * still unknown (its module has another file name, or there is none), every module,
 * as pdm_registry_load_dirs: the config check then reports what is really missing.
 * Modules a VM does not use are not even opened. Stops at the first failure.
 */
int pdm_registry_load_named(struct pdm_registry *registry, const char *const *dirs,
			    size_t dir_count, struct cfg_node *root, struct err *err);
/*
 * Unloads the modules none of whose types the [devices] part of the tree names (as a
 * device type or a link's driver): what a VM will not use costs it no memory. Returns
 * how many were unloaded. Call it after pdm_check_config, before construction.
 */
unsigned pdm_registry_unload_unused(struct pdm_registry *registry, struct cfg_node *root);

/* What pdm needs from the VM; ctx is passed back to every call. */
struct pdm_host {
	void *ctx;
	int (*ioport_register)(void *ctx, struct pdm_dev_ins *dev, uint16_t port, uint32_t count,
			       void *user, pdm_ioport_in_fn in, pdm_ioport_out_fn out,
			       const char *desc, struct err *err);
	int (*mmio_register)(void *ctx, struct pdm_dev_ins *dev, uint64_t gpa, uint64_t size,
			     void *user, pdm_mmio_read_fn read, pdm_mmio_write_fn write,
			     const char *desc, struct err *err);
	int (*irq_set)(void *ctx, uint32_t irq, int level);
	int (*phys_read)(void *ctx, uint64_t gpa, void *buf, size_t len);
	int (*phys_write)(void *ctx, uint64_t gpa, const void *buf, size_t len);
	enum pdm_vm_state (*vm_state)(void *ctx);
	int (*request_poweroff)(void *ctx, int exit_status);
	int (*request_reset)(void *ctx);
	int (*request_suspend)(void *ctx);
	/* A device or driver reported a runtime error (any thread). */
	void (*runtime_error)(void *ctx, const char *source, enum pdm_runtime_error kind,
			      const char *id, const char *message);
	/*
	 * Called by the thread waiting for async notifications each time it wakes: the VM
	 * serves its priority requests there. May be NULL.
	 */
	void (*serve_priority)(void *ctx);
	/*
	 * Fills every member of the core's struct pdm_machine_info but version and size
	 * (the device helper sizes the record for its caller). Any thread. May be NULL.
	 */
	void (*machine_info)(void *ctx, struct pdm_machine_info *info);
};

struct pdm_device;
struct pdm_driver;

/* The power notifications, for timings. */
enum pdm_notify {
	PDM_NOTIFY_POWER_ON,
	PDM_NOTIFY_SUSPEND,
	PDM_NOTIFY_RESUME,
	PDM_NOTIFY_RESET,
	PDM_NOTIFY_POWER_OFF,
	PDM_NOTIFY_COUNT
};

struct pdm_instance_info {
	const char *name;
	bool is_driver;
	uint64_t last_ns[PDM_NOTIFY_COUNT];     /* how long the last one took; 0: never */
	bool was_async[PDM_NOTIFY_COUNT];
};

struct pdm {
	struct pdm_registry *registry;
	const struct pdm_host *host;
	struct pdm_device *devices;         /* construction order */
	struct pdm_device **devices_tail;
	struct pdm_thread *threads;         /* creation order */
	pthread_mutex_t threads_lock;
	bool is_running;                    /* threads should run */

	/* Async notification: the instance whose callback runs now, and the wake-up. */
	void *notifying;
	enum pdm_notify notify_kind;
	pthread_mutex_t async_lock;
	pthread_cond_t async_cond;
	uint64_t async_wakeups;
};

/* host may be NULL: then a device's I/O and VM requests fail with PDM_ERR_NOT_SUPPORTED. */
void pdm_init(struct pdm *pdm, struct pdm_registry *registry, const struct pdm_host *host);
/*
 * Constructs every device of the tree (call pdm_check_config first). On failure
 * everything constructed so far is destroyed again, in reverse, and err says which
 * instance failed, where it is configured, and why.
 */
int pdm_construct(struct pdm *pdm, struct cfg_node *root, struct err *err);
/* Destroys every instance (threads first, then chains bottom-up, then devices). */
void pdm_destroy(struct pdm *pdm);
/* pdm_destroy, then frees what pdm_init set up; pdm may then be initialised again. */
void pdm_release(struct pdm *pdm);

/*
 * Power notifications, in the orders DESIGN.md gives. They cannot fail; suspend,
 * reset and power-off wait for asynchronous completions (logging whom they wait for
 * at 1, 2, 4, ... s). Suspend and power-off suspend the worker threads after every
 * callback; resume and power-on resume them after every callback. Run on one thread
 * at a time (EMT 0).
 */
void pdm_power_on(struct pdm *pdm);
void pdm_suspend(struct pdm *pdm);
void pdm_resume(struct pdm *pdm);
void pdm_reset(struct pdm *pdm);
void pdm_power_off(struct pdm *pdm);
/* Wakes a thread waiting in an async notification round (a priority request came). */
void pdm_wake(struct pdm *pdm);
/* Calls fn for every instance, in notification order: each device's chains, then it. */
void pdm_for_each_instance(struct pdm *pdm,
			   void (*fn)(const struct pdm_instance_info *info, void *user), void *user);
const char *pdm_notify_name(enum pdm_notify notify);

/* The device lock of an instance, held around its I/O handlers. */
pthread_mutex_t *pdm_dev_lock_of(struct pdm_dev_ins *dev);

/* Counts, for `modvm plugins` and tests. */
size_t pdm_device_count(const struct pdm *pdm);

/* Internal to pdm/: thread management shared by the device and driver helpers. */
int pdm_thread_create(struct pdm *pdm, const void *owner, const char *owner_name, struct pdm_thread **thread,
		      pdm_thread_fn fn, pdm_thread_wakeup_fn wakeup, void *user,
		      const char *name, struct err *err);
bool pdm_thread_is_running(struct pdm_thread *thread);
void pdm_threads_resume(struct pdm *pdm);
void pdm_threads_suspend(struct pdm *pdm);
/* Terminates and joins the threads of one owner (NULL: all). */
void pdm_threads_destroy(struct pdm *pdm, const void *owner);

#endif
