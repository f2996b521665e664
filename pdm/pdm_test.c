/*
 * pdm/pdm_test.c - the plugin manager with real test plugins: loading and refusing
 * modules, building LUN chains, construct failure teardown, power notification
 * order, worker threads, and config checks.
 */
#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pdm/pdm.h"
#include "tests/testutil.h"

static char *tmp;
static struct pdm_registry registry;

static char *plugin(const char *name)
{
	return tu_fmt("%s/tests/plugins/.libs/%s.so", tu_builddir(), name);
}

static void setup(void)
{
	tmp = tu_tmpdir();
	pdm_registry_init(&registry);
}

static void teardown(void)
{
	pdm_registry_release(&registry);
	tu_rmtree(tmp);
	free(tmp);
}

static void load_recorder(void)
{
	char *path = plugin("recorder");
	struct err err = { 0 };

	ck_assert_msg(pdm_registry_load(&registry, path, &err) == 0, "%s", err.msg);
	free(path);
}

/*
 * Writes vm.ini with `text` into tmp (the string "@LOG@" becomes the event log path)
 * and parses it; checked against the registry's types when is_checked.
 */
static struct cfg_tree *parse_config(const char *text, bool is_checked)
{
	char *ini = tu_fmt("%s/vm.ini", tmp), *log = tu_fmt("%s/events.log", tmp);
	struct cfg_tree *tree = NULL;
	struct cfg_diag diag;
	char buf[8192], *out = buf;

	for (const char *p = text; *p; ) {
		if (!strncmp(p, "@LOG@", 5)) {
			out += sprintf(out, "%s", log);
			p += 5;
		} else {
			*out++ = *p++;
		}
	}
	*out = '\0';
	tu_write_file(ini, buf);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	if (is_checked)
		ck_assert_int_eq(pdm_check_config(&registry, tree->root, &diag), 0);
	ck_assert_int_eq(diag.count, 0);
	cfg_diag_release(&diag);
	free(ini);
	free(log);
	return tree;
}

static struct cfg_tree *load_config(const char *text)
{
	return parse_config(text, true);
}

static char *events(void)
{
	char *log = tu_fmt("%s/events.log", tmp);
	char *text = tu_read_file(log);

	free(log);
	return text ? text : strdup("");
}

/* Asserts that the lines of the event log are exactly `expected`. */
static void assert_events(const char *expected)
{
	char *text = events();

	ck_assert_str_eq(text, expected);
	free(text);
}

START_TEST(well_formed_plugin_registers_its_types)
{
	load_recorder();
	ck_assert_ptr_nonnull(pdm_registry_find_dev(&registry, "trec"));
	ck_assert_ptr_nonnull(pdm_registry_find_drv(&registry, "tlink"));
	ck_assert_ptr_null(pdm_registry_find_dev(&registry, "tlink"));
	ck_assert_uint_eq(registry.modules->abi_version, PDM_ABI_VERSION);
}
END_TEST

START_TEST(wrong_abi_major_is_refused_before_any_code_runs)
{
	char *path = plugin("bad-abi");
	struct err err = { 0 };

	/* The module's ELF constructor calls abort(): reaching the asserts proves it never ran. */
	ck_assert_int_eq(pdm_registry_load(&registry, path, &err), PDM_ERR_ABI);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_msg(strstr(err.msg, "ABI 2.0") && strstr(err.msg, "expects 1.2"), "%s", err.msg);
	ck_assert_ptr_null(registry.modules);
	free(path);
}
END_TEST

