/*
 * vmm/emt.c - emulation threads: the per-vCPU loop, kicking an EMT out of KVM_RUN,
 * requests and rendezvous.
 *
 * The loop serves, in order: terminate, a pending rendezvous, queued requests, then,
 * if the VM is RUNNING, one KVM_RUN; otherwise it sleeps until kicked.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "vmm/vcpu.h"

static __thread struct vcpu *emt_current;

struct vcpu *emt_self(void)
{
	return emt_current;
}

/* SIGRTMIN is a function call in glibc; this is its value, fixed at first use. */
static int emt_kick_signal(void)
{
	return SIGRTMIN;
}

static void emt_kick_handler(int sig)
{
	(void)sig;      /* only there so that the signal interrupts KVM_RUN instead of killing */
}

void vcpu_kick(struct vcpu *vcpu, uint32_t ff)
{
	atomic_fetch_or(&vcpu->ff, ff);
	/*
	 * Signalled under the lock, unlike the rendezvous wake-ups: signalling after the
	 * unlock was measured to make pause/resume round trips several times slower on
	 * this project's test machine (2 CPUs, nested KVM); the cause was not pinned down.
	 */
	pthread_mutex_lock(&vcpu->lock);
	pthread_cond_signal(&vcpu->cond);
	pthread_mutex_unlock(&vcpu->lock);
	/*
	 * Pairs with the EMT's store of in_guest before its last look at ff (both seq_cst):
	 * either it sees our flag and does not enter, or we see in_guest and interrupt it.
	 * immediate_exit covers a kick that lands between that look and the entry.
	 */
	if (atomic_load(&vcpu->in_guest) && vcpu->has_thread) {
		__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(vcpu->tid, emt_kick_signal());
	}
}

void vm_kick_all(struct vm *vm, uint32_t ff)
{
	for (unsigned i = 0; i < vm->cpu_count; i++)
		vcpu_kick(&vm->vcpus[i], ff);
}

/* ---- requests ---- */

/*
 * Every request lives on the heap with two references while someone waits for it
 * (the waiter's and the queue's), so that a waiter that times out can leave and the
 * EMT still finishes and frees it. A non-EMT waiter sleeps on the request's own
 * condition; an EMT waiter on its vCPU's, so that kicks (a rendezvous) reach it.
 */
static void emt_req_unref(struct vm_req *req)
{
	if (atomic_fetch_sub(&req->refs, 1) != 1)
		return;
	if (req->done_lock == &req->own_lock) {
		pthread_cond_destroy(&req->own_cond);
		pthread_mutex_destroy(&req->own_lock);
	}
	free(req);
}

static void emt_complete_request(struct vm_req *req, int status)
{
	bool is_outside_waiter = req->done_lock == &req->own_lock;

	if (req->done_lock) {
		pthread_mutex_lock(req->done_lock);
		req->status = status;
		req->is_done = true;
		pthread_mutex_unlock(req->done_lock);
		/* The waiter's reference keeps the condition alive until ours is dropped. */
		pthread_cond_broadcast(req->done_cond);
		/*
		 * The waiter (a control client, the CLI) may have been woken on this CPU; this
		 * EMT is about to re-enter a guest that may spin, and a guest is not always
		 * preempted at once for a woken thread (seen on nested KVM: the reply then
		 * waits for the next scheduler tick). Let it run first.
		 */
		if (is_outside_waiter)
			sched_yield();
	} else if (status) {
		log_debug("emt", "request failed: %s", pdm_status_message(status));
	}
	emt_req_unref(req);
}

/* Takes one queue (priority or all) off the vCPU and runs it in order. */
static void emt_process_requests(struct vcpu *vcpu, bool is_priority_only)
{
	struct vm_req *prio, *normal = NULL, *req, *next;

	pthread_mutex_lock(&vcpu->lock);
	prio = vcpu->prio_reqs;
	vcpu->prio_reqs = NULL;
	vcpu->prio_tail = &vcpu->prio_reqs;
	if (!is_priority_only) {
		normal = vcpu->reqs;
		vcpu->reqs = NULL;
		vcpu->reqs_tail = &vcpu->reqs;
		atomic_fetch_and(&vcpu->ff, ~VCPU_FF_REQUEST);
	}
	pthread_mutex_unlock(&vcpu->lock);
	for (int pass = 0; pass < 2; pass++)
		for (req = pass ? normal : prio; req; req = next) {
			next = req->next;
			emt_complete_request(req, req->fn(vcpu->vm, req->arg));
		}
}

