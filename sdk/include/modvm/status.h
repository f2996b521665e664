/*
 * modvm/status.h - status codes shared by the core and every plugin.
 *
 * Every function of the plugin API returns an int: PDM_OK (0) on success or one of the
 * negative PDM_ERR_* codes below. Detail goes into a message set where the error was
 * found (pdm_dev_hlp.error / pdm_drv_hlp.error); the code only classifies it.
 * Codes are part of the ABI: new ones are only ever added below the last one.
 */
#ifndef MODVM_STATUS_H
#define MODVM_STATUS_H

enum pdm_status {
	PDM_OK = 0,
	PDM_ERR_GENERIC = -1,           /* unclassified failure */
	PDM_ERR_NO_MEMORY = -2,         /* an allocation failed */
	PDM_ERR_INVALID_ARG = -3,       /* a caller passed a bad argument */
	PDM_ERR_NOT_FOUND = -4,         /* a named thing does not exist */
	PDM_ERR_ABI = -5,               /* ABI version or record size mismatch */
	PDM_ERR_NO_ENTRY = -6,          /* a module lacks its entry point */
	PDM_ERR_CFG = -7,               /* the configuration is invalid */
	PDM_ERR_CFG_MISSING = -8,       /* an optional key without default is absent */
	PDM_ERR_NO_DRIVER = -9,         /* no driver is configured on this LUN */
	PDM_ERR_NO_INTERFACE = -10,     /* a link lacks an interface it must provide */
	PDM_ERR_IO = -11,               /* a host I/O operation failed */
	PDM_ERR_EOF = -12,              /* a stream reached its end */
	PDM_ERR_BUSY = -13,             /* a resource is already in use */
	PDM_ERR_STATE = -14,            /* the VM or object is in the wrong state */
	PDM_ERR_TOO_MANY = -15,         /* a limit (instances, ranges, ...) is reached */
	PDM_ERR_DUPLICATE = -16,        /* a name or range is registered twice */
	PDM_ERR_NOT_SUPPORTED = -17,    /* the operation is not implemented */
	PDM_ERR_TIMEOUT = -18,          /* a wait ran out of time */
	PDM_ERR_INTERRUPTED = -19,      /* a blocking wait was woken on purpose */
	PDM_ERR_KVM = -20,              /* a KVM ioctl failed */
	PDM_ERR_GUEST = -21,            /* the guest did something unrecoverable */
	PDM_ERR_CONSTRUCT = -22,        /* a constructor failed */
};

/* A short, lower-case description of a status code, for messages. */
static inline const char *pdm_status_message(int status)
{
	switch (status) {
	case PDM_OK: return "success";
	case PDM_ERR_GENERIC: return "failure";
	case PDM_ERR_NO_MEMORY: return "out of memory";
	case PDM_ERR_INVALID_ARG: return "invalid argument";
	case PDM_ERR_NOT_FOUND: return "not found";
	case PDM_ERR_ABI: return "incompatible plugin ABI";
	case PDM_ERR_NO_ENTRY: return "no plugin entry point";
	case PDM_ERR_CFG: return "invalid configuration";
	case PDM_ERR_CFG_MISSING: return "configuration key not set";
	case PDM_ERR_NO_DRIVER: return "no driver attached";
	case PDM_ERR_NO_INTERFACE: return "missing interface";
	case PDM_ERR_IO: return "host i/o error";
	case PDM_ERR_EOF: return "end of stream";
	case PDM_ERR_BUSY: return "busy";
	case PDM_ERR_STATE: return "wrong state";
	case PDM_ERR_TOO_MANY: return "limit reached";
	case PDM_ERR_DUPLICATE: return "already registered";
	case PDM_ERR_NOT_SUPPORTED: return "not supported";
	case PDM_ERR_TIMEOUT: return "timed out";
	case PDM_ERR_INTERRUPTED: return "interrupted";
	case PDM_ERR_KVM: return "kvm error";
	case PDM_ERR_GUEST: return "guest error";
	case PDM_ERR_CONSTRUCT: return "constructor failed";
	}
	return "unknown status";
}

#endif
