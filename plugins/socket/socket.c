/* plugins/socket/socket.c - the "socket" stream driver: a console on a UNIX socket. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <modvm/char.h>
#include <modvm/driver.h>
#include <modvm/interface.h>
#include <modvm/pdm.h>

#include "../stream/fdstream.h"

/* Clients that connect while one is attached wait here, in order. */
#define SOCKET_BACKLOG 16

/*
 * A UNIX stream socket at `path`, mode 0600, listens while the driver exists. One
 * client at a time is the console: guest output goes to it, what it sends goes to
 * the guest. When it leaves, the next client waiting in the backlog takes its place.
 *
 * Threads and the lock:
 *   - write comes on an EMT (the device lock held), read and poll on the char
 *     driver's worker, interrupt from anywhere.
 *   - client_fd and its flags are under lock. Only the worker closes a client, so the
 *     fd it polls without the lock is never closed (and reused) under it: a write
 *     that finds the client gone marks it and wakes the worker through notify_fd.
 *   - Either side accepts a waiting client: the writer, so that the output from the
 *     moment connect() returns reaches the client, and the worker, so that its input
 *     does. A writer that accepted wakes the worker to watch the client instead of
 *     the listening socket.
 *
 * Output with no client is dropped (and counted) at once: the guest never waits for a
 * client. Output to a client that does not read waits, as output to a terminal does.
 * Input is read only when the char driver has room, which it has only when the guest
 * took the bytes before, so nothing a client sends is lost. A client that shuts down
 * its sending side only (socat at the end of its input) keeps receiving output until
 * it closes.
 */
struct socket_drv {
	struct pdm_drv_ins *drv;
	struct pdm_istream istream;     /* handed to the char driver */
	const char *path;
	struct sockaddr_un addr;
	int listen_fd;
	int wake_fd;                    /* eventfd: interrupt() */
	int notify_fd;                  /* eventfd: the client changed under the worker */
	bool has_file;                  /* we made the socket file (file_dev, file_ino) */
	dev_t file_dev;
	ino_t file_ino;
	bool is_wait;                   /* power-on waits for the first client */

	pthread_mutex_t lock;
	bool has_lock;
	/* Under lock: */
	int client_fd;                  /* -1: no client */
	bool is_client_sending;         /* it has not shut down its sending side */
	bool is_client_gone;            /* a write failed; the worker closes it */
	uint64_t client_count;          /* clients accepted */
	uint64_t dropped_size;          /* output bytes no client took */
};

/* Pure helpers. */

/* Fills addr for path; false when the path does not fit a UNIX socket address. */
static bool socket_make_address(const char *path, struct sockaddr_un *addr)
{
	size_t len = strlen(path);

	if (len >= sizeof(addr->sun_path))
		return false;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, len + 1);
	return true;
}

/* The client. */

/* Takes the next client waiting in the backlog, if any; true when one was taken. */
static bool socket_accept_locked(struct socket_drv *sock)
{
	struct pdm_drv_ins *drv = sock->drv;
	int fd = accept4(sock->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		/* Nobody waits, or one gave up before we got to it: not our problem. */
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			drv->hlp->log(drv, PDM_LOG_WARN, "cannot accept a client on '%s': %s",
				      sock->path, strerror(errno));
		return false;
	}
	sock->client_fd = fd;
	sock->is_client_sending = true;
	sock->is_client_gone = false;
	sock->client_count++;
	drv->hlp->log(drv, PDM_LOG_DEBUG, "client %llu connected",
		      (unsigned long long)sock->client_count);
	return true;
}

/* The worker only (see above). */
static void socket_close_client_locked(struct socket_drv *sock)
{
	struct pdm_drv_ins *drv = sock->drv;

	close(sock->client_fd);
	sock->client_fd = -1;
	drv->hlp->log(drv, PDM_LOG_DEBUG, "client %llu disconnected",
		      (unsigned long long)sock->client_count);
}

/* Whether a client that sends no more has closed its end too. */
static bool socket_has_hung_up(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = 0 };

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR));
}

/* Backend callbacks: the stream, for the char driver above. */

static struct socket_drv *socket_of(struct pdm_istream *stream)
{
	return PDM_CONTAINER_OF(stream, struct socket_drv, istream);
}

