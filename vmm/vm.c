/*
 * vmm/vm.c - the VM object, its state machine, the core's config sections, and
 * power-on / power-off through rendezvous on the EMTs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "vmm/vcpu.h"

#define VM_MAX_CPUS 64
#define VM_MAX_PLUGIN_DIRS 32

/* ---- the core's config sections ---- */

static const struct pdm_cfg_key vm_cfg_vm[] = {
	{ .name = "name", .type = PDM_CFG_STRING, .def = "modvm", .help = "the VM's name, for messages" },
	{ .name = "memory", .type = PDM_CFG_INT, .def = "128M", .min = 1 << 20, .max = 64ll << 30,
	  .help = "guest RAM in bytes (suffixes K, M, G)" },
	{ .name = "cpus", .type = PDM_CFG_INT, .def = "1", .min = 1, .max = VM_MAX_CPUS,
	  .help = "number of vCPUs, one EMT each" },
	{ .name = "on_reset", .type = PDM_CFG_STRING, .def = "reset",
	  .help = "what a guest reset or triple fault does: reset, or poweroff (like -no-reboot)" },
	{ .name = "kvm_pv", .type = PDM_CFG_STRING, .def = "default",
	  .help = "KVM paravirtual features offered: default (QEMU's set, no hypercalls) or "
		  "host (all KVM has, like -cpu host)" },
	{ .name = "irqchip", .type = PDM_CFG_STRING, .def = "kernel",
	  .help = "where the PIC, IOAPIC and PIT run: kernel (KVM's), or split (modvm's, "
		  "local APICs in KVM; like QEMU's kernel-irqchip=split)" },
	{ 0 }
};

/* The [vm] keys whose value is one of two words; the index is what a word means. */
enum { VM_WORD_ON_RESET, VM_WORD_KVM_PV, VM_WORD_IRQCHIP, VM_WORD_KEYS };
static const struct vm_word_key {
	const char *key;
	const char *words[2];
} vm_word_keys[VM_WORD_KEYS] = {
	[VM_WORD_ON_RESET] = { "on_reset", { "reset", "poweroff" } },   /* enum vm_on_reset - 1 */
	[VM_WORD_KVM_PV] = { "kvm_pv", { "default", "host" } },         /* 1: all PV features */
	[VM_WORD_IRQCHIP] = { "irqchip", { "kernel", "split" } },       /* 1: vmm/irqchip.c */
};

/* The index of text among the key's words, or -1. */
static int vm_word(unsigned key, const char *text)
{
	for (int i = 0; i < 2; i++)
		if (!strcmp(text, vm_word_keys[key].words[i]))
			return i;
	return -1;
}

static const struct pdm_cfg_key vm_cfg_plugins[] = {
	{ .name = "path", .type = PDM_CFG_STRING,
	  .help = "extra plugin folders, ':'-separated, relative to the INI file" },
	{ 0 }
};

/* Splits a ':'-list into dirs[], resolving relative entries against base (may be NULL). */
static size_t vm_split_dirs(const char *list, const char *base, char **dirs, size_t count,
			    size_t max)
{
	const char *p = list;

	while (p && *p && count < max) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len) {
			if (base && p[0] != '/') {
				if (asprintf(&dirs[count], "%s/%.*s", base, (int)len, p) < 0)
					dirs[count] = NULL;
			} else
				dirs[count] = strndup(p, len);
			if (dirs[count])
				count++;
		}
		p = end ? end + 1 : NULL;
	}
	return count;
}

int vm_load_plugins(struct cfg_tree *tree, const char *default_dir, bool is_by_name,
		    struct pdm_registry *registry, struct err *err)
{
	char *dirs[VM_MAX_PLUGIN_DIRS];
	const char *extra = NULL;
	size_t count;
	int status;