void emt_serve_priority(struct vm *vm)
{
	struct vcpu *self = emt_self();

	if (self && self->vm == vm)
		emt_process_requests(self, true);
}

/* An exiting EMT fails what is still queued, so that no caller waits forever. */
static void emt_refuse_requests(struct vcpu *vcpu)
{
	struct vm_req *lists[2], *req, *next;

	pthread_mutex_lock(&vcpu->lock);
	vcpu->is_gone = true;
	lists[0] = vcpu->prio_reqs;
	lists[1] = vcpu->reqs;
	vcpu->prio_reqs = vcpu->reqs = NULL;
	vcpu->prio_tail = &vcpu->prio_reqs;
	vcpu->reqs_tail = &vcpu->reqs;
	pthread_mutex_unlock(&vcpu->lock);
	for (int i = 0; i < 2; i++)
		for (req = lists[i]; req; req = next) {
			next = req->next;
			emt_complete_request(req, PDM_ERR_STATE);
		}
}

static int emt_rendezvous_arrive(struct vcpu *vcpu);

static int emt_req_one(struct vm *vm, struct vcpu *self, unsigned cpu, unsigned flags,
		       int timeout_ms, vm_req_fn fn, void *arg)
{
	bool is_nowait = flags & VM_REQ_NOWAIT, is_emt = self != NULL;
	struct vcpu *target;
	struct vm_req *req;
	struct timespec deadline;
	int status;

	if (cpu >= vm->cpu_count)
		return PDM_ERR_INVALID_ARG;
	target = &vm->vcpus[cpu];
	/* A waited call from the target EMT itself runs in place. */
	if (!is_nowait && self == target)
		return fn(vm, arg);
	req = calloc(1, sizeof(*req));
	if (!req)
		return PDM_ERR_NO_MEMORY;
	req->fn = fn;
	req->arg = arg;
	atomic_init(&req->refs, is_nowait ? 1 : 2);
	if (!is_nowait && is_emt) {
		req->done_lock = &self->lock;
		req->done_cond = &self->cond;
	} else if (!is_nowait) {
		pthread_mutex_init(&req->own_lock, NULL);
		pthread_cond_init(&req->own_cond, NULL);
		req->done_lock = &req->own_lock;
		req->done_cond = &req->own_cond;
	}
	pthread_mutex_lock(&target->lock);
	if (target->is_gone) {
		pthread_mutex_unlock(&target->lock);
		atomic_store(&req->refs, 1);
		emt_req_unref(req);
		return PDM_ERR_STATE;
	}
	if (flags & VM_REQ_PRIORITY) {
		*target->prio_tail = req;
		target->prio_tail = &req->next;
	} else {
		*target->reqs_tail = req;
		target->reqs_tail = &req->next;
	}
	pthread_mutex_unlock(&target->lock);
	vcpu_kick(target, VCPU_FF_REQUEST);
	/* EMT 0 may be waiting for async notifications: it serves priority requests then. */
	if ((flags & VM_REQ_PRIORITY) && cpu == 0)
		pdm_wake(&vm->pdm);
	if (is_nowait)
		return 0;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	status = 0;
	pthread_mutex_lock(req->done_lock);
	while (!req->is_done && !status) {
		if (is_emt && (atomic_load(&self->ff) & VCPU_FF_RENDEZVOUS)) {
			pthread_mutex_unlock(req->done_lock);
			emt_rendezvous_arrive(self);
			pthread_mutex_lock(req->done_lock);
			continue;
		}
		if (timeout_ms < 0)
			pthread_cond_wait(req->done_cond, req->done_lock);
		else if (pthread_cond_timedwait(req->done_cond, req->done_lock, &deadline))
			status = req->is_done ? 0 : PDM_ERR_TIMEOUT;
	}
	if (req->is_done)
		status = req->status;
	pthread_mutex_unlock(req->done_lock);
	emt_req_unref(req);
	return status;
}

