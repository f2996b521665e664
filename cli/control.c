/*
 * cli/control.c - the control socket server: a QMP-compatible subset over a UNIX
 * socket, every command a VM API call.
 *
 * Threads and who owns what:
 *   - One server thread per socket runs poll() over the listening socket, the client
 *     connections and an eventfd. It alone accepts, reads and closes connections:
 *     it parses requests incrementally (json_tokener) and queues them to the
 *     client's worker. Replies and events go out from a per-client output buffer
 *     with non-blocking sends; what a send leaves over waits for POLLOUT here. A
 *     client that lets that buffer pass CONTROL_MAX_OUTPUT is disconnected.
 *   - One worker thread per client executes its requests one at a time, in order (as
 *     QMP requires), by calling the VM API (vm_suspend and the like are synchronous
 *     and thread-safe: they are forwarded to the EMTs). So a `stop` that waits for an
 *     asynchronous device never delays another client's `query-status`. A worker
 *     appends its reply to the outgoing queue below and then sends the queue out
 *     itself: handing it to the server thread would add a thread wake-up to every
 *     round trip a client measures. The server thread is woken only for what it
 *     alone does (waiting for a slow reader, closing, reaping); a connection that
 *     breaks under a worker's send is marked, and closed by the server thread, so
 *     that no fd is closed under a poll() that still watches it.
 *   - The VM's observers run on EMTs with a VM lock held and must not block: they
 *     only append an event record to the outgoing queue (control->lock, held for a
 *     few instructions) and poke the eventfd, unless a worker whose reply will
 *     carry the event out anyway is waiting for it (control_await).
 * control->lock guards the outgoing queue, each client's request queue and flags,
 * and is_stopping; nobody calls the VM or does I/O while holding it (the eventfd
 * write cannot block). control->io_lock guards the client list and each client's
 * connection state (fd, tokener, output buffer, counters): the server thread holds
 * it except while in poll(), a worker while it sends. Order: io_lock, then lock. The outgoing queue is one list for replies and events so
 * that a client sees them in the order they happened: the STOP event that
 * vm_suspend's state change posts comes before the reply to `stop`.
 *
 * Life of a client: accepted -> greeting -> requests read while fewer than
 * CONTROL_MAX_QUEUED are unanswered (QEMU reads ahead 8 too) -> on EOF, the requests
 * already read are still executed and answered, then the connection is closed. A
 * connection that breaks is closed at once, but its worker still finishes what was
 * read (a `stop` sent just before a disconnect still stops the VM); the client is
 * freed once its worker has exited and no reply of it is queued.
 *
 * control_close: no more connections or reads; the requests already read are still
 * executed and answered, with the events they cause (the observers are removed only
 * after the server thread has ended); what is left to send gets up to
 * CONTROL_FLUSH_MS; then every connection is closed and the socket file removed.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/control.h"
#include "util/log.h"

#define CONTROL_MAX_CLIENTS 32
#define CONTROL_MAX_QUEUED 8        /* unanswered requests read ahead per client */
#define CONTROL_MAX_EVENTS 1024     /* events not yet sent out; more are dropped */
#define CONTROL_FLUSH_MS 1000       /* what control_close waits for slow readers */
#define CONTROL_READ_SIZE 16384
#define CONTROL_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

enum control_event_kind {
	CONTROL_EVENT_INVALID = 0,
	CONTROL_EVENT_STOP,
	CONTROL_EVENT_RESUME,
	CONTROL_EVENT_RESET,
	CONTROL_EVENT_SHUTDOWN,
	CONTROL_EVENT_RUNTIME_ERROR,
	CONTROL_EVENT_KINDS
};

/* What an observer records; the server thread turns it into JSON. */
struct control_event {
	enum control_event_kind kind;
	struct timespec when;
	bool is_guest;                  /* RESET, SHUTDOWN */
	const char *reason;             /* RESET, SHUTDOWN: a QEMU ShutdownCause name */
	enum pdm_runtime_error error_kind;
	char *source, *id, *message;    /* RUNTIME_ERROR */
};

/* A request on its way from the server thread to a worker. */
struct control_request {
	struct json_object *obj;        /* the parsed request; NULL when error is set */
	char *error;                    /* a parse error to answer instead */
	struct control_request *next;
};

/* On its way to the server thread: a reply to one client, or an event for all. */
struct control_item {
	struct control_client *client;  /* NULL for an event */
	char *text;                     /* the reply, "\r\n"-terminated */
	bool is_negotiation;            /* it ends capabilities negotiation: events follow */
	struct control_event *event;
	struct control_item *next;
};

struct control_client {
	struct control *control;
	unsigned serial;                /* for log lines */
	struct control_client *next;

	/* Under control->io_lock. */
	int fd;                         /* -1 once closed */
	const char *broken;             /* a worker's send failed: the server closes it */
	struct json_tokener *tok;
	size_t pending_size;            /* bytes of the request being read */
	bool is_skipping;               /* after a parse error: drop input up to a '{' */
	bool is_input_done;             /* EOF, or the connection ends: read no more */
	bool is_cmd_mode;               /* negotiation answered: it gets events */
	bool is_reapable;               /* its worker had ended when the queue was last taken */
	unsigned unanswered;            /* requests queued whose reply was not dequeued */
	char *out;
	size_t out_off, out_len, out_cap;

	/* Under control->lock. */
	struct control_request *reqs, **reqs_tail;
	bool is_gone;                   /* no connection: the worker ends after its queue */
	bool is_worker_done;
	pthread_cond_t cond;
	pthread_t worker;

	/* The worker's; control->awaited counts it, under control->lock. */
	bool is_negotiated;
	enum control_event_kind awaits; /* the event its current command ends with */
};

struct control {
	struct vm *vm;
	char *path;
	dev_t dev;                      /* the socket file we created */
	ino_t ino;
	int listen_fd;
	int wake_fd;                    /* eventfd: workers and observers poke it */
	pthread_t thread;
	bool has_thread;
	bool has_state_observer, has_error_observer, has_reset_observer;

	pthread_mutex_t io_lock;
	bool is_io_closed;              /* the server thread has ended every connection */
	pthread_mutex_t lock;
	struct control_item *items, **items_tail;
	unsigned event_count;
	/* Per event kind: workers whose reply will follow such an event (see control_await). */
	unsigned awaited[CONTROL_EVENT_KINDS];
	unsigned dropped_events;
	bool is_stopping;

	/* Under io_lock. */
	struct control_client *clients;
	unsigned client_count;
	unsigned next_serial;

