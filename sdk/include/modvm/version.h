/*
 * modvm/version.h - the plugin ABI version.
 *
 * A module records the version it was built against in its exported data symbol
 * (PDM_MODULE_DECLARE). The loader accepts it when the majors are equal and the
 * module's minor is not newer than the core's. The minor grows when records or helper
 * tables grow at their end; the major changes only when something existing changes.
 */
#ifndef MODVM_VERSION_H
#define MODVM_VERSION_H

#include <stdint.h>

#define PDM_ABI_MAJOR 1
#define PDM_ABI_MINOR 1
#define PDM_ABI_MAKE(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define PDM_ABI_VERSION PDM_ABI_MAKE(PDM_ABI_MAJOR, PDM_ABI_MINOR)
#define PDM_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define PDM_ABI_MINOR_OF(v) ((uint32_t)(v) & 0xffff)

#endif