	count = vm_split_dirs(getenv("MODVM_PLUGIN_PATH"), NULL, dirs, 0, VM_MAX_PLUGIN_DIRS);
	if (tree) {
		struct cfg_node *plugins = cfg_find(tree->root, "plugins");

		if (plugins && cfg_get_string(plugins, vm_cfg_plugins, "path", &extra, NULL))
			extra = NULL;
		count = vm_split_dirs(extra, tree->dir, dirs, count, VM_MAX_PLUGIN_DIRS);
	}
	if (default_dir && count < VM_MAX_PLUGIN_DIRS && (dirs[count] = strdup(default_dir)))
		count++;
	for (size_t i = 0; i < count; i++)
		log_debug("pdm", "plugin folder %zu: %s", i, dirs[i]);
	if (is_by_name && tree)
		status = pdm_registry_load_named(registry, (const char *const *)dirs, count,
						 tree->root, err);
	else
		status = pdm_registry_load_dirs(registry, (const char *const *)dirs, count, err);
	for (size_t i = 0; i < count; i++)
		free(dirs[i]);
	return status;
}

int vm_check_config(struct cfg_tree *tree, struct pdm_registry *registry, struct cfg_diag *diag)
{
	struct cfg_node *root = tree->root;
	struct cfg_node *node;
	int status = 0;

	if ((node = cfg_find(root, "vm")) && cfg_check_schema(node, vm_cfg_vm, NULL, "section [vm]", diag))
		status = PDM_ERR_CFG;
	for (unsigned k = 0; node && k < VM_WORD_KEYS; k++) {
		const struct vm_word_key *wk = &vm_word_keys[k];
		struct cfg_value *value = cfg_value_find(node, wk->key);
		char path[32];

		if (value && vm_word(k, value->text) < 0) {
			snprintf(path, sizeof(path), "vm/%s", wk->key);
			cfg_diag_add(diag, value->origin, value->line, path,
				     "expected '%s' or '%s', got '%s'", wk->words[0], wk->words[1],
				     value->text);
			status = PDM_ERR_CFG;
		}
	}
	if ((node = cfg_find(root, "plugins")) &&
	    cfg_check_schema(node, vm_cfg_plugins, NULL, "section [plugins]", diag))
		status = PDM_ERR_CFG;
	if (boot_check_config(cfg_find(root, "boot"), diag))
		status = PDM_ERR_CFG;
	if (pdm_check_config(registry, root, diag))
		status = PDM_ERR_CFG;
	if (cfg_report_unclaimed(tree, diag))
		status = PDM_ERR_CFG;
	if (!tree->root->first_child) {
		cfg_diag_add(diag, tree->file ? tree->file : "-", 0, NULL, "the file configures nothing");
		status = PDM_ERR_CFG;
	}
	return status;
}

/* ---- the state machine ---- */

static const char *const vm_state_names[] = {
	[PDM_VM_INVALID] = "invalid",
	[PDM_VM_CREATING] = "creating",
	[PDM_VM_CREATED] = "created",
	[PDM_VM_LOADING] = "loading",
	[PDM_VM_POWERING_ON] = "powering-on",
	[PDM_VM_RUNNING] = "running",
	[PDM_VM_SUSPENDING] = "suspending",
	[PDM_VM_SUSPENDED] = "suspended",
	[PDM_VM_RESUMING] = "resuming",
	[PDM_VM_RESETTING] = "resetting",
	[PDM_VM_SAVING] = "saving",
	[PDM_VM_POWERING_OFF] = "powering-off",
	[PDM_VM_OFF] = "off",
	[PDM_VM_DESTROYING] = "destroying",
	[PDM_VM_TERMINATED] = "terminated",
	[PDM_VM_GURU_MEDITATION] = "guru-meditation",
	[PDM_VM_FATAL_ERROR] = "fatal-error",
	[PDM_VM_LOAD_FAILURE] = "load-failure",
};