	/* Why the next reset / power-off happens, for the RESET and SHUTDOWN events. */
	atomic_int host_resets;         /* system_reset calls in flight */
	atomic_bool is_host_quit;       /* quit or system_powerdown asked for it */
	atomic_int reset_from;          /* the state the current reset started from */
};

/* ---- small helpers ---- */

static void control_wake(struct control *control)
{
	uint64_t one = 1;

	/* Cannot block: the counter would have to reach 2^64 - 1. */
	if (write(control->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("control", "eventfd write: %s", strerror(errno));
}

static char *control_serialize(struct json_object *obj)
{
	char *text = NULL;

	if (asprintf(&text, "%s\r\n", json_object_to_json_string_ext(obj, CONTROL_JSON_FLAGS)) < 0)
		return NULL;
	return text;
}

static void control_event_free(struct control_event *event)
{
	if (!event)
		return;
	free(event->source);
	free(event->id);
	free(event->message);
	free(event);
}

static void control_item_free(struct control_item *item)
{
	free(item->text);
	control_event_free(item->event);
	free(item);
}

static void control_request_free(struct control_request *req)
{
	json_object_put(req->obj);
	free(req->error);
	free(req);
}

/* Appends an item to the outgoing queue; control->lock held. */
static void control_append_locked(struct control *control, struct control_item *item)
{
	item->next = NULL;
	*control->items_tail = item;
	control->items_tail = &item->next;
}

/*
 * QEMU's RunState for a modvm state. Transient states read as where the VM is as
 * far as the guest is concerned: while suspending or resuming no guest code runs
 * (paused); a reset reads as the state it returns to.
 */
static const char *control_run_state(struct control *control, enum pdm_vm_state state)
{
	if (state == PDM_VM_RESETTING)
		state = atomic_load(&control->reset_from);
	switch (state) {
	case PDM_VM_CREATING:
	case PDM_VM_CREATED:
	case PDM_VM_POWERING_ON:
		return "prelaunch";
	case PDM_VM_LOADING:
		return "restore-vm";
	case PDM_VM_RUNNING:
		return "running";
	case PDM_VM_SUSPENDING:
	case PDM_VM_SUSPENDED:
	case PDM_VM_RESUMING:
		return "paused";
	case PDM_VM_SAVING:
		return "save-vm";
	case PDM_VM_POWERING_OFF:
	case PDM_VM_OFF:
	case PDM_VM_DESTROYING:
	case PDM_VM_TERMINATED:
		return "shutdown";
	case PDM_VM_FATAL_ERROR:
		return "io-error";
	case PDM_VM_GURU_MEDITATION:
	case PDM_VM_LOAD_FAILURE:
	default:
		return "internal-error";
	}
}

static const char *const control_event_names[] = {
	[CONTROL_EVENT_STOP] = "STOP",
	[CONTROL_EVENT_RESUME] = "RESUME",
	[CONTROL_EVENT_RESET] = "RESET",
	[CONTROL_EVENT_SHUTDOWN] = "SHUTDOWN",
	[CONTROL_EVENT_RUNTIME_ERROR] = "X-MODVM-RUNTIME-ERROR",
};

static const char *control_error_kind_name(enum pdm_runtime_error kind)
{
	switch (kind) {
	case PDM_RTERR_WARNING: return "warning";
	case PDM_RTERR_SUSPEND: return "suspend";
	case PDM_RTERR_FATAL: return "fatal";
	default: return "invalid";
	}
}

/* Names of the notifications in x-modvm-query-devices, in enum vm_notify order. */
static const char *const control_notify_names[VM_NOTIFY_COUNT] = {
	[VM_NOTIFY_POWER_ON] = "power-on",
	[VM_NOTIFY_SUSPEND] = "suspend",
	[VM_NOTIFY_RESUME] = "resume",
	[VM_NOTIFY_RESET] = "reset",
	[VM_NOTIFY_POWER_OFF] = "power-off",
};

/* ---- observers: on EMTs, a VM lock held; record, queue, wake, nothing more ---- */

static void control_post_event(struct control *control, struct control_event *event)
{
	struct control_item *item = calloc(1, sizeof(*item));

	if (!item) {
		control_event_free(event);
		return;
	}
	item->event = event;
	pthread_mutex_lock(&control->lock);
	if (control->event_count >= CONTROL_MAX_EVENTS) {
		control->dropped_events++;
		pthread_mutex_unlock(&control->lock);
		control_item_free(item);
		return;
	}
	control->event_count++;
	control_append_locked(control, item);
	if (!control->awaited[event->kind])
		control_wake(control);
	pthread_mutex_unlock(&control->lock);
}

/*
 * A worker about to run a command whose last act is a state change announces the
 * event that change posts (STOP for stop, ...). Until its reply is queued, events of
 * that kind do not wake the server thread: the reply goes out with every event
 * queued before it (control_reply), so the worker sends the event itself, and a
 * measured `stop` does not wait for a second thread to send its STOP first.
 * Other kinds, and SHUTDOWN, whose power-off may wait long for devices, wake it at once.
 */
static void control_await(struct control_client *client, enum control_event_kind kind)
{
	pthread_mutex_lock(&client->control->lock);
	client->awaits = kind;
	client->control->awaited[kind]++;
	pthread_mutex_unlock(&client->control->lock);
}

/* Its reply is queued; control->lock held. */
static void control_unawait_locked(struct control_client *client)
{
	if (client->awaits) {
		client->control->awaited[client->awaits]--;
		client->awaits = CONTROL_EVENT_INVALID;
	}
}

static struct control_event *control_event_new(enum control_event_kind kind)
{
	struct control_event *event = calloc(1, sizeof(*event));

	if (event) {
		event->kind = kind;
		clock_gettime(CLOCK_REALTIME, &event->when);
	}
	return event;
}

static void control_on_state(struct vm *vm, enum pdm_vm_state new_state,
			     enum pdm_vm_state old_state, void *user)
{
	struct control *control = user;
	struct control_event *event;
	enum control_event_kind kind = CONTROL_EVENT_INVALID;

	if (new_state == PDM_VM_RESETTING)
		atomic_store(&control->reset_from, old_state);
	if ((new_state == PDM_VM_SUSPENDED && old_state == PDM_VM_SUSPENDING) ||
	    new_state == PDM_VM_GURU_MEDITATION || new_state == PDM_VM_FATAL_ERROR)
		kind = CONTROL_EVENT_STOP;      /* guest code no longer runs */
	else if (new_state == PDM_VM_RUNNING &&
		 (old_state == PDM_VM_RESUMING || old_state == PDM_VM_POWERING_ON))
		kind = CONTROL_EVENT_RESUME;    /* QEMU sends it on every vm_start */
	else if (new_state == PDM_VM_POWERING_OFF)
		kind = CONTROL_EVENT_SHUTDOWN;
	if (kind == CONTROL_EVENT_INVALID || !(event = control_event_new(kind)))
		return;
	if (kind == CONTROL_EVENT_SHUTDOWN) {
		if (atomic_exchange(&control->is_host_quit, false)) {
			event->reason = "host-qmp-quit";
		} else if (old_state == PDM_VM_GURU_MEDITATION || old_state == PDM_VM_FATAL_ERROR ||
			   old_state == PDM_VM_LOAD_FAILURE) {
			event->reason = "host-error";
		} else if (vm_exit_status(vm) >= 0) {
			event->reason = "guest-shutdown";   /* debug-exit and the like */
			event->is_guest = true;
		} else {
			event->reason = "host-signal";      /* the only other caller: SIGINT/SIGTERM */
		}
	}
	control_post_event(control, event);
}

static void control_on_reset(struct vm *vm, void *user)
{
	struct control *control = user;
	struct control_event *event = control_event_new(CONTROL_EVENT_RESET);
	int pending = atomic_load(&control->host_resets);

	if (!event)
		return;
	/* Ours if a system_reset is in flight; anything else is the guest's doing. */
	while (pending > 0 && !atomic_compare_exchange_weak(&control->host_resets, &pending,
							    pending - 1))
		;
	event->is_guest = pending <= 0;
	event->reason = event->is_guest ? "guest-reset" : "host-qmp-system-reset";
	control_post_event(control, event);
}

static void control_on_error(struct vm *vm, const char *source, enum pdm_runtime_error kind,
			     const char *id, const char *message, void *user)
{
	struct control_event *event = control_event_new(CONTROL_EVENT_RUNTIME_ERROR);

	if (!event)
		return;
	event->error_kind = kind;
	event->source = strdup(source ? source : "");
	event->id = strdup(id ? id : "");
	event->message = strdup(message ? message : "");
	if (!event->source || !event->id || !event->message) {
		control_event_free(event);
		return;
	}
	control_post_event(user, event);
}

static char *control_event_text(const struct control_event *event)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *data = NULL, *stamp = json_object_new_object();
	char *text;

	json_object_object_add(obj, "event", json_object_new_string(control_event_names[event->kind]));
	switch (event->kind) {
	case CONTROL_EVENT_RESET:
	case CONTROL_EVENT_SHUTDOWN:
		data = json_object_new_object();
		json_object_object_add(data, "guest", json_object_new_boolean(event->is_guest));
		json_object_object_add(data, "reason", json_object_new_string(event->reason));
		break;
	case CONTROL_EVENT_RUNTIME_ERROR:
		data = json_object_new_object();
		json_object_object_add(data, "source", json_object_new_string(event->source));
		json_object_object_add(data, "kind",
				       json_object_new_string(control_error_kind_name(event->error_kind)));
		json_object_object_add(data, "id", json_object_new_string(event->id));
		json_object_object_add(data, "message", json_object_new_string(event->message));
		break;
	default:
		break;                  /* STOP and RESUME carry no data, as in QEMU */
	}
	if (data)
		json_object_object_add(obj, "data", data);
	json_object_object_add(stamp, "seconds", json_object_new_int64(event->when.tv_sec));
	json_object_object_add(stamp, "microseconds",
			       json_object_new_int64(event->when.tv_nsec / 1000));
	json_object_object_add(obj, "timestamp", stamp);
	text = control_serialize(obj);
	json_object_put(obj);
	return text;
}

/* ---- commands: on a client's worker thread ---- */

struct control_answer {
	struct json_object *ret;        /* the "return" value, or NULL on error */
	const char *error_class;
	char desc[1100];
	bool is_negotiation;
};

static void control_fail(struct control_answer *answer, const char *error_class,
			 const char *fmt, ...) PDM_PRINTF(3, 4);

static void control_fail(struct control_answer *answer, const char *error_class,
			 const char *fmt, ...)
{
	va_list ap;

	answer->error_class = error_class;
	va_start(ap, fmt);
	vsnprintf(answer->desc, sizeof(answer->desc), fmt, ap);
	va_end(ap);
}

/* Fails on any argument not in known (NULL-terminated); args may be NULL. */
static bool control_check_args(struct json_object *args, const char *const *known,
			       struct control_answer *answer)
{
	if (!args)
		return true;
	json_object_object_foreach(args, key, value) {
		bool is_known = false;

		(void)value;
		for (const char *const *k = known; *k; k++)
			is_known |= !strcmp(key, *k);
		if (!is_known) {
			control_fail(answer, "GenericError", "Parameter '%s' is unexpected", key);
			return false;
		}
	}
	return true;
}

static const char *const control_no_args[] = { NULL };

static void control_cmd_capabilities(struct control_client *client, struct json_object *args,
				     struct control_answer *answer)
{
	static const char *const known[] = { "enable", NULL };
	struct json_object *enable;

	if (!control_check_args(args, known, answer))
		return;
	if (args && json_object_object_get_ex(args, "enable", &enable)) {
		if (!json_object_is_type(enable, json_type_array)) {
			control_fail(answer, "GenericError",
				     "Invalid parameter type for 'enable', expected: array");
			return;
		}
		for (size_t i = 0; i < json_object_array_length(enable); i++) {
			struct json_object *cap = json_object_array_get_idx(enable, i);

			if (!json_object_is_type(cap, json_type_string)) {
				control_fail(answer, "GenericError",
					     "Invalid parameter type for 'enable', expected: array of strings");
				return;
			}
			/* QEMU's answer for a capability it does not offer; we offer none. */
			control_fail(answer, "GenericError", "Capability '%s' not available",
				     json_object_get_string(cap));
			return;
		}
	}
	client->is_negotiated = true;
	answer->is_negotiation = true;
	answer->ret = json_object_new_object();
}

static void control_cmd_query_status(struct control_client *client, struct json_object *args,
				     struct control_answer *answer)
{
	const char *status;

	if (!control_check_args(args, control_no_args, answer))
		return;
	status = control_run_state(client->control, vm_state(client->control->vm));
	answer->ret = json_object_new_object();
	json_object_object_add(answer->ret, "running",
			       json_object_new_boolean(!strcmp(status, "running")));
	json_object_object_add(answer->ret, "singlestep", json_object_new_boolean(false));
	json_object_object_add(answer->ret, "status", json_object_new_string(status));
}

/* The VM API call's outcome as an answer. */
static void control_vm_result(struct control_answer *answer, int status, const struct err *err)
{
	if (status)
		control_fail(answer, "GenericError", "%s",
			     err->msg[0] ? err->msg : pdm_status_message(status));
	else
		answer->ret = json_object_new_object();
}

/*
 * stop and cont: as in QEMU, asking for the state the VM is already in succeeds and
 * does nothing; so does losing the race to another client asking for the same.
 */
static void control_toward(struct control_client *client, struct json_object *args,
			   struct control_answer *answer, enum pdm_vm_state goal,
			   int (*op)(struct vm *vm, struct err *err))
{
	struct err err = { 0 };
	struct vm *vm = client->control->vm;
	int status = 0;

	if (!control_check_args(args, control_no_args, answer))
		return;
	if (vm_state(vm) != goal) {
		control_await(client, goal == PDM_VM_RUNNING ? CONTROL_EVENT_RESUME
							     : CONTROL_EVENT_STOP);
		status = op(vm, &err);
	}
	if (status && vm_state(vm) == goal)
		status = 0;
	control_vm_result(answer, status, &err);
}

static void control_cmd_stop(struct control_client *client, struct json_object *args,
			     struct control_answer *answer)
{
	control_toward(client, args, answer, PDM_VM_SUSPENDED, vm_suspend);
}

static void control_cmd_cont(struct control_client *client, struct json_object *args,
			     struct control_answer *answer)
{
	control_toward(client, args, answer, PDM_VM_RUNNING, vm_resume);
}

static void control_cmd_system_reset(struct control_client *client, struct json_object *args,
				     struct control_answer *answer)
{
	struct control *control = client->control;
	struct err err = { 0 };
	int status, pending;

	if (!control_check_args(args, control_no_args, answer))
		return;
	atomic_fetch_add(&control->host_resets, 1);
	control_await(client, CONTROL_EVENT_RESET);
	status = vm_reset(control->vm, &err);
	if (status) {
		/* No reset happened, so no observer took our mark: take it back. */
		pending = atomic_load(&control->host_resets);
		while (pending > 0 &&
		       !atomic_compare_exchange_weak(&control->host_resets, &pending, pending - 1))
			;
	}
	control_vm_result(answer, status, &err);
}

/*
 * quit and system_powerdown: the normal power-off path, as a signal takes it, so
 * `modvm run` exits 0. There is no guest-visible power button yet, so
 * system_powerdown powers off too instead of asking the guest.
 */
static void control_cmd_quit(struct control_client *client, struct json_object *args,
			     struct control_answer *answer)
{
	struct control *control = client->control;

	if (!control_check_args(args, control_no_args, answer))
		return;
	atomic_store(&control->is_host_quit, true);
	if (vm_request_poweroff(control->vm, -1)) {
		atomic_store(&control->is_host_quit, false);
		control_fail(answer, "GenericError", "the VM is %s: it cannot be powered off",
			     vm_state_name(vm_state(control->vm)));
		return;
	}
	answer->ret = json_object_new_object();
}

static void control_cmd_query_vm(struct control_client *client, struct json_object *args,
				 struct control_answer *answer)
{
	struct vm *vm = client->control->vm;
	enum pdm_vm_state state = vm_state(vm);

	if (!control_check_args(args, control_no_args, answer))
		return;
	answer->ret = json_object_new_object();
	json_object_object_add(answer->ret, "name", json_object_new_string(vm_name(vm)));
	json_object_object_add(answer->ret, "state", json_object_new_string(vm_state_name(state)));
	json_object_object_add(answer->ret, "cpus", json_object_new_int64(vm_cpu_count(vm)));
	json_object_object_add(answer->ret, "uptime-ns", json_object_new_uint64(vm_uptime_ns(vm)));
	/* Written before the state changes to GURU_MEDITATION, never after. */
	if (state == PDM_VM_GURU_MEDITATION)
		json_object_object_add(answer->ret, "failure", json_object_new_string(vm_failure(vm)));
}

struct control_devices {
	struct json_object *list;
	const char *name;               /* only this instance, or NULL */
};

static void control_add_instance(const struct vm_instance_info *info, void *user)
{
	struct control_devices *devices = user;
	struct json_object *obj, *notes;

	if (devices->name && strcmp(devices->name, info->name))
		return;
	obj = json_object_new_object();
	notes = json_object_new_object();
	json_object_object_add(obj, "name", json_object_new_string(info->name));
	json_object_object_add(obj, "kind", json_object_new_string(info->is_driver ? "driver" : "device"));
	for (int n = 0; n < VM_NOTIFY_COUNT; n++) {
		struct json_object *note = json_object_new_object();

		json_object_object_add(note, "last-ns", json_object_new_uint64(info->last_ns[n]));
		json_object_object_add(note, "async", json_object_new_boolean(info->was_async[n]));
		json_object_object_add(notes, control_notify_names[n], note);
	}
	json_object_object_add(obj, "notifications", notes);
	json_object_array_add(devices->list, obj);
}

static void control_cmd_query_devices(struct control_client *client, struct json_object *args,
				      struct control_answer *answer)
{
	static const char *const known[] = { "name", NULL };
	struct control_devices devices = { 0 };
	struct json_object *name;

	if (!control_check_args(args, known, answer))
		return;
	if (args && json_object_object_get_ex(args, "name", &name)) {
		if (!json_object_is_type(name, json_type_string)) {
			control_fail(answer, "GenericError",
				     "Invalid parameter type for 'name', expected: string");
			return;
		}
		devices.name = json_object_get_string(name);
	}
	devices.list = json_object_new_array();
	vm_for_each_instance(client->control->vm, control_add_instance, &devices);
	if (devices.name && !json_object_array_length(devices.list)) {
		json_object_put(devices.list);
		control_fail(answer, "GenericError", "no device or driver is named '%s'", devices.name);
		return;
	}
	answer->ret = devices.list;
}

static const struct control_command {
	const char *name;
	void (*fn)(struct control_client *client, struct json_object *args,
		   struct control_answer *answer);
} control_commands[] = {
	{ "qmp_capabilities", control_cmd_capabilities },
	{ "query-status", control_cmd_query_status },
	{ "stop", control_cmd_stop },
	{ "cont", control_cmd_cont },
	{ "system_reset", control_cmd_system_reset },
	{ "system_powerdown", control_cmd_quit },
	{ "quit", control_cmd_quit },
	{ "x-modvm-query-vm", control_cmd_query_vm },
	{ "x-modvm-query-devices", control_cmd_query_devices },
};

/*
 * Checks the request's shape and runs its command. The error texts are QEMU's own,
 * capitals included (not our message style), so that tools that match on them work.
 */
static void control_dispatch(struct control_client *client, struct json_object *obj,
			     struct control_answer *answer)
{
	const struct control_command *cmd = NULL;
	struct json_object *execute = NULL, *args = NULL;
	bool has_execute = false, has_args = false;
	const char *name;

	if (!json_object_is_type(obj, json_type_object)) {
		control_fail(answer, "GenericError", "QMP input must be a JSON object");
		return;
	}
	/* A member may be JSON null, which json-c gives as NULL: hence the has_ flags. */
	json_object_object_foreach(obj, key, value) {
		if (!strcmp(key, "execute")) {
			execute = value;
			has_execute = true;
		} else if (!strcmp(key, "arguments")) {
			args = value;
			has_args = true;
		} else if (strcmp(key, "id")) {
			control_fail(answer, "GenericError", "QMP input member '%s' is unexpected", key);
			return;
		}
	}
	if (!has_execute) {
		control_fail(answer, "GenericError", "QMP input lacks member 'execute'");
		return;
	}
	if (!json_object_is_type(execute, json_type_string)) {
		control_fail(answer, "GenericError", "QMP input member 'execute' must be a string");
		return;
	}
	if (has_args && !json_object_is_type(args, json_type_object)) {
		control_fail(answer, "GenericError", "QMP input member 'arguments' must be an object");
		return;
	}
	name = json_object_get_string(execute);
	if (!client->is_negotiated && strcmp(name, "qmp_capabilities")) {
		control_fail(answer, "CommandNotFound",
			     "Expecting capabilities negotiation with 'qmp_capabilities'");
		return;
	}
	if (client->is_negotiated && !strcmp(name, "qmp_capabilities")) {
		control_fail(answer, "CommandNotFound",
			     "Capabilities negotiation is already complete, command ignored");
		return;
	}
	for (size_t i = 0; i < sizeof(control_commands) / sizeof(control_commands[0]); i++)
		if (!strcmp(name, control_commands[i].name))
			cmd = &control_commands[i];
	if (!cmd) {
		control_fail(answer, "CommandNotFound", "The command %s has not been found", name);
		return;
	}
	log_debug("control", "client %u: %s", client->serial, name);
	cmd->fn(client, args, answer);
}

/* Runs one request and builds its reply item. */
static struct control_item *control_execute(struct control_client *client,
					    struct control_request *req)
{
	struct control_answer answer = { 0 };
	struct control_item *item = calloc(1, sizeof(*item));
	struct json_object *reply, *id = NULL;

	if (!item)
		return NULL;
	if (req->error)
		control_fail(&answer, "GenericError", "%s", req->error);
	else
		control_dispatch(client, req->obj, &answer);
	reply = json_object_new_object();
	if (answer.ret) {
		json_object_object_add(reply, "return", answer.ret);
	} else {
		struct json_object *error = json_object_new_object();

		json_object_object_add(error, "class", json_object_new_string(answer.error_class));
		json_object_object_add(error, "desc", json_object_new_string(answer.desc));
		json_object_object_add(reply, "error", error);
	}
	/* QMP echoes the id of any request that was an object, whatever became of it. */
	if (req->obj && json_object_is_type(req->obj, json_type_object) &&
	    json_object_object_get_ex(req->obj, "id", &id))
		json_object_object_add(reply, "id", json_object_get(id));
	item->client = client;
	item->text = control_serialize(reply);
	item->is_negotiation = answer.is_negotiation;
	json_object_put(reply);
	return item;
}

static void control_reply(struct control *control, struct control_item *item);

static void *control_worker(void *arg)
{
	struct control_client *client = arg;
	struct control *control = client->control;

	pthread_mutex_lock(&control->lock);
	for (;;) {
		struct control_request *req;
		struct control_item *item;

		while (!client->reqs && !client->is_gone && !control->is_stopping)
			pthread_cond_wait(&client->cond, &control->lock);
		req = client->reqs;
		if (!req)
			break;
		client->reqs = req->next;
		if (!client->reqs)
			client->reqs_tail = &client->reqs;
		pthread_mutex_unlock(&control->lock);
		item = control_execute(client, req);
		control_request_free(req);
		if (item)
			control_reply(control, item);
		pthread_mutex_lock(&control->lock);
	}
	client->is_worker_done = true;
	control_wake(control);
	pthread_mutex_unlock(&control->lock);
	return NULL;
}

/* ---- connections: io_lock held; on the server thread unless said otherwise ---- */

/* The control whose server thread this is, if it is one. */
static __thread const struct control *control_server;

static void control_hangup(struct control *control, struct control_client *client,
			   const char *why)
{
	if (client->fd < 0)
		return;
	if (control_server != control) {
		/* A worker's send: see the comment at the top. */
		if (!client->broken)
			client->broken = why;
		return;
	}
	log_debug("control", "client %u: closed (%s)", client->serial, why);
	close(client->fd);
	client->fd = -1;
	json_tokener_free(client->tok);
	client->tok = NULL;
	free(client->out);
	client->out = NULL;
	client->out_off = client->out_len = client->out_cap = 0;
	control->client_count--;
	pthread_mutex_lock(&control->lock);
	client->is_gone = true;
	pthread_cond_signal(&client->cond);
	pthread_mutex_unlock(&control->lock);
}

/* Writes what it can without blocking; hangs up on a broken connection. */
static void control_flush(struct control *control, struct control_client *client)
{
	while (client->fd >= 0 && !client->broken && client->out_off < client->out_len) {
		ssize_t n = send(client->fd, client->out + client->out_off,
				 client->out_len - client->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			control_hangup(control, client, n < 0 ? strerror(errno) : "send failed");
			return;
		}
		client->out_off += (size_t)n;
	}
	if (client->fd >= 0 && !client->broken)
		client->out_off = client->out_len = 0;
}

/* Appends to the client's output; control_flush sends it. */
static void control_send(struct control *control, struct control_client *client,
			 const char *text)
{
	size_t len = strlen(text), need;

	if (client->fd < 0 || client->broken)
		return;
	if (client->out_off) {
		memmove(client->out, client->out + client->out_off, client->out_len - client->out_off);
		client->out_len -= client->out_off;
		client->out_off = 0;
	}
	need = client->out_len + len;
	if (need > CONTROL_MAX_OUTPUT) {
		log_warn("control", "client %u does not read what it is sent (over %d KiB waiting): "
			 "disconnecting it", client->serial, CONTROL_MAX_OUTPUT / 1024);
		control_hangup(control, client, "output buffer full");
		return;
	}
	if (need > client->out_cap) {
		size_t cap = client->out_cap ? client->out_cap : 4096;
		char *out;

		while (cap < need)
			cap *= 2;
		out = realloc(client->out, cap);
		if (!out) {
			control_hangup(control, client, "out of memory");
			return;
		}
		client->out = out;
		client->out_cap = cap;
	}
	memcpy(client->out + client->out_len, text, len);
	client->out_len += len;
}

/* Hands a request (or an error to report in its place) to the client's worker. */
static void control_queue(struct control *control, struct control_client *client,
			  struct json_object *obj, const char *error)
{
	struct control_request *req = calloc(1, sizeof(*req));

	if (!req || (error && !(req->error = strdup(error)))) {
		free(req);
		json_object_put(obj);
		control_hangup(control, client, "out of memory");
		return;
	}
	req->obj = obj;
	client->unanswered++;
	pthread_mutex_lock(&control->lock);
	*client->reqs_tail = req;
	client->reqs_tail = &req->next;
	pthread_mutex_unlock(&control->lock);
	/* After the unlock: a worker woken under it would only block on it again. */
	pthread_cond_signal(&client->cond);
}

/*
 * Feeds what was read to the tokener: any number of requests, or part of one, per
 * read. After a syntax error, the input up to the next '{' is dropped so that one
 * piece of garbage gets one error, and the next request is read as usual.
 */
static void control_parse(struct control *control, struct control_client *client,
			  const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len && client->fd >= 0 && !client->is_input_done) {
		enum json_tokener_error jerr;
		struct json_object *obj;
		size_t chunk, used;

		if (client->is_skipping) {
			const char *brace = memchr(buf + off, '{', len - off);

			if (!brace)
				return;
			off = (size_t)(brace - buf);
			client->is_skipping = false;
		}
		if (!client->pending_size)
			while (off < len && strchr(" \t\r\n", buf[off]) && buf[off])
				off++;
		if (off == len)
			return;
		chunk = len - off;
		obj = json_tokener_parse_ex(client->tok, buf + off, (int)chunk);
		jerr = json_tokener_get_error(client->tok);
		used = jerr == json_tokener_continue ? chunk : json_tokener_get_parse_end(client->tok);
		if (client->pending_size + used > CONTROL_MAX_REQUEST) {
			char why[80];

			json_object_put(obj);
			snprintf(why, sizeof(why), "request larger than %d bytes: closing the connection",
				 CONTROL_MAX_REQUEST);
			control_queue(control, client, NULL, why);
			client->is_input_done = true;       /* closed once that is answered */
			return;
		}
		if (jerr == json_tokener_continue) {
			client->pending_size += chunk;
			return;
		}
		json_tokener_reset(client->tok);
		client->pending_size = 0;
		if (jerr != json_tokener_success) {
			char why[160];

			snprintf(why, sizeof(why), "JSON parse error, %s", json_tokener_error_desc(jerr));
			control_queue(control, client, NULL, why);
			client->is_skipping = true;
			off += used ? used : 1;
			continue;
		}
		control_queue(control, client, obj, NULL);
		off += used;
	}
}

