/*
 * cli/control_test.c - the control socket: scripted QMP conversations with a VM run
 * in-process (control_open on a real KVM VM running tests/guests/loop.bin), and
 * `modvm ctl` end to end against `modvm run --control`.
 *
 * The recorder test plugin's trec device gives a suspend that completes
 * asynchronously (async_ms) and a runtime error at power-on (rterr).
 * Skips (exit 77) where /dev/kvm cannot be opened.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/control.h"
#include "tests/registry.h"
#include "tests/testutil.h"

#define WAIT_MS 30000               /* generous: the suites also run under valgrind */
/*
 * loop.bin's whole first line: once it is out, the guest only loops. (Tests reset it
 * then, not in the middle of its port I/O.)
 */
#define GREETING "Hello from a looping modvm guest: control me through the socket\n"

static char *tmp;
static char *sock;
static struct pdm_registry registry;
static struct cfg_tree *tree;
static struct vm *vm;
static struct control *control;

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	tmp = tu_tmpdir();
	sock = tu_fmt("%s/vm.sock", tmp);
	tu_load_registry(&registry);
}

static void teardown(void)
{
	control_close(control);
	control = NULL;
	/* Powered off from wherever the test left it (a suspended trec is quiesced). */
	vm_destroy(vm);
	vm = NULL;
	cfg_free(tree);
	tree = NULL;
	pdm_registry_release(&registry);
	tu_rmtree(tmp);
	free(tmp);
	free(sock);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Creates the VM (tests/guests/<guest>.bin, its serial output to out.txt, plus `extra`
 * sections) and serves the control socket on it; powers it on if asked.
 */
static void start_guest(const char *guest, const char *extra, bool is_powered_on)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[vm]\nname = ctl-test\nmemory = 16M\n[boot]\nflat = %s/tests/guests/%s.bin\n"
			    "[devices/serial/0]\n[devices/serial/0/lun0]\ndriver = char\n"
			    "[devices/serial/0/lun0/attached]\ndriver = file\npath = out.txt\n%s",
			    tu_builddir(), guest, extra);
	struct cfg_diag diag;
	struct err err = { 0 };

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	ck_assert_msg(vm_check_config(tree, &registry, &diag) == 0, "%s",
		      diag.count ? diag.lines[0] : "");
	cfg_diag_release(&diag);
	ck_assert_msg(control_open(&control, sock, &err) == 0, "%s", err.msg);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_msg(control_start(control, vm, &err) == 0, "%s", err.msg);
	if (is_powered_on)
		ck_assert_msg(vm_power_on(vm, &err) == 0, "%s", err.msg);
	free(ini);
	free(text);
}

/* The same with loop.bin, a guest that keeps running. */
static void start_vm(const char *extra, bool is_powered_on)
{
	start_guest("loop", extra, is_powered_on);
}

static int count_in_output(const char *needle)
{
	char *path = tu_fmt("%s/out.txt", tmp);
	char *text = tu_read_file(path);
	int count = tu_count(text, needle);

	free(text);
	free(path);
	return count;
}

static bool wait_state(enum pdm_vm_state state)
{
	int64_t end = now_ms() + WAIT_MS;

	while (vm_state(vm) != state && now_ms() < end)
		usleep(5000);
	return vm_state(vm) == state;
}

/* ---- a QMP client ---- */

#define CLIENT_MAX_EVENTS 64

struct client {
	int fd;
	struct json_tokener *tok;
	char buf[65536];
	size_t off, len;
	bool is_eof;
	struct json_object *greeting;
	struct json_object *events[CLIENT_MAX_EVENTS];  /* seen while waiting for replies */
	int event_count;
};

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next JSON value, or NULL after timeout_ms or at the end of the connection. */
static struct json_object *client_next(struct client *c, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n;

		while (c->off < c->len) {
			struct json_object *obj = json_tokener_parse_ex(c->tok, c->buf + c->off,
									(int)(c->len - c->off));
			enum json_tokener_error jerr = json_tokener_get_error(c->tok);

			if (jerr == json_tokener_continue) {
				c->off = c->len;
				break;
			}
			ck_assert_msg(jerr == json_tokener_success, "the server sent bad JSON: %s",
				      json_tokener_error_desc(jerr));
			c->off += json_tokener_get_parse_end(c->tok);
			json_tokener_reset(c->tok);
			return obj;
		}
		if (c->is_eof || now_ms() >= end)
			return NULL;
		if (poll(&pfd, 1, (int)(end - now_ms())) <= 0)
			continue;
		n = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (n <= 0) {
			c->is_eof = true;
			return NULL;
		}
		c->off = 0;
		c->len = (size_t)n;
	}
}

static struct client *client_open(void)
{
	struct client *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->fd = connect_to(sock);
	ck_assert_msg(c->fd >= 0, "connect '%s': %s", sock, strerror(errno));
	c->tok = json_tokener_new();
	c->greeting = client_next(c, WAIT_MS);
	ck_assert_msg(c->greeting && json_object_object_get_ex(c->greeting, "QMP", NULL),
		      "no greeting");
	return c;
}

static void client_close(struct client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	json_tokener_free(c->tok);
	json_object_put(c->greeting);
	for (int i = 0; i < c->event_count; i++)
		json_object_put(c->events[i]);
	free(c);
}

static void client_send(struct client *c, const char *text)
{
	size_t len = strlen(text), done = 0;

	while (done < len) {
		ssize_t n = send(c->fd, text + done, len - done, MSG_NOSIGNAL);

		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		done += (size_t)n;
	}
}

/* The next reply (events seen on the way are kept); fails the test on a timeout. */
static struct json_object *client_reply(struct client *c)
{
	for (;;) {
		struct json_object *obj = client_next(c, WAIT_MS);

		ck_assert_msg(obj, "no reply (%s)", c->is_eof ? "connection closed" : "timeout");
		if (!json_object_object_get_ex(obj, "event", NULL))
			return obj;
		ck_assert_int_lt(c->event_count, CLIENT_MAX_EVENTS);
		c->events[c->event_count++] = obj;
	}
}

