/*
 * plugins/stream/fdstream.h - a struct pdm_istream over file descriptors, shared by the
 * stdio and file stream drivers, and the fd helpers the socket driver shares with it.
 *
 * Input comes from in_fd (or nowhere: in_fd < 0, then read returns PDM_ERR_EOF), output
 * goes to out_fd. poll(2) waits on the input fd plus an eventfd that interrupt()
 * signals, so the char driver's worker never busy-polls and can always be woken.
 *
 * The input fd is read without O_NONBLOCK (stdin's file description is shared with
 * other processes, so we do not change its flags): read first polls it with a zero
 * timeout and reads only when data (or end of file) is waiting.
 *
 * Embed a struct fdstream in the driver's instance data; the zeroed state is "not
 * open", and fdstream_release is safe on it (a failed constructor's destructor).
 */
#ifndef PLUGINS_STREAM_FDSTREAM_H
#define PLUGINS_STREAM_FDSTREAM_H

#include <poll.h>
#include <stdbool.h>

#include <modvm/char.h>
#include <modvm/driver.h>

struct fdstream {
	struct pdm_istream istream;   /* handed to the char driver */
	struct pdm_drv_ins *drv;      /* for log lines */
	const char *out_name;         /* "standard output", a path: for log lines */
	int in_fd;                    /* < 0: no input */
	int out_fd;
	int wake_fd;                  /* eventfd signalled by interrupt() */
	bool owns_out_fd;             /* close out_fd on release */
	bool is_open;
	bool has_logged_write_error;  /* the first failed write is logged with its cause */
};

/*
 * Sets up the stream. Takes ownership of out_fd (closes it on release) when
 * owns_out_fd, but only on success. out_name must outlive the stream. Returns PDM_OK,
 * or PDM_ERR_IO with errno set.
 */
int fdstream_init(struct fdstream *fs, struct pdm_drv_ins *drv, const char *out_name,
		  int in_fd, int out_fd, bool owns_out_fd);
/* Closes what the stream owns; a no-op on a zeroed or released stream. */
void fdstream_release(struct fdstream *fs);

/* poll(2), restarted after a signal with what is left of timeout_ms (-1: forever). */
int fdstream_poll_fds(struct pollfd *pfds, nfds_t count, int timeout_ms);
/* Adds one to a non-blocking eventfd (a saturated counter is signalled already). */
int fdstream_signal(int event_fd);
/* Resets a non-blocking eventfd to zero; PDM_ERR_IO if it cannot be read. */
int fdstream_drain(int event_fd);

#endif
