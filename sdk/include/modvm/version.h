/*
 * modvm/version.h - the plugin ABI version.
 *
 * A module records the version it was built against in its exported data symbol
 * (PDM_MODULE_DECLARE). The loader accepts it when the majors are equal and the
 * module's minor is not newer than the core's. The minor grows when records or helper
 * tables grow at their end; the major changes only when something existing changes.
 *
 * History (what each minor added; a plugin that needs it declares at least that minor,
 * or checks hlp->size before the call):
 *   1.0  the first ABI
 *   1.1  asynchronous notification (set_async_notification,
 *        async_notification_completed), vm_request_reset and vm_request_suspend for
 *        devices, runtime_error for devices and drivers
 *   1.2  pdm_dev_hlp.machine_info and struct pdm_machine_info; vm_request_poweroff and
 *        vm_request_reset for drivers
 */
#ifndef MODVM_VERSION_H
#define MODVM_VERSION_H

#include <stdint.h>

#define PDM_ABI_MAJOR 1
#define PDM_ABI_MINOR 2
#define PDM_ABI_MAKE(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define PDM_ABI_VERSION PDM_ABI_MAKE(PDM_ABI_MAJOR, PDM_ABI_MINOR)
#define PDM_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define PDM_ABI_MINOR_OF(v) ((uint32_t)(v) & 0xffff)

#endif