static struct json_object *client_cmd(struct client *c, const char *text)
{
	client_send(c, text);
	return client_reply(c);
}

/* A member by dotted path ("return.status"), or NULL. */
static struct json_object *get(struct json_object *obj, const char *path)
{
	char *copy = strdup(path), *save = NULL;

	for (char *key = strtok_r(copy, ".", &save); obj && key; key = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(obj, key, &obj))
			obj = NULL;
	free(copy);
	return obj;
}

static const char *get_str(struct json_object *obj, const char *path)
{
	struct json_object *value = get(obj, path);

	return value && json_object_is_type(value, json_type_string) ?
	       json_object_get_string(value) : "";
}

static const char *text_of(struct json_object *obj)
{
	return obj ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN) : "(null)";
}

static void assert_return(struct json_object *reply)
{
	ck_assert_msg(get(reply, "return"), "not a success: %s", text_of(reply));
}

static void assert_error(struct json_object *reply, const char *error_class, const char *desc)
{
	ck_assert_msg(!strcmp(get_str(reply, "error.class"), error_class) &&
		      strstr(get_str(reply, "error.desc"), desc),
		      "expected %s '%s', got %s", error_class, desc, text_of(reply));
}

static struct client *client_ready(void)
{
	struct client *c = client_open();
	struct json_object *reply = client_cmd(c, "{\"execute\": \"qmp_capabilities\"}");

	assert_return(reply);
	json_object_put(reply);
	return c;
}

/* Runs a command that must succeed; frees the reply. */
static void client_ok(struct client *c, const char *text)
{
	struct json_object *reply = client_cmd(c, text);

	assert_return(reply);
	json_object_put(reply);
}

/* QEMU's status name as query-status gives it. */
static char *client_status(struct client *c)
{
	struct json_object *reply = client_cmd(c, "{\"execute\": \"query-status\"}");
	char *status = strdup(get_str(reply, "return.status"));
	struct json_object *running = get(reply, "return.running");

	ck_assert_ptr_nonnull(running);
	ck_assert_int_eq(json_object_get_boolean(running), !strcmp(status, "running"));
	ck_assert_ptr_nonnull(get(reply, "return.singlestep"));
	json_object_put(reply);
	return status;
}

#define ck_assert_status(c, expected) do { \
	char *status_ = client_status(c); \
	ck_assert_str_eq(status_, expected); \
	free(status_); \
} while (0)

/*
 * Takes the first event named name among those seen, waiting up to timeout_ms for
 * it; the caller frees it. NULL if it did not come.
 */
static struct json_object *client_event(struct client *c, const char *name, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		struct json_object *obj;

		for (int i = 0; i < c->event_count; i++) {
			if (strcmp(get_str(c->events[i], "event"), name))
				continue;
			obj = c->events[i];
			memmove(&c->events[i], &c->events[i + 1],
				(size_t)(c->event_count - i - 1) * sizeof(c->events[0]));
			c->event_count--;
			return obj;
		}
		if (now_ms() >= end)
			return NULL;
		obj = client_next(c, (int)(end - now_ms()));
		if (!obj)
			return NULL;
		ck_assert_msg(json_object_object_get_ex(obj, "event", NULL), "unexpected %s",
			      text_of(obj));
		ck_assert_int_lt(c->event_count, CLIENT_MAX_EVENTS);
		c->events[c->event_count++] = obj;
	}
}

/* Asserts the event came, with a QEMU-shaped timestamp; frees it. */
static void assert_event(struct client *c, const char *name)
{
	struct json_object *event = client_event(c, name, WAIT_MS);

	ck_assert_msg(event, "no %s event", name);
	ck_assert_msg(get(event, "timestamp.seconds") && get(event, "timestamp.microseconds"),
		      "%s", text_of(event));
	ck_assert_int_gt(json_object_get_int64(get(event, "timestamp.seconds")), 1600000000);
	json_object_put(event);
}

/* ---- the protocol ---- */

START_TEST(the_greeting_is_qmps_and_offers_no_capabilities)
{
	struct json_object *caps;
	char raw[1024];
	ssize_t n;
	int fd;

	start_vm("", false);
	fd = connect_to(sock);
	ck_assert_int_ge(fd, 0);
	n = recv(fd, raw, sizeof(raw) - 1, 0);
	ck_assert_int_gt(n, 0);
	raw[n] = '\0';
	/* One line, ending as QEMU's do. */
	ck_assert_msg(n > 2 && !strcmp(raw + n - 2, "\r\n") && !memchr(raw, '\n', (size_t)n - 1),
		      "%s", raw);
	close(fd);

	struct client *c = client_open();

	ck_assert_ptr_nonnull(get(c->greeting, "QMP.version.qemu.major"));
	ck_assert_ptr_nonnull(get(c->greeting, "QMP.version.qemu.minor"));
	ck_assert_ptr_nonnull(get(c->greeting, "QMP.version.qemu.micro"));
	ck_assert_ptr_nonnull(strstr(get_str(c->greeting, "QMP.version.package"), "modvm"));
	caps = get(c->greeting, "QMP.capabilities");
	ck_assert_msg(caps && json_object_is_type(caps, json_type_array) &&
		      json_object_array_length(caps) == 0, "%s", text_of(c->greeting));
	client_close(c);
}
END_TEST