int vm_req_call(struct vm *vm, unsigned cpu, unsigned flags, int timeout_ms, vm_req_fn fn,
		void *arg)
{
	struct vcpu *self = emt_self();
	int status = 0;

	if (self && self->vm != vm)
		self = NULL;
	if (cpu == VM_CPU_ANY)
		return emt_req_one(vm, self, self ? self->id : 0, flags, timeout_ms, fn, arg);
	if (cpu != VM_CPU_ALL && cpu != VM_CPU_ALL_REVERSE)
		return emt_req_one(vm, self, cpu, flags, timeout_ms, fn, arg);
	/* On every EMT in turn; the first failure is the status. */
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		unsigned target = cpu == VM_CPU_ALL ? i : vm->cpu_count - 1 - i;
		int one = emt_req_one(vm, self, target, flags, timeout_ms, fn, arg);

		if (one && !status)
			status = one;
	}
	return status;
}

/* ---- rendezvous ---- */

#define EMT_RDV_WAKE_NONE (-1)
#define EMT_RDV_WAKE_ALL (-2)

/*
 * Wakes one EMT (by id), all, or none. Called without the rendezvous lock: an EMT
 * woken while the lock is held runs (often at once, on the waker's CPU) only to block
 * on the lock again, which costs two more context switches per step. Waiters
 * re-check their condition under the lock, so nothing is lost.
 */
static void emt_rendezvous_signal(struct vm *vm, int which)
{
	if (which == EMT_RDV_WAKE_ALL)
		for (unsigned i = 0; i < vm->cpu_count; i++)
			pthread_cond_signal(&vm->rdv.emt_cond[i]);
	else if (which != EMT_RDV_WAKE_NONE)
		pthread_cond_signal(&vm->rdv.emt_cond[which]);
}

/* The same with the lock held: dropped for the moment. */
static void emt_rendezvous_wake(struct vm *vm, int which)
{
	if (which == EMT_RDV_WAKE_NONE)
		return;
	pthread_mutex_unlock(&vm->rdv.lock);
	emt_rendezvous_signal(vm, which);
	pthread_mutex_lock(&vm->rdv.lock);
}

/* The EMT whose turn follows rdv->turn in an ordered rendezvous. */
static int emt_rendezvous_next(const struct vm_rendezvous *rdv)
{
	if ((rdv->flags & VM_RDV_F_ENDS_ONLY) && rdv->turn == rdv->first && rdv->first != rdv->last)
		return rdv->last;
	return rdv->type == VM_RDV_ASCENDING ? rdv->turn + 1 : rdv->turn - 1;
}

/*
 * Runs this EMT's part of the active rendezvous; returns the merged status. Each EMT
 * sleeps on its own condition and is woken only when it can go on: when the last one
 * arrives (all, or in an ordered rendezvous the first in turn), when the EMT before
 * it finishes its turn, and when the last one is done. Broadcasting every step would
 * wake every EMT to fight over the lock, N times over. With VM_RDV_F_ENDS_ONLY the
 * EMTs between the first and the last of the order only wait to leave: each turn
 * they would take is one more thread wake-up in a row on the way to the end.
 */
