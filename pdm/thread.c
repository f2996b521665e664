/*
 * pdm/thread.c - plugin worker threads.
 *
 * A worker is created suspended and runs its function only while the VM runs. The
 * core asks it to stop by changing its state and calling its wakeup callback; the
 * function sees thread_is_running() turn false and returns, and the thread parks until
 * it is resumed (fn is called again) or terminated (joined).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdm/pdm.h"
#include "util/log.h"

enum pdm_thread_state {
	PDM_THREAD_INVALID = 0,
	PDM_THREAD_SUSPENDED,       /* parked, fn not running */
	PDM_THREAD_RUNNING,         /* fn running (or about to) */
	PDM_THREAD_SUSPENDING,      /* asked to park; fn still running */
	PDM_THREAD_DONE,            /* fn returned on its own while running */
	PDM_THREAD_TERMINATING,     /* asked to exit */
	PDM_THREAD_TERMINATED,
};

struct pdm_thread {
	pthread_t tid;
	_Atomic int state;          /* enum pdm_thread_state; changed under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pdm_thread_fn fn;
	pdm_thread_wakeup_fn wakeup;
	void *user;
	const void *owner;
	char name[96];
	struct pdm_thread *next;
};

static void pdm_thread_set_state(struct pdm_thread *thread, enum pdm_thread_state state)
{
	atomic_store(&thread->state, state);
	pthread_cond_broadcast(&thread->cond);
}

static void *pdm_thread_main(void *arg)
{
	struct pdm_thread *thread = arg;

	pthread_mutex_lock(&thread->lock);
	for (;;) {
		while (thread->state == PDM_THREAD_SUSPENDED || thread->state == PDM_THREAD_DONE)
			pthread_cond_wait(&thread->cond, &thread->lock);
		if (thread->state == PDM_THREAD_TERMINATING)
			break;
		if (thread->state == PDM_THREAD_SUSPENDING) {
			/* Suspended again before it got to run: no need to call fn. */
			pdm_thread_set_state(thread, PDM_THREAD_SUSPENDED);
			continue;
		}
		pthread_mutex_unlock(&thread->lock);
		int status = thread->fn(thread, thread->user);
		pthread_mutex_lock(&thread->lock);
		if (status < 0)
			log_warn("pdm", "thread '%s' returned %d (%s)", thread->name, status,
				 pdm_status_message(status));
		if (thread->state == PDM_THREAD_RUNNING)
			pdm_thread_set_state(thread, PDM_THREAD_DONE);
		else if (thread->state == PDM_THREAD_SUSPENDING)
			pdm_thread_set_state(thread, PDM_THREAD_SUSPENDED);
	}
	pdm_thread_set_state(thread, PDM_THREAD_TERMINATED);
	pthread_mutex_unlock(&thread->lock);
	return NULL;
}

int pdm_thread_create(struct pdm *pdm, const void *owner, const char *owner_name,
		      struct pdm_thread **out, pdm_thread_fn fn, pdm_thread_wakeup_fn wakeup,
		      void *user, const char *name, struct err *err)
{
	struct pdm_thread *thread, **tail;
	int rc;

	*out = NULL;
	if (!fn)
		return err_set(err, PDM_ERR_INVALID_ARG, "thread '%s' has no function", name ? name : "");
	thread = calloc(1, sizeof(*thread));
	if (!thread)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	thread->fn = fn;
	thread->wakeup = wakeup;
	thread->user = user;
	thread->owner = owner;
	snprintf(thread->name, sizeof(thread->name), "%s/%s", owner_name, name ? name : "worker");
	pthread_mutex_init(&thread->lock, NULL);
	pthread_cond_init(&thread->cond, NULL);
	/* Under the list lock, so that a resume or suspend running now cannot miss it. */
	pthread_mutex_lock(&pdm->threads_lock);
	atomic_init(&thread->state, pdm->is_running ? PDM_THREAD_RUNNING : PDM_THREAD_SUSPENDED);
	rc = pthread_create(&thread->tid, NULL, pdm_thread_main, thread);
	if (rc) {
		pthread_mutex_unlock(&pdm->threads_lock);
		pthread_cond_destroy(&thread->cond);
		pthread_mutex_destroy(&thread->lock);
		free(thread);
		return err_set(err, PDM_ERR_NO_MEMORY, "cannot create thread '%s': %s", name,
			       strerror(rc));
	}
	for (tail = &pdm->threads; *tail; tail = &(*tail)->next)
		;
	*tail = thread;
	pthread_mutex_unlock(&pdm->threads_lock);
	*out = thread;
	return 0;
}