START_TEST(commands_before_negotiation_are_refused_as_in_qemu)
{
	struct client *c, *other;
	struct json_object *reply;

	start_vm("", true);
	c = client_open();
	reply = client_cmd(c, "{\"execute\": \"query-status\"}");
	assert_error(reply, "CommandNotFound",
		     "Expecting capabilities negotiation with 'qmp_capabilities'");
	json_object_put(reply);
	/* Even an unknown command: negotiation comes first. */
	reply = client_cmd(c, "{\"execute\": \"frobnicate\"}");
	assert_error(reply, "CommandNotFound", "Expecting capabilities negotiation");
	json_object_put(reply);
	/* A capability we do not offer: refused, still not negotiated. */
	reply = client_cmd(c, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}");
	assert_error(reply, "GenericError", "Capability 'oob' not available");
	json_object_put(reply);
	reply = client_cmd(c, "{\"execute\": \"stop\"}");
	assert_error(reply, "CommandNotFound", "Expecting capabilities negotiation");
	json_object_put(reply);
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);

	reply = client_cmd(c, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": []}}");
	assert_return(reply);
	ck_assert_int_eq(json_object_object_length(get(reply, "return")), 0);
	json_object_put(reply);
	reply = client_cmd(c, "{\"execute\": \"qmp_capabilities\"}");
	assert_error(reply, "CommandNotFound",
		     "Capabilities negotiation is already complete, command ignored");
	json_object_put(reply);
	ck_assert_status(c, "running");

	/* Events only go to negotiated clients: `other` gets STOP only once it negotiates. */
	other = client_open();
	client_ok(c, "{\"execute\": \"stop\"}");
	assert_event(c, "STOP");
	ck_assert_ptr_null(client_next(other, 200));
	client_close(other);
	client_close(c);
}
END_TEST

START_TEST(query_status_follows_the_vm_through_its_states)
{
	struct client *c;
	struct json_object *reply;

	start_vm("", false);
	c = client_ready();
	ck_assert_status(c, "prelaunch");
	reply = client_cmd(c, "{\"execute\": \"x-modvm-query-vm\"}");
	ck_assert_str_eq(get_str(reply, "return.state"), "created");
	json_object_put(reply);

	ck_assert_int_eq(vm_power_on(vm, NULL), 0);
	assert_event(c, "RESUME");          /* QEMU sends it whenever the VM starts */
	ck_assert_status(c, "running");
	client_ok(c, "{\"execute\": \"stop\"}");
	ck_assert_status(c, "paused");
	reply = client_cmd(c, "{\"execute\": \"x-modvm-query-vm\"}");
	ck_assert_str_eq(get_str(reply, "return.state"), "suspended");
	json_object_put(reply);
	client_ok(c, "{\"execute\": \"cont\"}");
	ck_assert_status(c, "running");
	client_ok(c, "{\"execute\": \"quit\"}");
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	ck_assert_status(c, "shutdown");
	reply = client_cmd(c, "{\"execute\": \"x-modvm-query-vm\"}");
	ck_assert_str_eq(get_str(reply, "return.state"), "off");
	json_object_put(reply);
	client_close(c);
}
END_TEST

START_TEST(stop_pauses_the_vm_and_every_client_sees_stop)
{
	struct client *a, *b;
	struct json_object *reply;

	start_vm("", true);
	a = client_ready();
	b = client_ready();
	reply = client_cmd(a, "{\"execute\": \"stop\"}");
	assert_return(reply);
	json_object_put(reply);
	/* The VM is suspended when the reply comes, and STOP came before it. */
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	ck_assert_int_eq(a->event_count, 1);
	ck_assert_str_eq(get_str(a->events[0], "event"), "STOP");
	ck_assert_ptr_null(get(a->events[0], "data"));      /* as QEMU's STOP */
	assert_event(a, "STOP");
	assert_event(b, "STOP");
	ck_assert_status(b, "paused");
	/* Stopping a stopped VM succeeds and changes nothing, as in QEMU. */
	client_ok(b, "{\"execute\": \"stop\"}");
	ck_assert_ptr_null(client_event(a, "STOP", 300));
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	client_close(a);
	client_close(b);
}
END_TEST

START_TEST(cont_resumes_the_vm_and_sends_resume)
{
	struct client *c;

	start_vm("", true);
	c = client_ready();
	client_ok(c, "{\"execute\": \"stop\"}");
	assert_event(c, "STOP");
	client_ok(c, "{\"execute\": \"cont\"}");
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);
	assert_event(c, "RESUME");
	ck_assert_status(c, "running");
	/* cont on a running VM: nothing to do, no event. */
	client_ok(c, "{\"execute\": \"cont\"}");
	ck_assert_ptr_null(client_event(c, "RESUME", 300));
	client_close(c);
}
END_TEST

START_TEST(system_reset_restarts_the_guest_and_sends_reset)
{
	struct client *c;
	struct json_object *event;
	int64_t end;

	start_vm("", true);
	c = client_ready();
	end = now_ms() + WAIT_MS;
	while (count_in_output(GREETING) < 1 && now_ms() < end)
		usleep(5000);
	ck_assert_int_eq(count_in_output(GREETING), 1);

	client_ok(c, "{\"execute\": \"system_reset\"}");
	event = client_event(c, "RESET", WAIT_MS);
	ck_assert_msg(event, "no RESET event");
	ck_assert_int_eq(json_object_get_boolean(get(event, "data.guest")), 0);
	ck_assert_str_eq(get_str(event, "data.reason"), "host-qmp-system-reset");
	json_object_put(event);
	ck_assert_status(c, "running");
	/* The guest started over: it greets a second time. */
	end = now_ms() + WAIT_MS;
	while (count_in_output(GREETING) < 2 && now_ms() < end)
		usleep(5000);
	ck_assert_int_eq(count_in_output(GREETING), 2);

	/* A paused VM is reset and stays paused. */
	client_ok(c, "{\"execute\": \"stop\"}");
	client_ok(c, "{\"execute\": \"system_reset\"}");
	event = client_event(c, "RESET", WAIT_MS);
	ck_assert_msg(event, "no RESET event");
	json_object_put(event);
	ck_assert_status(c, "paused");
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	client_close(c);
}
END_TEST

START_TEST(guest_resets_are_reported_as_the_guests)
{
	struct client *c;
	struct json_object *event;

	/* triple.bin triple-faults at once, and again after each reset. */
	start_guest("triple", "", false);
	c = client_ready();
	ck_assert_int_eq(vm_power_on(vm, NULL), 0);
	event = client_event(c, "RESET", WAIT_MS);
	ck_assert_msg(event, "no RESET event");
	ck_assert_int_eq(json_object_get_boolean(get(event, "data.guest")), 1);
	ck_assert_str_eq(get_str(event, "data.reason"), "guest-reset");
	json_object_put(event);
	client_ok(c, "{\"execute\": \"quit\"}");
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	client_close(c);
}
END_TEST

