/*
 * vmm/vcpu.h - the VM's insides, shared by vm.c, emt.c and boot.c only.
 *
 * Threads: one EMT per vCPU. EMT n owns vcpus[n]: its fd and kvm_run are used by that
 * thread only. Other threads reach an EMT by queueing a request and kicking it:
 * a forced-action flag is set, its condition variable is signalled (for an EMT that
 * waits for work), and, if it is inside KVM_RUN, immediate_exit is set and the kick
 * signal is sent (it is unblocked only inside KVM_RUN, via KVM_SET_SIGNAL_MASK).
 */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <pthread.h>
#include <stdatomic.h>

#include "vmm/iom.h"
#include "vmm/irqchip.h"
#include "vmm/kvm.h"
#include "vmm/mem.h"
#include "vmm/vm.h"

/* Forced-action flags: why an EMT was woken. */
#define VCPU_FF_TERMINATE   0x1u
#define VCPU_FF_RENDEZVOUS  0x2u
#define VCPU_FF_REQUEST     0x4u
#define VCPU_FF_CHECK_STATE 0x8u

/* Request targets besides a vCPU id. */
#define VM_CPU_ANY UINT32_MAX                /* the calling EMT; EMT 0 from outside */
#define VM_CPU_ALL (UINT32_MAX - 1)          /* every EMT, 0 to N-1, one after another */
#define VM_CPU_ALL_REVERSE (UINT32_MAX - 2)  /* every EMT, N-1 to 0 */

/* Request flags. */
#define VM_REQ_NOWAIT   0x1u    /* queue it and return 0 at once */
#define VM_REQ_PRIORITY 0x2u    /* served first, and while EMT 0 waits for async notifications */

typedef int (*vm_req_fn)(struct vm *vm, void *arg);

struct vm_req {
	vm_req_fn fn;
	void *arg;
	int status;
	bool is_done;
	_Atomic int refs;           /* the queue's and, if someone waits, the waiter's */
	pthread_mutex_t *done_lock; /* NULL: nobody waits */
	pthread_cond_t *done_cond;
	pthread_mutex_t own_lock;   /* a non-EMT waiter's */
	pthread_cond_t own_cond;
	struct vm_req *next;
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t tid;
	bool has_thread;
	_Atomic uint32_t ff;
	_Atomic int in_guest;       /* set just before KVM_RUN, cleared after */
	pthread_mutex_t lock;       /* queue and sleeping */
	pthread_cond_t cond;
	struct vm_req *prio_reqs;   /* served first */
	struct vm_req **prio_tail;
	struct vm_req *reqs;
	struct vm_req **reqs_tail;
	bool is_gone;               /* the EMT has exited: requests are refused */
	_Atomic uint64_t exits;
	bool is_shutdown;           /* triple-faulted: runs no guest code until reset */
	/* The vCPU as KVM created it: what a reset puts back. */
	struct kvm_regs reset_regs;
	struct kvm_sregs reset_sregs;
	struct kvm_fpu reset_fpu;
	struct kvm_lapic_state reset_lapic;
	struct kvm_mp_state reset_mp_state;
	/* Start-up handshake with vm_create. */
	bool is_ready;
	int create_status;
	struct err create_err;
};

enum vm_rdv_type {
	VM_RDV_INVALID = 0,
	VM_RDV_ONCE,                /* the caller's EMT runs fn once, the others wait */
	VM_RDV_ALL_AT_ONCE,         /* every EMT runs fn concurrently */
	VM_RDV_ASCENDING,           /* EMT 0, 1, ... N-1, one at a time */
	VM_RDV_DESCENDING,          /* EMT N-1 ... 0, one at a time: EMT 0 last */
};
#define VM_RDV_F_STOP_ON_ERROR 0x1u
/*
 * Ordered types only: fn runs on the first and the last EMT of the order (for a
 * descending one, N-1 then 0); the others stop running guest code and leave with
 * them, but take no turn. For operations whose middle turns would do nothing.
 */
#define VM_RDV_F_ENDS_ONLY 0x2u

typedef int (*vm_rdv_fn)(struct vm *vm, struct vcpu *vcpu, void *arg);

struct vm_rendezvous {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* a new rendezvous waits here for the last to leave */
	pthread_cond_t *emt_cond;   /* one per EMT: each is woken only when it has work */
	bool is_active;
	bool is_terminating;        /* emt_stop began: no new rendezvous */
	uint64_t generation;
	enum vm_rdv_type type;
	unsigned flags;
	unsigned caller;            /* EMT that started it */
	vm_rdv_fn fn;
	void *arg;
	unsigned arrived;
	int turn;                   /* whose turn in an ordered rendezvous */
	int first, last;            /* of the order */
	unsigned participants;      /* EMTs that take a turn (all, or 2 with ENDS_ONLY) */
	unsigned left;              /* EMTs done with fn */
	unsigned departed;          /* EMTs that read the status and left; all, when idle */
	int status;                 /* first failure wins */
};