static int emt_rendezvous_arrive(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct vm_rendezvous *rdv = &vm->rdv;
	pthread_cond_t *mine = &rdv->emt_cond[vcpu->id];
	bool is_ordered, is_mine, is_bystander, is_last_out;
	int status, wake = EMT_RDV_WAKE_NONE;

	pthread_mutex_lock(&rdv->lock);
	atomic_fetch_and(&vcpu->ff, ~VCPU_FF_RENDEZVOUS);
	if (!rdv->is_active) {
		pthread_mutex_unlock(&rdv->lock);
		return 0;
	}
	is_ordered = rdv->type == VM_RDV_ASCENDING || rdv->type == VM_RDV_DESCENDING;
	is_bystander = is_ordered && (rdv->flags & VM_RDV_F_ENDS_ONLY) &&
		       (int)vcpu->id != rdv->first && (int)vcpu->id != rdv->last;
	if (++rdv->arrived == vm->cpu_count && (!is_ordered || rdv->turn != (int)vcpu->id))
		emt_rendezvous_wake(vm, is_ordered ? rdv->turn : EMT_RDV_WAKE_ALL);
	if (!is_bystander) {
		while (rdv->arrived < vm->cpu_count || (is_ordered && rdv->turn != (int)vcpu->id))
			pthread_cond_wait(mine, &rdv->lock);

		is_mine = rdv->type != VM_RDV_ONCE || vcpu->id == rdv->caller;
		if (is_mine && !(rdv->status && (rdv->flags & VM_RDV_F_STOP_ON_ERROR))) {
			pthread_mutex_unlock(&rdv->lock);
			status = rdv->fn(vm, vcpu, rdv->arg);
			pthread_mutex_lock(&rdv->lock);
			if (status && !rdv->status)
				rdv->status = status;
		}
		if (is_ordered)
			rdv->turn = emt_rendezvous_next(rdv);
		if (++rdv->left == rdv->participants) {
			rdv->is_active = false;
			wake = EMT_RDV_WAKE_ALL;
		} else if (is_ordered) {
			wake = rdv->turn;
		}
	}
	/*
	 * Leave together, so that no EMT runs guest code while another is still inside.
	 * The wake-up waits for the lock to be dropped, below or in the wait.
	 */
	if (rdv->is_active)
		emt_rendezvous_wake(vm, wake);
	while (rdv->is_active)
		pthread_cond_wait(mine, &rdv->lock);
	/* The next rendezvous waits for every EMT to have read this one's status. */
	status = rdv->status;
	is_last_out = ++rdv->departed == vm->cpu_count;
	pthread_mutex_unlock(&rdv->lock);
	/* The last to finish its turn releases the others (a one-EMT wake went out above). */
	if (wake == EMT_RDV_WAKE_ALL)
		emt_rendezvous_signal(vm, wake);
	if (is_last_out)
		pthread_cond_broadcast(&rdv->cond);
	return status;
}

int vm_rendezvous(struct vm *vm, enum vm_rdv_type type, unsigned flags, vm_rdv_fn fn, void *arg)
{
	struct vcpu *self = emt_self();
	struct vm_rendezvous *rdv = &vm->rdv;

	if (!self || self->vm != vm)
		return PDM_ERR_STATE;
	pthread_mutex_lock(&rdv->lock);
	for (;;) {
		if (rdv->is_terminating) {
			pthread_mutex_unlock(&rdv->lock);
			return PDM_ERR_STATE;
		}
		if (rdv->is_active) {
			/* Someone else's rendezvous is in progress: take part in it first. */
			pthread_mutex_unlock(&rdv->lock);
			emt_rendezvous_arrive(self);
			pthread_mutex_lock(&rdv->lock);
		} else if (rdv->departed < vm->cpu_count) {
			pthread_cond_wait(&rdv->cond, &rdv->lock);  /* the last one is leaving */
		} else {
			break;
		}
	}
	rdv->is_active = true;
	rdv->generation++;
	rdv->type = type;
	rdv->flags = flags;
	rdv->caller = self->id;
	rdv->fn = fn;
	rdv->arg = arg;
	rdv->arrived = 0;
	rdv->left = 0;
	rdv->departed = 0;
	rdv->status = 0;
	rdv->first = type == VM_RDV_DESCENDING ? (int)vm->cpu_count - 1 : 0;
	rdv->last = type == VM_RDV_DESCENDING ? 0 : (int)vm->cpu_count - 1;
	rdv->turn = rdv->first;
	rdv->participants = vm->cpu_count;
	if ((flags & VM_RDV_F_ENDS_ONLY) && vm->cpu_count > 2 &&
	    (type == VM_RDV_ASCENDING || type == VM_RDV_DESCENDING))
		rdv->participants = 2;
	pthread_mutex_unlock(&rdv->lock);
	for (unsigned i = 0; i < vm->cpu_count; i++)
		if (i != self->id)
			vcpu_kick(&vm->vcpus[i], VCPU_FF_RENDEZVOUS);
	return emt_rendezvous_arrive(self);
}

/* ---- running the guest ---- */

static void emt_consume_kick(struct vcpu *vcpu)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };

	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	sigemptyset(&set);
	sigaddset(&set, emt_kick_signal());
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
}

static void emt_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		iom_dispatch_pio(&vcpu->vm->iom, run->io.port, is_write, data, run->io.size);
}