#define S(x) (1u << PDM_VM_##x)
/* For each state, the states it may change to (DESIGN.md, "The VM state machine"). */
static const uint32_t vm_legal[] = {
	[PDM_VM_CREATING] = S(CREATED),
	[PDM_VM_CREATED] = S(LOADING) | S(POWERING_ON) | S(POWERING_OFF),
	[PDM_VM_LOADING] = S(SUSPENDED) | S(LOAD_FAILURE),
	[PDM_VM_POWERING_ON] = S(RUNNING),
	[PDM_VM_RUNNING] = S(SUSPENDING) | S(RESETTING) | S(POWERING_OFF) | S(GURU_MEDITATION) |
			   S(FATAL_ERROR),
	[PDM_VM_SUSPENDING] = S(SUSPENDED),
	[PDM_VM_SUSPENDED] = S(RESUMING) | S(RESETTING) | S(SAVING) | S(LOADING) | S(POWERING_OFF),
	[PDM_VM_RESUMING] = S(RUNNING),
	[PDM_VM_RESETTING] = S(RUNNING) | S(SUSPENDED),      /* back where it came from */
	[PDM_VM_SAVING] = S(SUSPENDED),
	[PDM_VM_POWERING_OFF] = S(OFF),
	[PDM_VM_OFF] = S(DESTROYING),
	[PDM_VM_DESTROYING] = S(TERMINATED),
	[PDM_VM_GURU_MEDITATION] = S(POWERING_OFF),
	[PDM_VM_FATAL_ERROR] = S(POWERING_OFF),
	[PDM_VM_LOAD_FAILURE] = S(POWERING_OFF),
};
#undef S

const char *vm_state_name(enum pdm_vm_state state)
{
	if ((unsigned)state < sizeof(vm_state_names) / sizeof(vm_state_names[0]) &&
	    vm_state_names[state])
		return vm_state_names[state];
	return "invalid";
}

static void vm_legal_list(enum pdm_vm_state from, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned s = 0; s < 32; s++)
		if (vm_legal[from] & (1u << s))
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
						len ? ", " : "", vm_state_name(s));
	if (!len)
		snprintf(buf, size, "none");
}

/* The states vm_wait_stopped() returns in. */
static bool vm_is_stopped(enum pdm_vm_state state)
{
	return state == PDM_VM_OFF || state == PDM_VM_GURU_MEDITATION ||
	       state == PDM_VM_FATAL_ERROR || state == PDM_VM_CREATED;
}

/* Set while observers run: they may not change the state. */
static __thread bool vm_in_observer;

int vm_set_state(struct vm *vm, enum pdm_vm_state new_state, struct err *err)
{
	enum pdm_vm_state old_state;
	char legal[256];

	if (vm_in_observer)
		return err_set(err, PDM_ERR_STATE, "a state observer may not change the state");
	/* Held until the observers have run, so that they see changes in their order. */
	pthread_mutex_lock(&vm->notify_lock);
	pthread_mutex_lock(&vm->state_lock);
	old_state = vm->state;
	if ((unsigned)old_state >= sizeof(vm_legal) / sizeof(vm_legal[0]) ||
	    !(vm_legal[old_state] & (1u << new_state)) ||
	    (old_state == PDM_VM_RESETTING && new_state != vm->prev_state)) {
		pthread_mutex_unlock(&vm->state_lock);
		pthread_mutex_unlock(&vm->notify_lock);
		vm_legal_list(old_state, legal, sizeof(legal));
		return err_set(err, PDM_ERR_STATE,
			       "the VM is %s: it cannot become %s (legal from %s: %s)",
			       vm_state_name(old_state), vm_state_name(new_state),
			       vm_state_name(old_state), legal);
	}
	vm->prev_state = old_state;
	/* Atomic so that vm_state() may read it without the lock (EMT hot path). */
	__atomic_store_n(&vm->state, new_state, __ATOMIC_SEQ_CST);
	/*
	 * Only vm_wait_stopped() waits for a state: waking it on every pause and resume
	 * would put a context switch on the path a control client times.
	 */
	if (vm_is_stopped(new_state))
		pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->state_lock);
	log_debug("vm", "state %s -> %s", vm_state_name(old_state), vm_state_name(new_state));

	vm_in_observer = true;
	for (struct vm_observer *o = vm->observers; o; o = o->next)
		if (o->kind == VM_OBSERVER_STATE)
			o->fn.state(vm, new_state, old_state, o->user);
	vm_in_observer = false;
	pthread_mutex_unlock(&vm->notify_lock);
	/* EMTs look at the state between KVM_RUN calls: make them look now. */
	if (vm->vcpus && new_state != PDM_VM_RUNNING)
		vm_kick_all(vm, VCPU_FF_CHECK_STATE);
	else if (vm->vcpus)
		for (unsigned i = 0; i < vm->cpu_count; i++) {
			pthread_mutex_lock(&vm->vcpus[i].lock);
			pthread_cond_signal(&vm->vcpus[i].cond);
			pthread_mutex_unlock(&vm->vcpus[i].lock);
		}
	return 0;
}

