/*
 * cli/modvm.c - the `modvm` command: run, check, plugins, ctl.
 *
 * The only place that exits the process. Exit statuses of `modvm run`:
 *   0                the VM was powered off normally
 *   (v << 1) | 1     the guest wrote v to a debug-exit device (truncated to 8 bits)
 *   2                the VM could not be started (usage, config, plugin or KVM error)
 *   4                the VM failed while running (guru meditation, fatal device error)
 * `modvm check` exits 0 when the file is clean, 1 when it has problems, 2 on usage.
 * `modvm ctl` exits 0 when done, 1 when the VM refused, 2 when the socket cannot be
 * reached (or on usage).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/control.h"
#include "config/config.h"
#include "pdm/pdm.h"
#include "util/log.h"
#include "vmm/vm.h"

#define EXIT_START_FAILED 2
#define EXIT_VM_FAILED 4
#define CLI_MAX_OVERRIDES 64

struct cli {
	const char *overrides[CLI_MAX_OVERRIDES];
	int override_count;
	int verbosity;
	const char *control_path;   /* run --control */
	bool has_devices;           /* ctl status --devices */
};

/*
 * The built-in plugin folder: the build tree's when this binary is the one in the
 * build tree (so ./modvm works without `make install`), the installed one otherwise.
 */
static const char *cli_default_plugin_dir(void)
{
	static char dir[PATH_MAX + 32];
	char exe[PATH_MAX], build[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n > 0 && realpath(MODVM_BUILD_DIR, build)) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (!strcmp(exe, build)) {
				snprintf(dir, sizeof(dir), "%s/plugins/.libs", build);
				return dir;
			}
		}
	}
	return MODVM_PLUGIN_DIR;
}

static void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: modvm [options] run FILE       run the VM that FILE describes\n"
		"       modvm [options] check FILE     report every problem in FILE, run nothing\n"
		"       modvm [options] plugins [FILE] list the plugins found and what they offer\n"
		"       modvm ctl PATH CMD             control the VM served at PATH: CMD is\n"
		"                                      status [--devices], pause, resume, reset,\n"
		"                                      poweroff, or qmp JSON (one raw QMP command)\n"
		"\n"
		"options:\n"
		"  -o, --set PATH/KEY=VALUE  override a config value (repeatable),\n"
		"                            e.g. -o vm/memory=64M -o devices/serial/0/iobase=0x2f8\n"
		"  -v, --verbose             more log output (repeat for debug)\n"
		"      --control PATH        run: serve a QMP control socket at PATH (mode 0600)\n"
		"      --devices             ctl status: add each device's and driver's last\n"
		"                            power notification times\n"
		"      --log FILTER          log filter, e.g. 'info' or 'warn,pdm=debug'\n"
		"  -h, --help                this help\n"
		"      --version             the version and plugin ABI\n"
		"\n"
		"Plugins are searched in $MODVM_PLUGIN_PATH, then [plugins] path, then %s.\n"
		"See modvm(1) and modvm.ini(5).\n", cli_default_plugin_dir());
}

static void cli_print_diag(const struct cfg_diag *diag)
{
	for (int i = 0; i < diag->count; i++)
		fprintf(stderr, "%s\n", diag->lines[i]);
}

/* Loads FILE and the -o overrides; prints every problem. */
static int cli_load_config(struct cli *cli, const char *file, struct cfg_tree **tree,
			   struct cfg_diag *diag)
{
	int status = cfg_load(file, tree, diag);

	if (status == PDM_ERR_IO)
		return status;
	for (int i = 0; i < cli->override_count; i++)
		if (cfg_override(*tree, cli->overrides[i], diag))
			status = PDM_ERR_CFG;
	return status;
}

static int cli_check(struct cli *cli, const char *file)
{
	struct pdm_registry registry;
	struct cfg_tree *tree = NULL;
	struct cfg_diag diag;
	struct err err;
	int status, rc;

	cfg_diag_init(&diag);
	pdm_registry_init(&registry);
	status = cli_load_config(cli, file, &tree, &diag);
	if (tree) {
		if (vm_load_plugins(tree, cli_default_plugin_dir(), true, &registry, &err)) {
			cfg_diag_add(&diag, file, 0, NULL, "%s", err.msg);
			status = PDM_ERR_CFG;
		} else if (vm_check_config(tree, &registry, &diag)) {
			status = PDM_ERR_CFG;
		}
	}
	cli_print_diag(&diag);
	if (!status && !diag.count)
		printf("%s: ok\n", file);
	else
		fprintf(stderr, "%s: %d problem%s\n", file, diag.count, diag.count == 1 ? "" : "s");
	rc = status || diag.count ? 1 : 0;
	cfg_diag_release(&diag);
	cfg_free(tree);
	pdm_registry_release(&registry);
	return rc;
}

