/*
 * vmm/power.c - the power operations: power-on, suspend, resume, reset, power-off
 * and the fatal-error stop, each a descending rendezvous of all EMTs (the seeds'
 * IConsole::Pause walk-through): the highest EMT changes the state first, EMT 0 goes
 * last and notifies the devices and drivers. Called from another thread, an
 * operation is forwarded to EMT 0 as a request and the caller waits for its status.
 * The request_* variants queue it and return at once (device handlers, signals).
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "util/log.h"
#include "vmm/vcpu.h"

enum vm_op {
	VM_OP_INVALID = 0,
	VM_OP_POWER_ON,
	VM_OP_SUSPEND,
	VM_OP_RESUME,
	VM_OP_RESET,
	VM_OP_POWER_OFF,
	VM_OP_FATAL,
};

struct vm_op_args {
	enum vm_op op;
	struct err *err;
	enum pdm_vm_state from;         /* the state the highest EMT changed from */
};

static uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The transitional state each operation passes through first. */
static enum pdm_vm_state vm_op_first(enum vm_op op)
{
	switch (op) {
	case VM_OP_POWER_ON: return PDM_VM_POWERING_ON;
	case VM_OP_SUSPEND: return PDM_VM_SUSPENDING;
	case VM_OP_RESUME: return PDM_VM_RESUMING;
	case VM_OP_RESET: return PDM_VM_RESETTING;
	case VM_OP_POWER_OFF: return PDM_VM_POWERING_OFF;
	case VM_OP_FATAL: return PDM_VM_FATAL_ERROR;
	case VM_OP_INVALID: break;
	}
	return PDM_VM_INVALID;
}

/* EMT 0's part, after every other EMT has stopped running guest code. */
static int vm_op_emt0(struct vm *vm, struct vm_op_args *args)
{
	switch (args->op) {
	case VM_OP_POWER_ON:
		pdm_power_on(&vm->pdm);
		atomic_store(&vm->power_on_ns, vm_now_ns());
		return vm_set_state(vm, PDM_VM_RUNNING, args->err);
	case VM_OP_SUSPEND:
		pdm_suspend(&vm->pdm);
		return vm_set_state(vm, PDM_VM_SUSPENDED, args->err);
	case VM_OP_RESUME:
		pdm_resume(&vm->pdm);
		return vm_set_state(vm, PDM_VM_RUNNING, args->err);
	case VM_OP_RESET: {
		int status;

		pdm_reset(&vm->pdm);
		status = 0;
		if (vm->is_split_irqchip)
			irqchip_reset(&vm->irqchip);
		else
			status = kvm_reset_irqchip(&vm->kvm, args->err);
		if (!status)
			status = boot_reset(vm, args->err);
		if (status)
			return status;
		status = vm_set_state(vm, args->from, args->err);   /* back where it was */
		atomic_store(&vm->is_reset_requested, false);
		if (!status)
			vm_notify_reset(vm);
		return status;
	}
	case VM_OP_POWER_OFF:
		/* Devices never powered on are not told of a power-off either. */
		if (args->from != PDM_VM_CREATED)
			pdm_power_off(&vm->pdm);
		return vm_set_state(vm, PDM_VM_OFF, args->err);
	case VM_OP_FATAL:
		/* Quiesce what runs; only power-off leaves FATAL_ERROR. */
		pdm_suspend(&vm->pdm);
		return 0;
	case VM_OP_INVALID:
		break;
	}
	return PDM_ERR_INVALID_ARG;
}

static int vm_op_rdv(struct vm *vm, struct vcpu *vcpu, void *arg)
{
	struct vm_op_args *args = arg;
	int status = 0;

	if (vcpu->id == vm->cpu_count - 1) {
		args->from = vm_state(vm);
		status = vm_set_state(vm, vm_op_first(args->op), args->err);
	}
	/* A reset puts every vCPU back to its power-on state, on its own EMT. */
	if (!status && args->op == VM_OP_RESET)
		status = vcpu_reset(vcpu, args->err);
	if (!status && vcpu->id == 0)
		status = vm_op_emt0(vm, args);
	return status;
}

static int vm_op_emt(struct vm *vm, void *arg)
{
	struct vm_op_args *args = arg;
	unsigned flags = VM_RDV_F_STOP_ON_ERROR;

	/* Only a reset has work for the EMTs between the highest and EMT 0. */
	if (args->op != VM_OP_RESET)
		flags |= VM_RDV_F_ENDS_ONLY;
	return vm_rendezvous(vm, VM_RDV_DESCENDING, flags, vm_op_rdv, arg);
}