enum pdm_vm_state vm_state(struct vm *vm)
{
	return __atomic_load_n(&vm->state, __ATOMIC_ACQUIRE);
}

void vm_guru(struct vm *vm, struct vcpu *vcpu, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&vm->state_lock);
	if (!vm->failure[0])
		snprintf(vm->failure, sizeof(vm->failure), "vCPU %u: %s", vcpu ? vcpu->id : 0, why);
	pthread_mutex_unlock(&vm->state_lock);
	log_error("vm", "guru meditation: vCPU %u: %s", vcpu ? vcpu->id : 0, why);
	vm_set_state(vm, PDM_VM_GURU_MEDITATION, NULL);
}

const char *vm_failure(struct vm *vm)
{
	return vm->failure;
}

int vm_exit_status(struct vm *vm)
{
	return atomic_load(&vm->exit_status);
}

unsigned vm_cpu_count(struct vm *vm)
{
	return vm->cpu_count;
}

void vm_get_stats(struct vm *vm, struct vm_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	for (unsigned i = 0; i < vm->cpu_count; i++)
		stats->exits += atomic_load(&vm->vcpus[i].exits);
	stats->unhandled_pio = atomic_load(&vm->iom.stats.unhandled_pio);
	stats->unhandled_mmio = atomic_load(&vm->iom.stats.unhandled_mmio);
	stats->handler_errors = atomic_load(&vm->iom.stats.handler_errors);
}

/* ---- observers ---- */

static int vm_observer_add(struct vm *vm, enum vm_observer_kind kind, struct vm_observer model)
{
	struct vm_observer *o = calloc(1, sizeof(*o)), **tail;

	if (!o)
		return PDM_ERR_NO_MEMORY;
	*o = model;
	o->kind = kind;
	pthread_mutex_lock(&vm->notify_lock);
	for (tail = &vm->observers; *tail; tail = &(*tail)->next)
		;
	*tail = o;
	pthread_mutex_unlock(&vm->notify_lock);
	return 0;
}

static int vm_observer_remove(struct vm *vm, enum vm_observer_kind kind, void (*fn)(void),
			      void *user)
{
	struct vm_observer **link, *o;

	pthread_mutex_lock(&vm->notify_lock);
	for (link = &vm->observers; (o = *link); link = &o->next)
		if (o->kind == kind && o->fn.any == fn && o->user == user) {
			*link = o->next;
			pthread_mutex_unlock(&vm->notify_lock);
			free(o);
			return 0;
		}
	pthread_mutex_unlock(&vm->notify_lock);
	return PDM_ERR_NOT_FOUND;
}

int vm_at_state_register(struct vm *vm, vm_state_fn fn, void *user)
{
	return vm_observer_add(vm, VM_OBSERVER_STATE, (struct vm_observer){ .fn.state = fn, .user = user });
}

int vm_at_state_deregister(struct vm *vm, vm_state_fn fn, void *user)
{
	return vm_observer_remove(vm, VM_OBSERVER_STATE, (void (*)(void))fn, user);
}

int vm_at_error_register(struct vm *vm, vm_error_fn fn, void *user)
{
	return vm_observer_add(vm, VM_OBSERVER_ERROR, (struct vm_observer){ .fn.error = fn, .user = user });
}