START_TEST(quit_powers_off_and_sends_shutdown)
{
	struct client *a, *b;
	struct json_object *event;

	start_vm("", true);
	a = client_ready();
	b = client_ready();
	client_ok(a, "{\"execute\": \"quit\"}");
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	/* The normal power-off path: no guest status, so `modvm run` exits 0. */
	ck_assert_int_eq(vm_exit_status(vm), -1);
	for (int i = 0; i < 2; i++) {
		event = client_event(i ? b : a, "SHUTDOWN", WAIT_MS);
		ck_assert_msg(event, "no SHUTDOWN event");
		ck_assert_int_eq(json_object_get_boolean(get(event, "data.guest")), 0);
		ck_assert_str_eq(get_str(event, "data.reason"), "host-qmp-quit");
		json_object_put(event);
	}
	client_close(a);
	client_close(b);
}
END_TEST

START_TEST(system_powerdown_powers_off_too)
{
	struct client *c;

	start_vm("", true);
	c = client_ready();
	client_ok(c, "{\"execute\": \"system_powerdown\"}");
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	assert_event(c, "SHUTDOWN");
	client_close(c);
}
END_TEST

START_TEST(malformed_json_gets_an_error_and_the_connection_stays_usable)
{
	struct client *c;
	struct json_object *reply;

	start_vm("", true);
	c = client_ready();
	reply = client_cmd(c, "this is not json\n");
	assert_error(reply, "GenericError", "JSON parse error");
	json_object_put(reply);
	ck_assert_status(c, "running");

	reply = client_cmd(c, "{\"execute\": nope}\n");
	assert_error(reply, "GenericError", "JSON parse error");
	json_object_put(reply);
	ck_assert_status(c, "running");

	/* A request in pieces, across writes. */
	client_send(c, "{\"execute\": \"query-st");
	ck_assert_ptr_null(client_next(c, 100));
	client_send(c, "atus\", \"id\"");
	usleep(50000);
	reply = client_cmd(c, ": 1}");
	ck_assert_int_eq(json_object_get_int(get(reply, "id")), 1);
	ck_assert_str_eq(get_str(reply, "return.status"), "running");
	json_object_put(reply);

	/* Several in one write, answered in order, garbage in between. */
	client_send(c, "{\"execute\": \"query-status\", \"id\": 2}{\"execute\": \"x-modvm-query-vm\", \"id\": 3}"
		    "]]garbage{\"execute\": \"query-status\", \"id\": 4}\n");
	reply = client_reply(c);
	ck_assert_int_eq(json_object_get_int(get(reply, "id")), 2);
	ck_assert_str_eq(get_str(reply, "return.status"), "running");
	json_object_put(reply);
	reply = client_reply(c);
	ck_assert_int_eq(json_object_get_int(get(reply, "id")), 3);
	ck_assert_str_eq(get_str(reply, "return.name"), "ctl-test");
	json_object_put(reply);
	reply = client_reply(c);
	assert_error(reply, "GenericError", "JSON parse error");
	json_object_put(reply);
	reply = client_reply(c);
	ck_assert_int_eq(json_object_get_int(get(reply, "id")), 4);
	json_object_put(reply);

	/* Binary junk, then a NUL byte inside a request: an error each. */
	client_send(c, "\x01\xff");
	reply = client_reply(c);
	assert_error(reply, "GenericError", "JSON parse error");
	json_object_put(reply);
	ck_assert_int_eq(send(c->fd, "{\0", 2, MSG_NOSIGNAL), 2);
	reply = client_reply(c);
	assert_error(reply, "GenericError", "JSON parse error");
	json_object_put(reply);
	ck_assert_status(c, "running");
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);
	client_close(c);
}
END_TEST

START_TEST(bad_requests_get_qmp_errors_and_harm_nothing)
{
	static const struct {
		const char *request;
		const char *error_class;
		const char *desc;
	} cases[] = {
		{ "{\"execute\": \"frobnicate\"}", "CommandNotFound",
		  "The command frobnicate has not been found" },
		{ "[1, 2]", "GenericError", "QMP input must be a JSON object" },
		{ "\"stop\"", "GenericError", "QMP input must be a JSON object" },
		{ "{\"arguments\": {}}", "GenericError", "QMP input lacks member 'execute'" },
		{ "{\"execute\": 42}", "GenericError", "QMP input member 'execute' must be a string" },
		{ "{\"execute\": \"stop\", \"arguments\": []}", "GenericError",
		  "QMP input member 'arguments' must be an object" },
		{ "{\"execute\": \"stop\", \"arguments\": null}", "GenericError",
		  "QMP input member 'arguments' must be an object" },
		{ "{\"execute\": null}", "GenericError", "QMP input member 'execute' must be a string" },
		{ "{\"execute\": \"stop\", \"when\": \"now\"}", "GenericError",
		  "QMP input member 'when' is unexpected" },
		{ "{\"execute\": \"stop\", \"arguments\": {\"force\": true}}", "GenericError",
		  "Parameter 'force' is unexpected" },
		{ "{\"execute\": \"quit\", \"arguments\": {\"force\": true}}", "GenericError",
		  "Parameter 'force' is unexpected" },
		{ "{\"execute\": \"x-modvm-query-devices\", \"arguments\": {\"name\": 5}}",
		  "GenericError", "Invalid parameter type for 'name', expected: string" },
		{ "{\"execute\": \"x-modvm-query-devices\", \"arguments\": {\"name\": \"nosuch#0\"}}",
		  "GenericError", "no device or driver is named 'nosuch#0'" },
	};
	struct client *c;

	start_vm("", true);
	c = client_ready();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *reply = client_cmd(c, cases[i].request);

		assert_error(reply, cases[i].error_class, cases[i].desc);
		json_object_put(reply);
	}
	/* Neither the refused stop nor the refused quit did anything. */
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);
	ck_assert_status(c, "running");
	ck_assert_int_eq(c->event_count, 0);
	client_close(c);
}
END_TEST

