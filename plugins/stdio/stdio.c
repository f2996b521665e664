/* plugins/stdio/stdio.c - the "stdio" stream driver: output to stdout, input from stdin. */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <modvm/char.h>
#include <modvm/driver.h>
#include <modvm/interface.h>
#include <modvm/pdm.h>

#include "../stream/fdstream.h"

#define STDIO_ESCAPE_NONE (-1)
#define STDIO_ESCAPE_BAD (-2)

/*
 * When stdin is a terminal, it is the guest's console, as with QEMU's -nographic:
 *
 *   - Raw mode (no echo, no line editing, no signal keys: ^C, ^Z and ^\ reach the
 *     guest) from power-on to power-off; while the VM is being built, ^C still
 *     reaches modvm. Output processing stays on, so modvm's own messages on the same
 *     terminal still begin at the left margin. Only a foreground modvm touches the
 *     terminal: from the background, tcsetattr would stop it (SIGTTOU).
 *   - An escape key (Ctrl-A) followed by a command: x powers the VM off, h prints
 *     the commands, the escape key again sends it to the guest; any other key is
 *     dropped with the escape, as QEMU does.
 *
 * Pipes and files are data, passed byte for byte with no escapes: scripts feed
 * binary input through stdin.
 *
 * The terminal is one per process while stdio instances may be several: the saved
 * settings and the count of instances holding raw mode are the module's. modvm
 * restores the terminal itself on the exits that skip our power-off and destructor
 * (a second signal), from the settings it saved before the VM was built.
 *
 * stdin and stdout are not ours: their flags are not changed and they are never
 * closed. Two instances with input would compete for stdin's bytes.
 */
static struct {
	pthread_mutex_t lock;
	unsigned raw_count;             /* instances holding raw mode */
	struct termios saved;           /* the settings before the first one took it */
} stdio_term = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct stdio_drv {
	struct pdm_drv_ins *drv;
	struct fdstream fs;
	struct pdm_istream istream;     /* fs.istream, with the escapes applied to input */
	int escape;                     /* the escape byte, or STDIO_ESCAPE_NONE */
	bool wants_raw;                 /* raw = yes and stdin is our foreground terminal */
	bool is_raw;                    /* holds raw mode (power callbacks, destruct) */
	/* The char driver's worker only, kept between reads: */
	bool is_escape_pending;         /* the escape key came last */
	bool has_quit;                  /* escape x: the rest of the input is dropped */
};

/* Pure helpers. */

/*
 * "none", "^X" or "ctrl-X" (X a letter, in either case, or one of @[\]^_) to the
 * control byte; STDIO_ESCAPE_BAD for anything else.
 */
static int stdio_parse_escape(const char *text)
{
	const char *key;

	if (!strcasecmp(text, "none"))
		return STDIO_ESCAPE_NONE;
	if (text[0] == '^')
		key = text + 1;
	else if (!strncasecmp(text, "ctrl-", 5))
		key = text + 5;
	else
		return STDIO_ESCAPE_BAD;
	if (!key[0] || key[1])
		return STDIO_ESCAPE_BAD;
	if (isalpha((unsigned char)key[0]))
		return toupper((unsigned char)key[0]) - '@';
	if (strchr("@[\\]^_", key[0]))
		return key[0] - '@';
	return STDIO_ESCAPE_BAD;
}

/* The letter of a control byte: 0x01 -> 'A'. */
static char stdio_key_name(int escape)
{
	return (char)('@' + escape);
}

/*
 * A serial line's view of the terminal: every byte as typed (no echo, no editing, CR
 * not turned into LF, no flow control or signal keys), 8 bits, no parity. Output
 * processing (LF -> CR LF) stays on, as QEMU leaves it.
 */
static void stdio_make_raw(struct termios *tio)
{
	tio->c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
				    IXON | IXOFF);
	tio->c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	tio->c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	tio->c_cflag |= CS8;
	tio->c_cc[VMIN] = 1;
	tio->c_cc[VTIME] = 0;
}

/* The terminal. */

/*
 * Takes raw mode for this instance; the first instance to do so saves the settings.
 * The lock is for the count, shared by the instances of every VM in the process.
 */