int vm_at_error_deregister(struct vm *vm, vm_error_fn fn, void *user)
{
	return vm_observer_remove(vm, VM_OBSERVER_ERROR, (void (*)(void))fn, user);
}

int vm_at_reset_register(struct vm *vm, vm_event_fn fn, void *user)
{
	return vm_observer_add(vm, VM_OBSERVER_RESET, (struct vm_observer){ .fn.event = fn, .user = user });
}

int vm_at_reset_deregister(struct vm *vm, vm_event_fn fn, void *user)
{
	return vm_observer_remove(vm, VM_OBSERVER_RESET, (void (*)(void))fn, user);
}

int vm_at_dtor_register(struct vm *vm, vm_event_fn fn, void *user)
{
	return vm_observer_add(vm, VM_OBSERVER_DTOR, (struct vm_observer){ .fn.event = fn, .user = user });
}

int vm_at_dtor_deregister(struct vm *vm, vm_event_fn fn, void *user)
{
	return vm_observer_remove(vm, VM_OBSERVER_DTOR, (void (*)(void))fn, user);
}

static void vm_notify_events(struct vm *vm, enum vm_observer_kind kind)
{
	pthread_mutex_lock(&vm->notify_lock);
	vm_in_observer = true;
	for (struct vm_observer *o = vm->observers; o; o = o->next)
		if (o->kind == kind)
			o->fn.event(vm, o->user);
	vm_in_observer = false;
	pthread_mutex_unlock(&vm->notify_lock);
}

void vm_notify_reset(struct vm *vm)
{
	vm_notify_events(vm, VM_OBSERVER_RESET);
}

const char *vm_name(struct vm *vm)
{
	return vm->name;
}

struct vm_instance_walk {
	void (*fn)(const struct vm_instance_info *info, void *user);
	void *user;
};

static void vm_instance_visit(const struct pdm_instance_info *pinfo, void *arg)
{
	struct vm_instance_walk *walk = arg;
	struct vm_instance_info info = { .name = pinfo->name, .is_driver = pinfo->is_driver };

	_Static_assert((int)VM_NOTIFY_COUNT == (int)PDM_NOTIFY_COUNT, "same notifications");
	memcpy(info.last_ns, pinfo->last_ns, sizeof(info.last_ns));
	memcpy(info.was_async, pinfo->was_async, sizeof(info.was_async));
	walk->fn(&info, walk->user);
}

void vm_for_each_instance(struct vm *vm,
			  void (*fn)(const struct vm_instance_info *info, void *user), void *user)
{
	struct vm_instance_walk walk = { fn, user };

	pdm_for_each_instance(&vm->pdm, vm_instance_visit, &walk);
}

const char *vm_notify_name(enum vm_notify notify)
{
	return pdm_notify_name((enum pdm_notify)notify);
}

/* ---- what pdm asks of the VM ---- */

static int vm_host_ioport_register(void *ctx, struct pdm_dev_ins *dev, uint16_t port,
				   uint32_t count, void *user, pdm_ioport_in_fn in,
				   pdm_ioport_out_fn out, const char *desc, struct err *err)
{
	struct vm *vm = ctx;

	return iom_register_pio(&vm->iom, dev, pdm_dev_lock_of(dev), port, count, user, in, out,
				desc, err);
}

static int vm_host_mmio_register(void *ctx, struct pdm_dev_ins *dev, uint64_t gpa, uint64_t size,
				 void *user, pdm_mmio_read_fn read, pdm_mmio_write_fn write,
				 const char *desc, struct err *err)
{
	struct vm *vm = ctx;

	for (unsigned i = 0; i < vm->mem.region_count; i++) {
		struct mem_region *r = &vm->mem.regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return err_set(err, PDM_ERR_DUPLICATE,
				       "mmio %#llx-%#llx overlaps guest RAM",
				       (unsigned long long)gpa, (unsigned long long)(gpa + size - 1));
	}
	return iom_register_mmio(&vm->iom, dev, pdm_dev_lock_of(dev), gpa, size, user, read, write,
				 desc, err);
}

