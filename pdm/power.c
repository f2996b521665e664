/*
 * pdm/power.c - power notifications to every device and driver, with asynchronous
 * completion.
 *
 * Power-on and resume: for each device in construction order, each LUN chain
 * bottom-up (a link is ready before the one above relies on it), then the device;
 * worker threads resume after every callback. Nothing can be pending.
 *
 * Suspend, reset and power-off run in rounds. Each pass walks the devices in order:
 * a device's chains top-down, then the device (or the device first when it asked for
 * PDM_DEVREG_F_NOTIFY_FIRST). An instance whose callback called
 * set_async_notification is pending: the drivers below it on its chain, and its
 * device (or, for a notify-first device, its drivers), are not notified until its
 * done() says so. After a pass with something pending, the thread sleeps until an
 * async_notification_completed() (or a priority request of the VM) wakes it, and
 * passes again; done() is asked only then, and at 1, 2, 4, ... s, when the round
 * logs whom it is waiting for. Suspend and power-off then suspend the worker threads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pdm/instance.h"
#include "util/log.h"

#define PDM_SLOW_NS 1000000000ull     /* a notification slower than this is logged */

static const char *const pdm_notify_names[PDM_NOTIFY_COUNT] = {
	[PDM_NOTIFY_POWER_ON] = "power-on",
	[PDM_NOTIFY_SUSPEND] = "suspend",
	[PDM_NOTIFY_RESUME] = "resume",
	[PDM_NOTIFY_RESET] = "reset",
	[PDM_NOTIFY_POWER_OFF] = "power-off",
};

const char *pdm_notify_name(enum pdm_notify notify)
{
	return (unsigned)notify < PDM_NOTIFY_COUNT ? pdm_notify_names[notify] : "invalid";
}

static uint64_t pdm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- one instance ---- */

/* One instance for the round: a device or a driver. */
struct pdm_callee {
	struct pdm_device *device;          /* exactly one of these is set */
	struct pdm_driver *driver;
};

static struct pdm_notify_state *pdm_state(struct pdm_callee c)
{
	return c.device ? &c.device->notify : &c.driver->notify;
}

static const char *pdm_callee_name(struct pdm_callee c)
{
	return c.device ? c.device->name : c.driver->name;
}

static struct pdm *pdm_callee_pdm(struct pdm_callee c)
{
	return c.device ? c.device->pdm : c.driver->pdm;
}

/* Runs the instance's callback for notify, if it has one. */
static void pdm_call(struct pdm_callee c, enum pdm_notify notify)
{
	if (c.device) {
		const struct pdm_dev_reg *reg = &c.device->type->reg;
		void (*fns[PDM_NOTIFY_COUNT])(struct pdm_dev_ins *) = {
			reg->power_on, reg->suspend, reg->resume, reg->reset, reg->power_off,
		};

		if (fns[notify])
			fns[notify](&c.device->ins);
	} else {
		const struct pdm_drv_reg *reg = &c.driver->type->reg;
		void (*fns[PDM_NOTIFY_COUNT])(struct pdm_drv_ins *) = {
			reg->power_on, reg->suspend, reg->resume, reg->reset, reg->power_off,
		};

		if (fns[notify])
			fns[notify](&c.driver->ins);
	}
}

static bool pdm_ask_done(struct pdm_callee c)
{
	return c.device ? c.device->notify.async_done.dev(&c.device->ins) :
			  c.driver->notify.async_done.drv(&c.driver->ins);
}

static void pdm_finish(struct pdm_callee c, enum pdm_notify notify, bool was_async)
{
	struct pdm_notify_state *state = pdm_state(c);
	struct pdm *pdm = pdm_callee_pdm(c);
	uint64_t took = pdm_now_ns() - state->start_ns;

	pthread_mutex_lock(&pdm->async_lock);
	state->is_done = true;
	state->is_pending = false;
	state->last_ns[notify] = took ? took : 1;
	state->was_async[notify] = was_async;
	pthread_mutex_unlock(&pdm->async_lock);
	if (took > PDM_SLOW_NS)
		log_warn("pdm", "'%s' took %.1f s to complete its %s notification",
			 pdm_callee_name(c), (double)took / 1e9, pdm_notify_name(notify));
}

/*
 * Notifies one instance if it was not yet this round, and says whether it is done. A
 * pending instance is asked done() again only when may_ask (after a wake-up).
 */