bool pdm_thread_is_running(struct pdm_thread *thread)
{
	return atomic_load(&thread->state) == PDM_THREAD_RUNNING;
}

static void pdm_thread_resume(struct pdm_thread *thread)
{
	pthread_mutex_lock(&thread->lock);
	/* A function that returned on its own is called again, as <modvm/pdm.h> promises. */
	if (thread->state == PDM_THREAD_SUSPENDED || thread->state == PDM_THREAD_DONE)
		pdm_thread_set_state(thread, PDM_THREAD_RUNNING);
	pthread_mutex_unlock(&thread->lock);
}

static void pdm_thread_suspend(struct pdm_thread *thread)
{
	pthread_mutex_lock(&thread->lock);
	if (thread->state == PDM_THREAD_RUNNING) {
		pdm_thread_set_state(thread, PDM_THREAD_SUSPENDING);
		pthread_mutex_unlock(&thread->lock);
		/* Outside the lock: a wakeup may take the owner's locks. */
		if (thread->wakeup)
			thread->wakeup(thread, thread->user);
		pthread_mutex_lock(&thread->lock);
		while (thread->state == PDM_THREAD_SUSPENDING)
			pthread_cond_wait(&thread->cond, &thread->lock);
	}
	pthread_mutex_unlock(&thread->lock);
}

static void pdm_thread_terminate(struct pdm_thread *thread)
{
	bool was_running;

	pdm_thread_suspend(thread);
	pthread_mutex_lock(&thread->lock);
	was_running = thread->state == PDM_THREAD_RUNNING;
	pdm_thread_set_state(thread, PDM_THREAD_TERMINATING);
	pthread_mutex_unlock(&thread->lock);
	if (was_running && thread->wakeup)
		thread->wakeup(thread, thread->user);
	pthread_join(thread->tid, NULL);
	pthread_cond_destroy(&thread->cond);
	pthread_mutex_destroy(&thread->lock);
	free(thread);
}

void pdm_threads_resume(struct pdm *pdm)
{
	pthread_mutex_lock(&pdm->threads_lock);
	pdm->is_running = true;
	for (struct pdm_thread *t = pdm->threads; t; t = t->next)
		pdm_thread_resume(t);
	pthread_mutex_unlock(&pdm->threads_lock);
}

void pdm_threads_suspend(struct pdm *pdm)
{
	pthread_mutex_lock(&pdm->threads_lock);
	pdm->is_running = false;
	for (struct pdm_thread *t = pdm->threads; t; t = t->next)
		pdm_thread_suspend(t);
	pthread_mutex_unlock(&pdm->threads_lock);
}

void pdm_threads_destroy(struct pdm *pdm, const void *owner)
{
	struct pdm_thread **link, *doomed = NULL, *thread;

	pthread_mutex_lock(&pdm->threads_lock);
	for (link = &pdm->threads; *link; ) {
		thread = *link;
		if (!owner || thread->owner == owner) {
			*link = thread->next;
			thread->next = doomed;
			doomed = thread;
		} else {
			link = &thread->next;
		}
	}
	pthread_mutex_unlock(&pdm->threads_lock);
	while (doomed) {
		thread = doomed;
		doomed = thread->next;
		pdm_thread_terminate(thread);
	}
}
