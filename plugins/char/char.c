/* plugins/char/char.c - the "char" driver: joins a serial-like device to a byte stream. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <modvm/char.h>
#include <modvm/driver.h>
#include <modvm/interface.h>
#include <modvm/pdm.h>

#define CHAR_RING_SIZE 4096

/*
 * Threads and locks:
 *   - connector->write runs on an EMT under the device's lock and writes straight to
 *     the stream; it touches only the atomic failure counter here.
 *   - the worker (hlp->thread_create) is the ring's only producer: it reads the stream
 *     into the free part of the ring without the lock (the consumer never touches that
 *     part), then publishes the bytes under the lock and calls port->data_available
 *     with no lock of ours held.
 *   - connector->read (any thread, normally under the device lock) is the only
 *     consumer; it wakes the worker when it makes room in a full ring.
 * So nothing is dropped: a full ring stops the worker reading the stream.
 */
struct chardrv {
	struct pdm_drv_ins *drv;
	struct pdm_ichar_connector connector;   /* what the device above calls */
	struct pdm_ichar_port *port;            /* the device above */
	struct pdm_istream *stream;             /* the stream driver below */
	struct pdm_thread *thread;

	pthread_mutex_t lock;                   /* guards the fields below */
	pthread_cond_t cond;                    /* room in the ring, or a wake-up */
	bool has_sync;                          /* lock and cond are initialised */
	bool is_kicked;                         /* the wakeup callback ran */
	bool has_input_ended;                   /* the stream gives no more input */
	size_t head, count;
	uint8_t ring[CHAR_RING_SIZE];

	atomic_uint_fast64_t write_error_count;
};

static struct chardrv *chardrv_of(struct pdm_ichar_connector *conn)
{
	return PDM_CONTAINER_OF(conn, struct chardrv, connector);
}

/* Guest-facing calls, from the device above. */

static int chardrv_write(struct pdm_ichar_connector *conn, const void *buf, size_t len)
{
	struct chardrv *ch = chardrv_of(conn);
	int rc = ch->stream->write(ch->stream, buf, len);

	if (rc < 0 && atomic_fetch_add(&ch->write_error_count, 1) == 0)
		ch->drv->hlp->log(ch->drv, PDM_LOG_WARN,
				  "cannot write to the stream: %s (further failures are counted)",
				  pdm_status_message(rc));
	return rc;
}

static size_t chardrv_read(struct pdm_ichar_connector *conn, void *buf, size_t len)
{
	struct chardrv *ch = chardrv_of(conn);
	uint8_t *out = buf;
	size_t done = 0;
	bool was_full;

	pthread_mutex_lock(&ch->lock);
	was_full = ch->count == CHAR_RING_SIZE;
	while (done < len && ch->count) {
		size_t chunk = CHAR_RING_SIZE - ch->head;

		if (chunk > ch->count)
			chunk = ch->count;
		if (chunk > len - done)
			chunk = len - done;
		memcpy(out + done, ch->ring + ch->head, chunk);
		ch->head = (ch->head + chunk) % CHAR_RING_SIZE;
		ch->count -= chunk;
		done += chunk;
	}
	if (was_full && done)
		pthread_cond_signal(&ch->cond);
	pthread_mutex_unlock(&ch->lock);
	return done;
}

/* The worker. */

/*
 * Waits, with the lock held, while there is nothing to do: the ring is full or the
 * input has ended. Returns false when woken by the wakeup callback (the caller then
 * rechecks thread_is_running).
 */
static bool chardrv_wait_for_room(struct chardrv *ch)
{
	while (!ch->is_kicked && (ch->has_input_ended || ch->count == CHAR_RING_SIZE))
		pthread_cond_wait(&ch->cond, &ch->lock);
	if (ch->is_kicked) {
		ch->is_kicked = false;
		return false;
	}
	return true;
}

static void chardrv_end_input(struct chardrv *ch, int rc)
{
	if (rc == PDM_ERR_EOF || rc == PDM_ERR_NOT_SUPPORTED)
		ch->drv->hlp->log(ch->drv, PDM_LOG_DEBUG, "the stream has no more input");
	else
		ch->drv->hlp->log(ch->drv, PDM_LOG_WARN, "cannot read the stream: %s; input stops",
				  pdm_status_message(rc));
	pthread_mutex_lock(&ch->lock);
	ch->has_input_ended = true;
	pthread_mutex_unlock(&ch->lock);
}