static void stdio_term_enter(struct stdio_drv *stdio)
{
	struct pdm_drv_ins *drv = stdio->drv;
	struct termios raw;

	if (!stdio->wants_raw || stdio->is_raw)
		return;
	pthread_mutex_lock(&stdio_term.lock);
	if (!stdio_term.raw_count) {
		if (tcgetattr(STDIN_FILENO, &stdio_term.saved) < 0) {
			drv->hlp->log(drv, PDM_LOG_WARN, "cannot read the terminal's settings: %s",
				      strerror(errno));
			goto out;
		}
		raw = stdio_term.saved;
		stdio_make_raw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
			drv->hlp->log(drv, PDM_LOG_WARN, "cannot put the terminal in raw mode: %s",
				      strerror(errno));
			goto out;
		}
		drv->hlp->log(drv, PDM_LOG_DEBUG, "the terminal is in raw mode");
	}
	stdio_term.raw_count++;
	stdio->is_raw = true;
out:
	pthread_mutex_unlock(&stdio_term.lock);
}

/* Gives raw mode back; the last instance to do so restores the terminal. */
static void stdio_term_leave(struct stdio_drv *stdio)
{
	struct pdm_drv_ins *drv = stdio->drv;
	sigset_t ttou, old;

	if (!stdio->is_raw)
		return;
	pthread_mutex_lock(&stdio_term.lock);
	if (!--stdio_term.raw_count) {
		/*
		 * Had modvm been put in the background meanwhile, SIGTTOU would stop it
		 * here; blocked, the call goes through. TCSANOW: waiting for the output
		 * to drain could hang on a stuck terminal.
		 */
		sigemptyset(&ttou);
		sigaddset(&ttou, SIGTTOU);
		pthread_sigmask(SIG_BLOCK, &ttou, &old);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &stdio_term.saved) < 0)
			drv->hlp->log(drv, PDM_LOG_WARN, "cannot restore the terminal: %s",
				      strerror(errno));
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	stdio->is_raw = false;
	pthread_mutex_unlock(&stdio_term.lock);
}

/* The escapes. */

static void stdio_print_help(struct stdio_drv *stdio)
{
	char key = stdio_key_name(stdio->escape);
	char text[256];
	int len;

	len = snprintf(text, sizeof(text),
		       "\nmodvm console escapes:\n"
		       "  Ctrl-%c h       print this help\n"
		       "  Ctrl-%c x       power the VM off and exit\n"
		       "  Ctrl-%c Ctrl-%c  send Ctrl-%c to the guest\n",
		       key, key, key, key, key);
	/* Best effort: a failure is logged once by the stream. */
	stdio->fs.istream.write(&stdio->fs.istream, text, (size_t)len);
}

static void stdio_command(struct stdio_drv *stdio, uint8_t key)
{
	struct pdm_drv_ins *drv = stdio->drv;
	int rc;

	switch (key) {
	case 'x':
	case 'X':
		stdio->has_quit = true;
		drv->hlp->log(drv, PDM_LOG_INFO, "Ctrl-%c x: powering the VM off",
			      stdio_key_name(stdio->escape));
		rc = drv->hlp->vm_request_poweroff(drv, -1);
		if (rc < 0)
			drv->hlp->log(drv, PDM_LOG_WARN, "cannot power the VM off: %s",
				      pdm_status_message(rc));
		break;
	case 'h':
	case 'H':
	case '?':
		stdio_print_help(stdio);
		break;
	default:
		break;      /* an unknown command goes nowhere, as in QEMU */
	}
}

/* Applies the escapes to buf in place; returns how many bytes are left for the guest. */
static size_t stdio_filter_input(struct stdio_drv *stdio, uint8_t *buf, size_t len)
{
	size_t kept = 0;

	for (size_t i = 0; i < len && !stdio->has_quit; i++) {
		uint8_t byte = buf[i];

		if (stdio->is_escape_pending) {
			stdio->is_escape_pending = false;
			if (byte == stdio->escape)
				buf[kept++] = byte;
			else
				stdio_command(stdio, byte);
		} else if (byte == stdio->escape) {
			stdio->is_escape_pending = true;
		} else {
			buf[kept++] = byte;
		}
	}
	return stdio->has_quit ? 0 : kept;
}

/* Backend callbacks: the stream, for the char driver above. */

static struct stdio_drv *stdio_of(struct pdm_istream *stream)
{
	return PDM_CONTAINER_OF(stream, struct stdio_drv, istream);
}

/* On the char driver's worker; the escape state is its alone. */
static int stdio_read(struct pdm_istream *stream, void *buf, size_t *len)
{
	struct stdio_drv *stdio = stdio_of(stream);
	int rc;

	rc = stdio->fs.istream.read(&stdio->fs.istream, buf, len);
	if (rc == PDM_OK && *len && stdio->escape != STDIO_ESCAPE_NONE)
		*len = stdio_filter_input(stdio, buf, *len);
	return rc;
}

