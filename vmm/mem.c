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
	uintptr_t head;
	uint8_t *map;
	int status;

	memset(mem, 0, sizeof(*mem));
	/*
	 * 2 MiB more than asked, trimmed to a 2 MiB boundary: KVM maps a huge page into the
	 * guest only where the host and guest addresses agree modulo 2 MiB. Recent kernels
	 * align a large anonymous mapping themselves (this project's 6.18 host does);
	 * older ones need not.
	 */
	map = mmap(NULL, size + MEM_HUGE_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return err_set(err, PDM_ERR_NO_MEMORY, "cannot map %llu bytes of guest RAM: %s",
			       (unsigned long long)size, strerror(errno));
	head = -(uintptr_t)map & (MEM_HUGE_PAGE - 1);
	if (head)
		munmap(map, head);
	munmap(map + head + size, MEM_HUGE_PAGE - head);
	mem->base = map + head;
	mem->size = size;
	/*
	 * Huge pages where the host has them: fewer TLB misses, faster faults. Not for the
	 * first 2 MiB: that is the PC's legacy area (BIOS data, option ROM and VGA holes,
	 * boot tables), which a Linux guest maps with 4 KiB pages itself, and a guest that
	 * stays in it, like a small test kernel, would otherwise have 2 MiB zeroed on its
	 * first touch (half a millisecond of bench/start here).
	 */
	if (size > MEM_HUGE_PAGE)
		madvise(mem->base + MEM_HUGE_PAGE, size - MEM_HUGE_PAGE, MADV_HUGEPAGE);
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
