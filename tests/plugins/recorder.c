/*
 * tests/plugins/recorder.c - test devices and a driver that log every callback.
 *
 * Device "trec", device "trec-first" (the same, notified before its drivers) and
 * driver "tlink" append "<event> <instance>" lines to the file named by their `log`
 * key, so a test can assert the exact order of constructs, power notifications and
 * destructs. Besides:
 *  - `fail`: construct fails; `luns`, `need`: the device's LUNs and a required
 *    interface on lun0;
 *  - `async_ms`: suspend, reset and power-off complete asynchronously that many ms
 *    later, from the instance's worker thread, or (tlink `foreign = yes`) from a
 *    thread the plugin starts itself, unknown to the core; "<event>-done <instance>"
 *    is logged when the work is finished;
 *  - `thread`: a worker that logs thread-run / thread-stop;
 *  - `rterr` (trec): at power-on, its worker reports a runtime error of that kind.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <modvm/device.h>
#include <modvm/driver.h>

#define TREC_IID "modvm.test.trec-up.v1"
#define TLINK_IID "modvm.test.tlink.v1"

/* Simulated in-flight work, finished by a thread some ms after the callback. */
struct job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *log;
	const char *name;
	int64_t delay_ms;
	bool is_busy;                   /* work in flight: done() says no */
	bool is_queued;                 /* the worker should start it */
	bool is_quitting;               /* the foreign thread should leave */
	bool is_quiesced;               /* suspended: nothing in flight, workers parked */
	const char *event;              /* what the work is for */
	void (*completed)(void *ins);   /* calls the helper's async_notification_completed */
	void *ins;
	pthread_t foreign;
	bool has_foreign;
};

struct trec {
	struct pdm_dev_ins *dev;
	const char *log;
	struct pdm_ibase ibase;
	int up_marker;                  /* the interface the device gives its drivers */
	struct job job;
	struct pdm_thread *thread;
	const char *rterr;
};

struct tlink {
	struct pdm_drv_ins *drv;
	const char *log;
	struct pdm_ibase *below;
	int marker;                     /* the interface TLINK_IID */
	struct job job;
	struct pdm_thread *thread;
	bool is_spinner;                /* `thread = yes`: logs thread-run/stop */
};

static void rec_log(const char *log, const char *event, const char *name)
{
	FILE *f;

	if (!log || !(f = fopen(log, "a")))
		return;
	fprintf(f, "%s %s\n", event, name);
	fclose(f);
}

/* ---- simulated work ---- */

static void job_init(struct job *job, const char *log, const char *name, void *ins,
		     void (*completed)(void *ins))
{
	pthread_mutex_init(&job->lock, NULL);
	pthread_cond_init(&job->cond, NULL);
	job->log = log;
	job->name = name;
	job->ins = ins;
	job->completed = completed;
}

static void job_release(struct job *job)
{
	pthread_mutex_destroy(&job->lock);
	pthread_cond_destroy(&job->cond);
}

/*
 * In a power callback: start the work (the caller then sets async notification), or
 * say false when there is none in flight: a suspended instance has quiesced already.
 */
static bool job_start(struct job *job, const char *event)
{
	if (job->is_quiesced && strcmp(event, "suspend"))
		return false;
	pthread_mutex_lock(&job->lock);
	job->is_busy = true;
	job->is_queued = true;
	job->event = event;
	pthread_cond_broadcast(&job->cond);
	pthread_mutex_unlock(&job->lock);
	return true;
}

/* The VM runs again (power-on, resume): work may be in flight from now on. */
static void job_track(struct job *job, const char *event)
{
	if (!strcmp(event, "suspend"))
		job->is_quiesced = true;
	else if (!strcmp(event, "resume") || !strcmp(event, "power-on"))
		job->is_quiesced = false;
}

static bool job_is_done(struct job *job)
{
	bool is_done;

	pthread_mutex_lock(&job->lock);
	is_done = !job->is_busy;
	pthread_mutex_unlock(&job->lock);
	return is_done;
}

/* Waits for a queued job (or for should_stop) and does it; false when told to stop. */
static bool job_serve(struct job *job, bool (*should_stop)(void *), void *arg)
{
	char done[64];

	pthread_mutex_lock(&job->lock);
	while (!job->is_queued && !should_stop(arg))
		pthread_cond_wait(&job->cond, &job->lock);
	if (!job->is_queued) {
		pthread_mutex_unlock(&job->lock);
		return false;
	}
	job->is_queued = false;
	pthread_mutex_unlock(&job->lock);
	usleep((useconds_t)job->delay_ms * 1000);
	snprintf(done, sizeof(done), "%s-done", job->event);
	rec_log(job->log, done, job->name);
	pthread_mutex_lock(&job->lock);
	job->is_busy = false;
	pthread_mutex_unlock(&job->lock);
	job->completed(job->ins);
	return true;
}