START_TEST(replies_echo_the_request_id)
{
	struct client *c;
	struct json_object *reply;

	start_vm("", true);
	c = client_open();
	/* Before negotiation, in an error. */
	reply = client_cmd(c, "{\"execute\": \"query-status\", \"id\": \"early\"}");
	ck_assert_str_eq(get_str(reply, "id"), "early");
	json_object_put(reply);
	reply = client_cmd(c, "{\"execute\": \"qmp_capabilities\", \"id\": 1}");
	ck_assert_int_eq(json_object_get_int(get(reply, "id")), 1);
	assert_return(reply);
	json_object_put(reply);
	reply = client_cmd(c, "{\"id\": {\"any\": [\"json\", 2]}, \"execute\": \"query-status\"}");
	ck_assert_str_eq(text_of(get(reply, "id")), "{\"any\":[\"json\",2]}");
	json_object_put(reply);
	reply = client_cmd(c, "{\"execute\": \"nosuch\", \"id\": 12345678901}");
	ck_assert(json_object_get_int64(get(reply, "id")) == 12345678901ll);
	assert_error(reply, "CommandNotFound", "nosuch");
	json_object_put(reply);
	reply = client_cmd(c, "{\"id\": \"no execute\"}");
	ck_assert_str_eq(get_str(reply, "id"), "no execute");
	json_object_put(reply);
	reply = client_cmd(c, "{\"execute\": \"query-status\"}");
	ck_assert_ptr_null(get(reply, "id"));
	json_object_put(reply);
	client_close(c);
}
END_TEST

START_TEST(a_slow_stop_does_not_hold_up_other_clients)
{
	struct client *a, *b, *c;
	struct json_object *reply;
	int64_t start;

	/* trec's suspend completes 1.5 s after it is asked, from its worker thread. */
	start_vm("[devices/trec/0]\nasync_ms = 1500\n", true);
	a = client_ready();
	b = client_ready();
	c = client_ready();
	start = now_ms();
	client_send(a, "{\"execute\": \"stop\", \"id\": \"slow\"}");
	while (vm_state(vm) == PDM_VM_RUNNING && now_ms() - start < WAIT_MS)
		usleep(1000);
	/* While a's stop waits for the device, b and c are answered at once. */
	ck_assert_status(b, "paused");
	reply = client_cmd(c, "{\"execute\": \"x-modvm-query-vm\"}");
	ck_assert_str_eq(get_str(reply, "return.state"), "suspending");
	json_object_put(reply);
	ck_assert_ptr_null(client_next(a, 0));
	reply = client_reply(a);
	ck_assert_str_eq(get_str(reply, "id"), "slow");
	assert_return(reply);
	json_object_put(reply);
	ck_assert_int_ge(now_ms() - start, 1500);
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	/* All three get the event. */
	assert_event(a, "STOP");
	assert_event(b, "STOP");
	assert_event(c, "STOP");
	client_close(a);
	client_close(b);
	client_close(c);
}
END_TEST

START_TEST(a_client_that_hangs_up_mid_request_does_not_stop_the_command)
{
	struct client *watcher, *quitter;

	start_vm("[devices/trec/0]\nasync_ms = 500\n", true);
	watcher = client_ready();
	quitter = client_ready();
	client_send(quitter, "{\"execute\": \"stop\"}");
	client_close(quitter);              /* before the reply */
	assert_event(watcher, "STOP");
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	ck_assert_status(watcher, "paused");
	/* The same with a half-closed connection: the answer still comes. */
	quitter = client_ready();
	client_send(quitter, "{\"execute\": \"cont\", \"id\": 9}");
	shutdown(quitter->fd, SHUT_WR);
	struct json_object *reply = client_reply(quitter);

	ck_assert_int_eq(json_object_get_int(get(reply, "id")), 9);
	json_object_put(reply);
	ck_assert_ptr_null(client_next(quitter, WAIT_MS));
	ck_assert(quitter->is_eof);         /* then the server closed the connection */
	assert_event(watcher, "RESUME");
	ck_assert_status(watcher, "running");
	client_close(quitter);
	client_close(watcher);
}
END_TEST

START_TEST(an_oversized_request_is_refused_and_the_connection_closed)
{
	size_t size = CONTROL_MAX_REQUEST + 4096;
	char *big = malloc(size + 1);
	struct client *c, *other;
	struct json_object *reply;
	int prefix;

	start_vm("", true);
	c = client_ready();
	prefix = snprintf(big, size, "{\"execute\": \"query-status\", \"arguments\": {\"x\": \"");
	memset(big + prefix, 'a', size - (size_t)prefix);
	big[size] = '\0';
	client_send(c, big);
	reply = client_reply(c);
	assert_error(reply, "GenericError", "request larger than 65536 bytes");
	json_object_put(reply);
	ck_assert_ptr_null(client_next(c, WAIT_MS));
	ck_assert(c->is_eof);
	/* Nothing else suffered. */
	other = client_ready();
	ck_assert_status(other, "running");
	client_close(other);
	client_close(c);
	free(big);
}
END_TEST