static int stdio_write(struct pdm_istream *stream, const void *buf, size_t len)
{
	struct stdio_drv *stdio = stdio_of(stream);

	return stdio->fs.istream.write(&stdio->fs.istream, buf, len);
}

static int stdio_poll(struct pdm_istream *stream, uint32_t events, uint32_t *ready,
		      int timeout_ms)
{
	struct stdio_drv *stdio = stdio_of(stream);

	return stdio->fs.istream.poll(&stdio->fs.istream, events, ready, timeout_ms);
}

static int stdio_interrupt(struct pdm_istream *stream)
{
	struct stdio_drv *stdio = stdio_of(stream);

	return stdio->fs.istream.interrupt(&stdio->fs.istream);
}

static void *stdio_query_interface(struct pdm_drv_ins *drv, const char *iid)
{
	struct stdio_drv *stdio = drv->data;

	if (!strcmp(iid, PDM_ISTREAM_IID))
		return &stdio->istream;
	return NULL;
}

/* Lifecycle. */

static int stdio_construct(struct pdm_drv_ins *drv)
{
	const struct pdm_drv_hlp *hlp = drv->hlp;
	struct stdio_drv *stdio = drv->data;
	const char *escape;
	int in_fd = STDIN_FILENO;
	bool is_raw;
	int rc;

	stdio->drv = drv;
	stdio->istream.read = stdio_read;
	stdio->istream.write = stdio_write;
	stdio->istream.poll = stdio_poll;
	stdio->istream.interrupt = stdio_interrupt;

	rc = hlp->cfg_get_bool(drv, "raw", &is_raw);
	if (rc < 0)
		return hlp->error(drv, rc, "cannot read 'raw': %s", pdm_status_message(rc));
	rc = hlp->cfg_get_string(drv, "escape", &escape);
	if (rc < 0)
		return hlp->error(drv, rc, "cannot read 'escape': %s", pdm_status_message(rc));
	stdio->escape = stdio_parse_escape(escape);
	if (stdio->escape == STDIO_ESCAPE_BAD)
		return hlp->error(drv, PDM_ERR_CFG,
				  "'escape' is '%s': expected ctrl-X or ^X (X a letter) or none",
				  escape);

	if (fcntl(STDOUT_FILENO, F_GETFD) < 0)
		return hlp->error(drv, PDM_ERR_IO, "standard output is not open");
	/* A closed stdin is input that has ended, not an error. */
	if (fcntl(STDIN_FILENO, F_GETFD) < 0)
		in_fd = -1;
	if (in_fd < 0 || !isatty(in_fd)) {
		stdio->escape = STDIO_ESCAPE_NONE;
	} else if (is_raw && tcgetpgrp(in_fd) != getpgrp()) {
		hlp->log(drv, PDM_LOG_INFO,
			 "standard input is a terminal modvm is not in the foreground of: "
			 "it stays as it is");
	} else {
		stdio->wants_raw = is_raw;
	}

	rc = fdstream_init(&stdio->fs, drv, "standard output", in_fd, STDOUT_FILENO, false);
	if (rc < 0)
		return hlp->error(drv, rc, "cannot create an eventfd: %s", strerror(errno));
	return PDM_OK;
}

static void stdio_power_on(struct pdm_drv_ins *drv)
{
	stdio_term_enter(drv->data);
}

static void stdio_power_off(struct pdm_drv_ins *drv)
{
	stdio_term_leave(drv->data);
}

/* Also after a failed construct, and with no power-off when the VM never ran. */
static void stdio_destruct(struct pdm_drv_ins *drv)
{
	struct stdio_drv *stdio = drv->data;

	if (!stdio->drv)
		return;
	stdio_term_leave(stdio);
	fdstream_release(&stdio->fs);
}

static const struct pdm_cfg_key stdio_config[] = {
	{ .name = "raw", .type = PDM_CFG_BOOL, .def = "yes",
	  .help = "a terminal on stdin is in raw mode while the VM runs (^C goes to the guest)" },
	{ .name = "escape", .type = PDM_CFG_STRING, .def = "ctrl-a",
	  .help = "console escape key on a terminal (ctrl-X, ^X, or none)" },
	{ .name = NULL },
};

static const struct pdm_drv_reg stdio_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_reg),
	.name = "stdio",
	.description = "stream to modvm's standard output, from its standard input",
	.flags = 0,
	.max_instances = 0,
	.instance_size = sizeof(struct stdio_drv),
	.config = stdio_config,
	.construct = stdio_construct,
	.destruct = stdio_destruct,
	.power_on = stdio_power_on,
	.power_off = stdio_power_off,
	.query_interface = stdio_query_interface,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_driver(cb, &stdio_reg);
}