static bool pdm_notify_one(struct pdm_callee c, enum pdm_notify notify, bool may_ask)
{
	struct pdm_notify_state *state = pdm_state(c);
	struct pdm *pdm = pdm_callee_pdm(c);

	if (state->is_done)
		return true;
	if (!state->is_notified) {
		state->is_notified = true;
		state->is_pending = false;
		state->start_ns = pdm_now_ns();
		pdm->notifying = c.device ? (void *)&c.device->ins : (void *)&c.driver->ins;
		pdm->notify_kind = notify;
		pdm_call(c, notify);
		pdm->notifying = NULL;
		if (!state->is_pending) {
			pdm_finish(c, notify, false);
			return true;
		}
		log_debug("pdm", "'%s' completes its %s notification asynchronously",
			  pdm_callee_name(c), pdm_notify_name(notify));
		return false;
	}
	if (may_ask && pdm_ask_done(c)) {
		pdm_finish(c, notify, true);
		return true;
	}
	return false;
}

/* ---- chains and devices ---- */

static bool pdm_notify_chain(struct pdm_driver *top, enum pdm_notify notify, bool may_ask)
{
	/* Top-down; the links below a pending one wait for it. */
	for (struct pdm_driver *d = top; d; d = d->below)
		if (!pdm_notify_one((struct pdm_callee){ .driver = d }, notify, may_ask))
			return false;
	return true;
}

static bool pdm_notify_device(struct pdm_device *device, enum pdm_notify notify, bool may_ask)
{
	bool is_first = device->type->reg.flags & PDM_DEVREG_F_NOTIFY_FIRST;
	bool are_drivers_done = true;

	if (is_first && !pdm_notify_one((struct pdm_callee){ .device = device }, notify, may_ask))
		return false;           /* its drivers wait for it */
	for (struct pdm_lun *lun = device->luns; lun; lun = lun->next)
		if (!pdm_notify_chain(lun->top, notify, may_ask))
			are_drivers_done = false;   /* the other LUNs go on */
	if (is_first)
		return are_drivers_done;
	return are_drivers_done && pdm_notify_one((struct pdm_callee){ .device = device }, notify, may_ask);
}

static void pdm_reset_round(struct pdm *pdm)
{
	for (struct pdm_device *device = pdm->devices; device; device = device->next) {
		device->notify.is_notified = device->notify.is_done = false;
		for (struct pdm_lun *lun = device->luns; lun; lun = lun->next)
			for (struct pdm_driver *d = lun->top; d; d = d->below)
				d->notify.is_notified = d->notify.is_done = false;
	}
}

static void pdm_log_pending(struct pdm *pdm, enum pdm_notify notify, uint64_t waited_ns)
{
	char names[1024];
	size_t len = 0;

	names[0] = '\0';
	for (struct pdm_device *device = pdm->devices; device; device = device->next) {
		struct pdm_notify_state *states[64];
		const char *who[64];
		int count = 0;

		states[count] = &device->notify;
		who[count++] = device->name;
		for (struct pdm_lun *lun = device->luns; lun; lun = lun->next)
			for (struct pdm_driver *d = lun->top; d && count < 64; d = d->below) {
				states[count] = &d->notify;
				who[count++] = d->name;
			}
		for (int i = 0; i < count; i++)
			if (states[i]->is_notified && !states[i]->is_done && len < sizeof(names))
				len += (size_t)snprintf(names + len, sizeof(names) - len, "%s'%s'",
							len ? ", " : "", who[i]);
	}
	log_warn("pdm", "%s: still waiting for %s after %.0f s", pdm_notify_name(notify), names,
		 (double)waited_ns / 1e9);
}

/* Waits until woken or until deadline_ns; returns true when woken. */
static bool pdm_wait(struct pdm *pdm, uint64_t *seen, uint64_t deadline_ns)
{
	struct timespec ts;
	bool is_woken;

	ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
	ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
	pthread_mutex_lock(&pdm->async_lock);
	while (pdm->async_wakeups == *seen &&
	       pthread_cond_timedwait(&pdm->async_cond, &pdm->async_lock, &ts) == 0)
		;
	is_woken = pdm->async_wakeups != *seen;
	*seen = pdm->async_wakeups;
	pthread_mutex_unlock(&pdm->async_lock);
	return is_woken;
}

void pdm_wake(struct pdm *pdm)
{
	pthread_mutex_lock(&pdm->async_lock);
	pdm->async_wakeups++;
	pthread_cond_broadcast(&pdm->async_cond);
	pthread_mutex_unlock(&pdm->async_lock);
}

void pdm_async_completed(struct pdm *pdm)
{
	pdm_wake(pdm);
}