START_TEST(a_client_that_does_not_read_is_disconnected)
{
	const char *request = "{\"execute\": \"x-modvm-query-devices\"}";
	struct client *c, *other;
	bool is_cut = false;
	int64_t end;

	start_vm("", true);
	c = client_ready();
	other = client_ready();
	/* Requests, never a read: the replies pile up until the server gives up. */
	end = now_ms() + 4 * WAIT_MS;
	while (!is_cut && now_ms() < end) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (pfd.revents & (POLLERR | POLLHUP) ||
		    send(c->fd, request, strlen(request), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			is_cut = pfd.revents & (POLLERR | POLLHUP) || errno == EPIPE ||
				 errno == ECONNRESET;
	}
	ck_assert_msg(is_cut, "the server kept a client that never reads");
	/* The VM and the other clients did not suffer. */
	ck_assert_int_eq(vm_state(vm), PDM_VM_RUNNING);
	ck_assert_status(other, "running");
	client_ok(other, "{\"execute\": \"stop\"}");
	assert_event(other, "STOP");
	client_close(other);
	client_close(c);
}
END_TEST

START_TEST(runtime_errors_become_events)
{
	struct client *c;
	struct json_object *event;

	/* trec reports a warning from its worker once the VM runs. */
	start_vm("[devices/trec/0]\nrterr = warning\n", false);
	c = client_ready();
	ck_assert_int_eq(vm_power_on(vm, NULL), 0);
	event = client_event(c, "X-MODVM-RUNTIME-ERROR", WAIT_MS);
	ck_assert_msg(event, "no runtime error event");
	ck_assert_str_eq(get_str(event, "data.source"), "trec#0");
	ck_assert_str_eq(get_str(event, "data.kind"), "warning");
	ck_assert_str_eq(get_str(event, "data.id"), "test-error");
	ck_assert_str_eq(get_str(event, "data.message"), "told to report a warning error");
	json_object_put(event);
	ck_assert_status(c, "running");     /* a warning leaves the VM running */
	client_close(c);
}
END_TEST

START_TEST(a_fatal_runtime_error_reads_as_io_error)
{
	struct client *c;
	struct json_object *event;

	start_vm("[devices/trec/0]\nrterr = fatal\n", false);
	c = client_ready();
	ck_assert_int_eq(vm_power_on(vm, NULL), 0);
	event = client_event(c, "X-MODVM-RUNTIME-ERROR", WAIT_MS);
	ck_assert_msg(event, "no runtime error event");
	ck_assert_str_eq(get_str(event, "data.kind"), "fatal");
	json_object_put(event);
	assert_event(c, "STOP");
	ck_assert(wait_state(PDM_VM_FATAL_ERROR));
	ck_assert_status(c, "io-error");
	/* Only power-off leaves it; cont says why not. */
	struct json_object *reply = client_cmd(c, "{\"execute\": \"cont\"}");

	assert_error(reply, "GenericError", "fatal-error");
	json_object_put(reply);
	client_ok(c, "{\"execute\": \"quit\"}");
	event = client_event(c, "SHUTDOWN", WAIT_MS);
	ck_assert_msg(event, "no SHUTDOWN event");
	ck_assert_str_eq(get_str(event, "data.reason"), "host-qmp-quit");
	json_object_put(event);
	ck_assert(wait_state(PDM_VM_OFF));
	client_close(c);
}
END_TEST

START_TEST(query_vm_and_query_devices_report_modvms_view)
{
	struct client *c;
	struct json_object *reply, *list, *trec = NULL, *serial = NULL, *driver = NULL;

	start_vm("[devices/trec/0]\nasync_ms = 100\n", true);
	c = client_ready();
	usleep(20000);
	reply = client_cmd(c, "{\"execute\": \"x-modvm-query-vm\"}");
	ck_assert_str_eq(get_str(reply, "return.name"), "ctl-test");
	ck_assert_str_eq(get_str(reply, "return.state"), "running");
	ck_assert_int_eq(json_object_get_int(get(reply, "return.cpus")), 1);
	ck_assert_int_ge(json_object_get_int64(get(reply, "return.uptime-ns")), 20000000);
	json_object_put(reply);

	client_ok(c, "{\"execute\": \"stop\"}");
	reply = client_cmd(c, "{\"execute\": \"x-modvm-query-devices\"}");
	list = get(reply, "return");
	ck_assert_msg(list && json_object_is_type(list, json_type_array), "%s", text_of(reply));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *ins = json_object_array_get_idx(list, i);
		const char *name = get_str(ins, "name");

		if (!strcmp(name, "trec#0"))
			trec = ins;
		else if (!strcmp(name, "serial#0"))
			serial = ins;
		else if (!strcmp(name, "serial#0/lun0/char"))
			driver = ins;
	}
	ck_assert_msg(trec && serial && driver, "%s", text_of(list));
	ck_assert_str_eq(get_str(trec, "kind"), "device");
	ck_assert_str_eq(get_str(driver, "kind"), "driver");
	/* The async suspend took its 100 ms; a synchronous one is marked so. */
	ck_assert_int_ge(json_object_get_int64(get(trec, "notifications.suspend.last-ns")), 100000000);
	ck_assert_int_eq(json_object_get_boolean(get(trec, "notifications.suspend.async")), 1);
	ck_assert_int_eq(json_object_get_boolean(get(serial, "notifications.suspend.async")), 0);
	ck_assert_int_gt(json_object_get_int64(get(serial, "notifications.power-on.last-ns")), 0);
	ck_assert_int_eq(json_object_get_int64(get(serial, "notifications.resume.last-ns")), 0);
	ck_assert_ptr_nonnull(get(serial, "notifications.reset.async"));
	ck_assert_ptr_nonnull(get(serial, "notifications.power-off.last-ns"));
	json_object_put(reply);

	reply = client_cmd(c, "{\"execute\": \"x-modvm-query-devices\", \"arguments\": {\"name\": \"trec#0\"}}");
	ck_assert_int_eq(json_object_array_length(get(reply, "return")), 1);
	json_object_put(reply);
	client_close(c);
}
END_TEST

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int count = 0;

	while (d && readdir(d))
		count++;
	if (d)
		closedir(d);
	return count;
}