/*
 * The terminal on stdin as `modvm run` found it. The stdio driver puts it in raw mode
 * while the VM runs and restores it at power-off; this copy covers the exits that skip
 * the driver: a second signal's default action, and exit() from anywhere (atexit).
 */
static struct {
	bool is_saved;
	struct termios tio;
} cli_term;

static void cli_term_save(void)
{
	if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &cli_term.tio))
		cli_term.is_saved = true;
}

/* Puts the saved settings back if they differ; idempotent. Any thread. */
static void cli_term_restore(void)
{
	struct termios now;
	sigset_t ttou, old;

	if (!cli_term.is_saved || tcgetattr(STDIN_FILENO, &now))
		return;
	if (now.c_iflag == cli_term.tio.c_iflag && now.c_oflag == cli_term.tio.c_oflag &&
	    now.c_cflag == cli_term.tio.c_cflag && now.c_lflag == cli_term.tio.c_lflag &&
	    !memcmp(now.c_cc, cli_term.tio.c_cc, sizeof(now.c_cc)))
		return;
	/* From the background, tcsetattr would stop us with SIGTTOU unless it is blocked. */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	pthread_sigmask(SIG_BLOCK, &ttou, &old);
	tcsetattr(STDIN_FILENO, TCSANOW, &cli_term.tio);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * The thread that waits for signals. SIGINT/SIGTERM: the first one powers the VM off
 * through the same path as any other request. One that comes while there is no VM to
 * power off (it is being built or torn down), or a second one, takes its default
 * action: a stuck start or power-off can always be interrupted.
 */
struct cli_signals {
	pthread_mutex_t lock;
	struct vm *vm;              /* NULL while none can take a request */
	bool has_requested;
	pthread_t thread;
};

static void *cli_signal_thread(void *arg)
{
	struct cli_signals *signals = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		struct vm *vm;
		bool is_again;

		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR2)         /* cli_run's way of stopping this thread */
			return NULL;
		pthread_mutex_lock(&signals->lock);
		vm = signals->vm;
		is_again = signals->has_requested;
		signals->has_requested = true;
		if (vm && !is_again) {
			log_info("cli", "signal %d: powering off", sig);
			vm_request_poweroff(vm, -1);
		}
		pthread_mutex_unlock(&signals->lock);
		if (!vm || is_again) {
			sigset_t one;

			/* The default action skips every destructor: the terminal first. */
			cli_term_restore();
			sigemptyset(&one);
			sigaddset(&one, sig);
			signal(sig, SIG_DFL);
			pthread_sigmask(SIG_UNBLOCK, &one, NULL);
			raise(sig);
		}
	}
}

static void cli_signals_set_vm(struct cli_signals *signals, struct vm *vm)
{
	pthread_mutex_lock(&signals->lock);
	signals->vm = vm;
	pthread_mutex_unlock(&signals->lock);
}