static int vm_host_irq_set(void *ctx, uint32_t irq, int level)
{
	struct vm *vm = ctx;

	if (vm->is_split_irqchip)
		return irqchip_set_irq(&vm->irqchip, irq, level);
	return kvm_irq_line(&vm->kvm, irq, level);
}

static int vm_host_phys_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	return mem_read(&((struct vm *)ctx)->mem, gpa, buf, len);
}

static int vm_host_phys_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	return mem_write(&((struct vm *)ctx)->mem, gpa, buf, len);
}

static enum pdm_vm_state vm_host_state(void *ctx)
{
	return vm_state(ctx);
}

static int vm_host_request_poweroff(void *ctx, int exit_status)
{
	return vm_request_poweroff(ctx, exit_status);
}

static int vm_host_request_reset(void *ctx)
{
	return vm_request_reset(ctx);
}

static int vm_host_request_suspend(void *ctx)
{
	return vm_request_suspend(ctx);
}

static void vm_host_runtime_error(void *ctx, const char *source, enum pdm_runtime_error kind,
				  const char *id, const char *message)
{
	struct vm *vm = ctx;

	/* In the same order as state changes: the error first, then what it causes. */
	pthread_mutex_lock(&vm->notify_lock);
	vm_in_observer = true;
	for (struct vm_observer *o = vm->observers; o; o = o->next)
		if (o->kind == VM_OBSERVER_ERROR)
			o->fn.error(vm, source, kind, id, message, o->user);
	vm_in_observer = false;
	pthread_mutex_unlock(&vm->notify_lock);
	if (kind == PDM_RTERR_SUSPEND) {
		vm_request_suspend(vm);
	} else if (kind == PDM_RTERR_FATAL) {
		pthread_mutex_lock(&vm->state_lock);
		if (!vm->failure[0])
			snprintf(vm->failure, sizeof(vm->failure), "'%s': %s: %s", source, id, message);
		pthread_mutex_unlock(&vm->state_lock);
		vm_request_fatal(vm);
	}
}

static void vm_host_serve_priority(void *ctx)
{
	emt_serve_priority(ctx);
}

/*
 * When this process started, for pdm_machine_info.start_time_ns. A constructor takes
 * it before main, so a boot time measured from it includes reading the configuration,
 * loading the plugins and building the VM, as a user timing `modvm run` would see.
 */
static uint64_t vm_process_start_ns;

__attribute__((constructor)) static void vm_take_process_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	vm_process_start_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void vm_host_machine_info(void *ctx, struct pdm_machine_info *info)
{
	struct vm *vm = ctx;
	/* Read as text: the [boot] schema that checks the key is the boot loader's. */
	struct cfg_value *cmdline = cfg_value_find(cfg_find(vm->cfg->root, "boot"), "cmdline");

	info->cpus = vm->cpu_count;
	info->ram_size = vm->memory_size;
	info->cmdline = cmdline ? cmdline->text : "";
	info->vm_name = vm->name;
	info->start_time_ns = vm_process_start_ns;
}

/* ---- create / power / destroy ---- */

