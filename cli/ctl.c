/*
 * cli/ctl.c - `modvm ctl PATH CMD`: the command-line client of the control socket.
 *
 * One connection per call: the greeting, qmp_capabilities, then one or two commands
 * and their replies, events skipped. Blocking I/O and no timeouts: a `pause` lasts
 * as long as the slowest device takes to quiesce, and ^C ends the wait.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/control.h"

#define CTL_EXIT_REFUSED 1
#define CTL_EXIT_UNREACHABLE 2

struct ctl {
	const char *path;
	int fd;
	struct json_tokener *tok;
	char buf[4096];
	size_t off, len;
	bool is_eof;
};

static int ctl_connect(struct ctl *ctl)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (strlen(ctl->path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "modvm: cannot reach the control socket '%s': %s\n", ctl->path,
			strerror(ENAMETOOLONG));
		return CTL_EXIT_UNREACHABLE;
	}
	memcpy(addr.sun_path, ctl->path, strlen(ctl->path) + 1);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0 || connect(ctl->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "modvm: cannot reach the control socket '%s': %s\n", ctl->path,
			strerror(errno));
		return CTL_EXIT_UNREACHABLE;
	}
	return 0;
}

/*
 * The next JSON value the server sends; NULL at the end of the connection
 * (ctl->is_eof) or on an error, which is printed.
 */
static struct json_object *ctl_next(struct ctl *ctl)
{
	for (;;) {
		while (ctl->off < ctl->len) {
			size_t chunk = ctl->len - ctl->off;
			struct json_object *obj = json_tokener_parse_ex(ctl->tok, ctl->buf + ctl->off,
									(int)chunk);
			enum json_tokener_error jerr = json_tokener_get_error(ctl->tok);

			if (jerr == json_tokener_continue) {
				ctl->off = ctl->len;
				break;
			}
			if (jerr != json_tokener_success) {
				fprintf(stderr, "modvm: '%s' does not speak QMP: %s\n", ctl->path,
					json_tokener_error_desc(jerr));
				return NULL;
			}
			ctl->off += json_tokener_get_parse_end(ctl->tok);
			json_tokener_reset(ctl->tok);
			return obj;
		}
		ssize_t n = read(ctl->fd, ctl->buf, sizeof(ctl->buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "modvm: control socket '%s': %s\n", ctl->path, strerror(errno));
			return NULL;
		}
		if (n == 0) {
			ctl->is_eof = true;
			return NULL;
		}
		ctl->off = 0;
		ctl->len = (size_t)n;
	}
}

static int ctl_write(struct ctl *ctl, const char *text)
{
	size_t len = strlen(text), done = 0;

	while (done < len) {
		ssize_t n = write(ctl->fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "modvm: control socket '%s': %s\n", ctl->path, strerror(errno));
			return CTL_EXIT_UNREACHABLE;
		}
		done += (size_t)n;
	}
	return 0;
}

/*
 * Sends one request (text) and returns its reply in *reply (events are skipped).
 * Returns 0, CTL_EXIT_REFUSED with the QMP error printed, or CTL_EXIT_UNREACHABLE.
 */
