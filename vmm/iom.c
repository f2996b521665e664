/*
 * vmm/iom.c - I/O port and MMIO dispatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vmm/iom.h"

#define IOM_PIO_PAGE_SIZE (1u << IOM_PIO_PAGE_BITS)

void iom_init(struct iom *iom)
{
	memset(iom, 0, sizeof(*iom));
}

void iom_release(struct iom *iom)
{
	for (unsigned i = 0; i < IOM_PIO_PAGES; i++)
		free(iom->pio_pages[i]);
	for (unsigned i = 0; i < iom->pio_count; i++)
		free(iom->pio_all[i]);
	for (unsigned i = 0; i < iom->mmio_count; i++)
		free(iom->mmio[i]);
	free(iom->pio_all);
	free(iom->mmio);
	memset(iom, 0, sizeof(*iom));
}

static struct iom_range *iom_pio_lookup(struct iom *iom, uint16_t port)
{
	struct iom_range **page = iom->pio_pages[port >> IOM_PIO_PAGE_BITS];

	return page ? page[port & (IOM_PIO_PAGE_SIZE - 1)] : NULL;
}

/* Who owns a range: a device instance, or (dev NULL) the machine itself, vmm/irqchip.c. */
static const char *iom_owner(const struct iom_range *range)
{
	return range->dev ? range->dev->name : "machine";
}

static struct iom_range *iom_range_new(struct pdm_dev_ins *dev, pthread_mutex_t *lock,
				       uint64_t base, uint64_t size, void *user, const char *desc)
{
	struct iom_range *range = calloc(1, sizeof(*range));

	if (!range)
		return NULL;
	range->base = base;
	range->size = size;
	range->dev = dev;
	range->lock = lock;
	range->user = user;
	snprintf(range->desc, sizeof(range->desc), "%s", desc ? desc : dev->name);
	return range;
}

int iom_register_pio(struct iom *iom, struct pdm_dev_ins *dev, pthread_mutex_t *lock,
		     uint16_t port, uint32_t count, void *user, pdm_ioport_in_fn in,
		     pdm_ioport_out_fn out, const char *desc, struct err *err)
{
	struct iom_range *range, **all;

	if (count == 0 || count > 65536u - port)
		return err_set(err, PDM_ERR_INVALID_ARG, "port range %#x+%u is outside 0..0xffff",
			       port, count);
	for (uint32_t p = port; p < port + count; p++) {
		struct iom_range *owner = iom_pio_lookup(iom, (uint16_t)p);

		if (owner)
			return err_set(err, PDM_ERR_DUPLICATE,
				       "port %#x is already claimed by '%s' (%s, %#llx-%#llx)", p,
				       iom_owner(owner), owner->desc,
				       (unsigned long long)owner->base,
				       (unsigned long long)(owner->base + owner->size - 1));
	}
	range = iom_range_new(dev, lock, port, count, user, desc);
	all = realloc(iom->pio_all, (iom->pio_count + 1) * sizeof(*all));
	if (!range || !all) {
		free(range);
		if (all)
			iom->pio_all = all;
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	}
	iom->pio_all = all;
	range->pio.in = in;
	range->pio.out = out;
	for (uint32_t p = port; p < port + count; p++) {
		struct iom_range ***page = &iom->pio_pages[p >> IOM_PIO_PAGE_BITS];

		if (!*page && !(*page = calloc(IOM_PIO_PAGE_SIZE, sizeof(**page)))) {
			/* Roll back what this call claimed. */
			for (uint32_t q = port; q < p; q++)
				iom->pio_pages[q >> IOM_PIO_PAGE_BITS][q & (IOM_PIO_PAGE_SIZE - 1)] = NULL;
			free(range);
			return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
		}
		(*page)[p & (IOM_PIO_PAGE_SIZE - 1)] = range;
	}
	iom->pio_all[iom->pio_count++] = range;
	return 0;
}

int iom_register_mmio(struct iom *iom, struct pdm_dev_ins *dev, pthread_mutex_t *lock,
		      uint64_t gpa, uint64_t size, void *user, pdm_mmio_read_fn read,
		      pdm_mmio_write_fn write, const char *desc, struct err *err)
{
	struct iom_range *range, **mmio;
	unsigned at = 0;

	if (size == 0 || gpa + size < gpa)
		return err_set(err, PDM_ERR_INVALID_ARG, "mmio range %#llx+%#llx is invalid",
			       (unsigned long long)gpa, (unsigned long long)size);
	while (at < iom->mmio_count && iom->mmio[at]->base < gpa)
		at++;
	for (unsigned i = at ? at - 1 : 0; i < iom->mmio_count && i <= at; i++) {
		struct iom_range *other = iom->mmio[i];

		if (gpa < other->base + other->size && other->base < gpa + size)
			return err_set(err, PDM_ERR_DUPLICATE,
				       "mmio %#llx-%#llx overlaps '%s' (%s, %#llx-%#llx)",
				       (unsigned long long)gpa, (unsigned long long)(gpa + size - 1),
				       iom_owner(other), other->desc,
				       (unsigned long long)other->base,
				       (unsigned long long)(other->base + other->size - 1));
	}
	range = iom_range_new(dev, lock, gpa, size, user, desc);
	mmio = realloc(iom->mmio, (iom->mmio_count + 1) * sizeof(*mmio));
	if (!range || !mmio) {
		free(range);
		if (mmio)
			iom->mmio = mmio;
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	}
	iom->mmio = mmio;
	range->mmio.read = read;
	range->mmio.write = write;
	memmove(&mmio[at + 1], &mmio[at], (iom->mmio_count - at) * sizeof(*mmio));
	mmio[at] = range;
	iom->mmio_count++;
	return 0;
}