/* Reads once; returns whether anything was read (false on EOF, error or nothing). */
static bool control_read(struct control *control, struct control_client *client)
{
	char buf[CONTROL_READ_SIZE];
	ssize_t n = recv(client->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	if (n < 0) {
		control_hangup(control, client, strerror(errno));
		return false;
	}
	if (n == 0) {
		/* The requests already read are still answered; a partial one is dropped. */
		client->is_input_done = true;
		return false;
	}
	control_parse(control, client, buf, (size_t)n);
	return true;
}

static void control_greet(struct control *control, struct control_client *client)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *qmp = json_object_new_object();
	struct json_object *version = json_object_new_object();
	struct json_object *qemu = json_object_new_object();
	int major = 0, minor = 0, micro = 0;
	char *text;

	/* QEMU tools read version.qemu; it carries modvm's own version. */
	sscanf(PACKAGE_VERSION, "%d.%d.%d", &major, &minor, &micro);
	json_object_object_add(qemu, "micro", json_object_new_int(micro));
	json_object_object_add(qemu, "minor", json_object_new_int(minor));
	json_object_object_add(qemu, "major", json_object_new_int(major));
	json_object_object_add(version, "qemu", qemu);
	json_object_object_add(version, "package", json_object_new_string("modvm " PACKAGE_VERSION));
	json_object_object_add(qmp, "version", version);
	json_object_object_add(qmp, "capabilities", json_object_new_array());
	json_object_object_add(obj, "QMP", qmp);
	text = control_serialize(obj);
	if (text) {
		control_send(control, client, text);
		control_flush(control, client);
	} else {
		control_hangup(control, client, "out of memory");
	}
	free(text);
	json_object_put(obj);
}

