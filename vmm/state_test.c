/*
 * vmm/state_test.c - the VM state machine alone (no KVM): every (old, new) pair is
 * tried; the legal ones (DESIGN.md's table) succeed and record the previous state,
 * the others fail with a message naming the current state and what was legal.
 * Observers see every change, in order, and may not change the state themselves.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vcpu.h"

#define S(x) PDM_VM_##x

/* DESIGN.md, "The VM state machine", written out independently of vm.c's table. */
static const struct { enum pdm_vm_state from, to; } legal[] = {
	{ S(CREATING), S(CREATED) },
	{ S(CREATED), S(LOADING) }, { S(CREATED), S(POWERING_ON) }, { S(CREATED), S(POWERING_OFF) },
	{ S(LOADING), S(SUSPENDED) }, { S(LOADING), S(LOAD_FAILURE) },
	{ S(POWERING_ON), S(RUNNING) },
	{ S(RESUMING), S(RUNNING) },
	{ S(RUNNING), S(SUSPENDING) }, { S(RUNNING), S(RESETTING) }, { S(RUNNING), S(POWERING_OFF) },
	{ S(RUNNING), S(GURU_MEDITATION) }, { S(RUNNING), S(FATAL_ERROR) },
	{ S(SUSPENDING), S(SUSPENDED) },
	{ S(SUSPENDED), S(RESUMING) }, { S(SUSPENDED), S(RESETTING) }, { S(SUSPENDED), S(SAVING) },
	{ S(SUSPENDED), S(LOADING) }, { S(SUSPENDED), S(POWERING_OFF) },
	{ S(SAVING), S(SUSPENDED) },
	{ S(GURU_MEDITATION), S(POWERING_OFF) }, { S(FATAL_ERROR), S(POWERING_OFF) },
	{ S(LOAD_FAILURE), S(POWERING_OFF) },
	{ S(POWERING_OFF), S(OFF) }, { S(OFF), S(DESTROYING) }, { S(DESTROYING), S(TERMINATED) },
};

static struct vm *vm;

static void setup(void)
{
	vm = calloc(1, sizeof(*vm));
	pthread_mutex_init(&vm->notify_lock, NULL);
	pthread_mutex_init(&vm->state_lock, NULL);
	pthread_cond_init(&vm->state_cond, NULL);
}

static void teardown(void)
{
	while (vm->observers) {
		struct vm_observer *next = vm->observers->next;

		free(vm->observers);
		vm->observers = next;
	}
	pthread_mutex_destroy(&vm->notify_lock);
	pthread_mutex_destroy(&vm->state_lock);
	pthread_cond_destroy(&vm->state_cond);
	free(vm);
}

static bool is_legal(enum pdm_vm_state from, enum pdm_vm_state to, enum pdm_vm_state prev)
{
	if (from == S(RESETTING))
		return (to == S(RUNNING) || to == S(SUSPENDED)) && to == prev;
	for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
		if (legal[i].from == from && legal[i].to == to)
			return true;
	return false;
}

START_TEST(every_legal_transition_succeeds_and_every_other_fails)
{
	int legal_count = 0;

	for (int from = S(CREATING); from <= S(LOAD_FAILURE); from++)
		for (int to = S(CREATING); to <= S(LOAD_FAILURE); to++)
			for (int prev = S(RUNNING); prev <= S(SUSPENDED); prev += S(SUSPENDED) - S(RUNNING)) {
				struct err err = { 0 };
				int status;

				vm->state = from;
				vm->prev_state = prev;
				status = vm_set_state(vm, to, &err);
				if (is_legal(from, to, prev)) {
					ck_assert_msg(status == 0, "%s -> %s: %s", vm_state_name(from),
						      vm_state_name(to), err.msg);
					ck_assert_int_eq(vm_state(vm), to);
					ck_assert_int_eq(vm->prev_state, from);
					legal_count++;
				} else {
					char expect[64];

					ck_assert_msg(status == PDM_ERR_STATE, "%s -> %s accepted",
						      vm_state_name(from), vm_state_name(to));
					ck_assert_int_eq(vm_state(vm), from);
					snprintf(expect, sizeof(expect), "the VM is %s", vm_state_name(from));
					ck_assert_msg(strstr(err.msg, expect) &&
						      strstr(err.msg, vm_state_name(to)) &&
						      strstr(err.msg, "legal from"), "%s", err.msg);
				}
			}
	/* 26 pairs of the table, each twice (two previous states), and RESETTING's 2. */
	ck_assert_int_eq(legal_count, 2 * 26 + 2);
}
END_TEST

struct seen {
	enum pdm_vm_state news[8], olds[8];
	int count;
	int refused;
};

static void observe(struct vm *v, enum pdm_vm_state new_state, enum pdm_vm_state old_state,
		    void *user)
{
	struct seen *seen = user;

	seen->news[seen->count] = new_state;
	seen->olds[seen->count++] = old_state;
	/* An observer may not change the state. */
	if (vm_set_state(v, PDM_VM_OFF, NULL) == PDM_ERR_STATE)
		seen->refused++;
}

START_TEST(observers_see_each_change_in_order)
{
	struct seen seen = { 0 };

	vm->state = S(CREATED);
	ck_assert_int_eq(vm_at_state_register(vm, observe, &seen), 0);
	ck_assert_int_eq(vm_set_state(vm, S(POWERING_ON), NULL), 0);
	ck_assert_int_eq(vm_set_state(vm, S(RUNNING), NULL), 0);
	ck_assert_int_eq(vm_set_state(vm, S(SUSPENDED), NULL), PDM_ERR_STATE);  /* not seen */
	ck_assert_int_eq(vm_set_state(vm, S(SUSPENDING), NULL), 0);
	ck_assert_int_eq(seen.count, 3);
	ck_assert_int_eq(seen.news[0], S(POWERING_ON));
	ck_assert_int_eq(seen.olds[0], S(CREATED));
	ck_assert_int_eq(seen.news[2], S(SUSPENDING));
	ck_assert_int_eq(seen.olds[2], S(RUNNING));
	ck_assert_int_eq(seen.refused, 3);
	ck_assert_int_eq(vm_state(vm), S(SUSPENDING));
	ck_assert_int_eq(vm_at_state_deregister(vm, observe, &seen), 0);
	ck_assert_int_eq(vm_at_state_deregister(vm, observe, &seen), PDM_ERR_NOT_FOUND);
	ck_assert_int_eq(vm_set_state(vm, S(SUSPENDED), NULL), 0);
	ck_assert_int_eq(seen.count, 3);
}
END_TEST

START_TEST(state_names_cover_every_state)
{
	for (int state = S(CREATING); state <= S(LOAD_FAILURE); state++)
		ck_assert_str_ne(vm_state_name(state), "invalid");
	ck_assert_str_eq(vm_state_name(S(GURU_MEDITATION)), "guru-meditation");
	ck_assert_str_eq(vm_state_name(99), "invalid");
}
END_TEST

static Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("machine");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_legal_transition_succeeds_and_every_other_fails);
	tcase_add_test(tc, observers_see_each_change_in_order);
	tcase_add_test(tc, state_names_cover_every_state);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(state_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