/*
 * Port data is 1, 2 or 4 little-endian bytes: fixed-size copies compile to single
 * moves, where a memcpy of a variable size is a libc call on every exit.
 */
static uint32_t iom_load(const void *data, unsigned size)
{
	switch (size) {
	case 1: return *(const uint8_t *)data;
	case 2: { uint16_t v; memcpy(&v, data, 2); return v; }
	default: { uint32_t v; memcpy(&v, data, 4); return v; }
	}
}

static void iom_store(void *data, unsigned size, uint32_t value)
{
	switch (size) {
	case 1: *(uint8_t *)data = (uint8_t)value; break;
	case 2: { uint16_t v = (uint16_t)value; memcpy(data, &v, 2); break; }
	default: memcpy(data, &value, 4); break;
	}
}

static void iom_count_unhandled(_Atomic uint64_t *counter, const char *kind, uint64_t addr,
				bool is_write)
{
	/* Log the first few only: a guest probing hardware makes many such accesses. */
	if (atomic_fetch_add(counter, 1) < 8)
		log_debug("iom", "unhandled %s %s at %#llx", kind, is_write ? "write" : "read",
			  (unsigned long long)addr);
}

void iom_dispatch_pio(struct iom *iom, uint16_t port, bool is_write, void *data, unsigned size)
{
	struct iom_range *range = iom_pio_lookup(iom, port);
	uint32_t value;
	int status;

	/*
	 * A wide access that runs past the end of its range goes out byte by byte, as on
	 * the ISA bus: each device sees only offsets inside what it registered.
	 */
	if (range && size > 1 && (uint32_t)(port - range->base) + size > range->size) {
		for (unsigned i = 0; i < size; i++)
			iom_dispatch_pio(iom, (uint16_t)(port + i), is_write, (uint8_t *)data + i, 1);
		return;
	}

	if (!range || (is_write ? !range->pio.out : !range->pio.in)) {
		if (!is_write)
			iom_store(data, size, 0xffffffffu);
		iom_count_unhandled(&iom->stats.unhandled_pio, "port", port, is_write);
		return;
	}
	pthread_mutex_lock(range->lock);
	if (is_write) {
		value = iom_load(data, size);
		status = range->pio.out(range->dev, range->user, (uint16_t)(port - range->base),
					value, size);
	} else {
		value = 0xffffffffu;
		status = range->pio.in(range->dev, range->user, (uint16_t)(port - range->base),
				       &value, size);
		if (status)
			value = 0xffffffffu;
		iom_store(data, size, value);
	}
	pthread_mutex_unlock(range->lock);
	if (status)
		atomic_fetch_add(&iom->stats.handler_errors, 1);
}

static struct iom_range *iom_mmio_lookup(struct iom *iom, uint64_t gpa)
{
	unsigned lo = 0, hi = iom->mmio_count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		struct iom_range *r = iom->mmio[mid];

		if (gpa < r->base)
			hi = mid;
		else if (gpa - r->base >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

void iom_dispatch_mmio(struct iom *iom, uint64_t gpa, bool is_write, void *data, unsigned len)
{
	struct iom_range *range = iom_mmio_lookup(iom, gpa);
	int status;

	if (!range || (is_write ? !range->mmio.write : !range->mmio.read) ||
	    len > range->size - (gpa - range->base)) {
		if (!is_write)
			memset(data, 0xff, len);
		iom_count_unhandled(&iom->stats.unhandled_mmio, "mmio", gpa, is_write);
		return;
	}
	pthread_mutex_lock(range->lock);
	if (is_write)
		status = range->mmio.write(range->dev, range->user, gpa - range->base, data, len);
	else
		status = range->mmio.read(range->dev, range->user, gpa - range->base, data, len);
	pthread_mutex_unlock(range->lock);
	if (status) {
		if (!is_write)
			memset(data, 0xff, len);
		atomic_fetch_add(&iom->stats.handler_errors, 1);
	}
}