START_TEST(closing_leaves_no_descriptor_or_thread_behind)
{
	int fds = count_entries("/proc/self/fd"), threads = count_entries("/proc/self/task");
	struct client *a, *b, *c;

	start_vm("[devices/trec/0]\nasync_ms = 300\n", true);
	a = client_ready();
	b = client_open();
	c = client_ready();
	/* One mid-request, one half-way through a request, one gone. */
	client_send(a, "{\"execute\": \"stop\"}");
	client_send(b, "{\"execute\": \"qmp_capa");
	client_close(c);
	ck_assert(wait_state(PDM_VM_SUSPENDING));   /* the stop is in flight */
	control_close(control);
	control = NULL;
	/* Closing waited for a's stop, and sent its answer before closing. */
	ck_assert_int_eq(vm_state(vm), PDM_VM_SUSPENDED);
	client_ok(a, "");
	assert_event(a, "STOP");
	ck_assert_ptr_null(client_next(a, WAIT_MS));
	ck_assert(a->is_eof);
	client_close(a);
	client_close(b);
	ck_assert_int_eq(vm_resume(vm, NULL), 0);
	ck_assert_int_eq(vm_power_off(vm, NULL), 0);
	vm_destroy(vm);
	vm = NULL;
	ck_assert_int_eq(count_entries("/proc/self/fd"), fds);
	ck_assert_int_eq(count_entries("/proc/self/task"), threads);
}
END_TEST

/* ---- the socket file ---- */

