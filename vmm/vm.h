/*
 * vmm/vm.h - the VM: creation from a config tree, the state machine, power-on and
 * power-off, and the EMTs that run the vCPUs on KVM.
 *
 * Lifecycle, as `modvm run` drives it:
 *   vm_create()          CREATING -> CREATED; RAM, KVM, EMTs, devices, boot image
 *                        (or vm_create_begin() and vm_create_finish(), with the plugin
 *                        modules loaded in between while the EMTs create the vCPUs)
 *   vm_power_on()        CREATED -> POWERING_ON -> RUNNING (on the EMTs)
 *   vm_wait_stopped()    until OFF, GURU_MEDITATION or FATAL_ERROR
 *   vm_power_off()       -> POWERING_OFF -> OFF (devices notified)
 *   vm_destroy()         OFF -> DESTROYING -> TERMINATED
 * and, while it runs, from any thread:
 *   vm_suspend()         RUNNING -> SUSPENDING -> SUSPENDED (devices quiesced, async ok)
 *   vm_resume()          SUSPENDED -> RESUMING -> RUNNING
 *   vm_reset()           RUNNING|SUSPENDED -> RESETTING -> back where it was
 * Calls from a thread that is not an EMT are forwarded to EMT 0 as requests; the
 * caller waits for their status. Each runs as a descending rendezvous of all EMTs:
 * the highest EMT changes the state, EMT 0 (last) notifies the devices and drivers.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include <modvm/pdm.h>
#include "config/config.h"
#include "pdm/pdm.h"
#include "util/err.h"

struct vm;

/*
 * Loads the plugin modules: $MODVM_PLUGIN_PATH (':'-separated), then [plugins] path
 * (':'-separated, relative to the INI file), then default_dir. Earlier folders win
 * when two hold a module of the same file name. With is_by_name, only the modules
 * named after the types the tree uses (pdm_registry_load_named), all of them when a
 * type is not found that way.
 */
int vm_load_plugins(struct cfg_tree *tree, const char *default_dir, bool is_by_name,
		    struct pdm_registry *registry, struct err *err);
/*
 * Checks a whole config tree without creating anything: the core's sections ([vm],
 * [boot], [plugins]), every device and driver section against its schema, and any
 * section nobody reads. Every problem goes to diag; returns 0 or PDM_ERR_CFG.
 */
int vm_check_config(struct cfg_tree *tree, struct pdm_registry *registry, struct cfg_diag *diag);

/* Creates a VM from a checked tree. tree and registry must outlive the VM. */
int vm_create(struct cfg_tree *tree, struct pdm_registry *registry, struct vm **vm,
	      struct err *err);
/*
 * vm_create in two halves, so that a caller can load the plugin modules while the
 * EMTs create the vCPUs. vm_create_begin needs no plugins: from [vm] alone it makes
 * the KVM VM, the RAM and the irqchip, and starts the EMTs, which create the vCPUs.
 * The VM stays CREATING. vm_create_finish constructs the devices from registry, waits for
 * the vCPUs and loads the boot image: CREATED. After either fails, vm_destroy the VM
 * (vm_create_begin has already destroyed it when it fails itself).
 */
int vm_create_begin(struct cfg_tree *tree, struct vm **vm, struct err *err);
int vm_create_finish(struct vm *vm, struct pdm_registry *registry, struct err *err);
int vm_power_on(struct vm *vm, struct err *err);
int vm_power_off(struct vm *vm, struct err *err);
int vm_suspend(struct vm *vm, struct err *err);
int vm_resume(struct vm *vm, struct err *err);
int vm_reset(struct vm *vm, struct err *err);
/* Asks for a power-off without waiting (any thread, device handlers included). */
int vm_request_poweroff(struct vm *vm, int exit_status);
/* The same for reset (honouring [vm] on_reset) and suspend. */
int vm_request_reset(struct vm *vm);
int vm_request_suspend(struct vm *vm);
/*
 * Observers (vmapi's at-state, at-error, at-reset and at-destruction registrations).
 * They are called in the order of the events, on whichever thread caused them (often
 * an EMT), and must not block or change the VM's state; a control channel queues
 * what it needs and returns. Register before vm_power_on; deregister with the same
 * fn and user.
 */
typedef void (*vm_state_fn)(struct vm *vm, enum pdm_vm_state new_state,
			    enum pdm_vm_state old_state, void *user);
/* source: the instance name ("disk#0/lun0/file"); id: the error's short stable name. */
typedef void (*vm_error_fn)(struct vm *vm, const char *source, enum pdm_runtime_error kind,
			    const char *id, const char *message, void *user);
typedef void (*vm_event_fn)(struct vm *vm, void *user);
int vm_at_state_register(struct vm *vm, vm_state_fn fn, void *user);
int vm_at_state_deregister(struct vm *vm, vm_state_fn fn, void *user);
int vm_at_error_register(struct vm *vm, vm_error_fn fn, void *user);
int vm_at_error_deregister(struct vm *vm, vm_error_fn fn, void *user);
/* After each reset, once the VM is back in its state. */
int vm_at_reset_register(struct vm *vm, vm_event_fn fn, void *user);
int vm_at_reset_deregister(struct vm *vm, vm_event_fn fn, void *user);
/* At the start of vm_destroy, before anything is torn down. */
int vm_at_dtor_register(struct vm *vm, vm_event_fn fn, void *user);
int vm_at_dtor_deregister(struct vm *vm, vm_event_fn fn, void *user);

/* Blocks until the VM is OFF, or needs a power-off (GURU_MEDITATION, FATAL_ERROR). */
enum pdm_vm_state vm_wait_stopped(struct vm *vm);
void vm_destroy(struct vm *vm);

enum pdm_vm_state vm_state(struct vm *vm);
const char *vm_state_name(enum pdm_vm_state state);
/* The status a device asked `modvm run` to exit with, or -1. */
int vm_exit_status(struct vm *vm);
/* Why the VM entered GURU_MEDITATION ("" otherwise). */
const char *vm_failure(struct vm *vm);

/* Nanoseconds since the VM last powered on (0 before). */
uint64_t vm_uptime_ns(struct vm *vm);
const char *vm_name(struct vm *vm);

/* How long each instance's last power notifications took, for `modvm ctl status --devices`. */
enum vm_notify {
	VM_NOTIFY_POWER_ON,
	VM_NOTIFY_SUSPEND,
	VM_NOTIFY_RESUME,
	VM_NOTIFY_RESET,
	VM_NOTIFY_POWER_OFF,
	VM_NOTIFY_COUNT
};
struct vm_instance_info {
	const char *name;               /* "serial#0", "serial#0/lun0/char" */
	bool is_driver;
	uint64_t last_ns[VM_NOTIFY_COUNT];  /* 0: never notified */
	bool was_async[VM_NOTIFY_COUNT];    /* the last one completed asynchronously */
};
/* Calls fn for every device and driver, in notification order. Any thread. */
void vm_for_each_instance(struct vm *vm,
			  void (*fn)(const struct vm_instance_info *info, void *user), void *user);
const char *vm_notify_name(enum vm_notify notify);

/* Exit and dispatch counters, for tests and benchmarks. */
struct vm_stats {
	uint64_t exits;             /* KVM_RUN returns, all vCPUs */
	uint64_t unhandled_pio;
	uint64_t unhandled_mmio;
	uint64_t handler_errors;
};
void vm_get_stats(struct vm *vm, struct vm_stats *stats);
unsigned vm_cpu_count(struct vm *vm);

#endif