static void job_wake(struct job *job)
{
	pthread_mutex_lock(&job->lock);
	pthread_cond_broadcast(&job->cond);
	pthread_mutex_unlock(&job->lock);
}

/* ---- the device ---- */

static bool trec_should_stop(void *arg)
{
	struct trec *trec = arg;

	return !trec->dev->hlp->thread_is_running(trec->thread);
}

static int trec_thread(struct pdm_thread *thread, void *user)
{
	struct trec *trec = user;
	const struct pdm_dev_hlp *hlp = trec->dev->hlp;

	if (trec->rterr) {
		enum pdm_runtime_error kind = !strcmp(trec->rterr, "fatal") ? PDM_RTERR_FATAL :
					      !strcmp(trec->rterr, "suspend") ? PDM_RTERR_SUSPEND :
					      PDM_RTERR_WARNING;

		hlp->runtime_error(trec->dev, kind, "test-error", "told to report a %s error",
				   trec->rterr);
		trec->rterr = NULL;
	}
	while (job_serve(&trec->job, trec_should_stop, trec))
		;
	return 0;
}

static void trec_wakeup(struct pdm_thread *thread, void *user)
{
	job_wake(&((struct trec *)user)->job);
}

static void trec_completed(void *ins)
{
	struct pdm_dev_ins *dev = ins;

	dev->hlp->async_notification_completed(dev);
}

static bool trec_done(struct pdm_dev_ins *dev)
{
	return job_is_done(&((struct trec *)dev->data)->job);
}

static void *trec_query(struct pdm_ibase *base, const char *iid)
{
	struct trec *trec = PDM_CONTAINER_OF(base, struct trec, ibase);

	if (!strcmp(iid, PDM_IBASE_IID))
		return base;
	if (!strcmp(iid, TREC_IID))
		return &trec->up_marker;
	return NULL;
}

static int trec_construct(struct pdm_dev_ins *dev)
{
	struct trec *trec = dev->data;
	const struct pdm_dev_hlp *hlp = dev->hlp;
	const char *need = NULL;
	int64_t luns = 0;
	bool fail = false;
	int status;

	trec->dev = dev;
	trec->ibase.query_interface = trec_query;
	hlp->cfg_get_path(dev, "log", &trec->log);
	job_init(&trec->job, trec->log, dev->name, dev, trec_completed);
	rec_log(trec->log, "construct", dev->name);
	if ((status = hlp->cfg_get_bool(dev, "fail", &fail)) ||
	    (status = hlp->cfg_get_int(dev, "luns", &luns)) ||
	    (status = hlp->cfg_get_int(dev, "async_ms", &trec->job.delay_ms)))
		return status;
	if (hlp->cfg_get_string(dev, "need", &need) == PDM_ERR_CFG_MISSING)
		need = NULL;
	if (hlp->cfg_get_string(dev, "rterr", &trec->rterr) == PDM_ERR_CFG_MISSING)
		trec->rterr = NULL;
	for (uint32_t lun = 0; lun < luns; lun++) {
		struct pdm_ibase *below;

		status = hlp->driver_attach(dev, lun, &trec->ibase, &below);
		if (status == PDM_ERR_NO_DRIVER)
			continue;
		if (status)
			return status;
		if (lun == 0 && need && !pdm_ibase_query(below, need))
			return hlp->error(dev, PDM_ERR_NO_INTERFACE,
					  "the driver on lun0 does not provide interface '%s'", need);
	}
	if ((trec->job.delay_ms || trec->rterr) &&
	    (status = hlp->thread_create(dev, &trec->thread, trec_thread, trec_wakeup, trec, "job")))
		return status;
	if (fail)
		return hlp->error(dev, PDM_ERR_CONSTRUCT, "told to fail by its config");
	return 0;
}

static void trec_destruct(struct pdm_dev_ins *dev)
{
	struct trec *trec = dev->data;

	rec_log(trec->log, "destruct", dev->name);
	if (trec->job.completed)
		job_release(&trec->job);
}

/* Logs the event; with async_ms, leaves the work to the worker and asks for time. */
static void trec_event(struct pdm_dev_ins *dev, const char *event, bool may_be_async)
{
	struct trec *trec = dev->data;

	rec_log(trec->log, event, dev->name);
	if (may_be_async && trec->job.delay_ms > 0 && job_start(&trec->job, event))
		dev->hlp->set_async_notification(dev, trec_done);
	job_track(&trec->job, event);
}

