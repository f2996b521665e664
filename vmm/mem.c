/*
 * vmm/mem.c - guest RAM.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/mem.h"

int mem_init(struct mem *mem, struct kvm *kvm, uint64_t size, struct err *err)
{
	uint64_t low = size < MEM_LOW_LIMIT ? size : MEM_LOW_LIMIT;
	int status;

	memset(mem, 0, sizeof(*mem));
	mem->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem->base == MAP_FAILED) {
		mem->base = NULL;
		return err_set(err, PDM_ERR_NO_MEMORY, "cannot map %llu bytes of guest RAM: %s",
			       (unsigned long long)size, strerror(errno));
	}
	mem->size = size;
	/* Huge pages where the host has them: fewer TLB misses, faster faults. */
	madvise(mem->base, size, MADV_HUGEPAGE);
	mem->regions[mem->region_count++] = (struct mem_region){ 0, low, mem->base };
	if (size > low)
		mem->regions[mem->region_count++] =
			(struct mem_region){ MEM_HIGH_BASE, size - low, mem->base + low };
	for (unsigned i = 0; i < mem->region_count; i++) {
		status = kvm_set_memory(kvm, i, mem->regions[i].gpa, mem->regions[i].size,
					mem->regions[i].hva, err);
		if (status) {
			mem_release(mem);
			return status;
		}
	}
	return 0;
}

void mem_release(struct mem *mem)
{
	if (mem->base)
		munmap(mem->base, mem->size);
	memset(mem, 0, sizeof(*mem));
}

void *mem_ptr(struct mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->region_count; i++) {
		struct mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int mem_read(struct mem *mem, uint64_t gpa, void *buf, size_t len)
{
	void *src = mem_ptr(mem, gpa, len);

	if (!src)
		return PDM_ERR_INVALID_ARG;
	memcpy(buf, src, len);
	return 0;
}

int mem_write(struct mem *mem, uint64_t gpa, const void *buf, size_t len)
{
	void *dst = mem_ptr(mem, gpa, len);

	if (!dst)
		return PDM_ERR_INVALID_ARG;
	memcpy(dst, buf, len);
	return 0;
}