/* On the char driver's worker. Never blocks. */
static int socket_read(struct pdm_istream *stream, void *buf, size_t *len)
{
	struct socket_drv *sock = socket_of(stream);
	size_t want = *len;
	ssize_t count;

	*len = 0;
	pthread_mutex_lock(&sock->lock);
	if (sock->client_fd >= 0 &&
	    (sock->is_client_gone ||
	     (!sock->is_client_sending && socket_has_hung_up(sock->client_fd))))
		socket_close_client_locked(sock);
	if (sock->client_fd < 0)
		socket_accept_locked(sock);
	if (sock->client_fd < 0 || !sock->is_client_sending || !want)
		goto out;
	count = recv(sock->client_fd, buf, want, MSG_DONTWAIT);
	if (count > 0)
		*len = (size_t)count;
	else if (!count)
		sock->is_client_sending = false;    /* output still goes to it until it closes */
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		socket_close_client_locked(sock);   /* reset by the peer, and the like */
out:
	pthread_mutex_unlock(&sock->lock);
	/* Input never ends: the next client brings more. */
	return PDM_OK;
}

/* On an EMT with the device lock held. Returns PDM_OK also when the bytes are dropped. */
static int socket_write(struct pdm_istream *stream, const void *buf, size_t len)
{
	struct socket_drv *sock = socket_of(stream);
	const char *p = buf;

	pthread_mutex_lock(&sock->lock);
	if (sock->client_fd < 0 && socket_accept_locked(sock))
		fdstream_signal(sock->notify_fd);
	while (len && sock->client_fd >= 0 && !sock->is_client_gone) {
		ssize_t count = send(sock->client_fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		struct pollfd pfd = { .fd = sock->client_fd, .events = POLLOUT };

		if (count > 0) {
			p += count;
			len -= (size_t)count;
		} else if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* A client that does not read holds the guest's output up, as a terminal would. */
			fdstream_poll_fds(&pfd, 1, -1);
		} else if (count < 0 && errno != EINTR) {
			sock->is_client_gone = true;
			fdstream_signal(sock->notify_fd);
		}
	}
	sock->dropped_size += len;
	pthread_mutex_unlock(&sock->lock);
	return PDM_OK;
}

static int socket_poll(struct pdm_istream *stream, uint32_t events, uint32_t *ready,
		       int timeout_ms)
{
	struct socket_drv *sock = socket_of(stream);
	struct pollfd pfds[3] = {
		{ .fd = sock->wake_fd, .events = POLLIN },
		{ .fd = sock->notify_fd, .events = POLLIN },
	};
	int rc;

	*ready = 0;
	/* Output never waits for a client (see socket_write). */
	if (events & PDM_STREAM_WRITABLE) {
		*ready = PDM_STREAM_WRITABLE;
		return PDM_OK;
	}
	if (!(events & PDM_STREAM_READABLE))
		return PDM_OK;
	pthread_mutex_lock(&sock->lock);
	if (sock->client_fd >= 0 && !sock->is_client_gone)
		/* Hang-up and errors are reported whatever the events: 0 waits for those. */
		pfds[2] = (struct pollfd){ .fd = sock->client_fd,
					   .events = sock->is_client_sending ? POLLIN : 0 };
	else
		pfds[2] = (struct pollfd){ .fd = sock->listen_fd, .events = POLLIN };
	pthread_mutex_unlock(&sock->lock);

	rc = fdstream_poll_fds(pfds, 3, timeout_ms);
	if (rc < 0)
		return PDM_ERR_IO;
	if (pfds[0].revents)
		return fdstream_drain(sock->wake_fd) < 0 ? PDM_ERR_IO : PDM_ERR_INTERRUPTED;
	if (!rc)
		return PDM_ERR_TIMEOUT;
	/* A new or a lost client, data, or a hang-up: the next read sorts it out. */
	if (pfds[1].revents)
		fdstream_drain(sock->notify_fd);
	*ready = PDM_STREAM_READABLE;
	return PDM_OK;
}

static int socket_interrupt(struct pdm_istream *stream)
{
	return fdstream_signal(socket_of(stream)->wake_fd);
}