static void control_accept(struct control *control)
{
	struct control_client *client;
	int fd = accept4(control->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("control", "'%s': accept: %s", control->path, strerror(errno));
		return;
	}
	if (control->client_count >= CONTROL_MAX_CLIENTS) {
		log_warn("control", "'%s': %d clients already: refusing one more", control->path,
			 CONTROL_MAX_CLIENTS);
		close(fd);
		return;
	}
	client = calloc(1, sizeof(*client));
	if (!client || !(client->tok = json_tokener_new())) {
		free(client);
		close(fd);
		log_warn("control", "'%s': out of memory: refusing a client", control->path);
		return;
	}
	client->control = control;
	client->fd = fd;
	client->serial = ++control->next_serial;
	client->reqs_tail = &client->reqs;
	pthread_cond_init(&client->cond, NULL);
	if (pthread_create(&client->worker, NULL, control_worker, client)) {
		log_warn("control", "'%s': cannot start a thread: refusing a client", control->path);
		pthread_cond_destroy(&client->cond);
		json_tokener_free(client->tok);
		free(client);
		close(fd);
		return;
	}
	control->client_count++;
	client->next = control->clients;
	control->clients = client;
	log_debug("control", "client %u: connected", client->serial);
	control_greet(control, client);
}

/* Sends out what the workers and observers queued; returns the clients whose workers ended. */
static void control_deliver(struct control *control)
{
	struct control_item *items;
	unsigned dropped;

	pthread_mutex_lock(&control->lock);
	items = control->items;
	control->items = NULL;
	control->items_tail = &control->items;
	control->event_count = 0;
	dropped = control->dropped_events;
	control->dropped_events = 0;
	/* Under the same lock hold as taking the items: see control_reap. */
	for (struct control_client *c = control->clients; c; c = c->next)
		c->is_reapable = c->is_worker_done;
	pthread_mutex_unlock(&control->lock);
	if (dropped)
		log_warn("control", "'%s': %u events dropped: the clients are not served fast enough",
			 control->path, dropped);

	while (items) {
		struct control_item *item = items;

		items = item->next;
		if (item->event) {
			char *text = control_event_text(item->event);

			for (struct control_client *c = control->clients; text && c; c = c->next)
				if (c->is_cmd_mode && c->fd >= 0)
					control_send(control, c, text);
			free(text);
		} else {
			struct control_client *client = item->client;

			client->unanswered--;
			if (item->is_negotiation)
				client->is_cmd_mode = true;
			if (item->text)
				control_send(control, client, item->text);
		}
		control_item_free(item);
	}
	/* One send per client for all of it: an event and the reply it precedes wake a
	 * client once. */
	for (struct control_client *c = control->clients; c; c = c->next)
		if (c->fd >= 0 && c->out_off < c->out_len)
			control_flush(control, c);
}