START_TEST(older_minor_loads_and_newer_minor_is_refused)
{
	char *old = plugin("minor-old"), *new = plugin("minor-new");
	struct err err = { 0 };

	ck_assert_msg(pdm_registry_load(&registry, old, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(registry.modules->abi_version, PDM_ABI_MAKE(1, 0));
	ck_assert_ptr_nonnull(pdm_registry_find_dev(&registry, "minor"));
	pdm_registry_release(&registry);
	pdm_registry_init(&registry);
	ck_assert_int_eq(pdm_registry_load(&registry, new, &err), PDM_ERR_ABI);
	ck_assert_msg(strstr(err.msg, "ABI 1.3") && strstr(err.msg, "minor at most 2"), "%s", err.msg);
	free(old);
	free(new);
}
END_TEST

START_TEST(module_without_entry_point_is_refused)
{
	char *path = plugin("no-entry");
	struct err err = { 0 };

	ck_assert_int_eq(pdm_registry_load(&registry, path, &err), PDM_ERR_NO_ENTRY);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_ptr_nonnull(strstr(err.msg, "pdm_module_register"));
	ck_assert_ptr_null(registry.modules);
	free(path);
}
END_TEST

START_TEST(duplicate_type_is_refused_and_rolled_back)
{
	char *path = plugin("dup-type");
	struct err err = { 0 };

	load_recorder();
	ck_assert_int_eq(pdm_registry_load(&registry, path, &err), PDM_ERR_DUPLICATE);
	ck_assert_msg(strstr(err.msg, "dup-type.so") && strstr(err.msg, "recorder.so") &&
		      strstr(err.msg, "'trec'"), "%s", err.msg);
	ck_assert_uint_eq(registry.dev_count, 2);        /* the recorder's trec and trec-first */
	ck_assert_ptr_null(registry.modules->next);
	free(path);
}
END_TEST

START_TEST(files_that_are_not_plugins_are_refused)
{
	char *text = tu_fmt("%s/text.so", tmp);
	struct err err = { 0 };

	tu_write_file(text, "not an ELF file\n");
	ck_assert_int_eq(pdm_registry_load(&registry, text, &err), PDM_ERR_ABI);
	ck_assert_msg(strstr(err.msg, "not an x86-64 ELF shared object"), "%s", err.msg);
	/* A real shared object that is no modvm plugin. */
	ck_assert_int_eq(pdm_registry_load(&registry, "/lib/x86_64-linux-gnu/libm.so.6", &err),
			 PDM_ERR_ABI);
	ck_assert_msg(strstr(err.msg, "not a modvm plugin"), "%s", err.msg);
	ck_assert_int_eq(pdm_registry_load(&registry, "/nonexistent/x.so", &err), PDM_ERR_IO);
	ck_assert_msg(strstr(err.msg, "/nonexistent/x.so"), "%s", err.msg);
	free(text);
}
END_TEST

START_TEST(folders_load_in_order_and_earlier_names_win)
{
	char *dir = tu_fmt("%s/tests/plugins/.libs", tu_builddir());
	char *copy = tu_fmt("%s/recorder.so", tmp);
	char *cmd = tu_fmt("cp '%s/recorder.so' '%s'", dir, copy);
	const char *dirs[] = { tmp, "/nonexistent" };
	struct err err = { 0 };

	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(pdm_registry_load_dirs(&registry, dirs, 2, &err), 0);
	ck_assert_str_eq(registry.modules->path, copy);
	free(cmd);
	free(copy);
	free(dir);
}
END_TEST

/*
 * modvm run and check load TYPE.so for each type the config names, and every module
 * only when a type is not found that way: a broken module nobody uses is not opened.
 */
START_TEST(modules_are_loaded_by_the_names_the_config_uses)
{
	const char *names[] = { "sink", "recorder", "machine", "bad-abi" };
	const char *dirs[1];
	struct cfg_tree *tree;
	struct err err = { 0 };
	char *bad = tu_fmt("%s/bad-abi.so", tmp);

	dirs[0] = tmp;
	for (size_t i = 0; i < 4; i++) {
		char *path = plugin(names[i]);
		char *cmd = tu_fmt("cp '%s' '%s'", path, tmp);

		ck_assert_int_eq(system(cmd), 0);
		free(cmd);
		free(path);
	}
	tree = parse_config("[devices/sink/0]\niobase = 0x500\n", false);
	ck_assert_msg(pdm_registry_load_named(&registry, dirs, 1, tree->root, &err) == 0, "%s",
		      err.msg);
	ck_assert_ptr_nonnull(registry.modules);
	ck_assert_ptr_null(registry.modules->next);
	ck_assert(strstr(registry.modules->path, "/sink.so"));
	cfg_free(tree);
	pdm_registry_release(&registry);
	pdm_registry_init(&registry);

	/* trec lives in recorder.so: every module is loaded, and the broken one fails. */
	tree = parse_config("[devices/trec/0]\nlog = @LOG@\n", false);
	ck_assert_int_eq(pdm_registry_load_named(&registry, dirs, 1, tree->root, &err), PDM_ERR_ABI);
	ck_assert_msg(strstr(err.msg, "bad-abi.so"), "%s", err.msg);
	pdm_registry_release(&registry);
	pdm_registry_init(&registry);
	ck_assert_int_eq(unlink(bad), 0);
	ck_assert_msg(pdm_registry_load_named(&registry, dirs, 1, tree->root, &err) == 0, "%s",
		      err.msg);
	ck_assert_ptr_nonnull(pdm_registry_find_dev(&registry, "trec"));
	ck_assert_ptr_nonnull(pdm_registry_find_dev(&registry, "sink"));
	cfg_free(tree);
	pdm_registry_release(&registry);
	pdm_registry_init(&registry);

	/*
	 * A driver name that is no plain file name is never made into a path: with the
	 * folder sub/ holding recorder.so, "../sink" must not reach the sink.so beside it.
	 */
	{
		char *sub = tu_fmt("%s/sub", tmp);
		char *cmd = tu_fmt("mkdir '%s' && mv '%s/recorder.so' '%s'", sub, tmp, sub);

		ck_assert_int_eq(system(cmd), 0);
		dirs[0] = sub;
		tree = parse_config("[devices/trec/0]\nlog = @LOG@\n"
				    "[devices/trec/0/lun0]\ndriver = ../sink\n", false);
		ck_assert_msg(pdm_registry_load_named(&registry, dirs, 1, tree->root, &err) == 0,
			      "%s", err.msg);
		ck_assert_ptr_nonnull(pdm_registry_find_dev(&registry, "trec"));
		ck_assert_ptr_null(pdm_registry_find_dev(&registry, "sink"));
		cfg_free(tree);
		free(cmd);
		free(sub);
	}
	free(bad);
}
END_TEST

START_TEST(modules_the_config_does_not_name_are_unloaded)
{
	const char *names[] = { "sink", "recorder", "machine" };
	struct cfg_tree *tree;

	for (size_t i = 0; i < 3; i++) {
		char *path = plugin(names[i]);
		struct err err = { 0 };

		ck_assert_msg(pdm_registry_load(&registry, path, &err) == 0, "%s", err.msg);
		free(path);
	}
	/* recorder's device and (on the link only) its driver; nothing of sink or machine. */
	tree = load_config("[devices/trec/0]\nlog = @LOG@\n"
			   "[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\n");
	ck_assert_uint_eq(pdm_registry_unload_unused(&registry, tree->root), 2);
	ck_assert_ptr_nonnull(registry.modules);
	ck_assert_ptr_null(registry.modules->next);
	ck_assert(strstr(registry.modules->path, "/recorder.so"));
	ck_assert_ptr_nonnull(pdm_registry_find_dev(&registry, "trec"));
	ck_assert_ptr_nonnull(pdm_registry_find_drv(&registry, "tlink"));
	ck_assert_ptr_null(pdm_registry_find_dev(&registry, "sink"));
	/* Nothing left to unload a second time. */
	ck_assert_uint_eq(pdm_registry_unload_unused(&registry, tree->root), 0);
	cfg_free(tree);
	/* A config without devices needs no module at all. */
	tree = load_config("[vm]\nname = empty\n");
	ck_assert_uint_eq(pdm_registry_unload_unused(&registry, tree->root), 1);
	ck_assert_ptr_null(registry.modules);
	ck_assert_ptr_null(pdm_registry_find_dev(&registry, "trec"));
	cfg_free(tree);
}
END_TEST

/* RTLD_NOLOAD: whether path is still loaded, without loading it. */
static bool is_loaded(const char *path)
{
	void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (handle)
		dlclose(handle);        /* the reference RTLD_NOLOAD took */
	return handle != NULL;
}

START_TEST(release_unloads_the_modules_unless_they_are_kept)
{
	char *path = plugin("sink");
	struct err err = { 0 };

	ck_assert_msg(pdm_registry_load(&registry, path, &err) == 0, "%s", err.msg);
	ck_assert(is_loaded(path));
	pdm_registry_release(&registry);
	ck_assert(!is_loaded(path));

	pdm_registry_init(&registry);
	registry.is_kept_loaded = true;
	ck_assert_msg(pdm_registry_load(&registry, path, &err) == 0, "%s", err.msg);
	pdm_registry_release(&registry);
	ck_assert_ptr_null(registry.modules);
	ck_assert(is_loaded(path));
	free(path);
}
END_TEST

static const char chain3_ini[] =
	"[devices/trec/0]\nlog = @LOG@\n"
	"[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\n"
	"[devices/trec/0/lun0/attached]\ndriver = tlink\nlog = @LOG@\n"
	"[devices/trec/0/lun0/attached/attached]\ndriver = tlink\nlog = @LOG@\n";

START_TEST(chain_three_links_deep_is_notified_and_torn_down_in_order)
{
	struct cfg_tree *tree;
	struct pdm pdm;
	struct err err = { 0 };

	load_recorder();
	tree = load_config(chain3_ini);
	pdm_init(&pdm, &registry, NULL);
	ck_assert_msg(pdm_construct(&pdm, tree->root, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(pdm_device_count(&pdm), 1);
	pdm_power_on(&pdm);
	pdm_power_off(&pdm);
	ck_assert_uint_eq(pdm_registry_find_drv(&registry, "tlink")->instance_count, 3);
	pdm_release(&pdm);
	/* Given back, so that max_instances holds for the next VM of this registry. */
	ck_assert_uint_eq(pdm_registry_find_drv(&registry, "tlink")->instance_count, 0);
	ck_assert_uint_eq(pdm_registry_find_dev(&registry, "trec")->instance_count, 0);
	assert_events(
		"construct trec#0\n"
		"construct trec#0/lun0/tlink\n"
		"construct trec#0/lun0/tlink/tlink\n"
		"construct trec#0/lun0/tlink/tlink/tlink\n"
		/* power-on: drivers bottom-up, then the device */
		"power-on trec#0/lun0/tlink/tlink/tlink\n"
		"power-on trec#0/lun0/tlink/tlink\n"
		"power-on trec#0/lun0/tlink\n"
		"power-on trec#0\n"
		/* power-off: drivers top-down, then the device */
		"power-off trec#0/lun0/tlink\n"
		"power-off trec#0/lun0/tlink/tlink\n"
		"power-off trec#0/lun0/tlink/tlink/tlink\n"
		"power-off trec#0\n"
		/* destroy: the chain bottom-up, then the device */
		"destruct trec#0/lun0/tlink/tlink/tlink\n"
		"destruct trec#0/lun0/tlink/tlink\n"
		"destruct trec#0/lun0/tlink\n"
		"destruct trec#0\n");
	cfg_free(tree);
}
END_TEST

START_TEST(failing_constructor_tears_down_everything_built_so_far)
{
	struct cfg_tree *tree;
	struct pdm pdm;
	struct err err = { 0 };

	load_recorder();
	tree = load_config(
		"[devices/trec/0]\nlog = @LOG@\n"
		"[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\n"
		"[devices/trec/1]\nlog = @LOG@\nluns = 0\n"
		"[devices/trec/2]\nlog = @LOG@\nfail = yes\n"
		"[devices/trec/2/lun0]\ndriver = tlink\nlog = @LOG@\n"
		"[devices/trec/3]\nlog = @LOG@\n");
	pdm_init(&pdm, &registry, NULL);
	ck_assert_int_eq(pdm_construct(&pdm, tree->root, &err), PDM_ERR_CONSTRUCT);
	ck_assert_msg(strstr(err.msg, "vm.ini:9") && strstr(err.msg, "'trec#2'") &&
		      strstr(err.msg, "told to fail"), "%s", err.msg);
	ck_assert_uint_eq(pdm_device_count(&pdm), 0);
	assert_events(
		"construct trec#0\n"
		"construct trec#0/lun0/tlink\n"
		"construct trec#1\n"
		"construct trec#2\n"
		"construct trec#2/lun0/tlink\n"
		/* the failed instance's destructor still runs, after its chain */
		"destruct trec#2/lun0/tlink\n"
		"destruct trec#2\n"
		/* then everything before it, in reverse */
		"destruct trec#1\n"
		"destruct trec#0/lun0/tlink\n"
		"destruct trec#0\n");
	pdm_destroy(&pdm);      /* nothing left: must be harmless */
	pdm_release(&pdm);
	cfg_free(tree);
}
END_TEST

START_TEST(failing_driver_names_itself_and_its_section)
{
	struct cfg_tree *tree;
	struct pdm pdm;
	struct err err = { 0 };

	load_recorder();
	tree = load_config(
		"[devices/trec/0]\nlog = @LOG@\n"
		"[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\n"
		"[devices/trec/0/lun0/attached]\ndriver = tlink\nlog = @LOG@\nfail = yes\n");
	pdm_init(&pdm, &registry, NULL);
	ck_assert_int_eq(pdm_construct(&pdm, tree->root, &err), PDM_ERR_CONSTRUCT);
	pdm_release(&pdm);
	ck_assert_msg(strstr(err.msg, "'trec#0/lun0/tlink/tlink'") &&
		      strstr(err.msg, "devices/trec/0/lun0/attached") &&
		      strstr(err.msg, "told to fail"), "%s", err.msg);
	assert_events(
		"construct trec#0\n"
		"construct trec#0/lun0/tlink\n"
		"construct trec#0/lun0/tlink/tlink\n"
		"destruct trec#0/lun0/tlink/tlink\n"
		"destruct trec#0/lun0/tlink\n"
		"destruct trec#0\n");
	cfg_free(tree);
}
END_TEST

START_TEST(missing_interface_is_named_in_the_error)
{
	struct cfg_tree *tree;
	struct pdm pdm;
	struct err err = { 0 };

	load_recorder();
	tree = load_config(
		"[devices/trec/0]\nlog = @LOG@\nneed = modvm.test.nothing.v1\n"
		"[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\n");
	pdm_init(&pdm, &registry, NULL);
	ck_assert_int_eq(pdm_construct(&pdm, tree->root, &err), PDM_ERR_NO_INTERFACE);
	pdm_release(&pdm);
	ck_assert_msg(strstr(err.msg, "'modvm.test.nothing.v1'") && strstr(err.msg, "trec#0"),
		      "%s", err.msg);
	cfg_free(tree);
}
END_TEST

/* Waits (10 s at most) until the event log holds `count` lines containing needle. */
static bool wait_for_events(const char *needle, int count)
{
	for (int i = 0; i < 1000; i++) {
		char *text = events();
		bool found = tu_count(text, needle) >= count;

		free(text);
		if (found)
			return true;
		usleep(10000);
	}
	return false;
}

START_TEST(worker_threads_run_only_between_power_on_and_power_off)
{
	struct cfg_tree *tree;
	struct pdm pdm;
	struct err err = { 0 };
	char *text;

	load_recorder();
	tree = load_config(
		"[devices/trec/0]\n"
		"[devices/trec/0/lun0]\ndriver = tlink\nlog = @LOG@\nthread = yes\n");
	pdm_init(&pdm, &registry, NULL);
	ck_assert_msg(pdm_construct(&pdm, tree->root, &err) == 0, "%s", err.msg);
	usleep(50000);
	text = events();
	ck_assert_ptr_null(strstr(text, "thread-run"));     /* created suspended */
	free(text);
	pdm_power_on(&pdm);
	ck_assert(wait_for_events("thread-run", 1));
	pdm_power_off(&pdm);            /* returns only once the thread has parked */
	assert_events(
		"construct trec#0/lun0/tlink\n"
		"power-on trec#0/lun0/tlink\n"
		"thread-run trec#0/lun0/tlink\n"
		"power-off trec#0/lun0/tlink\n"
		"thread-stop trec#0/lun0/tlink\n");
	pdm_power_on(&pdm);             /* resumed: fn is called again */
	ck_assert(wait_for_events("thread-run", 2));
	pdm_release(&pdm);
	text = events();
	ck_assert_int_eq(tu_count(text, "thread-run"), 2);
	ck_assert_int_eq(tu_count(text, "thread-stop"), 2);
	ck_assert_int_eq(tu_count(text, "destruct trec#0/lun0/tlink"), 1);
	free(text);
	cfg_free(tree);
}
END_TEST

START_TEST(config_check_reports_every_problem_with_its_line)
{
	char *ini = tu_fmt("%s/bad.ini", tmp);
	struct cfg_tree *tree = NULL;
	struct cfg_diag diag;

	load_recorder();
	tu_write_file(ini,
		      "[devices/nosuch/0]\n"                  /* 1 */
		      "x = 1\n"
		      "[devices/trec/0]\n"                    /* 3 */
		      "bogus = 1\n"                           /* 4 */
		      "luns = 99\n"                           /* 5 */
		      "[devices/trec/0/lun0]\n"               /* 6 */
		      "driver = nodriver\n"                   /* 7 */
		      "[devices/trec/x]\n"                    /* 8 */
		      "[devices/trec/1/lun1]\n"               /* 9 */
		      "log = y\n");
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	ck_assert_int_eq(pdm_check_config(&registry, tree->root, &diag), PDM_ERR_CFG);
	ck_assert_int_eq(diag.count, 6);
	ck_assert_msg(strstr(diag.lines[0], "bad.ini:1:") && strstr(diag.lines[0], "'nosuch'"), "%s", diag.lines[0]);
	ck_assert_msg(strstr(diag.lines[1], "bad.ini:4:") && strstr(diag.lines[1], "bogus"), "%s", diag.lines[1]);
	ck_assert_msg(strstr(diag.lines[2], "bad.ini:5:") && strstr(diag.lines[2], "luns"), "%s", diag.lines[2]);
	ck_assert_msg(strstr(diag.lines[3], "bad.ini:7:") && strstr(diag.lines[3], "'nodriver'"), "%s", diag.lines[3]);
	ck_assert_msg(strstr(diag.lines[4], "bad.ini:8:") && strstr(diag.lines[4], "instance"), "%s", diag.lines[4]);
	ck_assert_msg(strstr(diag.lines[5], "bad.ini:9:") && strstr(diag.lines[5], "driver"), "%s", diag.lines[5]);
	cfg_diag_release(&diag);
	cfg_free(tree);
	free(ini);
}
END_TEST

/* ---- ABI 1.2: machine_info and the drivers' power requests, against a fake VM ---- */

struct fake_vm {
	int poweroff_count, reset_count;
	int exit_status;
};

static enum pdm_vm_state fake_vm_state(void *ctx)
{
	return PDM_VM_CREATED;
}

static int fake_request_poweroff(void *ctx, int exit_status)
{
	struct fake_vm *vm = ctx;

	vm->poweroff_count++;
	vm->exit_status = exit_status;
	return 0;
}

static int fake_request_reset(void *ctx)
{
	((struct fake_vm *)ctx)->reset_count++;
	return 0;
}

static void fake_machine_info(void *ctx, struct pdm_machine_info *info)
{
	info->cpus = 3;
	info->ram_size = 96ull << 20;
	info->cmdline = "console=ttyS0 quiet";
	info->vm_name = "fake";
	info->start_time_ns = 123456789;
}

static struct fake_vm fake_vm;
static const struct pdm_host fake_host = {
	.ctx = &fake_vm,
	.vm_state = fake_vm_state,
	.request_poweroff = fake_request_poweroff,
	.request_reset = fake_request_reset,
	.machine_info = fake_machine_info,
};

static void load_machine(void)
{
	char *path = plugin("machine");
	struct err err = { 0 };

	ck_assert_msg(pdm_registry_load(&registry, path, &err) == 0, "%s", err.msg);
	free(path);
}

/* Constructs the tree of `ini` against host (NULL: none), then destroys it. */
static void construct_once(const char *ini, const struct pdm_host *host)
{
	struct cfg_tree *tree;
	struct pdm pdm;
	struct err err = { 0 };

	tree = load_config(ini);
	memset(&fake_vm, 0, sizeof(fake_vm));
	pdm_init(&pdm, &registry, host);
	ck_assert_msg(pdm_construct(&pdm, tree->root, &err) == 0, "%s", err.msg);
	pdm_release(&pdm);
	cfg_free(tree);
}

START_TEST(machine_info_fills_as_much_of_the_record_as_the_caller_has)
{
	load_machine();
	construct_once("[devices/tmachine/0]\nlog = @LOG@\n", &fake_host);
	assert_events(
		/* this SDK's record: every member, and the core's version */
		"info status=0 version=0x10002 size=48 cpus=3 reserved=0 ram=100663296 "
		"cmdline='console=ttyS0 quiet' name='fake' start=123456789\n"
		/* a newer plugin's: what the core knows, zeros after, size says where it ends */
		"newer status=0 size=48 later=0,0 cpus=3\n"
		/* smaller than ABI 1.2's record: refused, nothing written */
		"small status=-3 cpus=0\n"
		"null status=-3\n");
}
END_TEST

START_TEST(machine_info_without_a_vm_describes_an_empty_machine)
{
	load_machine();
	construct_once("[devices/tmachine/0]\nlog = @LOG@\n", NULL);
	assert_events(
		"info status=0 version=0x10002 size=48 cpus=0 reserved=0 ram=0 "
		"cmdline='' name='' start=0\n"
		"newer status=0 size=48 later=0,0 cpus=0\n"
		"small status=-3 cpus=0\n"
		"null status=-3\n");
}
END_TEST

START_TEST(drivers_request_poweroff_and_reset_through_the_vm)
{
	load_machine();
	construct_once("[devices/tmachine/0]\nlog = /dev/null\n"
		       "[devices/tmachine/0/lun0]\ndriver = tpower\nlog = @LOG@\npoweroff = 7\n"
		       "reset = yes\n", &fake_host);
	assert_events("poweroff(7) status=0\nreset status=0\n");
	ck_assert_int_eq(fake_vm.poweroff_count, 1);
	ck_assert_int_eq(fake_vm.exit_status, 7);
	ck_assert_int_eq(fake_vm.reset_count, 1);
}
END_TEST

START_TEST(driver_power_requests_without_a_vm_are_not_supported)
{
	load_machine();
	construct_once("[devices/tmachine/0]\nlog = /dev/null\n"
		       "[devices/tmachine/0/lun0]\ndriver = tpower\nlog = @LOG@\npoweroff = -1\n"
		       "reset = yes\n", NULL);
	assert_events("poweroff(-1) status=-17\nreset status=-17\n");
}
END_TEST

static Suite *pdm_suite(void)
{
	Suite *s = suite_create("pdm");
	TCase *load = tcase_create("load");
	TCase *chain = tcase_create("instances");

	tcase_add_checked_fixture(load, setup, teardown);
	tcase_add_test(load, well_formed_plugin_registers_its_types);
	tcase_add_test(load, modules_are_loaded_by_the_names_the_config_uses);
	tcase_add_test(load, modules_the_config_does_not_name_are_unloaded);
	tcase_add_test(load, release_unloads_the_modules_unless_they_are_kept);
	tcase_add_test(load, wrong_abi_major_is_refused_before_any_code_runs);
	tcase_add_test(load, older_minor_loads_and_newer_minor_is_refused);
	tcase_add_test(load, module_without_entry_point_is_refused);
	tcase_add_test(load, duplicate_type_is_refused_and_rolled_back);
	tcase_add_test(load, files_that_are_not_plugins_are_refused);
	tcase_add_test(load, folders_load_in_order_and_earlier_names_win);
	suite_add_tcase(s, load);

	tcase_add_checked_fixture(chain, setup, teardown);
	tcase_set_timeout(chain, 60);
	tcase_add_test(chain, chain_three_links_deep_is_notified_and_torn_down_in_order);
	tcase_add_test(chain, failing_constructor_tears_down_everything_built_so_far);
	tcase_add_test(chain, failing_driver_names_itself_and_its_section);
	tcase_add_test(chain, missing_interface_is_named_in_the_error);
	tcase_add_test(chain, worker_threads_run_only_between_power_on_and_power_off);
	tcase_add_test(chain, config_check_reports_every_problem_with_its_line);
	tcase_add_test(chain, machine_info_fills_as_much_of_the_record_as_the_caller_has);
	tcase_add_test(chain, machine_info_without_a_vm_describes_an_empty_machine);
	tcase_add_test(chain, drivers_request_poweroff_and_reset_through_the_vm);
	tcase_add_test(chain, driver_power_requests_without_a_vm_are_not_supported);
	suite_add_tcase(s, chain);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(pdm_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
