/*
 * vmm/emt_test.c - requests and rendezvous on real EMTs (KVM), with 1, 2 and 4 vCPUs,
 * and the races a review found: a rendezvous caller must get its own status, an EMT
 * waiting on another EMT must still serve rendezvous, and destroy must not hang with
 * a power-off in flight. Skips (exit 77) without /dev/kvm.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/registry.h"
#include "tests/testutil.h"
#include "vmm/vcpu.h"

static char *tmp;
static struct pdm_registry registry;
static struct cfg_tree *tree;
static struct vm *vm;

static void setup(void)
{
	tmp = tu_tmpdir();
	tu_load_registry(&registry);
}

static void teardown(void)
{
	vm_destroy(vm);
	vm = NULL;
	cfg_free(tree);
	tree = NULL;
	pdm_registry_release(&registry);
	tu_rmtree(tmp);
	free(tmp);
}

/* A VM of `cpus` vCPUs running guest (tests/guests/<guest>.bin), plus extra sections. */
static void create_vm(unsigned cpus, const char *guest, const char *extra)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[vm]\nmemory = 16M\ncpus = %u\n[boot]\nflat = %s/tests/guests/%s.bin\n"
			    "[devices/sink/0]\niobase = 0x500\n%s", cpus, tu_builddir(), guest, extra);
	struct cfg_diag diag;
	struct err err = { 0 };

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	ck_assert_int_eq(vm_check_config(tree, &registry, &diag), 0);
	cfg_diag_release(&diag);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	free(ini);
	free(text);
}

/* ---- requests ---- */

static int record_emt(struct vm *v, void *arg)
{
	*(int *)arg = emt_self() ? (int)emt_self()->id : -1;
	return 7;
}

START_TEST(requests_run_on_their_target_emt)
{
	unsigned cpus = (unsigned)_i;

	create_vm(cpus, "spin", "");
	ck_assert_int_eq(vm_power_on(vm, NULL), 0);     /* the guest keeps every EMT in KVM_RUN */
	for (unsigned i = 0; i < cpus; i++) {
		int where = -2;

		ck_assert_int_eq(vm_req_call(vm, i, 0, -1, record_emt, &where), 7);
		ck_assert_int_eq(where, (int)i);
	}
	int where = -2;

	ck_assert_int_eq(vm_req_call(vm, VM_CPU_ANY, 0, -1, record_emt, &where), 7);
	ck_assert_int_eq(where, 0);                     /* from outside: EMT 0 */
	ck_assert_int_eq(vm_req_call(vm, cpus, 0, -1, record_emt, &where), PDM_ERR_INVALID_ARG);
}
END_TEST

/* ---- rendezvous ---- */

struct order {
	int seen[8];
	_Atomic int count;
	_Atomic int in_guest;           /* EMTs seen in KVM_RUN while fn ran */
};

static int record_order(struct vm *v, struct vcpu *vcpu, void *arg)
{
	struct order *order = arg;

	order->seen[atomic_fetch_add(&order->count, 1)] = (int)vcpu->id;
	for (unsigned i = 0; i < v->cpu_count; i++)
		if (atomic_load(&v->vcpus[i].in_guest))
			atomic_fetch_add(&order->in_guest, 1);
	return 0;
}

struct rdv_call {
	enum vm_rdv_type type;
	struct order *order;
	unsigned flags;
};

static int start_rendezvous(struct vm *v, void *arg)
{
	struct rdv_call *call = arg;

	return vm_rendezvous(v, call->type, call->flags, record_order, call->order);
}

START_TEST(ordered_rendezvous_visit_every_emt_in_order)
{
	unsigned cpus = (unsigned)_i;

	create_vm(cpus, "spin", "");
	ck_assert_int_eq(vm_power_on(vm, NULL), 0);
	for (int pass = 0; pass < 5; pass++) {
		static const enum vm_rdv_type types[] = { VM_RDV_ASCENDING, VM_RDV_DESCENDING,
			VM_RDV_ONCE, VM_RDV_ASCENDING, VM_RDV_DESCENDING };
		struct order order = { 0 };
		struct rdv_call call = { types[pass], &order, pass >= 3 ? VM_RDV_F_ENDS_ONLY : 0 };
		bool is_up = call.type == VM_RDV_ASCENDING;

		/* Started from the last EMT, so that ONCE's "the caller runs it" shows. */
		ck_assert_int_eq(vm_req_call(vm, cpus - 1, 0, -1, start_rendezvous, &call), 0);
		ck_assert_int_eq(order.in_guest, 0);    /* nobody ran guest code meanwhile */
		if (call.type == VM_RDV_ONCE) {
			ck_assert_int_eq(order.count, 1);
			ck_assert_int_eq(order.seen[0], (int)cpus - 1);
			continue;
		}
		if (call.flags & VM_RDV_F_ENDS_ONLY) {
			/* The first and the last of the order, in that order; no one between. */
			ck_assert_int_eq(order.count, cpus > 1 ? 2 : 1);
			ck_assert_int_eq(order.seen[0], is_up ? 0 : (int)cpus - 1);
			ck_assert_int_eq(order.seen[order.count - 1], is_up ? (int)cpus - 1 : 0);
			continue;
		}
		ck_assert_int_eq(order.count, (int)cpus);
		for (unsigned i = 0; i < cpus; i++)
			ck_assert_int_eq(order.seen[i], is_up ? (int)i : (int)(cpus - 1 - i));
	}
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);  /* and the guest runs on */
}
END_TEST