static int vm_read_config(struct vm *vm, struct err *err)
{
	struct cfg_node *node = cfg_find(vm->cfg->root, "vm");
	const char *name = "modvm", *words[VM_WORD_KEYS];
	int64_t memory = 128 << 20, cpus = 1;
	int status = 0, index[VM_WORD_KEYS];

	for (unsigned k = 0; k < VM_WORD_KEYS; k++)
		words[k] = vm_word_keys[k].words[0];    /* each key's default is its first word */

	if (node) {
		status = cfg_get_string(node, vm_cfg_vm, "name", &name, err);
		if (!status)
			status = cfg_get_int(node, vm_cfg_vm, "memory", &memory, err);
		if (!status)
			status = cfg_get_int(node, vm_cfg_vm, "cpus", &cpus, err);
		for (unsigned k = 0; !status && k < VM_WORD_KEYS; k++)
			status = cfg_get_string(node, vm_cfg_vm, vm_word_keys[k].key, &words[k], err);
	}
	for (unsigned k = 0; k < VM_WORD_KEYS; k++) {
		index[k] = vm_word(k, words[k]);
		if (!status && index[k] < 0)
			status = err_set(err, PDM_ERR_CFG, "[vm] %s: expected '%s' or '%s', got '%s'",
					 vm_word_keys[k].key, vm_word_keys[k].words[0],
					 vm_word_keys[k].words[1], words[k]);
	}
	vm->on_reset = index[VM_WORD_ON_RESET] < 0 ? VM_ON_RESET_INVALID :
		       (enum vm_on_reset)(VM_ON_RESET_RESET + index[VM_WORD_ON_RESET]);
	vm->is_kvm_pv_host = index[VM_WORD_KVM_PV] == 1;
	vm->is_split_irqchip = index[VM_WORD_IRQCHIP] == 1;
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	vm->memory_size = (uint64_t)memory & ~0xfffull;
	vm->cpu_count = (unsigned)cpus;
	return status;
}

int vm_create_begin(struct cfg_tree *tree, struct vm **out, struct err *err)
{
	struct vm *vm;
	int status;

	*out = NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	pthread_mutex_init(&vm->state_lock, NULL);
	pthread_mutex_init(&vm->notify_lock, NULL);
	pthread_cond_init(&vm->state_cond, NULL);
	pthread_mutex_init(&vm->rdv.lock, NULL);
	pthread_cond_init(&vm->rdv.cond, NULL);
	vm->state = PDM_VM_CREATING;
	vm->cfg = tree;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	atomic_init(&vm->exit_status, -1);
	iom_init(&vm->iom);
	vm->host = (struct pdm_host){
		.ctx = vm,
		.ioport_register = vm_host_ioport_register,
		.mmio_register = vm_host_mmio_register,
		.irq_set = vm_host_irq_set,
		.phys_read = vm_host_phys_read,
		.phys_write = vm_host_phys_write,
		.vm_state = vm_host_state,
		.request_poweroff = vm_host_request_poweroff,
		.request_reset = vm_host_request_reset,
		.request_suspend = vm_host_request_suspend,
		.runtime_error = vm_host_runtime_error,
		.serve_priority = vm_host_serve_priority,
		.machine_info = vm_host_machine_info,
	};
	pdm_init(&vm->pdm, NULL, &vm->host);        /* the registry comes with the devices */

	status = vm_read_config(vm, err);
	if (!status)
		status = kvm_open(&vm->kvm, err);
	if (!status)
		vm->kvm.has_all_pv = vm->is_kvm_pv_host;
	if (!status)
		status = mem_init(&vm->mem, &vm->kvm, vm->memory_size, err);
	/*
	 * After the RAM: a memory slot added once the irqchip exists waits for an SRCU
	 * grace period in the kernel (a scheduler tick or more), one added before it
	 * does not (bench/README.md, "start").
	 */
	if (!status)
		status = kvm_create_irqchip(&vm->kvm, vm->is_split_irqchip, err);
	if (!status && vm->is_split_irqchip)
		status = irqchip_init(&vm->irqchip, vm, err);
	if (status)
		goto fail;
	vm->rdv.departed = vm->cpu_count;         /* idle: nobody is inside */
	vm->rdv.emt_cond = calloc(vm->cpu_count, sizeof(*vm->rdv.emt_cond));
	if (!vm->rdv.emt_cond) {
		status = err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < vm->cpu_count; i++)
		pthread_cond_init(&vm->rdv.emt_cond[i], NULL);
	vm->vcpus = calloc(vm->cpu_count, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		status = err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		vcpu->vm = vm;
		vcpu->id = i;
		vcpu->fd = -1;
		vcpu->reqs_tail = &vcpu->reqs;
		vcpu->prio_tail = &vcpu->prio_reqs;
		pthread_mutex_init(&vcpu->lock, NULL);
		pthread_cond_init(&vcpu->cond, NULL);
	}
	/* Each EMT creates its vCPU while this thread goes on (vm_create_finish waits). */
	status = emt_start(vm, err);
	if (status)
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return status;
}

