/* plugins/stream/fdstream.c - struct pdm_istream over file descriptors (stdio, file). */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <modvm/char.h>
#include <modvm/driver.h>
#include <modvm/interface.h>
#include <modvm/pdm.h>

#include "fdstream.h"

static struct fdstream *fdstream_of(struct pdm_istream *stream)
{
	return PDM_CONTAINER_OF(stream, struct fdstream, istream);
}

static int64_t fdstream_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fdstream_poll_fds(struct pollfd *pfds, nfds_t count, int timeout_ms)
{
	int64_t deadline = timeout_ms >= 0 ? fdstream_now_ms() + timeout_ms : 0;
	int left = timeout_ms;
	int rc;

	for (;;) {
		rc = poll(pfds, count, left);
		if (rc >= 0 || errno != EINTR)
			return rc;
		if (timeout_ms >= 0) {
			int64_t remaining = deadline - fdstream_now_ms();

			left = remaining > 0 ? (int)remaining : 0;
		}
	}
}

/* Waits for out_fd to take more output (it may have been made non-blocking by others). */
static int fdstream_wait_writable(struct fdstream *fs)
{
	struct pollfd pfd = { .fd = fs->out_fd, .events = POLLOUT };

	return fdstream_poll_fds(&pfd, 1, -1) < 0 ? -1 : 0;
}

static int fdstream_read(struct pdm_istream *stream, void *buf, size_t *len)
{
	struct fdstream *fs = fdstream_of(stream);
	struct pollfd pfd = { .fd = fs->in_fd, .events = POLLIN };
	size_t want = *len;
	ssize_t count;
	int rc;

	*len = 0;
	if (fs->in_fd < 0)
		return PDM_ERR_EOF;
	if (!want)
		return PDM_OK;
	/* Never block in read(): only read what poll says is there. */
	rc = poll(&pfd, 1, 0);
	if (rc < 0)
		return errno == EINTR ? PDM_OK : PDM_ERR_IO;
	if (!rc)
		return PDM_OK;
	if (pfd.revents & POLLNVAL) {
		errno = EBADF;
		return PDM_ERR_IO;
	}
	count = read(fs->in_fd, buf, want);
	if (count < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return PDM_OK;
		return PDM_ERR_IO;
	}
	if (!count)
		return PDM_ERR_EOF;
	*len = (size_t)count;
	return PDM_OK;
}

static int fdstream_write(struct pdm_istream *stream, const void *buf, size_t len)
{
	struct fdstream *fs = fdstream_of(stream);
	const char *p = buf;

	while (len) {
		ssize_t count = write(fs->out_fd, p, len);

		if (count < 0 && errno == EINTR)
			continue;
		if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    !fdstream_wait_writable(fs))
			continue;
		if (count <= 0) {
			if (!count)
				errno = EIO;    /* write(2) took nothing of a non-empty buffer */
			if (!fs->has_logged_write_error) {
				fs->has_logged_write_error = true;
				fs->drv->hlp->log(fs->drv, PDM_LOG_WARN, "cannot write to %s: %s",
						  fs->out_name, strerror(errno));
			}
			return PDM_ERR_IO;
		}
		p += count;
		len -= (size_t)count;
	}
	return PDM_OK;
}

static int fdstream_poll(struct pdm_istream *stream, uint32_t events, uint32_t *ready,
			 int timeout_ms)
{
	struct fdstream *fs = fdstream_of(stream);
	struct pollfd pfds[3] = { { .fd = fs->wake_fd, .events = POLLIN } };
	nfds_t count = 1;
	int in_index = -1, out_index = -1;
	int rc;

	*ready = 0;
	if ((events & PDM_STREAM_READABLE) && fs->in_fd >= 0) {
		in_index = (int)count;
		pfds[count++] = (struct pollfd){ .fd = fs->in_fd, .events = POLLIN };
	}
	if (events & PDM_STREAM_WRITABLE) {
		out_index = (int)count;
		pfds[count++] = (struct pollfd){ .fd = fs->out_fd, .events = POLLOUT };
	}
	rc = fdstream_poll_fds(pfds, count, timeout_ms);
	if (rc < 0)
		return PDM_ERR_IO;
	if (pfds[0].revents)
		return fdstream_drain(fs->wake_fd) < 0 ? PDM_ERR_IO : PDM_ERR_INTERRUPTED;
	if (!rc)
		return PDM_ERR_TIMEOUT;
	/* Hang-up and errors count as ready: the next read or write reports them. */
	if (in_index >= 0 && pfds[in_index].revents)
		*ready |= PDM_STREAM_READABLE;
	if (out_index >= 0 && pfds[out_index].revents)
		*ready |= PDM_STREAM_WRITABLE;
	return PDM_OK;
}

static int fdstream_interrupt(struct pdm_istream *stream)
{
	return fdstream_signal(fdstream_of(stream)->wake_fd);
}

int fdstream_signal(int event_fd)
{
	uint64_t one = 1;

	for (;;) {
		if (write(event_fd, &one, sizeof(one)) == sizeof(one))
			return PDM_OK;
		if (errno == EAGAIN)
			return PDM_OK;      /* the counter is saturated: already signalled */
		if (errno != EINTR)
			return PDM_ERR_IO;
	}
}

int fdstream_drain(int event_fd)
{
	uint64_t value;

	for (;;) {
		if (read(event_fd, &value, sizeof(value)) == sizeof(value) || errno == EAGAIN)
			return PDM_OK;
		if (errno != EINTR)
			return PDM_ERR_IO;
	}
}

int fdstream_init(struct fdstream *fs, struct pdm_drv_ins *drv, const char *out_name,
		  int in_fd, int out_fd, bool owns_out_fd)
{
	int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (wake_fd < 0)
		return PDM_ERR_IO;
	fs->istream.read = fdstream_read;
	fs->istream.write = fdstream_write;
	fs->istream.poll = fdstream_poll;
	fs->istream.interrupt = fdstream_interrupt;
	fs->drv = drv;
	fs->out_name = out_name;
	fs->in_fd = in_fd;
	fs->out_fd = out_fd;
	fs->wake_fd = wake_fd;
	fs->owns_out_fd = owns_out_fd;
	fs->has_logged_write_error = false;
	fs->is_open = true;
	return PDM_OK;
}

void fdstream_release(struct fdstream *fs)
{
	if (!fs->is_open)
		return;
	fs->is_open = false;
	close(fs->wake_fd);
	/* A close error on a file can mean lost output (NFS, quotas): say so. */
	if (fs->owns_out_fd && close(fs->out_fd) < 0)
		fs->drv->hlp->log(fs->drv, PDM_LOG_WARN, "cannot close %s: %s", fs->out_name,
				  strerror(errno));
}