static int fail_on_emt1(struct vm *v, struct vcpu *vcpu, void *arg)
{
	return vcpu->id == 1 ? PDM_ERR_BUSY : 0;
}

static int succeed(struct vm *v, struct vcpu *vcpu, void *arg)
{
	return 0;
}

static int rendezvous_from_emt1(struct vm *v, void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
	return vm_rendezvous(v, VM_RDV_ALL_AT_ONCE, 0, succeed, NULL);
}

static int failing_rendezvous_from_emt0(struct vm *v, void *arg)
{
	/* EMT 1 starts a new rendezvous as soon as it leaves this one. */
	vm_req_call(v, 1, VM_REQ_NOWAIT, -1, rendezvous_from_emt1, arg);
	return vm_rendezvous(v, VM_RDV_ASCENDING, 0, fail_on_emt1, NULL);
}

static int nothing(struct vm *v, void *arg)
{
	return 0;
}

START_TEST(rendezvous_caller_gets_its_own_status)
{
	_Atomic int started = 0;

	create_vm(2, "spin", "");
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(vm_req_call(vm, 0, 0, -1, failing_rendezvous_from_emt0,
					     (void *)&started), PDM_ERR_BUSY);
	ck_assert_int_eq(vm_req_call(vm, 1, 0, -1, nothing, NULL), 0);  /* EMT 1 drained */
	ck_assert_int_eq(started, 300);
}
END_TEST

static int rendezvous_later(struct vm *v, void *arg)
{
	usleep(50000);
	return vm_rendezvous(v, VM_RDV_ONCE, 0, succeed, NULL);
}

static int wait_on_emt0(struct vm *v, void *arg)
{
	return vm_req_call(v, 0, 0, -1, nothing, NULL);
}

START_TEST(emt_waiting_on_another_emt_still_serves_rendezvous)
{
	create_vm(2, "spin", "");
	/* EMT 0 will start a rendezvous while EMT 1 waits for EMT 0 to serve a request. */
	ck_assert_int_eq(vm_req_call(vm, 0, VM_REQ_NOWAIT, -1, rendezvous_later, NULL), 0);
	ck_assert_int_eq(vm_req_call(vm, 1, 0, -1, wait_on_emt0, NULL), 0);
}
END_TEST

/* ---- teardown races ---- */

START_TEST(destroy_with_a_power_off_in_flight_does_not_hang)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[vm]\nmemory = 16M\ncpus = 2\non_reset = poweroff\n"
			    "[boot]\nflat = %s/tests/guests/triple.bin\n", tu_builddir());
	struct cfg_diag diag;
	struct err err = { 0 };

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	cfg_diag_release(&diag);
	for (int i = 0; i < 20; i++) {
		ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
		ck_assert_int_eq(vm_power_on(vm, NULL), 0);
		/* The triple fault's power-off and a signal's race the destroy. */
		vm_request_poweroff(vm, -1);
		vm_destroy(vm);                                  /* must return */
		vm = NULL;
	}
	free(ini);
	free(text);
}
END_TEST

START_TEST(power_off_before_power_on_notifies_nobody)
{
	char *log = tu_fmt("%s/events.log", tmp), *extra = tu_fmt("[devices/trec/0]\nlog = %s\nluns = 0\n", log);
	char *events;

	create_vm(2, "spin", extra);
	ck_assert_int_eq(vm_power_off(vm, NULL), 0);
	ck_assert_int_eq(vm_state(vm), PDM_VM_OFF);
	vm_destroy(vm);
	vm = NULL;
	events = tu_read_file(log);
	ck_assert_str_eq(events, "construct trec#0\ndestruct trec#0\n");
	free(events);
	free(extra);
	free(log);
}
END_TEST

static Suite *emt_suite(void)
{
	Suite *s = suite_create("emt");
	TCase *tc = tcase_create("emt");
	static const int cpus[] = { 1, 2, 4 };

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
		tcase_add_loop_test(tc, requests_run_on_their_target_emt, cpus[i], cpus[i] + 1);
		tcase_add_loop_test(tc, ordered_rendezvous_visit_every_emt_in_order, cpus[i],
				    cpus[i] + 1);
	}
	tcase_add_test(tc, rendezvous_caller_gets_its_own_status);
	tcase_add_test(tc, emt_waiting_on_another_emt_still_serves_rendezvous);
	tcase_add_test(tc, destroy_with_a_power_off_in_flight_does_not_hang);
	tcase_add_test(tc, power_off_before_power_on_notifies_nobody);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

	tu_require_kvm();
	runner = srunner_create(emt_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
