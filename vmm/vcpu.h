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
#include "vmm/kvm.h"
#include "vmm/mem.h"
#include "vmm/vm.h"

/* Forced-action flags: why an EMT was woken. */
#define VCPU_FF_TERMINATE   0x1u
#define VCPU_FF_RENDEZVOUS  0x2u
#define VCPU_FF_REQUEST     0x4u
#define VCPU_FF_CHECK_STATE 0x8u

#define VM_CPU_ANY UINT32_MAX       /* request target: whichever EMT (EMT 0 from outside) */

typedef int (*vm_req_fn)(struct vm *vm, void *arg);

struct vm_req {
	vm_req_fn fn;
	void *arg;
	int status;
	bool is_nowait;             /* freed by the EMT */
	bool is_done;
	pthread_mutex_t *done_lock; /* the waiter's: its vCPU's when the waiter is an EMT */
	pthread_cond_t *done_cond;
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
	struct vm_req *reqs;
	struct vm_req **reqs_tail;
	bool is_gone;               /* the EMT has exited: requests are refused */
	_Atomic uint64_t exits;
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

typedef int (*vm_rdv_fn)(struct vm *vm, struct vcpu *vcpu, void *arg);

struct vm_rendezvous {
	pthread_mutex_t lock;
	pthread_cond_t cond;
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
	unsigned left;              /* EMTs done with fn */
	unsigned departed;          /* EMTs that read the status and left; all, when idle */
	int status;                 /* first failure wins */
};

struct vm_observer {
	void (*fn)(struct vm *vm, enum pdm_vm_state new_state, enum pdm_vm_state old_state,
		   void *user);
	void *user;
	struct vm_observer *next;
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

	_Atomic int exit_status;
	_Atomic bool is_poweroff_requested;
};

/* vm.c */
int vm_set_state(struct vm *vm, enum pdm_vm_state new_state, struct err *err);
void vm_guru(struct vm *vm, struct vcpu *vcpu, const char *fmt, ...) PDM_PRINTF(3, 4);

/* emt.c */
int emt_start(struct vm *vm, struct err *err);
void emt_stop(struct vm *vm);
void vcpu_kick(struct vcpu *vcpu, uint32_t ff);
void vm_kick_all(struct vm *vm, uint32_t ff);
/* The vCPU of the calling EMT, or NULL on another thread. */
struct vcpu *emt_self(void);
/*
 * Runs fn on EMT cpu (VM_CPU_ANY: the calling EMT, else EMT 0). A waited call from the
 * target EMT itself runs in place; a waited call from another EMT keeps serving
 * rendezvous while it waits, so two EMTs can never wait for each other. Fails with
 * PDM_ERR_STATE once the target EMT has exited.
 */
int vm_req_call(struct vm *vm, unsigned cpu, bool is_nowait, vm_req_fn fn, void *arg);
/*
 * Must run on an EMT. Every EMT runs its part (see enum vm_rdv_type); returns the
 * first failure. PDM_ERR_STATE once the EMTs are being stopped.
 */
int vm_rendezvous(struct vm *vm, enum vm_rdv_type type, unsigned flags, vm_rdv_fn fn, void *arg);

/* boot.c */
int boot_check_config(struct cfg_node *boot, struct cfg_diag *diag);
int boot_load(struct vm *vm, struct err *err);

#endif