static int ctl_call(struct ctl *ctl, const char *text, struct json_object **reply)
{
	struct json_object *obj, *error, *desc;
	int status = ctl_write(ctl, text);

	*reply = NULL;
	if (status)
		return status;
	while ((obj = ctl_next(ctl)) && json_object_object_get_ex(obj, "event", NULL))
		json_object_put(obj);
	if (!obj) {
		if (ctl->is_eof)
			fprintf(stderr, "modvm: control socket '%s': the connection closed before the reply\n",
				ctl->path);
		return CTL_EXIT_UNREACHABLE;
	}
	*reply = obj;
	if (json_object_object_get_ex(obj, "return", NULL))
		return 0;
	if (json_object_object_get_ex(obj, "error", &error) &&
	    json_object_object_get_ex(error, "desc", &desc)) {
		fprintf(stderr, "modvm: %s\n", json_object_get_string(desc));
		return CTL_EXIT_REFUSED;
	}
	fprintf(stderr, "modvm: '%s' does not speak QMP: unexpected reply %s\n", ctl->path,
		json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	return CTL_EXIT_UNREACHABLE;
}

static const char *ctl_get_string(struct json_object *obj, const char *key)
{
	struct json_object *value;

	return json_object_object_get_ex(obj, key, &value) ? json_object_get_string(value) : "?";
}

static int64_t ctl_get_int(struct json_object *obj, const char *key)
{
	struct json_object *value;

	return json_object_object_get_ex(obj, key, &value) ? json_object_get_int64(value) : 0;
}

static void ctl_print_vm(struct json_object *vm)
{
	const char *failure = NULL;
	struct json_object *value;

	if (json_object_object_get_ex(vm, "failure", &value))
		failure = json_object_get_string(value);
	printf("name: %s\n", ctl_get_string(vm, "name"));
	printf("state: %s\n", ctl_get_string(vm, "state"));
	printf("vcpus: %lld\n", (long long)ctl_get_int(vm, "cpus"));
	printf("uptime: %.3f s\n", (double)ctl_get_int(vm, "uptime-ns") / 1e9);
	if (failure)
		printf("failure: %s\n", failure);
}

/* The table of `status --devices`: one line per instance, durations in ms. */
static void ctl_print_devices(struct json_object *list)
{
	static const char *const notes[] = { "power-on", "suspend", "resume", "reset", "power-off" };
	const size_t note_count = sizeof(notes) / sizeof(notes[0]);
	size_t count = json_object_array_length(list);
	int width = (int)strlen("INSTANCE");

	for (size_t i = 0; i < count; i++) {
		int len = (int)strlen(ctl_get_string(json_object_array_get_idx(list, i), "name"));

		width = len > width ? len : width;
	}
	printf("\nlast power notifications, in ms ((async): completed later; -: never)\n");
	printf("%-*s  %-6s", width, "INSTANCE", "KIND");
	for (size_t n = 0; n < note_count; n++)
		if (n + 1 < note_count)
			printf("  %-16s", notes[n]);
		else
			printf("  %s", notes[n]);
	printf("\n");
	for (size_t i = 0; i < count; i++) {
		struct json_object *ins = json_object_array_get_idx(list, i), *all = NULL, *note, *value;

		printf("%-*s  %-6s", width, ctl_get_string(ins, "name"), ctl_get_string(ins, "kind"));
		json_object_object_get_ex(ins, "notifications", &all);
		for (size_t n = 0; n < note_count; n++) {
			char cell[40] = "-";
			int64_t ns = 0;
			bool is_async = false;

			if (all && json_object_object_get_ex(all, notes[n], &note)) {
				ns = ctl_get_int(note, "last-ns");
				is_async = json_object_object_get_ex(note, "async", &value) &&
					   json_object_get_boolean(value);
			}
			if (ns >= 1000)
				snprintf(cell, sizeof(cell), "%.3f%s", (double)ns / 1e6,
					 is_async ? " (async)" : "");
			else if (ns)
				snprintf(cell, sizeof(cell), "<0.001%s", is_async ? " (async)" : "");
			if (n + 1 < note_count)
				printf("  %-16s", cell);
			else
				printf("  %s", cell);
		}
		printf("\n");
	}
}

static int ctl_status(struct ctl *ctl, bool has_devices)
{
	struct json_object *reply, *ret;
	int status = ctl_call(ctl, "{\"execute\": \"x-modvm-query-vm\"}\n", &reply);

	if (!status && json_object_object_get_ex(reply, "return", &ret))
		ctl_print_vm(ret);
	json_object_put(reply);
	if (status || !has_devices)
		return status;
	status = ctl_call(ctl, "{\"execute\": \"x-modvm-query-devices\"}\n", &reply);
	if (!status && json_object_object_get_ex(reply, "return", &ret) &&
	    json_object_is_type(ret, json_type_array))
		ctl_print_devices(ret);
	json_object_put(reply);
	return status;
}

/* The commands that only do something: their QMP command and what to say when done. */
static const struct ctl_action {
	const char *name;
	const char *request;
	const char *done;
} ctl_actions[] = {
	{ "pause", "{\"execute\": \"stop\"}\n", "paused" },
	{ "resume", "{\"execute\": \"cont\"}\n", "resumed" },
	{ "reset", "{\"execute\": \"system_reset\"}\n", "reset" },
	{ "poweroff", "{\"execute\": \"quit\"}\n", "powered off" },
};

int ctl_main(const char *path, const char *cmd, const char *arg, bool has_devices)
{
	const struct ctl_action *action = NULL;
	struct ctl ctl = { .path = path, .fd = -1 };
	struct json_object *obj;
	int status;

	for (size_t i = 0; i < sizeof(ctl_actions) / sizeof(ctl_actions[0]); i++)
		if (!strcmp(cmd, ctl_actions[i].name))
			action = &ctl_actions[i];
	if ((!action && strcmp(cmd, "status") && strcmp(cmd, "qmp")) ||
	    (!strcmp(cmd, "qmp") != (arg != NULL)) || (has_devices && strcmp(cmd, "status"))) {
		fprintf(stderr, "modvm: usage: modvm ctl PATH status [--devices] | pause | resume | "
			"reset | poweroff | qmp JSON\n");
		return CTL_EXIT_UNREACHABLE;
	}
	status = ctl_connect(&ctl);
	if (status)
		goto out;
	ctl.tok = json_tokener_new();
	if (!ctl.tok) {
		fprintf(stderr, "modvm: out of memory\n");
		status = CTL_EXIT_UNREACHABLE;
		goto out;
	}
	obj = ctl_next(&ctl);
	if (!obj || !json_object_object_get_ex(obj, "QMP", NULL)) {
		if (!obj && ctl.is_eof)
			fprintf(stderr, "modvm: '%s' closed the connection without a greeting\n", path);
		else if (obj)
			fprintf(stderr, "modvm: '%s' does not speak QMP: no greeting\n", path);
		json_object_put(obj);
		status = CTL_EXIT_UNREACHABLE;
		goto out;
	}
	json_object_put(obj);
	status = ctl_call(&ctl, "{\"execute\": \"qmp_capabilities\"}\n", &obj);
	json_object_put(obj);
	if (status)
		goto out;

	if (!strcmp(cmd, "status")) {
		status = ctl_status(&ctl, has_devices);
	} else if (!strcmp(cmd, "qmp")) {
		char *text;

		if (asprintf(&text, "%s\n", arg) < 0) {
			status = CTL_EXIT_UNREACHABLE;
			goto out;
		}
		status = ctl_call(&ctl, text, &obj);
		free(text);
		if (obj)
			printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(obj);
	} else {
		status = ctl_call(&ctl, action->request, &obj);
		json_object_put(obj);
		/* poweroff: modvm closes the socket once the VM is off; wait for that. */
		while (!status && !strcmp(cmd, "poweroff") && (obj = ctl_next(&ctl)))
			json_object_put(obj);
		if (!status)
			printf("%s\n", action->done);
	}
out:
	if (ctl.tok)
		json_tokener_free(ctl.tok);
	if (ctl.fd >= 0)
		close(ctl.fd);
	return status;
}
