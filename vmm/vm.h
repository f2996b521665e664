/*
 * vmm/vm.h - the VM: creation from a config tree, the state machine, power-on and
 * power-off, and the EMTs that run the vCPUs on KVM.
 *
 * Lifecycle, as `modvm run` drives it:
 *   vm_create()          CREATING -> CREATED; RAM, KVM, EMTs, devices, boot image
 *   vm_power_on()        CREATED -> POWERING_ON -> RUNNING (on the EMTs)
 *   vm_wait_stopped()    until OFF, GURU_MEDITATION or FATAL_ERROR
 *   vm_power_off()       -> POWERING_OFF -> OFF (devices notified)
 *   vm_destroy()         OFF -> DESTROYING -> TERMINATED
 * Calls from a thread that is not an EMT are forwarded to EMT 0 as requests; the
 * caller waits for their status.
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
 * when two hold a module of the same file name.
 */
int vm_load_plugins(struct cfg_tree *tree, const char *default_dir,
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
int vm_power_on(struct vm *vm, struct err *err);
int vm_power_off(struct vm *vm, struct err *err);
/* Asks for a power-off without waiting (any thread, device handlers included). */
int vm_request_poweroff(struct vm *vm, int exit_status);
/* Blocks until the VM is OFF, or needs a power-off (GURU_MEDITATION, FATAL_ERROR). */
enum pdm_vm_state vm_wait_stopped(struct vm *vm);
void vm_destroy(struct vm *vm);

enum pdm_vm_state vm_state(struct vm *vm);
const char *vm_state_name(enum pdm_vm_state state);
/* The status a device asked `modvm run` to exit with, or -1. */
int vm_exit_status(struct vm *vm);
/* Why the VM entered GURU_MEDITATION ("" otherwise). */
const char *vm_failure(struct vm *vm);

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
