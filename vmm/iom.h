/*
 * vmm/iom.h - I/O port and MMIO dispatch from an exit to the owning device's handler.
 *
 * Ranges are registered while devices are constructed, before any EMT runs guest
 * code, and never change afterwards: lookups take no lock. A port is found in two
 * steps through a table of 256 pages of 256 entries (pages allocated on first use),
 * so the cost is the same for 1 device or 1000; an MMIO range by binary search in a
 * sorted array. The handler runs under its device's lock.
 *
 * An access that no device claims reads as all-ones, is ignored on write, and is
 * counted; so is a handler that returns an error.
 */
#ifndef VMM_IOM_H
#define VMM_IOM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <modvm/device.h>
#include "util/err.h"

struct iom_range {
	uint64_t base;
	uint64_t size;
	struct pdm_dev_ins *dev;        /* NULL: the machine's own chips (vmm/irqchip.c) */
	pthread_mutex_t *lock;          /* the device lock */
	void *user;
	union {
		struct { pdm_ioport_in_fn in; pdm_ioport_out_fn out; } pio;
		struct { pdm_mmio_read_fn read; pdm_mmio_write_fn write; } mmio;
	};
	char desc[48];
};

#define IOM_PIO_PAGE_BITS 8
#define IOM_PIO_PAGES (65536 >> IOM_PIO_PAGE_BITS)

struct iom_stats {
	_Atomic uint64_t unhandled_pio;
	_Atomic uint64_t unhandled_mmio;
	_Atomic uint64_t handler_errors;
};

struct iom {
	struct iom_range **pio_pages[IOM_PIO_PAGES];     /* NULL: no port of this page claimed */
	struct iom_range **pio_all;                       /* every port range, for teardown */
	unsigned pio_count;
	struct iom_range **mmio;                          /* sorted by base */
	unsigned mmio_count;
	struct iom_stats stats;
};

void iom_init(struct iom *iom);
void iom_release(struct iom *iom);
int iom_register_pio(struct iom *iom, struct pdm_dev_ins *dev, pthread_mutex_t *lock,
		     uint16_t port, uint32_t count, void *user, pdm_ioport_in_fn in,
		     pdm_ioport_out_fn out, const char *desc, struct err *err);
int iom_register_mmio(struct iom *iom, struct pdm_dev_ins *dev, pthread_mutex_t *lock,
		      uint64_t gpa, uint64_t size, void *user, pdm_mmio_read_fn read,
		      pdm_mmio_write_fn write, const char *desc, struct err *err);
/* One access of size 1, 2 or 4 bytes; data is little-endian guest data. */
void iom_dispatch_pio(struct iom *iom, uint16_t port, bool is_write, void *data, unsigned size);
void iom_dispatch_mmio(struct iom *iom, uint64_t gpa, bool is_write, void *data, unsigned len);

#endif
