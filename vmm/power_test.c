/*
 * vmm/power_test.c - the power protocol on real KVM: the exact notification order of
 * suspend, resume, reset and power-off across devices, LUNs, a chain 3 links deep and a
 * notify-first device; asynchronous completion from a worker and from a foreign
 * thread; runtime errors; guest-triggered reset; per-instance timings; and a stress
 * run of suspend/resume cycles with 4 vCPUs in guest code and async devices busy.
 * Skips (exit 77) without /dev/kvm.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/registry.h"
#include "tests/testutil.h"
#include <pthread.h>
#include <sys/resource.h>

#include "vmm/vcpu.h"

static char *tmp, *log_path;
static struct pdm_registry registry;
static struct cfg_tree *tree;
static struct vm *vm;

static void setup(void)
{
	tmp = tu_tmpdir();
	log_path = tu_fmt("%s/events.log", tmp);
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
	free(log_path);
}

/* Creates a VM of `cpus` vCPUs running guest; "@LOG@" in extra becomes the event log. */
static void create_vm(unsigned cpus, const char *guest, const char *extra)
{
	char *ini = tu_fmt("%s/vm.ini", tmp), buf[8192], *out = buf;
	struct cfg_diag diag;
	struct err err = { 0 };

	out += sprintf(out, "[vm]\nmemory = 16M\ncpus = %u\n[boot]\nflat = %s/tests/guests/%s.bin\n",
		       cpus, tu_builddir(), guest);
	for (const char *p = extra; *p; )
		if (!strncmp(p, "@LOG@", 5)) {
			out += sprintf(out, "%s", log_path);
			p += 5;
		} else {
			*out++ = *p++;
		}
	*out = '\0';
	tu_write_file(ini, buf);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	ck_assert_msg(vm_check_config(tree, &registry, &diag) == 0, "%s",
		      diag.count ? diag.lines[0] : "");
	cfg_diag_release(&diag);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	free(ini);
}

static char *events(void)
{
	char *text = tu_read_file(log_path);

	return text ? text : strdup("");
}

static void clear_events(void)
{
	tu_write_file(log_path, "");
}