static int cli_run(struct cli *cli, const char *file)
{
	struct pdm_registry registry;
	struct cfg_tree *tree = NULL;
	struct cfg_diag diag;
	struct cli_signals signals = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct timespec zero = { 0, 0 };
	struct control *control = NULL;
	struct vm *vm = NULL;
	enum pdm_vm_state state;
	sigset_t set, old;
	struct err err, vm_err;
	int rc = EXIT_START_FAILED, vm_status;

	/*
	 * Blocked from the start and in every thread the VM creates: only the signal
	 * thread takes them, so none lands in an EMT or a device's thread, and one that
	 * comes while the VM runs powers it off through the protocol.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	cli_term_save();
	atexit(cli_term_restore);
	cfg_diag_init(&diag);
	pdm_registry_init(&registry);
	registry.is_kept_loaded = true;      /* the process ends soon after */
	if (cli_load_config(cli, file, &tree, &diag) || !tree) {
		cli_print_diag(&diag);
		goto out_mask;
	}
	if (pthread_create(&signals.thread, NULL, cli_signal_thread, &signals)) {
		fprintf(stderr, "modvm: cannot start the signal thread\n");
		goto out_mask;
	}
	/*
	 * vm_create_begin makes the KVM VM and starts the EMTs; while they create their
	 * vCPUs, this thread loads the plugin modules: neither needs the other, and on two
	 * CPUs the first instruction comes sooner (bench/README.md). The config's own
	 * problems are reported first: they may be why the VM could not be made. A config
	 * that fails its check has cost an unused VM.
	 */
	vm_status = vm_create_begin(tree, &vm, &vm_err);
	if (vm_load_plugins(tree, cli_default_plugin_dir(), true, &registry, &err)) {
		fprintf(stderr, "modvm: %s\n", err.msg);
		goto out_vm;
	}
	if (vm_check_config(tree, &registry, &diag)) {
		cli_print_diag(&diag);
		goto out_vm;
	}
	if (vm_status) {
		fprintf(stderr, "modvm: %s\n", vm_err.msg);
		goto out_vm;
	}
	log_debug("cli", "%u plugin modules unused by this VM unloaded",
		  pdm_registry_unload_unused(&registry, tree->root));
	/* The socket path first: a taken one stops us before any device opens a file. */
	if (cli->control_path && control_open(&control, cli->control_path, &err)) {
		fprintf(stderr, "modvm: %s\n", err.msg);
		goto out_vm;
	}
	if (vm_create_finish(vm, &registry, &err)) {
		fprintf(stderr, "modvm: %s\n", err.msg);
		goto out_vm;
	}
	/* Before power-on: a client may watch the VM from its first instruction. */
	if (control && control_start(control, vm, &err)) {
		fprintf(stderr, "modvm: %s\n", err.msg);
		goto out_vm;
	}
	cli_signals_set_vm(&signals, vm);
	if (vm_power_on(vm, &err)) {
		/* A signal that came first powered it off: that is a clean end too. */
		if (vm_state(vm) == PDM_VM_OFF)
			rc = 0;
		else
			fprintf(stderr, "modvm: %s\n", err.msg);
		goto out_vm;
	}
	state = vm_wait_stopped(vm);
	if (state == PDM_VM_GURU_MEDITATION || state == PDM_VM_FATAL_ERROR) {
		fprintf(stderr, "modvm: the VM failed: %s\n", vm_failure(vm));
		rc = EXIT_VM_FAILED;
		if (vm_power_off(vm, &err))
			fprintf(stderr, "modvm: %s\n", err.msg);
	} else {
		rc = vm_exit_status(vm) >= 0 ? vm_exit_status(vm) & 0xff : 0;
	}
out_vm:
	/* The VM is off (or was never made): answer what is in flight, close, remove. */
	control_close(control);
	cli_signals_set_vm(&signals, NULL);
	vm_destroy(vm);
	pthread_kill(signals.thread, SIGUSR2);
	pthread_join(signals.thread, NULL);
out_mask:
	cli_term_restore();
	cfg_diag_release(&diag);
	cfg_free(tree);
	pdm_registry_release(&registry);
	/* A signal that came after the VM was gone must not override the exit status. */
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void cli_print_schema(const struct pdm_cfg_key *keys)
{
	if (!keys || !keys->name) {
		printf("    (no config keys)\n");
		return;
	}
	for (const struct pdm_cfg_key *k = keys; k->name; k++) {
		char range[64] = "";

		if (k->type == PDM_CFG_INT && k->min < k->max)
			snprintf(range, sizeof(range), " [%lld, %lld]", (long long)k->min,
				 (long long)k->max);
		printf("    %-12s %-8s %s%s%s%s  %s\n", k->name, pdm_cfg_type_name(k->type),
		       k->flags & PDM_CFG_F_REQUIRED ? "required" : k->def ? "default " : "no default",
		       k->flags & PDM_CFG_F_REQUIRED ? "" : k->def ? k->def : "", range,
		       "", k->help ? k->help : "");
	}
}

static int cli_plugins(struct cli *cli, const char *file)
{
	struct pdm_registry registry;
	struct cfg_tree *tree = NULL;
	struct cfg_diag diag;
	struct err err;
	int rc = 0;

	cfg_diag_init(&diag);
	pdm_registry_init(&registry);
	if (file && cli_load_config(cli, file, &tree, &diag) == PDM_ERR_IO) {
		cli_print_diag(&diag);
		rc = EXIT_START_FAILED;
		goto out;
	}
	if (vm_load_plugins(tree, cli_default_plugin_dir(), false, &registry, &err)) {
		fprintf(stderr, "modvm: %s\n", err.msg);
		rc = 1;
	}
	printf("core plugin ABI %u.%u\n", PDM_ABI_MAJOR, PDM_ABI_MINOR);
	for (struct pdm_module *m = registry.modules; m; m = m->next) {
		printf("\n%s (ABI %u.%u)\n", m->path, PDM_ABI_MAJOR_OF(m->abi_version),
		       PDM_ABI_MINOR_OF(m->abi_version));
		for (size_t i = 0; i < registry.dev_count; i++) {
			const struct pdm_dev_reg *reg = &registry.devs[i]->reg;

			if (registry.devs[i]->module != m)
				continue;
			printf("  device %s: %s\n", reg->name, reg->description ? reg->description : "");
			cli_print_schema(reg->config);
		}
		for (size_t i = 0; i < registry.drv_count; i++) {
			const struct pdm_drv_reg *reg = &registry.drvs[i]->reg;

			if (registry.drvs[i]->module != m)
				continue;
			printf("  driver %s: %s\n", reg->name, reg->description ? reg->description : "");
			cli_print_schema(reg->config);
		}
	}
out:
	cfg_diag_release(&diag);
	cfg_free(tree);
	pdm_registry_release(&registry);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "set", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "control", required_argument, NULL, 'C' },
		{ "devices", no_argument, NULL, 'D' },
		{ 0 }
	};
	struct cli cli = { 0 };
	const char *env_filter = getenv("MODVM_LOG");
	const char *log_filter = NULL;
	const char *cmd;
	int opt;

	/* A closed stdout must not kill the VM: writes fail with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	/* Options may come before or after the command: "+" would stop at the first word. */
	while ((opt = getopt_long(argc, argv, "o:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (cli.override_count == CLI_MAX_OVERRIDES) {
				fprintf(stderr, "modvm: too many -o options (%d at most)\n",
					CLI_MAX_OVERRIDES);
				return EXIT_START_FAILED;
			}
			cli.overrides[cli.override_count++] = optarg;
			break;
		case 'v':
			cli.verbosity++;
			break;
		case 'L':
			log_filter = optarg;
			break;
		case 'C':
			cli.control_path = optarg;
			break;
		case 'D':
			cli.has_devices = true;
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		case 'V':
			printf("modvm %s (plugin ABI %u.%u)\n", PACKAGE_VERSION, PDM_ABI_MAJOR,
			       PDM_ABI_MINOR);
			return 0;
		default:
			cli_usage(stderr);
			return EXIT_START_FAILED;
		}
	}
	/* Weakest first: $MODVM_LOG, then -v, then --log. */
	if (env_filter && *env_filter && log_set_filter(env_filter))
		fprintf(stderr, "modvm: ignoring bad MODVM_LOG '%s'\n", env_filter);
	if (cli.verbosity)
		log_set_filter(cli.verbosity > 1 ? "debug" : "info");
	if (log_filter && log_set_filter(log_filter)) {
		fprintf(stderr, "modvm: bad log filter '%s' (e.g. 'info' or 'warn,pdm=debug')\n",
			log_filter);
		return EXIT_START_FAILED;
	}
	if (optind >= argc) {
		cli_usage(stderr);
		return EXIT_START_FAILED;
	}
	cmd = argv[optind++];
	if (cli.control_path && strcmp(cmd, "run")) {
		fprintf(stderr, "modvm: --control is an option of 'run'\n");
		return EXIT_START_FAILED;
	}
	if (!strcmp(cmd, "ctl")) {
		if (argc - optind != 2 && argc - optind != 3) {
			fprintf(stderr, "modvm: 'ctl' takes PATH CMD (and JSON for qmp)\n");
			cli_usage(stderr);
			return EXIT_START_FAILED;
		}
		return ctl_main(argv[optind], argv[optind + 1],
				argc - optind == 3 ? argv[optind + 2] : NULL, cli.has_devices);
	}
	if (cli.has_devices) {
		fprintf(stderr, "modvm: --devices is an option of 'ctl PATH status'\n");
		return EXIT_START_FAILED;
	}
	if (!strcmp(cmd, "plugins") && argc - optind <= 1)
		return cli_plugins(&cli, optind < argc ? argv[optind] : NULL);
	if (argc - optind != 1) {
		fprintf(stderr, "modvm: '%s' takes one FILE\n", cmd);
		cli_usage(stderr);
		return EXIT_START_FAILED;
	}
	if (!strcmp(cmd, "run"))
		return cli_run(&cli, argv[optind]);
	if (!strcmp(cmd, "check")) {
		int rc = cli_check(&cli, argv[optind]);

		return rc;
	}
	fprintf(stderr, "modvm: unknown command '%s'\n", cmd);
	cli_usage(stderr);
	return EXIT_START_FAILED;
}