static int chardrv_worker(struct pdm_thread *thread, void *user)
{
	struct chardrv *ch = user;
	const struct pdm_drv_hlp *hlp = ch->drv->hlp;
	struct pdm_istream *stream = ch->stream;

	/*
	 * A kick left over from the previous run is stale: the core makes
	 * thread_is_running false before it calls wakeup, and we check it after this.
	 */
	pthread_mutex_lock(&ch->lock);
	ch->is_kicked = false;
	pthread_mutex_unlock(&ch->lock);

	while (hlp->thread_is_running(thread)) {
		size_t tail, len;
		uint32_t ready;
		int rc;

		pthread_mutex_lock(&ch->lock);
		if (!chardrv_wait_for_room(ch)) {
			pthread_mutex_unlock(&ch->lock);
			continue;
		}
		if (!ch->count)
			ch->head = 0;   /* an empty ring: offer all of it in one piece */
		/* The free space from tail up to the wrap or to head, whichever is first. */
		tail = (ch->head + ch->count) % CHAR_RING_SIZE;
		len = tail >= ch->head ? CHAR_RING_SIZE - tail : ch->head - tail;
		pthread_mutex_unlock(&ch->lock);

		/* Read what is there first (never blocks), and only then wait for more. */
		rc = stream->read(stream, ch->ring + tail, &len);
		if (rc < 0) {
			chardrv_end_input(ch, rc);
			continue;
		}
		if (len) {
			pthread_mutex_lock(&ch->lock);
			ch->count += len;
			pthread_mutex_unlock(&ch->lock);
			ch->port->data_available(ch->port);
			continue;
		}
		rc = stream->poll(stream, PDM_STREAM_READABLE, &ready, -1);
		if (rc < 0 && rc != PDM_ERR_INTERRUPTED && rc != PDM_ERR_TIMEOUT)
			chardrv_end_input(ch, rc);
	}
	return PDM_OK;
}

/* Kicks the worker out of the condvar wait or the stream poll. Any thread. */
static void chardrv_wakeup(struct pdm_thread *thread, void *user)
{
	struct chardrv *ch = user;

	pthread_mutex_lock(&ch->lock);
	ch->is_kicked = true;
	pthread_cond_signal(&ch->cond);
	pthread_mutex_unlock(&ch->lock);
	ch->stream->interrupt(ch->stream);
}

static void *chardrv_query_interface(struct pdm_drv_ins *drv, const char *iid)
{
	struct chardrv *ch = drv->data;

	if (!strcmp(iid, PDM_ICHAR_CONNECTOR_IID))
		return &ch->connector;
	return NULL;
}

/* Lifecycle. */

static int chardrv_construct(struct pdm_drv_ins *drv)
{
	const struct pdm_drv_hlp *hlp = drv->hlp;
	struct chardrv *ch = drv->data;
	struct pdm_ibase *below = NULL;
	int rc;

	ch->drv = drv;
	ch->connector.write = chardrv_write;
	ch->connector.read = chardrv_read;
	atomic_init(&ch->write_error_count, 0);

	ch->port = pdm_ibase_query(drv->above, PDM_ICHAR_PORT_IID);
	if (!ch->port)
		return hlp->error(drv, PDM_ERR_NO_INTERFACE, "the link above lacks interface '%s'",
				  PDM_ICHAR_PORT_IID);

	if (pthread_mutex_init(&ch->lock, NULL))
		return hlp->error(drv, PDM_ERR_NO_MEMORY, "cannot create a mutex");
	if (pthread_cond_init(&ch->cond, NULL)) {
		pthread_mutex_destroy(&ch->lock);
		return hlp->error(drv, PDM_ERR_NO_MEMORY, "cannot create a condition variable");
	}
	ch->has_sync = true;

	rc = hlp->attach(drv, &below);
	/*
	 * Not PDM_ERR_NO_DRIVER: passed up through driver_attach, the device would take
	 * it for "nothing on this LUN" and carry on without us.
	 */
	if (rc == PDM_ERR_NO_DRIVER)
		return hlp->error(drv, PDM_ERR_CFG,
				  "no stream driver is configured below (section 'attached')");
	if (rc < 0)
		return rc;      /* the failing driver set the message */
	ch->stream = pdm_ibase_query(below, PDM_ISTREAM_IID);
	if (!ch->stream)
		return hlp->error(drv, PDM_ERR_NO_INTERFACE, "the driver below lacks interface '%s'",
				  PDM_ISTREAM_IID);

	rc = hlp->thread_create(drv, &ch->thread, chardrv_worker, chardrv_wakeup, ch, "char input");
	if (rc < 0)
		return hlp->error(drv, rc, "cannot create the input thread: %s",
				  pdm_status_message(rc));
	return PDM_OK;
}

/* The core has terminated and joined the worker, and destroyed the stream driver. */
static void chardrv_destruct(struct pdm_drv_ins *drv)
{
	struct chardrv *ch = drv->data;
	uint_fast64_t errors;

	if (!ch->drv)
		return;
	errors = atomic_load(&ch->write_error_count);
	if (errors)
		drv->hlp->log(drv, PDM_LOG_INFO, "%llu writes to the stream failed",
			      (unsigned long long)errors);
	if (ch->has_sync) {
		pthread_cond_destroy(&ch->cond);
		pthread_mutex_destroy(&ch->lock);
		ch->has_sync = false;
	}
}

static const struct pdm_drv_reg chardrv_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_reg),
	.name = "char",
	.description = "character device to byte stream; the driver below is a stream",
	.flags = 0,
	.max_instances = 0,
	.instance_size = sizeof(struct chardrv),
	.config = NULL,
	.construct = chardrv_construct,
	.destruct = chardrv_destruct,
	.query_interface = chardrv_query_interface,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_driver(cb, &chardrv_reg);
}