static void assert_events(const char *expected)
{
	char *text = events();

	ck_assert_str_eq(text, expected);
	free(text);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Three devices; the first with 2 LUNs, lun0 a chain 3 links deep; one notify-first. */
static const char order_config[] =
	"[devices/sink/0]\niobase = 0x500\n"
	"[devices/trec/0]\nlog = @LOG@\nluns = 2\n"
	"[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\n"
	"[devices/trec/0/lun0/attached]\ndriver = tlink\nlog = @LOG@\n"
	"[devices/trec/0/lun0/attached/attached]\ndriver = tlink\nlog = @LOG@\n"
	"[devices/trec/0/lun1]\ndriver = tlink\nlog = @LOG@\n"
	"[devices/trec-first/0]\nlog = @LOG@\n"
	"[devices/trec-first/0/lun0]\ndriver = tlink\nlog = @LOG@\n"
	"[devices/trec/1]\nlog = @LOG@\nluns = 0\n";

/* Suspend, reset and power-off: chains top-down then the device; notify-first: device first. */
#define TOP_DOWN(ev) \
	ev " trec#0/lun0/tlink\n" \
	ev " trec#0/lun0/tlink/tlink\n" \
	ev " trec#0/lun0/tlink/tlink/tlink\n" \
	ev " trec#0/lun1/tlink\n" \
	ev " trec#0\n" \
	ev " trec-first#0\n" \
	ev " trec-first#0/lun0/tlink\n" \
	ev " trec#1\n"
/* Power-on and resume: chains bottom-up, then the device (notify-first too). */
#define BOTTOM_UP(ev) \
	ev " trec#0/lun0/tlink/tlink/tlink\n" \
	ev " trec#0/lun0/tlink/tlink\n" \
	ev " trec#0/lun0/tlink\n" \
	ev " trec#0/lun1/tlink\n" \
	ev " trec#0\n" \
	ev " trec-first#0/lun0/tlink\n" \
	ev " trec-first#0\n" \
	ev " trec#1\n"

START_TEST(notifications_follow_the_protocol_order)
{
	struct err err = { 0 };

	create_vm(2, "spin", order_config);
	clear_events();
	ck_assert_msg(vm_power_on(vm, &err) == 0, "%s", err.msg);
	ck_assert_msg(vm_suspend(vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	ck_assert_msg(vm_resume(vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);
	ck_assert_msg(vm_reset(vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);        /* back where it was */
	ck_assert_msg(vm_power_off(vm, &err) == 0, "%s", err.msg);
	assert_events(BOTTOM_UP("power-on") TOP_DOWN("suspend") BOTTOM_UP("resume")
		      TOP_DOWN("reset") TOP_DOWN("power-off"));
}
END_TEST

START_TEST(reset_while_suspended_stays_suspended)
{
	struct err err = { 0 };

	create_vm(1, "spin", "[devices/sink/0]\niobase = 0x500\n[devices/trec/0]\nlog = @LOG@\nluns = 0\n");
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	ck_assert_int_eq(vm_suspend(vm, &err), 0);
	ck_assert_msg(vm_reset(vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	ck_assert_int_eq(vm_suspend(vm, &err), PDM_ERR_STATE);
	ck_assert_msg(strstr(err.msg, "the VM is suspended"), "%s", err.msg);
	ck_assert_int_eq(vm_resume(vm, &err), 0);
	ck_assert_int_eq(vm_resume(vm, &err), PDM_ERR_STATE);
	ck_assert_msg(strstr(err.msg, "the VM is running"), "%s", err.msg);
}
END_TEST

START_TEST(async_suspend_holds_back_the_drivers_below_and_the_state)
{
	struct err err = { 0 };
	uint64_t start, took;
	char *text, *pending, *below, *done;

	/* The middle link of the chain finishes its suspend 300 ms later, on its worker. */
	create_vm(2, "spin",
		  "[devices/sink/0]\niobase = 0x500\n"
		  "[devices/trec/0]\nlog = @LOG@\n"
		  "[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\n"
		  "[devices/trec/0/lun0/attached]\ndriver = tlink\nlog = @LOG@\nasync_ms = 300\n"
		  "[devices/trec/0/lun0/attached/attached]\ndriver = tlink\nlog = @LOG@\n"
		  "[devices/trec/1]\nlog = @LOG@\nluns = 0\n");
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	clear_events();
	start = now_ms();
	ck_assert_msg(vm_suspend(vm, &err) == 0, "%s", err.msg);
	took = now_ms() - start;
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	ck_assert_uint_ge(took, 300);
	text = events();
	/* The next device goes on meanwhile; the link below waits for the pending one. */
	pending = strstr(text, "suspend trec#0/lun0/tlink/tlink\n");
	done = strstr(text, "suspend-done trec#0/lun0/tlink/tlink\n");
	below = strstr(text, "suspend trec#0/lun0/tlink/tlink/tlink\n");
	ck_assert_msg(pending && done && below, "%s", text);
	ck_assert_msg(pending < done && done < below, "%s", text);
	ck_assert_msg(strstr(text, "suspend trec#1\n") < done, "%s", text);
	ck_assert_msg(strstr(text, "suspend trec#0\n") > below, "%s", text);
	free(text);
}
END_TEST

START_TEST(async_device_completes_from_its_worker)
{
	struct err err = { 0 };
	uint64_t start;

	create_vm(1, "spin", "[devices/sink/0]\niobase = 0x500\n"
			     "[devices/trec/0]\nlog = @LOG@\nluns = 0\nasync_ms = 200\n");
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	start = now_ms();
	ck_assert_int_eq(vm_suspend(vm, &err), 0);
	ck_assert_uint_ge(now_ms() - start, 200);
	start = now_ms();
	ck_assert_int_eq(vm_resume(vm, &err), 0);
	ck_assert_uint_lt(now_ms() - start, 200);       /* resume is never async */
	start = now_ms();
	ck_assert_int_eq(vm_reset(vm, &err), 0);
	ck_assert_uint_ge(now_ms() - start, 200);
	ck_assert_int_eq(vm_power_off(vm, &err), 0);
	assert_events("construct trec#0\npower-on trec#0\nsuspend trec#0\nsuspend-done trec#0\nresume trec#0\n"
		      "reset trec#0\nreset-done trec#0\npower-off trec#0\npower-off-done trec#0\n");
}
END_TEST

START_TEST(driver_completes_from_a_foreign_thread)
{
	struct err err = { 0 };
	uint64_t start;

	create_vm(2, "spin", "[devices/sink/0]\niobase = 0x500\n"
			     "[devices/trec/0]\nlog = @LOG@\n"
			     "[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\nasync_ms = 150\n"
			     "foreign = yes\n");
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	clear_events();
	start = now_ms();
	ck_assert_int_eq(vm_suspend(vm, &err), 0);
	ck_assert_uint_ge(now_ms() - start, 150);
	assert_events("suspend trec#0/lun0/tlink\nsuspend-done trec#0/lun0/tlink\nsuspend trec#0\n");
}
END_TEST

struct timing {
	const char *name;
	uint64_t suspend_ns;
	bool was_async;
	int seen;
};

static void find_timing(const struct vm_instance_info *info, void *user)
{
	struct timing *t = user;

	if (strcmp(info->name, t->name))
		return;
	t->suspend_ns = info->last_ns[VM_NOTIFY_SUSPEND];
	t->was_async = info->was_async[VM_NOTIFY_SUSPEND];
	t->seen++;
}

START_TEST(timings_are_kept_per_instance)
{
	struct timing slow = { .name = "trec#0" }, quick = { .name = "trec#1" };
	struct err err = { 0 };

	create_vm(1, "spin", "[devices/sink/0]\niobase = 0x500\n"
			     "[devices/trec/0]\nluns = 0\nasync_ms = 120\n"
			     "[devices/trec/1]\nluns = 0\n");
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	vm_for_each_instance(vm, find_timing, &slow);
	ck_assert_int_eq(slow.seen, 1);
	ck_assert_uint_eq(slow.suspend_ns, 0);          /* never suspended yet */
	ck_assert_int_eq(vm_suspend(vm, &err), 0);
	slow.seen = 0;
	vm_for_each_instance(vm, find_timing, &slow);
	vm_for_each_instance(vm, find_timing, &quick);
	ck_assert_uint_ge(slow.suspend_ns, 120000000ull);
	ck_assert(slow.was_async);
	ck_assert_uint_gt(quick.suspend_ns, 0);
	ck_assert_uint_lt(quick.suspend_ns, 120000000ull);
	ck_assert(!quick.was_async);
	ck_assert_str_eq(vm_notify_name(VM_NOTIFY_SUSPEND), "suspend");
}
END_TEST

/* ---- requests during a suspend, CPU while suspended, worker threads ---- */

static void *suspend_in_background(void *arg)
{
	*(int *)arg = vm_suspend(vm, NULL);
	return NULL;
}

static int record_state(struct vm *v, void *arg)
{
	*(enum pdm_vm_state *)arg = vm_state(v);
	return 0;
}

START_TEST(only_priority_requests_are_served_while_emt0_waits)
{
	enum pdm_vm_state at_priority = PDM_VM_INVALID, at_normal = PDM_VM_INVALID;
	pthread_t thread;
	int status = -1;

	create_vm(2, "spin", "[devices/sink/0]\niobase = 0x500\n"
			     "[devices/trec/0]\nluns = 0\nasync_ms = 600\n");
	ck_assert_int_eq(vm_power_on(vm, NULL), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, suspend_in_background, &status), 0);
	usleep(150000);                 /* EMT 0 is now waiting for trec#0 */
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDING);
	/* A priority request runs in the middle of the round; a normal one after it. */
	ck_assert_int_eq(vm_req_call(vm, 0, VM_REQ_PRIORITY, 5000, record_state, &at_priority), 0);
	ck_assert_int_eq(at_priority, PDM_VM_SUSPENDING);
	ck_assert_int_eq(vm_req_call(vm, 0, 0, 5000, record_state, &at_normal), 0);
	ck_assert_int_eq(at_normal, PDM_VM_SUSPENDED);
	pthread_join(thread, NULL);
	ck_assert_int_eq(status, 0);
}
END_TEST

START_TEST(request_timeout_returns_and_the_request_still_runs)
{
	enum pdm_vm_state at = PDM_VM_INVALID;
	pthread_t thread;
	int status = -1;

	create_vm(1, "spin", "[devices/sink/0]\niobase = 0x500\n"
			     "[devices/trec/0]\nluns = 0\nasync_ms = 400\n");
	ck_assert_int_eq(vm_power_on(vm, NULL), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, suspend_in_background, &status), 0);
	usleep(100000);
	ck_assert_int_eq(vm_req_call(vm, 0, 0, 50, record_state, &at), PDM_ERR_TIMEOUT);
	pthread_join(thread, NULL);
	/* Served after the suspend; a waited call behind it proves the order. */
	ck_assert_int_eq(vm_req_call(vm, 0, 0, -1, record_state, &at), 0);
	ck_assert_int_eq(at, PDM_VM_SUSPENDED);
}
END_TEST

static double cpu_seconds(void)
{
	struct rusage usage;

	getrusage(RUSAGE_SELF, &usage);
	return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
	       (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

START_TEST(a_suspended_vm_uses_no_cpu)
{
	double before;

	create_vm(4, "spin", "[devices/sink/0]\niobase = 0x500\n");
	ck_assert_int_eq(vm_power_on(vm, NULL), 0);
	ck_assert_int_eq(vm_suspend(vm, NULL), 0);
	before = cpu_seconds();
	sleep(1);
	/* 4 EMTs busy-waiting would burn 1-2 s of CPU here (2 cores); sleeping ones none. */
	ck_assert_double_lt(cpu_seconds() - before, 0.1);
	ck_assert_int_eq(vm_resume(vm, NULL), 0);
}
END_TEST

/* Waits (5 s at most) until the event log holds needle. */
static bool wait_for_event(const char *needle)
{
	for (int i = 0; i < 500; i++) {
		char *text = events();
		bool is_there = strstr(text, needle) != NULL;

		free(text);
		if (is_there)
			return true;
		usleep(10000);
	}
	return false;
}

START_TEST(worker_threads_stop_with_suspend_and_run_after_resume)
{
	struct err err = { 0 };

	create_vm(1, "spin", "[devices/sink/0]\niobase = 0x500\n"
			     "[devices/trec/0]\n[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\nthread = yes\n");
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	ck_assert(wait_for_event("thread-run"));
	ck_assert_int_eq(vm_suspend(vm, &err), 0);
	clear_events();
	ck_assert_int_eq(vm_resume(vm, &err), 0);
	ck_assert(wait_for_event("thread-run"));
	assert_events("resume trec#0/lun0/tlink\nthread-run trec#0/lun0/tlink\n");
	clear_events();
	ck_assert_int_eq(vm_suspend(vm, &err), 0);
	/* suspend returns once the thread has parked, after every callback */
	assert_events("suspend trec#0/lun0/tlink\nthread-stop trec#0/lun0/tlink\n");
}
END_TEST

/* ---- runtime errors ---- */

struct errors {
	_Atomic int count;
	char source[64], id[64];
	enum pdm_runtime_error kind;
};

static void on_error(struct vm *v, const char *source, enum pdm_runtime_error kind,
		     const char *id, const char *message, void *user)
{
	struct errors *e = user;

	snprintf(e->source, sizeof(e->source), "%s", source);
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->kind = kind;
	atomic_fetch_add(&e->count, 1);
}

static void wait_for(struct errors *e, enum pdm_vm_state state)
{
	for (int i = 0; i < 1000 && (atomic_load(&e->count) == 0 || vm_state(vm) != state); i++)
		usleep(10000);
}

START_TEST(runtime_errors_reach_observers_and_act_by_kind)
{
	static const char *const kinds[] = { "warning", "suspend", "fatal" };
	static const enum pdm_vm_state after[] = { PDM_VM_RUNNING, PDM_VM_SUSPENDED,
						   PDM_VM_FATAL_ERROR };
	struct err err = { 0 };

	for (int i = 0; i < 3; i++) {
		struct errors e = { 0 };
		char *extra = tu_fmt("[devices/sink/0]\niobase = 0x500\n"
				     "[devices/trec/0]\nluns = 0\nrterr = %s\n", kinds[i]);

		create_vm(2, "spin", extra);
		ck_assert_int_eq(vm_at_error_register(vm, on_error, &e), 0);
		ck_assert_int_eq(vm_power_on(vm, &err), 0);
		wait_for(&e, after[i]);
		ck_assert_int_eq(atomic_load(&e.count), 1);
		ck_assert_str_eq(e.source, "trec#0");
		ck_assert_str_eq(e.id, "test-error");
		ck_assert_int_eq(e.kind, (enum pdm_runtime_error)(i + 1));
		usleep(100000);
		ck_assert_int_eq(vm_state(vm), after[i]);
		if (i == 2) {
			ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_FATAL_ERROR);
			ck_assert_msg(strstr(vm_failure(vm), "test-error"), "%s", vm_failure(vm));
		}
		ck_assert_int_eq(vm_power_off(vm, &err), 0);
		vm_destroy(vm);
		vm = NULL;
		cfg_free(tree);
		tree = NULL;
		free(extra);
	}
}
END_TEST

/* ---- guest-triggered reset ---- */

static void count_reset(struct vm *v, void *user)
{
	atomic_fetch_add((_Atomic int *)user, 1);
}

START_TEST(guest_resets_through_the_i8042)
{
	_Atomic int resets = 0;
	struct err err = { 0 };

	create_vm(2, "reboot", "[devices/i8042/0]\n[devices/debug-exit/0]\n"
			       "[devices/trec/0]\nlog = @LOG@\nluns = 0\n");
	ck_assert_int_eq(vm_at_reset_register(vm, count_reset, (void *)&resets), 0);
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), (3 << 1) | 1);    /* booted 3 times */
	ck_assert_int_eq(atomic_load(&resets), 2);
	assert_events("construct trec#0\npower-on trec#0\nreset trec#0\nreset trec#0\npower-off trec#0\n");
}
END_TEST

START_TEST(guest_reset_powers_off_with_on_reset_poweroff)
{
	struct err err = { 0 };

	create_vm(1, "reboot", "[devices/i8042/0]\n[devices/debug-exit/0]\n");
	vm_destroy(vm);
	ck_assert_int_eq(cfg_set(tree, "vm", "on_reset", "poweroff", "-o", 0), 0);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), -1);               /* modvm run: exit 0 */
	/* The same with [vm] irqchip = split, whose PIT port 0x61 sits beside the i8042's. */
	vm_destroy(vm);
	ck_assert_int_eq(cfg_set(tree, "vm", "irqchip", "split", "-o", 0), 0);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	ck_assert_int_eq(vm_exit_status(vm), -1);
}
END_TEST

/*
 * The inloop guest counts its boots at 0x18000. Waits (up to 30 s: a loaded machine
 * or drd may keep the vCPU thread off the CPU for a while) until the count reaches
 * want; returns the count seen.
 */
static uint16_t wait_boots(uint16_t want)
{
	uint16_t boots = 0;

	for (int ms = 0; ms < 30000; ms++) {
		ck_assert_int_eq(mem_read(&vm->mem, 0x18000, &boots, sizeof(boots)), 0);
		if (boots >= want)
			break;
		usleep(1000);
	}
	return boots;
}

START_TEST(reset_during_port_reads_restarts_the_guest_cleanly)
{
	struct err err = { 0 };

	create_vm(2, "inloop", "[devices/sink/0]\niobase = 0x500\n");
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	for (uint16_t i = 1; i <= 30; i++) {
		/* Each boot counts itself once, then loops on port reads: reset there. */
		ck_assert_int_eq(wait_boots(i), i);
		usleep(2000);
		ck_assert_msg(vm_reset(vm, &err) == 0, "%s", err.msg);
	}
	/* The first boot and one per reset, none skipped and none counted twice. */
	ck_assert_int_eq(wait_boots(31), 31);
	usleep(20000);
	ck_assert_int_eq(vm_suspend(vm, &err), 0);
	ck_assert_int_eq(wait_boots(31), 31);
}
END_TEST

/* ---- stress ---- */

/* Where line (a whole line) first stands in text, or NULL; *count gets how often. */
static const char *find_line(const char *text, const char *line, int *count)
{
	const char *first = NULL;
	size_t len = strlen(line);

	*count = 0;
	for (const char *p = text; (p = strstr(p, line)); p += len)
		if ((p == text || p[-1] == '\n') && p[len] == '\n') {
			if (!first)
				first = p;
			(*count)++;
		}
	return first;
}

/*
 * Checks one suspend/resume cycle's log against the protocol. The interleaving of two
 * async devices depends on timing; these do not: every notification once, each
 * completion after its start, a device after its driver's completion, every suspend
 * complete before any resume, and resume's exact order.
 */
static bool cycle_is_right(const char *text)
{
	static const char *const instances[] = { "trec#0/lun0/tlink", "trec#0", "trec-first#0" };
	const char *resume, *last_done = text;
	char line[128];
	int count;

	resume = find_line(text, "resume trec#0/lun0/tlink", &count);
	if (!resume || count != 1 || strcmp(resume, "resume trec#0/lun0/tlink\nresume trec#0\n"
						     "resume trec-first#0\n"))
		return false;
	for (size_t i = 0; i < 3; i++) {
		const char *start, *done;

		snprintf(line, sizeof(line), "suspend %s", instances[i]);
		start = find_line(text, line, &count);
		if (!start || count != 1)
			return false;
		snprintf(line, sizeof(line), "suspend-done %s", instances[i]);
		done = find_line(text, line, &count);
		if (!done || count != 1 || done < start || done > resume)
			return false;
		if (i == 0)
			last_done = done;
		if (i == 1 && start < last_done)        /* the device waited for its driver */
			return false;
	}
	return true;
}

START_TEST(suspend_resume_cycles_with_busy_vcpus_and_async_devices)
{
	const char *env = getenv("MODVM_STRESS_CYCLES");
	int cycles = env && *env ? atoi(env) : 1000;
	struct err err = { 0 };
	char *text;

	/* 4 vCPUs in a port-I/O loop; two devices and a driver complete asynchronously. */
	create_vm(4, "spin",
		  "[devices/sink/0]\niobase = 0x500\n"
		  "[devices/trec/0]\nlog = @LOG@\nasync_ms = 1\n"
		  "[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\nasync_ms = 1\n"
		  "[devices/trec-first/0]\nlog = @LOG@\nluns = 0\nasync_ms = 1\n");
	ck_assert_int_eq(vm_power_on(vm, &err), 0);
	for (int i = 0; i < cycles; i++) {
		clear_events();
		ck_assert_msg(vm_suspend(vm, &err) == 0, "cycle %d: %s", i, err.msg);
		ck_assert_msg(vm_resume(vm, &err) == 0, "cycle %d: %s", i, err.msg);
		text = events();
		ck_assert_msg(cycle_is_right(text), "cycle %d:\n%s", i, text);
		free(text);
	}
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);
}
END_TEST

