/*
 * pdm/instance.h - device and driver instances, private to pdm/.
 *
 * The public struct pdm_dev_ins / pdm_drv_ins sits first in the core's struct, so the
 * helper callbacks get back to it with PDM_CONTAINER_OF.
 */
#ifndef PDM_INSTANCE_H
#define PDM_INSTANCE_H

#include <stdarg.h>

#include "pdm/pdm.h"

/* Where an instance is in the current power notification round (pdm/power.c). */
struct pdm_notify_state {
	bool is_notified;                   /* its callback ran this round */
	bool is_done;                       /* and it completed (at once or async) */
	bool is_pending;                    /* set_async_notification was called */
	union {                             /* the done callback it gave */
		bool (*dev)(struct pdm_dev_ins *dev);
		bool (*drv)(struct pdm_drv_ins *drv);
	} async_done;
	uint64_t start_ns;
	uint64_t last_ns[PDM_NOTIFY_COUNT];
	bool was_async[PDM_NOTIFY_COUNT];
};

struct pdm_lun {
	uint32_t lun;
	struct pdm_driver *top;             /* first driver of the chain */
	struct pdm_lun *next;
};

struct pdm_device {
	struct pdm_dev_ins ins;             /* first */
	struct pdm *pdm;
	struct pdm_dev_type *type;
	struct cfg_node *cfg;
	pthread_mutex_t lock;
	bool is_constructing;               /* construct-time-only helpers allowed */
	struct pdm_notify_state notify;
	struct pdm_ibase base;              /* trampoline to reg->query_interface */
	struct pdm_lun *luns;               /* attach order */
	struct err err;                     /* set by hlp->error */
	struct err chain_err;               /* why the last driver_attach failed */
	char name[64];
	struct pdm_device *next;
};

struct pdm_driver {
	struct pdm_drv_ins ins;             /* first */
	struct pdm *pdm;
	struct pdm_drv_type *type;
	struct pdm_device *device;          /* owner of the chain */
	struct cfg_node *cfg;
	bool is_constructing;
	struct pdm_notify_state notify;
	struct pdm_ibase base;              /* trampoline to reg->query_interface */
	struct pdm_driver *below;
	struct err err;
	char name[160];
};

/*
 * Where a section is, for messages: "<file>:<line>: [<path>]" from its header, else
 * from its first value or first sub-section (an instance written only as -o values
 * or only through its lun sections has no header), else just "[<path>]".
 */
const char *pdm_where(const struct cfg_node *node, char *buf, size_t size);

/*
 * power.c: set_async_notification's check (it must come from the instance whose
 * callback runs now; ins is its public struct) and async_notification_completed.
 */
int pdm_check_async(struct pdm *pdm, const void *ins, bool has_done, struct err *err);
void pdm_async_completed(struct pdm *pdm);
/* Formats and forwards a runtime error to the host. */
int pdm_runtime_error(struct pdm *pdm, const char *source, enum pdm_runtime_error kind,
		      const char *id, const char *fmt, va_list ap) PDM_PRINTF(5, 0);

extern const struct pdm_dev_hlp pdm_dev_hlp;
extern const struct pdm_drv_hlp pdm_drv_hlp;

/* Builds the chain configured at node (a lun<N> or attached section) under `above`. */
int pdm_chain_construct(struct pdm_device *device, struct cfg_node *node, const char *name_prefix,
			struct pdm_ibase *above, struct pdm_driver **top, struct err *err);
/* Terminates the worker threads of every link of a chain. */
void pdm_chain_stop_threads(struct pdm_driver *top);
/* Stops the chain's threads, then destroys it bottom-up: the lowest driver first. */
void pdm_chain_destroy(struct pdm_driver *top);

#endif