int vm_create_finish(struct vm *vm, struct pdm_registry *registry, struct err *err)
{
	int status;

	vm->pdm.registry = registry;
	status = pdm_construct(&vm->pdm, vm->cfg->root, err);
	if (!status)
		status = emt_wait_ready(vm, err);
	if (!status)
		status = boot_load(vm, err);
	if (status)
		return status;
	vm_set_state(vm, PDM_VM_CREATED, NULL);
	log_info("vm", "created '%s': %u vCPU(s), %llu MiB", vm->name, vm->cpu_count,
		 (unsigned long long)(vm->memory_size >> 20));
	return 0;
}

int vm_create(struct cfg_tree *tree, struct pdm_registry *registry, struct vm **out,
	      struct err *err)
{
	int status = vm_create_begin(tree, out, err);

	if (!status && (status = vm_create_finish(*out, registry, err))) {
		vm_destroy(*out);
		*out = NULL;
	}
	return status;
}

enum pdm_vm_state vm_wait_stopped(struct vm *vm)
{
	enum pdm_vm_state state;

	pthread_mutex_lock(&vm->state_lock);
	while (!vm_is_stopped(vm->state))
		pthread_cond_wait(&vm->state_cond, &vm->state_lock);
	state = vm->state;
	pthread_mutex_unlock(&vm->state_lock);
	return state;
}

void vm_destroy(struct vm *vm)
{
	enum pdm_vm_state state;

	if (!vm)
		return;
	vm_notify_events(vm, VM_OBSERVER_DTOR);
	state = vm_state(vm);
	if (state != PDM_VM_CREATING && state != PDM_VM_CREATED && state != PDM_VM_OFF) {
		/* A caller that forgot the power-off still gets its devices notified. */
		struct err err;

		if (vm_power_off(vm, &err))
			log_warn("vm", "%s", err.msg);
	}
	if (vm_state(vm) == PDM_VM_CREATED) {
		/* Never powered on: nothing to notify, but walk the legal path. */
		vm_set_state(vm, PDM_VM_POWERING_OFF, NULL);
		vm_set_state(vm, PDM_VM_OFF, NULL);
	}
	if (vm_state(vm) == PDM_VM_OFF)
		vm_set_state(vm, PDM_VM_DESTROYING, NULL);
	if (vm->vcpus)
		emt_stop(vm);
	pdm_release(&vm->pdm);
	irqchip_destroy(&vm->irqchip);  /* after the devices: their destructors may set IRQs */
	iom_release(&vm->iom);
	mem_release(&vm->mem);
	kvm_close(&vm->kvm);
	if (vm_state(vm) == PDM_VM_DESTROYING)
		vm_set_state(vm, PDM_VM_TERMINATED, NULL);
	for (unsigned i = 0; vm->vcpus && i < vm->cpu_count; i++) {
		pthread_mutex_destroy(&vm->vcpus[i].lock);
		pthread_cond_destroy(&vm->vcpus[i].cond);
	}
	while (vm->observers) {
		struct vm_observer *next = vm->observers->next;

		free(vm->observers);
		vm->observers = next;
	}
	free(vm->vcpus);
	for (unsigned i = 0; vm->rdv.emt_cond && i < vm->cpu_count; i++)
		pthread_cond_destroy(&vm->rdv.emt_cond[i]);
	free(vm->rdv.emt_cond);
	pthread_mutex_destroy(&vm->rdv.lock);
	pthread_cond_destroy(&vm->rdv.cond);
	pthread_mutex_destroy(&vm->state_lock);
	pthread_mutex_destroy(&vm->notify_lock);
	pthread_cond_destroy(&vm->state_cond);
	free(vm);
}