static void trec_power_on(struct pdm_dev_ins *dev) { trec_event(dev, "power-on", false); }
static void trec_suspend(struct pdm_dev_ins *dev) { trec_event(dev, "suspend", true); }
static void trec_resume(struct pdm_dev_ins *dev) { trec_event(dev, "resume", false); }
static void trec_reset(struct pdm_dev_ins *dev) { trec_event(dev, "reset", true); }
static void trec_power_off(struct pdm_dev_ins *dev) { trec_event(dev, "power-off", true); }

static const struct pdm_cfg_key trec_config[] = {
	{ .name = "log", .type = PDM_CFG_PATH, .help = "file the events are appended to" },
	{ .name = "fail", .type = PDM_CFG_BOOL, .def = "no", .help = "fail in construct" },
	{ .name = "luns", .type = PDM_CFG_INT, .def = "1", .min = 0, .max = 8,
	  .help = "how many LUNs to attach" },
	{ .name = "need", .type = PDM_CFG_STRING, .help = "interface id lun0 must provide" },
	{ .name = "async_ms", .type = PDM_CFG_INT, .def = "0", .min = 0, .max = 60000,
	  .help = "suspend/reset/power-off complete asynchronously after this long" },
	{ .name = "rterr", .type = PDM_CFG_STRING,
	  .help = "report a runtime error of this kind (warning, suspend, fatal) at power-on" },
	{ 0 }
};

static const struct pdm_dev_reg trec_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "trec",
	.description = "test device that records its callbacks",
	.instance_size = sizeof(struct trec),
	.config = trec_config,
	.construct = trec_construct,
	.destruct = trec_destruct,
	.power_on = trec_power_on,
	.suspend = trec_suspend,
	.resume = trec_resume,
	.reset = trec_reset,
	.power_off = trec_power_off,
};

static const struct pdm_dev_reg trec_first_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "trec-first",
	.description = "test device that records its callbacks, notified before its drivers",
	.flags = PDM_DEVREG_F_NOTIFY_FIRST,
	.instance_size = sizeof(struct trec),
	.config = trec_config,
	.construct = trec_construct,
	.destruct = trec_destruct,
	.power_on = trec_power_on,
	.suspend = trec_suspend,
	.resume = trec_resume,
	.reset = trec_reset,
	.power_off = trec_power_off,
};

/* ---- the driver ---- */

static bool tlink_should_stop(void *arg)
{
	struct tlink *tlink = arg;

	return tlink->thread ? !tlink->drv->hlp->thread_is_running(tlink->thread) :
			       tlink->job.is_quitting;
}

static int tlink_thread(struct pdm_thread *thread, void *user)
{
	struct tlink *tlink = user;

	if (tlink->is_spinner) {
		rec_log(tlink->log, "thread-run", tlink->drv->name);
		while (tlink->drv->hlp->thread_is_running(thread))
			usleep(1000);   /* no wakeup callback: suspend must wait for this loop */
		rec_log(tlink->log, "thread-stop", tlink->drv->name);
		return 0;
	}
	while (job_serve(&tlink->job, tlink_should_stop, tlink))
		;
	return 0;
}

static void tlink_wakeup(struct pdm_thread *thread, void *user)
{
	job_wake(&((struct tlink *)user)->job);
}

/* A thread of the plugin's own, unknown to the core: completes from outside. */
static void *tlink_foreign_main(void *arg)
{
	struct tlink *tlink = arg;

	while (job_serve(&tlink->job, tlink_should_stop, tlink))
		;
	return NULL;
}

static void tlink_completed(void *ins)
{
	struct pdm_drv_ins *drv = ins;

	drv->hlp->async_notification_completed(drv);
}

static bool tlink_done(struct pdm_drv_ins *drv)
{
	return job_is_done(&((struct tlink *)drv->data)->job);
}

static void *tlink_query(struct pdm_drv_ins *drv, const char *iid)
{
	struct tlink *tlink = drv->data;

	return strcmp(iid, TLINK_IID) ? NULL : &tlink->marker;
}