static Suite *power_suite(void)
{
	Suite *s = suite_create("power");
	TCase *tc = tcase_create("protocol");
	TCase *stress = tcase_create("stress");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, notifications_follow_the_protocol_order);
	tcase_add_test(tc, reset_while_suspended_stays_suspended);
	tcase_add_test(tc, async_suspend_holds_back_the_drivers_below_and_the_state);
	tcase_add_test(tc, async_device_completes_from_its_worker);
	tcase_add_test(tc, driver_completes_from_a_foreign_thread);
	tcase_add_test(tc, timings_are_kept_per_instance);
	tcase_add_test(tc, only_priority_requests_are_served_while_emt0_waits);
	tcase_add_test(tc, request_timeout_returns_and_the_request_still_runs);
	tcase_add_test(tc, a_suspended_vm_uses_no_cpu);
	tcase_add_test(tc, worker_threads_stop_with_suspend_and_run_after_resume);
	tcase_add_test(tc, runtime_errors_reach_observers_and_act_by_kind);
	tcase_add_test(tc, guest_resets_through_the_i8042);
	tcase_add_test(tc, reset_during_port_reads_restarts_the_guest_cleanly);
	tcase_add_test(tc, guest_reset_powers_off_with_on_reset_poweroff);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(stress, setup, teardown);
	tcase_set_timeout(stress, 1800);
	tcase_add_test(stress, suspend_resume_cycles_with_busy_vcpus_and_async_devices);
	suite_add_tcase(s, stress);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

	tu_require_kvm();
	runner = srunner_create(power_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