static void emt_run_guest(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct kvm_run *run = vcpu->run;
	int rc, saved_errno;

	if (vm->is_split_irqchip && vcpu->id == 0)
		irqchip_before_run(&vm->irqchip, vcpu->fd, run);
	atomic_store(&vcpu->in_guest, 1);
	if (atomic_load(&vcpu->ff)) {
		atomic_store(&vcpu->in_guest, 0);
		return;
	}
	rc = ioctl(vcpu->fd, KVM_RUN, 0);
	saved_errno = errno;
	atomic_store(&vcpu->in_guest, 0);
	if (rc < 0) {
		if (saved_errno == EINTR || saved_errno == EAGAIN) {
			emt_consume_kick(vcpu);
			return;
		}
		vm_guru(vm, vcpu, "KVM_RUN failed: %s", strerror(saved_errno));
		return;
	}
	/* Only this EMT writes the counter: no locked add needed, only an untorn store. */
	atomic_store_explicit(&vcpu->exits,
			      atomic_load_explicit(&vcpu->exits, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		emt_handle_io(vcpu);
		break;
	case KVM_EXIT_MMIO:
		iom_dispatch_mmio(&vm->iom, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data,
				  run->mmio.len);
		break;
	case KVM_EXIT_INTR:
		emt_consume_kick(vcpu);
		break;
	case KVM_EXIT_IOAPIC_EOI:       /* [vm] irqchip = split: a level-triggered pin's EOI */
		irqchip_eoi(&vm->irqchip, run->eoi.vector);
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:  /* vCPU 0 can take the PIC's interrupt: see above */
		break;
	case KVM_EXIT_SHUTDOWN:
		/* As on a PC: a triple fault resets the machine (or powers it off, on_reset). */
		log_info("vm", "vCPU %u: triple fault: %s", vcpu->id,
			 vm->on_reset == VM_ON_RESET_POWEROFF ? "powering off" : "resetting");
		vcpu->is_shutdown = true;
		vm_request_reset(vm);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request_poweroff(vm, -1);
		else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request_reset(vm);
		else
			vm_guru(vm, vcpu, "system event %u", run->system_event.type);
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		/* Where: suberror 1 is an instruction KVM could not emulate. */
		struct kvm_regs regs;
		struct kvm_sregs sregs;

		if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 ||
		    ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
			vm_guru(vm, vcpu, "KVM internal error, suberror %u", run->internal.suberror);
		else
			vm_guru(vm, vcpu, "KVM internal error, suberror %u, at %04x:%llx "
				"(linear %#llx)", run->internal.suberror, sregs.cs.selector,
				(unsigned long long)regs.rip,
				(unsigned long long)(sregs.cs.base + regs.rip));
		break;
	}
	case KVM_EXIT_FAIL_ENTRY:
		vm_guru(vm, vcpu, "VM entry failed, hardware reason %#llx",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		vm_guru(vm, vcpu, "unexpected exit reason %u", run->exit_reason);
		break;
	}
}

int vcpu_reset(struct vcpu *vcpu, struct err *err)
{
	/*
	 * An exit for port I/O or MMIO may still be pending in KVM (an IN's result is
	 * written back on the next entry). The KVM API wants it completed before the
	 * registers change: enter once with immediate_exit, which finishes it and returns.
	 */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(vcpu->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		log_debug("emt", "vCPU %u: completing pending I/O before reset: unexpected return",
			  vcpu->id);
	emt_consume_kick(vcpu);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &vcpu->reset_sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_REGS, &vcpu->reset_regs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_FPU, &vcpu->reset_fpu) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_LAPIC, &vcpu->reset_lapic) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_MP_STATE, &vcpu->reset_mp_state) < 0)
		return err_set(err, PDM_ERR_KVM, "cannot reset vCPU %u: %s", vcpu->id,
			       strerror(errno));
	vcpu->is_shutdown = false;
	return 0;
}

static void emt_wait_for_work(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vcpu->lock);
	while (!atomic_load(&vcpu->ff) && (vm_state(vm) != PDM_VM_RUNNING || vcpu->is_shutdown))
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	pthread_mutex_unlock(&vcpu->lock);
}