/*
 * On a worker: queues its reply, then sends out the whole queue (events queued
 * before the reply go first, as they must). The server thread is woken only if it
 * has something to do now: output left for POLLOUT, a broken or finished
 * connection to close, a client whose reading was held back by CONTROL_MAX_QUEUED,
 * or a stop in progress.
 */
static void control_reply(struct control *control, struct control_item *item)
{
	bool needs_server = false;

	pthread_mutex_lock(&control->lock);
	control_append_locked(control, item);
	control_unawait_locked(item->client);
	needs_server = control->is_stopping;
	pthread_mutex_unlock(&control->lock);

	pthread_mutex_lock(&control->io_lock);
	if (control->is_io_closed) {
		needs_server = true;
	} else {
		control_deliver(control);
		for (struct control_client *c = control->clients; c; c = c->next) {
			if (c->fd < 0)
				continue;
			needs_server |= c->broken || c->out_off < c->out_len ||
					(c->is_input_done && !c->unanswered) ||
					c->unanswered + 1 >= CONTROL_MAX_QUEUED;
		}
	}
	pthread_mutex_unlock(&control->io_lock);
	if (needs_server)
		control_wake(control);
}

/*
 * Closes the connections that are done (input ended, every request answered, all
 * sent), and frees the clients that have no connection and whose worker has ended.
 * is_reapable was read under the lock hold that took the outgoing queue, and a
 * worker queues its last reply before it ends: so no reply to a freed client can
 * still be queued.
 */
