/*
 * modvm/pdm.h - types shared by the device and driver APIs: VM states, log levels,
 * machine information, worker threads, and the module entry point.
 *
 * Every plugin module exports exactly two symbols, both declared here:
 *   - pdm_module_abi_version, a data symbol holding PDM_ABI_VERSION as the module was
 *     built. The loader reads it before running any code of the module.
 *   - pdm_module_register(), called once after the version check; it registers the
 *     module's device and driver types through the callback table it receives.
 * PDM_MODULE_DECLARE() defines the first; write the second yourself.
 */
#ifndef MODVM_PDM_H
#define MODVM_PDM_H

#include <stdbool.h>
#include <stdint.h>

#include <modvm/config.h>
#include <modvm/interface.h>
#include <modvm/status.h>
#include <modvm/version.h>

/* The entry point must keep its C name when a plugin is written in C++. */
#ifdef __cplusplus
extern "C" {
#endif

/* The VM states (see docs/: the state machine). Values are part of the ABI. */
enum pdm_vm_state {
	PDM_VM_INVALID = 0,
	PDM_VM_CREATING,
	PDM_VM_CREATED,
	PDM_VM_LOADING,
	PDM_VM_POWERING_ON,
	PDM_VM_RUNNING,
	PDM_VM_SUSPENDING,
	PDM_VM_SUSPENDED,
	PDM_VM_RESUMING,
	PDM_VM_RESETTING,
	PDM_VM_SAVING,
	PDM_VM_POWERING_OFF,
	PDM_VM_OFF,
	PDM_VM_DESTROYING,
	PDM_VM_TERMINATED,
	PDM_VM_GURU_MEDITATION,
	PDM_VM_FATAL_ERROR,
	PDM_VM_LOAD_FAILURE,
};

enum pdm_log_level {
	PDM_LOG_INVALID = 0,
	PDM_LOG_ERROR,
	PDM_LOG_WARN,
	PDM_LOG_INFO,
	PDM_LOG_DEBUG,
};

/*
 * Runtime errors a device or driver reports while the VM runs (helper runtime_error).
 * Each reaches the VM's error observers and the control socket as an event.
 */
enum pdm_runtime_error {
	PDM_RTERR_INVALID = 0,
	PDM_RTERR_WARNING,      /* the VM runs on; only reported */
	PDM_RTERR_SUSPEND,      /* the VM is suspended; a resume may succeed later */
	PDM_RTERR_FATAL,        /* the VM stops in FATAL_ERROR; only power-off leaves it */
};

/*
 * What the machine is (ABI 1.2): pdm_dev_hlp.machine_info fills this record, for a
 * device that describes the machine to the guest (fw_cfg) or measures against the
 * start of modvm (boot-timer).
 *
 * The caller owns the record, and it grows at its end like the helper tables: set
 * version to PDM_ABI_VERSION and size to sizeof(struct pdm_machine_info) as you built
 * it (PDM_MACHINE_INFO_INIT does both). The core fills the members that fit in size;
 * members it does not know (a plugin built against a newer minor that checked
 * hlp->size) are zeroed. On return version is the core's PDM_ABI_VERSION and size the
 * number of bytes the core filled: a member beyond it was not set.
 * The values do not change while the VM exists; the strings stay valid as long.
 */
struct pdm_machine_info {
	uint32_t version;           /* in: PDM_ABI_VERSION as built; out: the core's */
	uint32_t size;              /* in: sizeof(struct pdm_machine_info); out: bytes filled */
	uint32_t cpus;              /* [vm] cpus: the number of vCPUs */
	uint32_t reserved;          /* 0; keeps ram_size naturally aligned */
	uint64_t ram_size;          /* [vm] memory: bytes of guest RAM */
	const char *cmdline;        /* [boot] cmdline, or "" when not set */
	const char *vm_name;        /* [vm] name */
	/*
	 * CLOCK_MONOTONIC, in ns, when the modvm process started (before it read its
	 * configuration): the zero of boot-time measurements.
	 */
	uint64_t start_time_ns;
};

#define PDM_MACHINE_INFO_INIT \
	{ .version = PDM_ABI_VERSION, .size = sizeof(struct pdm_machine_info) }

/*
 * Asynchronous notification (ABI 1.1). A suspend, reset or power-off callback that
 * cannot finish at once (I/O in flight, a busy worker) calls set_async_notification
 * with a "done?" callback and returns. The core moves on to other instances; the
 * drivers below a pending driver, and a pending device's own drivers when it asked to
 * be notified first, wait. Whoever finishes the work calls
 * async_notification_completed (any thread); the core then calls done() on EMT 0,
 * with no lock of the instance held, until it returns true. No busy polling: done()
 * is also asked at 1, 2, 4, ... s, when the core logs whom it is waiting for.
 * While the VM is suspended its worker threads are suspended too: a reset or power-off
 * of a suspended VM finds the instance quiesced (its suspend completed) and must not
 * wait for a worker.
 */

/*
 * Worker threads. A plugin creates them in its constructor through its helper table.
 * They are created suspended and run only while the VM runs: the core calls fn when
 * the VM powers on (or resumes) and expects it to return soon after
 * thread_is_running() turns false; it then calls wakeup (if set) to kick fn out of a
 * blocking wait; thread_is_running() already reads false when wakeup is called. fn may
 * be called again on the next resume. The core terminates and
 * joins every thread of a LUN chain before any link of that chain is destroyed. fn's return value is logged
 * when negative.
 */
struct pdm_thread;
typedef int (*pdm_thread_fn)(struct pdm_thread *thread, void *user);
typedef void (*pdm_thread_wakeup_fn)(struct pdm_thread *thread, void *user);

struct pdm_dev_reg;
struct pdm_drv_reg;

/* The registration callbacks a module's pdm_module_register receives. */
struct pdm_reg_callbacks {
	uint32_t version;       /* PDM_ABI_VERSION of the core */
	uint32_t size;          /* sizeof(struct pdm_reg_callbacks) in the core */
	/*
	 * Registers a device or driver type. The record must stay valid while the module
	 * is loaded (make it static const). Fails with a message naming the type when the
	 * record is malformed (size, version, missing construct) or the name is taken.
	 */
	int (*register_device)(const struct pdm_reg_callbacks *cb, const struct pdm_dev_reg *reg);
	int (*register_driver)(const struct pdm_reg_callbacks *cb, const struct pdm_drv_reg *reg);
};

#define PDM_MODULE_DECLARE() \
	PDM_EXPORT extern const uint32_t pdm_module_abi_version; \
	const uint32_t pdm_module_abi_version = PDM_ABI_VERSION

/* The module entry point; core_abi is the core's PDM_ABI_VERSION. */
PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi);

#define PDM_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

#ifdef __cplusplus
}
#endif

#endif
