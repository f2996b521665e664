/*
 * cli/control.h - the control channel: a QMP-compatible UNIX socket server that
 * `modvm run --control PATH` serves, and the `modvm ctl` client that talks to it.
 *
 * The server turns every command into a VM API call (vm_suspend, vm_resume, vm_reset,
 * vm_request_poweroff, vm_state, ...); it never touches device state. It registers
 * state, error and reset observers on the VM and turns what they report into QMP
 * events. Invariants for the caller:
 *   - control_open before vm_create: the path is claimed (or found taken) before
 *     anything of a VM exists; clients that connect now wait for their greeting;
 *   - control_start after vm_create and before vm_power_on: observers are registered
 *     then, so a client sees the VM from its first instruction;
 *   - control_close before vm_destroy: it waits for the commands in flight, sends
 *     what is left to send (for up to a second), closes every connection and removes
 *     the socket file. After it returns, nothing of the channel touches the VM.
 */
#ifndef CLI_CONTROL_H
#define CLI_CONTROL_H

#include <stdbool.h>

#include "util/err.h"
#include "vmm/vm.h"

struct control;

/* The largest request the server accepts; a larger one ends the connection. */
#define CONTROL_MAX_REQUEST (64 * 1024)
/* What the server buffers for a client that does not read; beyond it, it disconnects. */
#define CONTROL_MAX_OUTPUT (1024 * 1024)

/*
 * Creates the socket at path (mode 0600) and listens on it. A socket file that
 * nobody listens on is replaced; a live one, or a file that is not a socket, is an
 * error (PDM_ERR_BUSY, PDM_ERR_INVALID_ARG) and left alone.
 */
int control_open(struct control **out, const char *path, struct err *err);
/* Serves vm on the socket: observers, then the server thread. Once per control. */
int control_start(struct control *control, struct vm *vm, struct err *err);
/* Stops serving and frees everything; NULL is a no-op, and so is a failed start. */
void control_close(struct control *control);

/*
 * `modvm ctl PATH CMD [ARG]`: CMD is status, pause, resume, reset, poweroff, or qmp
 * with ARG the raw JSON command. has_devices adds the device table to status.
 * Returns the exit status: 0 done, 1 the VM refused (the QMP error is printed),
 * 2 the socket cannot be reached or does not speak QMP, or a usage error.
 */
int ctl_main(const char *path, const char *cmd, const char *arg, bool has_devices);

#endif