static void control_reap(struct control *control)
{
	struct control_client **link = &control->clients;

	while (*link) {
		struct control_client *client = *link;

		if (client->fd >= 0 && client->is_input_done && !client->unanswered &&
		    client->out_off == client->out_len)
			control_hangup(control, client, "done");
		if (client->fd >= 0 || !client->is_reapable) {
			link = &client->next;
			continue;
		}
		*link = client->next;
		pthread_join(client->worker, NULL);
		pthread_cond_destroy(&client->cond);
		free(client);
	}
}

static int control_ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000);
}

/* Removes the socket file if it is still the one we created. */
static void control_unlink(struct control *control)
{
	struct stat st;

	if (!lstat(control->path, &st) && st.st_dev == control->dev && st.st_ino == control->ino)
		unlink(control->path);
}

static void *control_thread(void *arg)
{
	struct control *control = arg;
	struct pollfd *fds = NULL;
	size_t fds_cap = 0;
	bool is_stopping = false, is_flushing = false;
	struct timespec flush_start = { 0 };

	control_server = control;
	pthread_mutex_lock(&control->io_lock);
	for (;;) {
		size_t count = 0, need = control->client_count + 2;
		int timeout = -1, rc;
		uint64_t ticks;

		for (struct control_client *c = control->clients; c; c = c->next)
			if (c->broken)
				control_hangup(control, c, c->broken);

		if (need > fds_cap) {
			struct pollfd *bigger = realloc(fds, need * sizeof(*fds));

			if (!bigger) {
				log_error("control", "'%s': out of memory: the control socket stops",
					  control->path);
				break;
			}
			fds = bigger;
			fds_cap = need;
		}
		fds[count++] = (struct pollfd){ .fd = control->wake_fd, .events = POLLIN };
		if (!is_stopping)
			fds[count++] = (struct pollfd){ .fd = control->listen_fd, .events = POLLIN };
		for (struct control_client *c = control->clients; c; c = c->next) {
			short events = 0;

			if (c->fd < 0)
				continue;
			if (!c->is_input_done && c->unanswered < CONTROL_MAX_QUEUED)
				events |= POLLIN;
			if (c->out_off < c->out_len)
				events |= POLLOUT;
			fds[count++] = (struct pollfd){ .fd = c->fd, .events = events };
		}
		if (is_stopping)
			timeout = 50;
		pthread_mutex_unlock(&control->io_lock);
		rc = poll(fds, count, timeout);
		pthread_mutex_lock(&control->io_lock);
		if (rc < 0 && errno != EINTR) {
			log_error("control", "'%s': poll: %s", control->path, strerror(errno));
			break;
		}
		if (fds[0].revents & POLLIN && read(control->wake_fd, &ticks, sizeof(ticks)) < 0 &&
		    errno != EAGAIN)
			log_debug("control", "eventfd read: %s", strerror(errno));
		if (!is_stopping && fds[1].revents & POLLIN)
			control_accept(control);
		/* Match by fd: accept may have added a client to the front of the list. */
		for (size_t i = is_stopping ? 1 : 2; i < count; i++) {
			for (struct control_client *c = control->clients; c; c = c->next) {
				if (c->fd != fds[i].fd)
					continue;
				if (fds[i].revents & POLLOUT)
					control_flush(control, c);
				if (c->fd >= 0 && fds[i].revents & POLLIN)
					control_read(control, c);
				/*
				 * The peer is gone for good (poll says so whatever we asked
				 * for): take what it sent within the read-ahead limit, so
				 * that a `stop` sent just before closing still runs, then
				 * close our end.
				 */
				if (c->fd >= 0 && fds[i].revents & (POLLHUP | POLLERR)) {
					while (c->fd >= 0 && !c->is_input_done &&
					       c->unanswered < CONTROL_MAX_QUEUED && control_read(control, c))
						;
					control_hangup(control, c, "the peer hung up");
				}
				break;
			}
		}
		control_deliver(control);
		control_reap(control);

		if (!is_stopping) {
			pthread_mutex_lock(&control->lock);
			is_stopping = control->is_stopping;
			if (is_stopping)
				for (struct control_client *c = control->clients; c; c = c->next)
					pthread_cond_signal(&c->cond);
			pthread_mutex_unlock(&control->lock);
			if (is_stopping) {
				/* No new clients or requests; what was read is still answered. */
				close(control->listen_fd);
				control->listen_fd = -1;
				control_unlink(control);
				for (struct control_client *c = control->clients; c; c = c->next)
					c->is_input_done = true;
			}
		}
		if (is_stopping) {
			bool is_busy = false, has_output = false;

			for (struct control_client *c = control->clients; c; c = c->next) {
				is_busy |= !c->is_reapable || c->unanswered;
				has_output |= c->fd >= 0 && c->out_off < c->out_len;
			}
			if (!is_busy && !is_flushing) {
				is_flushing = true;
				clock_gettime(CLOCK_MONOTONIC, &flush_start);
			}
			if (!is_busy && (!has_output || control_ms_since(&flush_start) >= CONTROL_FLUSH_MS))
				break;
		}
	}
	/* Only reached when stopping (or on a fatal error): end every client. */
	pthread_mutex_lock(&control->lock);
	control->is_stopping = true;
	pthread_mutex_unlock(&control->lock);
	for (struct control_client *c = control->clients; c; c = c->next)
		control_hangup(control, c, "the control socket stops");
	/* Workers send no more; one waiting for io_lock now finds nothing to do. */
	control->is_io_closed = true;
	pthread_mutex_unlock(&control->io_lock);
	while (control->clients) {
		struct control_client *client = control->clients;

		control->clients = client->next;
		pthread_join(client->worker, NULL);
		pthread_cond_destroy(&client->cond);
		free(client);
	}
	free(fds);
	return NULL;
}