enum vm_observer_kind {
	VM_OBSERVER_INVALID = 0,
	VM_OBSERVER_STATE,
	VM_OBSERVER_ERROR,
	VM_OBSERVER_RESET,
	VM_OBSERVER_DTOR,
};

struct vm_observer {
	enum vm_observer_kind kind;
	union {
		vm_state_fn state;
		vm_error_fn error;
		vm_event_fn event;
		void (*any)(void);      /* for comparing on deregistration */
	} fn;
	void *user;
	struct vm_observer *next;
};

enum vm_on_reset {
	VM_ON_RESET_INVALID = 0,
	VM_ON_RESET_RESET,
	VM_ON_RESET_POWEROFF,
};

struct vm {
	pthread_mutex_t notify_lock;    /* serialises state changes with their observers */
	pthread_mutex_t state_lock;
	pthread_cond_t state_cond;
	enum pdm_vm_state state;
	enum pdm_vm_state prev_state;
	struct vm_observer *observers;
	char failure[512];

	struct cfg_tree *cfg;
	char name[64];
	uint64_t memory_size;
	unsigned cpu_count;
	struct vcpu *vcpus;

	struct kvm kvm;
	struct mem mem;
	struct iom iom;
	struct pdm pdm;
	struct pdm_host host;
	struct vm_rendezvous rdv;

	enum vm_on_reset on_reset;
	bool is_kvm_pv_host;            /* [vm] kvm_pv = host */
	bool is_split_irqchip;          /* [vm] irqchip = split: irqchip below, not KVM's */
	struct irqchip irqchip;

	_Atomic int exit_status;
	_Atomic bool is_poweroff_requested;
	_Atomic bool is_reset_requested;
	_Atomic uint64_t power_on_ns;   /* CLOCK_MONOTONIC at the last power-on */
};

/* vm.c */
int vm_set_state(struct vm *vm, enum pdm_vm_state new_state, struct err *err);
void vm_guru(struct vm *vm, struct vcpu *vcpu, const char *fmt, ...) PDM_PRINTF(3, 4);
/* Calls the at-reset observers. */
void vm_notify_reset(struct vm *vm);

/* power.c */
/* Stops the VM in FATAL_ERROR (asynchronously); devices are quiesced. */
int vm_request_fatal(struct vm *vm);

/* emt.c */
/*
 * Starts an EMT per vCPU; each creates its vCPU in KVM while the caller goes on. Then
 * emt_wait_ready waits until all have and reports the first that failed.
 */
int emt_start(struct vm *vm, struct err *err);
int emt_wait_ready(struct vm *vm, struct err *err);
void emt_stop(struct vm *vm);
void vcpu_kick(struct vcpu *vcpu, uint32_t ff);
/* On the vCPU's own EMT: back to the state KVM created it in. */
int vcpu_reset(struct vcpu *vcpu, struct err *err);
void vm_kick_all(struct vm *vm, uint32_t ff);
/* The vCPU of the calling EMT, or NULL on another thread. */
struct vcpu *emt_self(void);
/*
 * Runs fn on the EMT(s) of cpu (a vCPU id or a VM_CPU_* target) and returns its status
 * (the first failure for ALL targets); with VM_REQ_NOWAIT queues it and returns 0.
 * timeout_ms < 0 waits forever; after the timeout PDM_ERR_TIMEOUT is returned and
 * the request still runs later. A waited call from the target EMT itself runs in
 * place; a waited call from another EMT keeps serving rendezvous while it waits, so
 * two EMTs never wait for each other. PDM_ERR_STATE once the target EMT has exited.
 * Priority requests must be short and must not start a rendezvous: EMT 0 serves
 * them in the middle of power notifications.
 */
int vm_req_call(struct vm *vm, unsigned cpu, unsigned flags, int timeout_ms, vm_req_fn fn,
		void *arg);
/* On EMT 0 waiting for async notifications: runs its queued priority requests. */
void emt_serve_priority(struct vm *vm);
/*
 * Must run on an EMT. Every EMT runs its part (see enum vm_rdv_type); returns the
 * first failure. PDM_ERR_STATE once the EMTs are being stopped.
 */
int vm_rendezvous(struct vm *vm, enum vm_rdv_type type, unsigned flags, vm_rdv_fn fn, void *arg);

/* boot.c */
int boot_check_config(struct cfg_node *boot, struct cfg_diag *diag);
int boot_load(struct vm *vm, struct err *err);
/* On EMT 0 during a reset: places the boot image again and sets vCPU 0's entry state. */
int boot_reset(struct vm *vm, struct err *err);

#endif