START_TEST(the_socket_is_private_and_removed_on_close)
{
	struct stat st;

	start_vm("", false);
	ck_assert_int_eq(lstat(sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	control_close(control);
	control = NULL;
	ck_assert_int_eq(lstat(sock, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(a_stale_socket_is_replaced_a_live_one_and_other_files_are_not)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct control *second = NULL;
	struct err err = { 0 };
	struct client *c;
	char *file = tu_fmt("%s/file", tmp), *text;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	/* A socket file nobody listens on, as a crashed modvm leaves behind. */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	start_vm("", true);
	c = client_ready();
	ck_assert_status(c, "running");

	/* Someone listens: refused, and the first server goes on. */
	ck_assert_int_eq(control_open(&second, sock, &err), PDM_ERR_BUSY);
	ck_assert_ptr_null(second);
	ck_assert_msg(strstr(err.msg, sock) && strstr(err.msg, "in use"), "%s", err.msg);
	ck_assert_status(c, "running");
	client_close(c);
	c = client_ready();
	client_close(c);

	/* Not a socket: left alone. */
	tu_write_file(file, "precious\n");
	ck_assert_int_ne(control_open(&second, file, &err), 0);
	ck_assert_msg(strstr(err.msg, file) && strstr(err.msg, "not a socket"), "%s", err.msg);
	text = tu_read_file(file);
	ck_assert_str_eq(text, "precious\n");
	free(text);
	free(file);
}
END_TEST

/* ---- `modvm ctl` and `modvm run --control` ---- */

struct result {
	int status;                     /* exit status, or 128 + signal */
	char *out;
	char *err;
};

static void result_release(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Starts ./modvm with args (NULL-terminated); its output goes to tmp/<name>.out/.err. */
static pid_t spawn(const char *name, const char *const *args)
{
	char *bin = tu_fmt("%s/modvm", tu_builddir());
	char *out = tu_fmt("%s/%s.out", tmp, name), *err = tu_fmt("%s/%s.err", tmp, name);
	const char *argv[16] = { bin };
	pid_t pid;

	for (int i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "r", stdin) || !freopen(out, "w", stdout) ||
		    !freopen(err, "w", stderr))
			_exit(127);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	free(bin);
	free(out);
	free(err);
	return pid;
}

/* Waits for pid (killing it after 60 s) and collects what it printed. */
static struct result reap(const char *name, pid_t pid)
{
	char *out = tu_fmt("%s/%s.out", tmp, name), *err = tu_fmt("%s/%s.err", tmp, name);
	struct result r = { 0 };
	int status, waited_ms = 0;

	while (waitpid(pid, &status, WNOHANG) != pid) {
		usleep(10000);
		if ((waited_ms += 10) == 4 * WAIT_MS)
			kill(pid, SIGKILL);
	}
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r.out = tu_read_file(out);
	r.err = tu_read_file(err);
	free(out);
	free(err);
	return r;
}

static struct result modvm(const char *const *args)
{
	return reap("ctl", spawn("ctl", args));
}

/* An INI for `modvm run`: loop.bin, its console to a file, trec from a private folder. */
static char *run_ini(void)
{
	char *ini = tu_fmt("%s/run.ini", tmp);
	char *plugdir = tu_fmt("%s/plugins", tmp);
	char *cmd = tu_fmt("mkdir -p '%s' && cp '%s/tests/plugins/.libs/recorder.so' '%s'", plugdir,
			   tu_builddir(), plugdir);
	char *text = tu_fmt("[plugins]\npath = plugins\n[vm]\nname = ctl-e2e\nmemory = 16M\n"
			    "[boot]\nflat = %s/tests/guests/loop.bin\n"
			    "[devices/serial/0]\n[devices/serial/0/lun0]\ndriver = char\n"
			    "[devices/serial/0/lun0/attached]\ndriver = file\npath = console.txt\n"
			    "[devices/trec/0]\nasync_ms = 50\n", tu_builddir());

	ck_assert_int_eq(system(cmd), 0);
	tu_write_file(ini, text);
	free(plugdir);
	free(cmd);
	free(text);
	return ini;
}

static void wait_for_socket(pid_t pid)
{
	int64_t end = now_ms() + 4 * WAIT_MS;
	int fd = -1;

	while (now_ms() < end && (fd = connect_to(sock)) < 0) {
		ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
		usleep(20000);
	}
	ck_assert_msg(fd >= 0, "'%s' never came up", sock);
	close(fd);
}

START_TEST(modvm_ctl_drives_modvm_run_end_to_end)
{
	char *ini = run_ini();
	pid_t run = spawn("run", (const char *[]){ "run", "--control", sock, ini, NULL });
	struct result r;
	struct stat st;

	wait_for_socket(run);
	r = modvm((const char *[]){ "ctl", sock, "status", NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "name: ctl-e2e\n") && strstr(r.out, "state: running\n") &&
		      strstr(r.out, "vcpus: 1\n") && strstr(r.out, "uptime: "), "%s", r.out);
	result_release(&r);

	r = modvm((const char *[]){ "ctl", sock, "pause", NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "paused\n");
	result_release(&r);

	r = modvm((const char *[]){ "ctl", sock, "status", "--devices", NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "state: suspended\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "INSTANCE") && strstr(r.out, "suspend"), "%s", r.out);
	/* trec's suspend completed asynchronously after its 50 ms; the serial's did not. */
	{
		const char *line = strstr(r.out, "\ntrec#0 ");
		const char *serial = strstr(r.out, "\nserial#0 ");

		ck_assert_msg(line && strstr(line, "(async)") &&
			      strstr(line, "(async)") < strchr(line + 1, '\n'), "%s", r.out);
		ck_assert_msg(serial && strstr(serial, "device"), "%s", r.out);
		ck_assert_msg(!strstr(serial, "(async)") ||
			      strstr(serial, "(async)") > strchr(serial + 1, '\n'), "%s", r.out);
	}
	ck_assert_msg(strstr(r.out, "serial#0/lun0/char") && strstr(r.out, "driver"), "%s", r.out);
	result_release(&r);

	r = modvm((const char *[]){ "ctl", sock, "resume", NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	result_release(&r);
	r = modvm((const char *[]){ "ctl", sock, "reset", NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	result_release(&r);
	r = modvm((const char *[]){ "ctl", sock, "qmp", "{\"execute\": \"query-status\", \"id\": 5}", NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "{\"return\":{\"running\":true,\"singlestep\":false,\"status\":\"running\"},\"id\":5}\n");
	result_release(&r);

	/* The VM refuses: exit 1 with QMP's desc. */
	r = modvm((const char *[]){ "ctl", sock, "qmp", "{\"execute\": \"nosuch\"}", NULL });
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "The command nosuch has not been found"), "%s", r.err);
	ck_assert_msg(strstr(r.out, "CommandNotFound"), "%s", r.out);
	result_release(&r);

	/* A second modvm cannot take the socket over. */
	r = modvm((const char *[]){ "run", "--control", sock, ini, NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, sock) && strstr(r.err, "in use"), "%s", r.err);
	result_release(&r);

	r = modvm((const char *[]){ "ctl", sock, "poweroff", NULL });
	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "powered off\n");
	result_release(&r);
	r = reap("run", run);
	ck_assert_msg(r.status == 0, "modvm run: status %d: %s", r.status, r.err);
	ck_assert_int_eq(lstat(sock, &st), -1);     /* removed at exit */
	result_release(&r);
	free(ini);
}
END_TEST

START_TEST(modvm_ctl_says_why_it_cannot_reach_the_socket)
{
	char *missing = tu_fmt("%s/nosuch.sock", tmp);
	char *file = tu_fmt("%s/file", tmp);
	char *ini = run_ini();
	struct result r;

	r = modvm((const char *[]){ "ctl", missing, "status", NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, missing) && strstr(r.err, strerror(ENOENT)), "%s", r.err);
	result_release(&r);
	r = modvm((const char *[]){ "ctl", missing, "frobnicate", NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "usage"), "%s", r.err);
	result_release(&r);

	/* run --control never replaces a file that is not a socket. */
	tu_write_file(file, "precious\n");
	r = modvm((const char *[]){ "run", "--control", file, ini, NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, file) && strstr(r.err, "not a socket"), "%s", r.err);
	result_release(&r);
	r.out = tu_read_file(file);
	ck_assert_str_eq(r.out, "precious\n");
	free(r.out);
	free(missing);
	free(file);
	free(ini);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *qmp = tcase_create("qmp");
	TCase *cli = tcase_create("ctl");

	tcase_add_checked_fixture(qmp, setup, teardown);
	tcase_set_timeout(qmp, 300);
	tcase_add_test(qmp, the_greeting_is_qmps_and_offers_no_capabilities);
	tcase_add_test(qmp, commands_before_negotiation_are_refused_as_in_qemu);
	tcase_add_test(qmp, query_status_follows_the_vm_through_its_states);
	tcase_add_test(qmp, stop_pauses_the_vm_and_every_client_sees_stop);
	tcase_add_test(qmp, cont_resumes_the_vm_and_sends_resume);
	tcase_add_test(qmp, system_reset_restarts_the_guest_and_sends_reset);
	tcase_add_test(qmp, guest_resets_are_reported_as_the_guests);
	tcase_add_test(qmp, quit_powers_off_and_sends_shutdown);
	tcase_add_test(qmp, system_powerdown_powers_off_too);
	tcase_add_test(qmp, malformed_json_gets_an_error_and_the_connection_stays_usable);
	tcase_add_test(qmp, bad_requests_get_qmp_errors_and_harm_nothing);
	tcase_add_test(qmp, replies_echo_the_request_id);
	tcase_add_test(qmp, a_slow_stop_does_not_hold_up_other_clients);
	tcase_add_test(qmp, a_client_that_hangs_up_mid_request_does_not_stop_the_command);
	tcase_add_test(qmp, an_oversized_request_is_refused_and_the_connection_closed);
	tcase_add_test(qmp, a_client_that_does_not_read_is_disconnected);
	tcase_add_test(qmp, runtime_errors_become_events);
	tcase_add_test(qmp, a_fatal_runtime_error_reads_as_io_error);
	tcase_add_test(qmp, query_vm_and_query_devices_report_modvms_view);
	tcase_add_test(qmp, closing_leaves_no_descriptor_or_thread_behind);
	tcase_add_test(qmp, the_socket_is_private_and_removed_on_close);
	tcase_add_test(qmp, a_stale_socket_is_replaced_a_live_one_and_other_files_are_not);
	suite_add_tcase(s, qmp);

	tcase_add_checked_fixture(cli, setup, teardown);
	tcase_set_timeout(cli, 600);
	tcase_add_test(cli, modvm_ctl_drives_modvm_run_end_to_end);
	tcase_add_test(cli, modvm_ctl_says_why_it_cannot_reach_the_socket);
	suite_add_tcase(s, cli);
	return s;
}

int main(void)
{
	SRunner *runner;
	int failed;

	tu_require_kvm();
	runner = srunner_create(control_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