static int tlink_construct(struct pdm_drv_ins *drv)
{
	struct tlink *tlink = drv->data;
	const struct pdm_drv_hlp *hlp = drv->hlp;
	bool fail = false, foreign = false;
	int status;

	tlink->drv = drv;
	hlp->cfg_get_path(drv, "log", &tlink->log);
	job_init(&tlink->job, tlink->log, drv->name, drv, tlink_completed);
	rec_log(tlink->log, "construct", drv->name);
	if (!pdm_ibase_query(drv->above, TREC_IID) && !pdm_ibase_query(drv->above, TLINK_IID))
		return hlp->error(drv, PDM_ERR_NO_INTERFACE,
				  "the link above provides neither '%s' nor '%s'", TREC_IID, TLINK_IID);
	hlp->cfg_get_bool(drv, "fail", &fail);
	hlp->cfg_get_bool(drv, "thread", &tlink->is_spinner);
	hlp->cfg_get_bool(drv, "foreign", &foreign);
	hlp->cfg_get_int(drv, "async_ms", &tlink->job.delay_ms);
	status = hlp->attach(drv, &tlink->below);
	if (status && status != PDM_ERR_NO_DRIVER)
		return status;
	if (foreign && tlink->job.delay_ms) {
		if (pthread_create(&tlink->job.foreign, NULL, tlink_foreign_main, tlink))
			return hlp->error(drv, PDM_ERR_NO_MEMORY, "cannot start the foreign thread");
		tlink->job.has_foreign = true;
	} else if ((tlink->is_spinner || tlink->job.delay_ms) &&
		   (status = hlp->thread_create(drv, &tlink->thread, tlink_thread,
						tlink->is_spinner ? NULL : tlink_wakeup, tlink,
						tlink->is_spinner ? "spin" : "job"))) {
		return status;
	}
	if (fail)
		return hlp->error(drv, PDM_ERR_CONSTRUCT, "told to fail by its config");
	return 0;
}

static void tlink_destruct(struct pdm_drv_ins *drv)
{
	struct tlink *tlink = drv->data;

	rec_log(tlink->log, "destruct", drv->name);
	if (tlink->job.has_foreign) {
		pthread_mutex_lock(&tlink->job.lock);
		tlink->job.is_quitting = true;
		pthread_cond_broadcast(&tlink->job.cond);
		pthread_mutex_unlock(&tlink->job.lock);
		pthread_join(tlink->job.foreign, NULL);
	}
	if (tlink->job.completed)
		job_release(&tlink->job);
}

static void tlink_event(struct pdm_drv_ins *drv, const char *event, bool may_be_async)
{
	struct tlink *tlink = drv->data;

	rec_log(tlink->log, event, drv->name);
	if (may_be_async && tlink->job.delay_ms > 0 && job_start(&tlink->job, event))
		drv->hlp->set_async_notification(drv, tlink_done);
	job_track(&tlink->job, event);
}

static void tlink_power_on(struct pdm_drv_ins *drv) { tlink_event(drv, "power-on", false); }
static void tlink_suspend(struct pdm_drv_ins *drv) { tlink_event(drv, "suspend", true); }
static void tlink_resume(struct pdm_drv_ins *drv) { tlink_event(drv, "resume", false); }
static void tlink_reset(struct pdm_drv_ins *drv) { tlink_event(drv, "reset", true); }
static void tlink_power_off(struct pdm_drv_ins *drv) { tlink_event(drv, "power-off", true); }

static const struct pdm_cfg_key tlink_config[] = {
	{ .name = "log", .type = PDM_CFG_PATH, .help = "file the events are appended to" },
	{ .name = "fail", .type = PDM_CFG_BOOL, .def = "no", .help = "fail in construct" },
	{ .name = "thread", .type = PDM_CFG_BOOL, .def = "no", .help = "run a logging worker thread" },
	{ .name = "async_ms", .type = PDM_CFG_INT, .def = "0", .min = 0, .max = 60000,
	  .help = "suspend/reset/power-off complete asynchronously after this long" },
	{ .name = "foreign", .type = PDM_CFG_BOOL, .def = "no",
	  .help = "complete from a thread the plugin starts itself" },
	{ 0 }
};

static const struct pdm_drv_reg tlink_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_reg),
	.name = "tlink",
	.description = "test driver that records its callbacks and passes through",
	.instance_size = sizeof(struct tlink),
	.config = tlink_config,
	.construct = tlink_construct,
	.destruct = tlink_destruct,
	.power_on = tlink_power_on,
	.suspend = tlink_suspend,
	.resume = tlink_resume,
	.reset = tlink_reset,
	.power_off = tlink_power_off,
	.query_interface = tlink_query,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	int status = cb->register_device(cb, &trec_reg);

	if (!status)
		status = cb->register_device(cb, &trec_first_reg);
	return status ? status : cb->register_driver(cb, &tlink_reg);
}