static const char *const vm_op_names[] = {
	[VM_OP_POWER_ON] = "power-on", [VM_OP_SUSPEND] = "suspend", [VM_OP_RESUME] = "resume",
	[VM_OP_RESET] = "reset", [VM_OP_POWER_OFF] = "power-off", [VM_OP_FATAL] = "fatal stop",
};

/* Runs op on the EMTs and waits for it. */
static int vm_op(struct vm *vm, enum vm_op op, struct err *err)
{
	struct err local = { 0 };
	struct vm_op_args args = { .op = op, .err = &local };
	int status = vm_req_call(vm, VM_CPU_ANY, 0, -1, vm_op_emt, &args);

	if (status && !local.msg[0])
		err_set(&local, status, "%s", pdm_status_message(status));
	if (status)
		err_set(err, status, "%s: %s", vm_op_names[op], local.msg);
	return status;
}

int vm_power_on(struct vm *vm, struct err *err)
{
	return vm_op(vm, VM_OP_POWER_ON, err);
}

int vm_suspend(struct vm *vm, struct err *err)
{
	return vm_op(vm, VM_OP_SUSPEND, err);
}

int vm_resume(struct vm *vm, struct err *err)
{
	return vm_op(vm, VM_OP_RESUME, err);
}

int vm_reset(struct vm *vm, struct err *err)
{
	return vm_op(vm, VM_OP_RESET, err);
}

int vm_power_off(struct vm *vm, struct err *err)
{
	/* Later requests (a signal, the guest) have nothing left to do. */
	atomic_store(&vm->is_poweroff_requested, true);
	return vm_op(vm, VM_OP_POWER_OFF, err);
}

/* ---- asynchronous requests ---- */

/* A queued operation, run on EMT 0 when it gets to it; the argument is the op. */
static int vm_op_request(struct vm *vm, void *arg)
{
	enum vm_op op = (enum vm_op)(uintptr_t)arg;
	struct err err = { 0 };
	struct vm_op_args args = { .op = op, .err = &err };
	int status = vm_op_emt(vm, &args);

	if (status) {
		/* Not done: a later request (a signal, the guest again) may try anew. */
		if (op == VM_OP_POWER_OFF)
			atomic_store(&vm->is_poweroff_requested, false);
		if (op == VM_OP_RESET)
			atomic_store(&vm->is_reset_requested, false);
		log_info("vm", "requested %s not done: %s", vm_op_names[op],
			 err.msg[0] ? err.msg : pdm_status_message(status));
	}
	return status;
}

/* Never in place: the caller may be an I/O handler holding its device lock. */
static int vm_op_queue(struct vm *vm, enum vm_op op)
{
	return vm_req_call(vm, 0, VM_REQ_NOWAIT, -1, vm_op_request, (void *)(uintptr_t)op);
}

int vm_request_poweroff(struct vm *vm, int exit_status)
{
	int none = -1;

	/* The first status set wins: a guest that writes its exit port twice keeps the first. */
	if (exit_status >= 0)
		atomic_compare_exchange_strong(&vm->exit_status, &none, exit_status);
	if (atomic_exchange(&vm->is_poweroff_requested, true))
		return 0;
	if (vm_op_queue(vm, VM_OP_POWER_OFF)) {
		atomic_store(&vm->is_poweroff_requested, false);
		return PDM_ERR_STATE;
	}
	return 0;
}

int vm_request_reset(struct vm *vm)
{
	if (vm->on_reset == VM_ON_RESET_POWEROFF) {
		log_info("vm", "reset requested: powering off ([vm] on_reset = poweroff)");
		return vm_request_poweroff(vm, -1);
	}
	if (atomic_exchange(&vm->is_reset_requested, true))
		return 0;
	if (vm_op_queue(vm, VM_OP_RESET)) {
		atomic_store(&vm->is_reset_requested, false);
		return PDM_ERR_STATE;
	}
	return 0;
}

int vm_request_suspend(struct vm *vm)
{
	return vm_op_queue(vm, VM_OP_SUSPEND) ? PDM_ERR_STATE : 0;
}

int vm_request_fatal(struct vm *vm)
{
	return vm_op_queue(vm, VM_OP_FATAL) ? PDM_ERR_STATE : 0;
}

uint64_t vm_uptime_ns(struct vm *vm)
{
	uint64_t since = atomic_load(&vm->power_on_ns);

	return since ? vm_now_ns() - since : 0;
}