/*
 * Makes room for the socket at path: nothing there is fine; a socket nobody listens
 * on (left by a modvm that crashed) is removed; anything else is left alone.
 */
static int control_prepare_path(const char *path, const struct sockaddr_un *addr,
				struct err *err)
{
	struct stat st;
	int fd, status;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, PDM_ERR_IO, "control socket '%s': %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return err_set(err, PDM_ERR_INVALID_ARG,
			       "control socket '%s': the file exists and is not a socket; "
			       "not replacing it", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, PDM_ERR_IO, "control socket '%s': %s", path, strerror(errno));
	status = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	if (!status) {
		close(fd);
		return err_set(err, PDM_ERR_BUSY,
			       "control socket '%s' is in use: another process listens on it", path);
	}
	status = errno;
	close(fd);
	if (status != ECONNREFUSED)
		return err_set(err, PDM_ERR_IO, "control socket '%s': %s", path, strerror(status));
	log_info("control", "'%s': replacing a socket nobody listens on", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, PDM_ERR_IO, "control socket '%s': cannot remove it: %s", path,
			       strerror(errno));
	return 0;
}

static int control_listen(struct control *control, struct err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = control->path;
	struct stat st;
	mode_t old_mask;
	int status;

	if (strlen(path) >= sizeof(addr.sun_path))
		return err_set(err, PDM_ERR_INVALID_ARG,
			       "control socket '%s': the path is longer than %zu bytes", path,
			       sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	status = control_prepare_path(path, &addr, err);
	if (status)
		return status;
	control->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (control->listen_fd < 0)
		return err_set(err, PDM_ERR_IO, "control socket '%s': %s", path, strerror(errno));
	/*
	 * Created 0600 from the start: a chmod after bind would leave a window in which
	 * anyone could connect. The umask is the process's, but no other thread creates
	 * files now (the guest has not started, plugin workers do not run yet).
	 */
	old_mask = umask(0177);
	status = bind(control->listen_fd, (const struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (status < 0)
		return err_set(err, PDM_ERR_IO, "control socket '%s': %s", path, strerror(errno));
	if (lstat(path, &st) < 0 || listen(control->listen_fd, 16) < 0) {
		status = err_set(err, PDM_ERR_IO, "control socket '%s': %s", path, strerror(errno));
		unlink(path);
		return status;
	}
	control->dev = st.st_dev;
	control->ino = st.st_ino;
	return 0;
}

int control_open(struct control **out, const char *path, struct err *err)
{
	struct control *control = calloc(1, sizeof(*control));
	int status;

	*out = NULL;
	if (!control || !(control->path = strdup(path))) {
		free(control);
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	}
	control->listen_fd = -1;
	control->items_tail = &control->items;
	atomic_init(&control->host_resets, 0);
	atomic_init(&control->is_host_quit, false);
	atomic_init(&control->reset_from, PDM_VM_RUNNING);
	pthread_mutex_init(&control->lock, NULL);
	pthread_mutex_init(&control->io_lock, NULL);
	control->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (control->wake_fd < 0) {
		status = err_set(err, PDM_ERR_IO, "control socket: eventfd: %s", strerror(errno));
		control_close(control);
		return status;
	}
	status = control_listen(control, err);
	if (status) {
		control_close(control);
		return status;
	}
	*out = control;
	return 0;
}

int control_start(struct control *control, struct vm *vm, struct err *err)
{
	int status;

	if (control->vm)
		return err_set(err, PDM_ERR_STATE, "control socket '%s': already serving", control->path);
	control->vm = vm;
	if ((status = vm_at_state_register(vm, control_on_state, control)) ||
	    !(control->has_state_observer = true) ||
	    (status = vm_at_error_register(vm, control_on_error, control)) ||
	    !(control->has_error_observer = true) ||
	    (status = vm_at_reset_register(vm, control_on_reset, control)))
		return err_set(err, status, "control socket '%s': cannot observe the VM: %s",
			       control->path, pdm_status_message(status));
	control->has_reset_observer = true;
	if (pthread_create(&control->thread, NULL, control_thread, control))
		return err_set(err, PDM_ERR_NO_MEMORY, "control socket '%s': cannot start its thread",
			       control->path);
	control->has_thread = true;
	log_info("control", "serving '%s'", control->path);
	return 0;
}

void control_close(struct control *control)
{
	if (!control)
		return;
	/*
	 * The server thread ends once the commands in flight are answered; the observers
	 * stay until then, so that the events those commands cause (a STOP before the
	 * reply to `stop`) go out too. Whatever they post later is freed below.
	 */
	if (control->has_thread) {
		pthread_mutex_lock(&control->lock);
		control->is_stopping = true;
		control_wake(control);
		pthread_mutex_unlock(&control->lock);
		pthread_join(control->thread, NULL);
	}
	if (control->has_state_observer)
		vm_at_state_deregister(control->vm, control_on_state, control);
	if (control->has_error_observer)
		vm_at_error_deregister(control->vm, control_on_error, control);
	if (control->has_reset_observer)
		vm_at_reset_deregister(control->vm, control_on_reset, control);
	if (control->listen_fd >= 0) {
		close(control->listen_fd);
		control_unlink(control);
	}
	while (control->items) {
		struct control_item *item = control->items;

		control->items = item->next;
		control_item_free(item);
	}
	if (control->wake_fd >= 0)
		close(control->wake_fd);
	pthread_mutex_destroy(&control->lock);
	pthread_mutex_destroy(&control->io_lock);
	free(control->path);
	free(control);
}