int pdm_check_async(struct pdm *pdm, const void *ins, bool has_done, struct err *err)
{
	if (!has_done)
		return err_set(err, PDM_ERR_INVALID_ARG, "set_async_notification needs a done callback");
	if (!ins || pdm->notifying != ins || pdm->notify_kind == PDM_NOTIFY_POWER_ON ||
	    pdm->notify_kind == PDM_NOTIFY_RESUME)
		return err_set(err, PDM_ERR_STATE,
			       "set_async_notification is only allowed in a suspend, reset or "
			       "power-off callback");
	return 0;
}

/* One round of a notification that may complete asynchronously. */
static void pdm_round(struct pdm *pdm, enum pdm_notify notify)
{
	uint64_t start = pdm_now_ns(), next_log = 1000000000ull, seen;
	bool may_ask = false;

	pthread_mutex_lock(&pdm->async_lock);
	seen = pdm->async_wakeups;
	pthread_mutex_unlock(&pdm->async_lock);
	pdm_reset_round(pdm);
	for (;;) {
		bool is_all_done = true;

		for (struct pdm_device *device = pdm->devices; device; device = device->next)
			if (!pdm_notify_device(device, notify, may_ask))
				is_all_done = false;
		if (is_all_done)
			break;
		/* Sleep until a completion (or the next log time); then ask done() again. */
		may_ask = pdm_wait(pdm, &seen, start + next_log);
		if (pdm->host && pdm->host->serve_priority)
			pdm->host->serve_priority(pdm->host->ctx);
		if (pdm_now_ns() >= start + next_log) {
			pdm_log_pending(pdm, notify, pdm_now_ns() - start);
			next_log *= 2;
			may_ask = true;
		}
	}
}

/* ---- the notifications ---- */

/* Power-on and resume: chains bottom-up, then the device; nothing can be pending. */
static void pdm_chain_up(struct pdm_driver *driver, enum pdm_notify notify)
{
	if (!driver)
		return;
	pdm_chain_up(driver->below, notify);
	pdm_notify_one((struct pdm_callee){ .driver = driver }, notify, false);
}

static void pdm_bring_up(struct pdm *pdm, enum pdm_notify notify)
{
	pdm_reset_round(pdm);
	for (struct pdm_device *device = pdm->devices; device; device = device->next) {
		for (struct pdm_lun *lun = device->luns; lun; lun = lun->next)
			pdm_chain_up(lun->top, notify);
		pdm_notify_one((struct pdm_callee){ .device = device }, notify, false);
	}
	pdm_threads_resume(pdm);
}

void pdm_power_on(struct pdm *pdm)
{
	pdm_bring_up(pdm, PDM_NOTIFY_POWER_ON);
}

void pdm_resume(struct pdm *pdm)
{
	pdm_bring_up(pdm, PDM_NOTIFY_RESUME);
}

void pdm_suspend(struct pdm *pdm)
{
	pdm_round(pdm, PDM_NOTIFY_SUSPEND);
	pdm_threads_suspend(pdm);
}

void pdm_reset(struct pdm *pdm)
{
	pdm_round(pdm, PDM_NOTIFY_RESET);
}

void pdm_power_off(struct pdm *pdm)
{
	pdm_round(pdm, PDM_NOTIFY_POWER_OFF);
	pdm_threads_suspend(pdm);
}

/* ---- timings ---- */

static void pdm_report(const char *name, bool is_driver, const struct pdm_notify_state *state,
		       void (*fn)(const struct pdm_instance_info *, void *), void *user)
{
	struct pdm_instance_info info = { .name = name, .is_driver = is_driver };

	memcpy(info.last_ns, state->last_ns, sizeof(info.last_ns));
	memcpy(info.was_async, state->was_async, sizeof(info.was_async));
	fn(&info, user);
}

void pdm_for_each_instance(struct pdm *pdm,
			   void (*fn)(const struct pdm_instance_info *info, void *user), void *user)
{
	/* Under async_lock: the timings change on EMT 0 while a control client reads. */
	pthread_mutex_lock(&pdm->async_lock);
	for (struct pdm_device *device = pdm->devices; device; device = device->next) {
		for (struct pdm_lun *lun = device->luns; lun; lun = lun->next)
			for (struct pdm_driver *d = lun->top; d; d = d->below)
				pdm_report(d->name, true, &d->notify, fn, user);
		pdm_report(device->name, false, &device->notify, fn, user);
	}
	pthread_mutex_unlock(&pdm->async_lock);
}