static void *socket_query_interface(struct pdm_drv_ins *drv, const char *iid)
{
	struct socket_drv *sock = drv->data;

	if (!strcmp(iid, PDM_ISTREAM_IID))
		return &sock->istream;
	return NULL;
}

/* Lifecycle. */

/*
 * Clears the way for our socket file: nothing there, or a socket nobody listens on
 * (left by a modvm that was killed), which is removed. A socket somebody listens on,
 * or a file of another kind, is left alone and refused.
 */
static int socket_claim_path(struct socket_drv *sock)
{
	const struct pdm_drv_hlp *hlp = sock->drv->hlp;
	struct stat st;
	int fd, rc;

	if (lstat(sock->path, &st) < 0) {
		if (errno == ENOENT)
			return PDM_OK;
		return hlp->error(sock->drv, PDM_ERR_IO, "cannot examine '%s': %s", sock->path,
				  strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return hlp->error(sock->drv, PDM_ERR_IO,
				  "'%s' exists and is not a socket: it is left alone", sock->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hlp->error(sock->drv, PDM_ERR_IO, "cannot create a socket: %s",
				  strerror(errno));
	rc = connect(fd, (struct sockaddr *)&sock->addr, sizeof(sock->addr));
	close(fd);
	if (!rc)
		return hlp->error(sock->drv, PDM_ERR_BUSY,
				  "another process listens on '%s': it is left alone", sock->path);
	if (errno != ECONNREFUSED)
		return hlp->error(sock->drv, PDM_ERR_IO, "cannot probe the socket '%s': %s",
				  sock->path, strerror(errno));
	if (unlink(sock->path) < 0 && errno != ENOENT)
		return hlp->error(sock->drv, PDM_ERR_IO, "cannot remove the stale socket '%s': %s",
				  sock->path, strerror(errno));
	hlp->log(sock->drv, PDM_LOG_INFO, "replaced the stale socket '%s'", sock->path);
	return PDM_OK;
}

static int socket_listen(struct socket_drv *sock)
{
	const struct pdm_drv_hlp *hlp = sock->drv->hlp;
	struct stat st;

	sock->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock->listen_fd < 0)
		return hlp->error(sock->drv, PDM_ERR_IO, "cannot create a socket: %s",
				  strerror(errno));
	if (bind(sock->listen_fd, (struct sockaddr *)&sock->addr, sizeof(sock->addr)) < 0)
		return hlp->error(sock->drv, PDM_ERR_IO, "cannot bind '%s': %s", sock->path,
				  strerror(errno));
	if (stat(sock->path, &st) == 0) {
		sock->has_file = true;
		sock->file_dev = st.st_dev;
		sock->file_ino = st.st_ino;
	}
	/*
	 * bind made the file with the umask's mode; narrow it before listen, so that no
	 * other user can connect in between (a connect before listen is refused).
	 */
	if (chmod(sock->path, 0600) < 0)
		return hlp->error(sock->drv, PDM_ERR_IO, "cannot set the mode of '%s': %s",
				  sock->path, strerror(errno));
	if (listen(sock->listen_fd, SOCKET_BACKLOG) < 0)
		return hlp->error(sock->drv, PDM_ERR_IO, "cannot listen on '%s': %s", sock->path,
				  strerror(errno));
	return PDM_OK;
}

/*
 * wait = yes: the VM is not built further, let alone run, before a client is there,
 * as QEMU's `server=on,wait=on`. Here rather than at power-on: while the VM is being
 * built, SIGINT and SIGTERM end modvm at once (the socket file then stays, and the
 * next run replaces it), and power-on notifications are meant to be quick. The
 * file's errors are all reported before, by the check that precedes construction.
 */
static int socket_wait_for_client(struct socket_drv *sock)
{
	struct pdm_drv_ins *drv = sock->drv;
	struct pollfd pfd = { .fd = sock->listen_fd, .events = POLLIN };
	bool has_client;

	drv->hlp->log(drv, PDM_LOG_INFO, "waiting for a client on '%s'", sock->path);
	for (;;) {
		pthread_mutex_lock(&sock->lock);
		has_client = socket_accept_locked(sock);
		pthread_mutex_unlock(&sock->lock);
		if (has_client)
			return PDM_OK;
		if (fdstream_poll_fds(&pfd, 1, -1) < 0)
			return drv->hlp->error(drv, PDM_ERR_IO, "cannot wait for a client on '%s': %s",
					       sock->path, strerror(errno));
	}
}

static int socket_construct(struct pdm_drv_ins *drv)
{
	const struct pdm_drv_hlp *hlp = drv->hlp;
	struct socket_drv *sock = drv->data;
	int rc;

	sock->drv = drv;
	sock->listen_fd = sock->wake_fd = sock->notify_fd = sock->client_fd = -1;
	sock->istream.read = socket_read;
	sock->istream.write = socket_write;
	sock->istream.poll = socket_poll;
	sock->istream.interrupt = socket_interrupt;

	rc = hlp->cfg_get_path(drv, "path", &sock->path);
	if (rc < 0)
		return hlp->error(drv, rc, "cannot read 'path': %s", pdm_status_message(rc));
	rc = hlp->cfg_get_bool(drv, "wait", &sock->is_wait);
	if (rc < 0)
		return hlp->error(drv, rc, "cannot read 'wait': %s", pdm_status_message(rc));
	if (!socket_make_address(sock->path, &sock->addr))
		return hlp->error(drv, PDM_ERR_CFG, "'%s' is too long for a socket (%zu bytes at most)",
				  sock->path, sizeof(sock->addr.sun_path) - 1);

	if (pthread_mutex_init(&sock->lock, NULL))
		return hlp->error(drv, PDM_ERR_NO_MEMORY, "cannot create a mutex");
	sock->has_lock = true;
	sock->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sock->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sock->wake_fd < 0 || sock->notify_fd < 0)
		return hlp->error(drv, PDM_ERR_IO, "cannot create an eventfd: %s", strerror(errno));

	rc = socket_claim_path(sock);
	if (rc < 0)
		return rc;
	rc = socket_listen(sock);
	if (rc < 0)
		return rc;
	return sock->is_wait ? socket_wait_for_client(sock) : PDM_OK;
}

/* Removes the socket file if it is still the one we made. */
static void socket_unlink(struct socket_drv *sock)
{
	struct stat st;

	if (sock->has_file && lstat(sock->path, &st) == 0 && st.st_dev == sock->file_dev &&
	    st.st_ino == sock->file_ino && unlink(sock->path) < 0)
		sock->drv->hlp->log(sock->drv, PDM_LOG_WARN, "cannot remove '%s': %s", sock->path,
				    strerror(errno));
}

/* The core has joined the char driver's worker: no call of ours runs any more. */
static void socket_destruct(struct pdm_drv_ins *drv)
{
	struct socket_drv *sock = drv->data;

	if (!sock->drv)
		return;
	if (sock->dropped_size)
		drv->hlp->log(drv, PDM_LOG_DEBUG, "%llu output bytes found no client",
			      (unsigned long long)sock->dropped_size);
	if (sock->client_fd >= 0)
		close(sock->client_fd);
	if (sock->listen_fd >= 0) {
		close(sock->listen_fd);
		socket_unlink(sock);
	}
	if (sock->wake_fd >= 0)
		close(sock->wake_fd);
	if (sock->notify_fd >= 0)
		close(sock->notify_fd);
	if (sock->has_lock)
		pthread_mutex_destroy(&sock->lock);
}

static const struct pdm_cfg_key socket_config[] = {
	{ .name = "path", .type = PDM_CFG_PATH, .flags = PDM_CFG_F_REQUIRED,
	  .help = "the UNIX socket to listen on (mode 0600; a stale one is replaced)" },
	{ .name = "wait", .type = PDM_CFG_BOOL, .def = "no",
	  .help = "wait for the first client before the VM is built further, so it sees all output" },
	{ .name = NULL },
};

static const struct pdm_drv_reg socket_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_reg),
	.name = "socket",
	.description = "stream to and from a client of a UNIX socket, one at a time",
	.flags = 0,
	.max_instances = 0,
	.instance_size = sizeof(struct socket_drv),
	.config = socket_config,
	.construct = socket_construct,
	.destruct = socket_destruct,
	.query_interface = socket_query_interface,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_driver(cb, &socket_reg);
}