static int emt_setup(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct {
		struct kvm_signal_mask head;
		uint8_t bytes[8];
	} mask;
	sigset_t set;
	int status;

	status = kvm_vcpu_create(&vm->kvm, vcpu->id, vm->cpu_count, &vcpu->fd, &vcpu->run,
				 &vcpu->create_err);
	if (status)
		return status;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &vcpu->reset_regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &vcpu->reset_sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_FPU, &vcpu->reset_fpu) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_LAPIC, &vcpu->reset_lapic) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_MP_STATE, &vcpu->reset_mp_state) < 0)
		return err_set(&vcpu->create_err, PDM_ERR_KVM, "cannot read vCPU %u's reset state: %s",
			       vcpu->id, strerror(errno));
	/* The kick signal stays blocked except inside KVM_RUN. */
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	sigdelset(&set, emt_kick_signal());
	mask.head.len = 8;       /* the kernel's sigset size, not glibc's */
	memcpy(mask.head.sigset, &set, 8);
	if (ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, &mask) < 0)
		return err_set(&vcpu->create_err, PDM_ERR_KVM, "KVM_SET_SIGNAL_MASK failed: %s",
			       strerror(errno));
	return 0;
}

static void *emt_main(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	int status;

	emt_current = vcpu;
	status = emt_setup(vcpu);
	pthread_mutex_lock(&vm->state_lock);
	vcpu->create_status = status;
	vcpu->is_ready = true;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->state_lock);
	if (status) {
		emt_refuse_requests(vcpu);
		return NULL;
	}

	for (;;) {
		uint32_t ff = atomic_load(&vcpu->ff);

		if ((ff & VCPU_FF_TERMINATE) && !(ff & VCPU_FF_RENDEZVOUS)) {
			bool is_busy;

			/*
			 * emt_stop forbade new rendezvous before it kicked us; one already
			 * started needs every EMT, this one included, before anyone can leave.
			 */
			pthread_mutex_lock(&vm->rdv.lock);
			is_busy = vm->rdv.is_active;
			pthread_mutex_unlock(&vm->rdv.lock);
			if (!is_busy)
				break;
			emt_rendezvous_arrive(vcpu);
			continue;
		}
		if (ff & VCPU_FF_CHECK_STATE)   /* the state is looked at below anyway */
			atomic_fetch_and(&vcpu->ff, ~VCPU_FF_CHECK_STATE);
		if (ff & VCPU_FF_RENDEZVOUS)
			emt_rendezvous_arrive(vcpu);
		else if (ff & VCPU_FF_REQUEST)
			emt_process_requests(vcpu, false);
		else if (vm_state(vm) == PDM_VM_RUNNING && !vcpu->is_shutdown)
			emt_run_guest(vcpu);
		else
			emt_wait_for_work(vcpu);
	}
	emt_refuse_requests(vcpu);
	return NULL;
}

int emt_start(struct vm *vm, struct err *err)
{
	struct sigaction sa = { .sa_handler = emt_kick_handler };
	sigset_t block, old;
	int status = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(emt_kick_signal(), &sa, NULL);
	/* Every thread starts with the kick blocked; EMTs inherit it. */
	sigemptyset(&block);
	sigaddset(&block, emt_kick_signal());
	pthread_sigmask(SIG_BLOCK, &block, &old);

	for (unsigned i = 0; i < vm->cpu_count; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		int rc = pthread_create(&vcpu->tid, NULL, emt_main, vcpu);

		if (rc) {
			status = err_set(err, PDM_ERR_NO_MEMORY, "cannot start EMT %u: %s", i,
					 strerror(rc));
			break;
		}
		vcpu->has_thread = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return status;
}

int emt_wait_ready(struct vm *vm, struct err *err)
{
	int status = 0;

	pthread_mutex_lock(&vm->state_lock);
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		while (vcpu->has_thread && !vcpu->is_ready)
			pthread_cond_wait(&vm->state_cond, &vm->state_lock);
		if (!status && vcpu->has_thread && vcpu->create_status)
			status = err_set(err, vcpu->create_status, "vCPU %u: %s", i,
					 vcpu->create_err.msg);
	}
	pthread_mutex_unlock(&vm->state_lock);
	return status;
}

void emt_stop(struct vm *vm)
{
	pthread_mutex_lock(&vm->rdv.lock);
	vm->rdv.is_terminating = true;
	pthread_mutex_unlock(&vm->rdv.lock);
	vm_kick_all(vm, VCPU_FF_TERMINATE);
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->has_thread) {
			pthread_join(vcpu->tid, NULL);
			vcpu->has_thread = false;
		}
		kvm_vcpu_destroy(&vm->kvm, vcpu->fd, vcpu->run);
		vcpu->fd = -1;
		vcpu->run = NULL;
	}
}
