/*
 * vmm/boot_linux.c - a Linux bzImage through the x86 boot protocol's 64-bit entry
 * (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"; zero-page.rst).
 *
 * The real-mode setup code is not run: modvm fills the zero page (struct boot_params)
 * itself and enters the protected-mode kernel at its load address + 0x200 in 64-bit
 * mode, with RSI = the zero page, an identity map of 0-4 GiB, __BOOT_CS = 0x10 and
 * __BOOT_DS = 0x18 flat, interrupts off. That entry exists from protocol 2.12 on
 * when xloadflags has XLF_KERNEL_64, which is what is required.
 */
#include <string.h>

#include "vmm/boot.h"

/* The setup header, at these offsets in the file and in the zero page. */
#define LH_SETUP_SECTS      0x1f1
#define LH_JUMP_LEN         0x201   /* the header ends at 0x202 + this byte */
#define LH_HEADER           0x202   /* "HdrS" */
#define LH_VERSION          0x206
#define LH_TYPE_OF_LOADER   0x210
#define LH_LOADFLAGS        0x211
#define LH_CODE32_START     0x214
#define LH_RAMDISK_IMAGE    0x218
#define LH_RAMDISK_SIZE     0x21c
#define LH_CMD_LINE_PTR     0x228
#define LH_INITRD_ADDR_MAX  0x22c
#define LH_KERNEL_ALIGNMENT 0x230
#define LH_RELOCATABLE      0x234
#define LH_XLOADFLAGS       0x236
#define LH_CMDLINE_SIZE     0x238
#define LH_PREF_ADDRESS     0x258
#define LH_INIT_SIZE        0x260
#define LH_MIN_END          0x264   /* what protocol 2.12 needs of the header */
#define LH_MAX_END          0x290   /* where boot_params continues after the header */

/* The rest of the zero page. */
#define ZP_E820_ENTRIES     0x1e8
#define ZP_E820_TABLE       0x2d0
#define ZP_E820_MAX         128

#define LOADED_HIGH         0x01
#define XLF_KERNEL_64       0x0001
#define LOADER_TYPE_UNKNOWN 0xff    /* "no assigned id" */
#define LINUX_ENTRY_64      0x200   /* the 64-bit entry, from the load address */

#define PTE_PRESENT 0x1ull
#define PTE_WRITE   0x2ull
#define PTE_LARGE   0x80ull

/* a + b, or UINT64_MAX when that overflows: values from the file may be anything. */
static uint64_t boot_linux_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int boot_linux_plan(struct boot_config *cfg, struct boot_plan *plan, struct err *err)
{
	const uint8_t *h = plan->head;
	const char *path = plan->kernel.path;
	uint64_t low_end = boot_low_end(cfg->memory_size), size = plan->kernel.size;
	uint64_t setup_size, kernel_size, align, pref, init_size, load, run, need_end;
	unsigned version, setup_sects;
	size_t header_end;

	if (plan->head_len < LH_MIN_END)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is truncated: a Linux setup header needs %#x bytes, the file has %llu",
			       path, LH_MIN_END, (unsigned long long)size);
	version = boot_get16(h + LH_VERSION);
	if (version < 0x20c)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' speaks Linux boot protocol %u.%02u: modvm needs 2.12 or later "
			       "(a 64-bit entry point)", path, version >> 8, version & 0xff);
	if (!(boot_get16(h + LH_XLOADFLAGS) & XLF_KERNEL_64))
		return err_set(err, PDM_ERR_CFG,
			       "'%s' has no 64-bit entry point (XLF_KERNEL_64 is clear): modvm boots "
			       "64-bit kernels only", path);
	if (!(h[LH_LOADFLAGS] & LOADED_HIGH))
		return err_set(err, PDM_ERR_CFG, "'%s' is a zImage (not LOADED_HIGH): use a bzImage",
			       path);
	header_end = 0x202u + h[LH_JUMP_LEN];
	if (header_end < LH_MIN_END)
		return err_set(err, PDM_ERR_CFG,
			       "'%s': its setup header ends at %#zx, before the fields of protocol "
			       "2.12 (%#x)", path, header_end, LH_MIN_END);
	if (header_end > LH_MAX_END)
		header_end = LH_MAX_END;        /* a newer header: what we know of it */
	if (header_end > plan->head_len)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is truncated: its setup header ends at %#zx, the file has %llu bytes",
			       path, header_end, (unsigned long long)size);
	setup_sects = h[LH_SETUP_SECTS] ? h[LH_SETUP_SECTS] : 4;   /* 0 means 4 */
	setup_size = (setup_sects + 1ull) * 512;
	if (size <= setup_size)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is truncated: %u setup sectors and a kernel after them need more "
			       "than %llu bytes, the file has %llu", path, setup_sects,
			       (unsigned long long)setup_size, (unsigned long long)size);
	kernel_size = size - setup_size;
	align = boot_get32(h + LH_KERNEL_ALIGNMENT);
	if (!align || (align & (align - 1)))
		return err_set(err, PDM_ERR_CFG, "'%s': kernel_alignment %#llx is not a power of two",
			       path, (unsigned long long)align);
	pref = boot_get64(h + LH_PREF_ADDRESS);
	init_size = boot_get32(h + LH_INIT_SIZE);
	if (init_size < kernel_size)
		init_size = kernel_size;

	/*
	 * A relocatable kernel goes to pref_address when it is aligned and fits: there it
	 * runs without moving. Elsewhere, at 1 MiB. Either way the decompressed kernel
	 * runs at its load address rounded up to kernel_alignment but not below
	 * pref_address (LOAD_PHYSICAL_ADDR), where a non-relocatable one always runs, and
	 * needs init_size bytes there.
	 */
	load = BOOT_HIGH_ADDR;
	if (h[LH_RELOCATABLE] && pref >= BOOT_HIGH_ADDR && pref % align == 0 && pref < low_end &&
	    init_size <= low_end - pref)
		load = pref;
	run = h[LH_RELOCATABLE] ? (load + align - 1) & ~(align - 1) : load;
	if (pref > run)
		run = pref;
	need_end = boot_linux_add(run, init_size);
	if (boot_linux_add(load, kernel_size) > need_end)
		need_end = load + kernel_size;
	if (need_end > low_end)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' does not fit in guest RAM: it needs RAM up to %#llx to decompress "
			       "and run, [vm] memory gives RAM up to %#llx (%llu MiB)", path,
			       (unsigned long long)need_end, (unsigned long long)low_end,
			       (unsigned long long)(low_end >> 20));
	if (strlen(cfg->cmdline) > boot_get32(h + LH_CMDLINE_SIZE)) {
		cfg->bad_key = "cmdline";
		return err_set(err, PDM_ERR_CFG, "%zu bytes long: '%s' takes at most %u",
			       strlen(cfg->cmdline), path, boot_get32(h + LH_CMDLINE_SIZE));
	}
	plan->segs[0] = (struct boot_segment){ .offset = setup_size, .file_size = kernel_size,
					       .gpa = load, .mem_size = kernel_size };
	plan->seg_count = 1;
	plan->kernel_end = need_end;
	plan->initrd_limit = (uint64_t)boot_get32(h + LH_INITRD_ADDR_MAX) + 1;
	plan->entry = load + LINUX_ENTRY_64;
	plan->linux_header_end = header_end;
	return 0;
}

/* PML4 -> one PDPT -> four page directories of 2 MiB pages: 0-4 GiB, identity. */
static int boot_linux_page_tables(struct mem *mem, struct err *err)
{
	uint8_t *pml4 = mem_ptr(mem, BOOT_PML4_ADDR, 0x1000);
	uint8_t *pdpt = mem_ptr(mem, BOOT_PDPT_ADDR, 0x1000);
	uint8_t *pd = mem_ptr(mem, BOOT_PD_ADDR, 4 * 0x1000);

	if (!pml4 || !pdpt || !pd)
		return err_set(err, PDM_ERR_INVALID_ARG, "the page tables are not in RAM");
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	boot_put64(pml4, BOOT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE);
	for (uint64_t i = 0; i < 4; i++)
		boot_put64(pdpt + 8 * i, (BOOT_PD_ADDR + 0x1000 * i) | PTE_PRESENT | PTE_WRITE);
	for (uint64_t i = 0; i < 4 * 512; i++)
		boot_put64(pd + 8 * i, (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE);
	return 0;
}

int boot_linux_place(struct mem *mem, const struct boot_config *cfg, const struct boot_plan *plan,
		     struct boot_entry *entry, struct err *err)
{
	struct boot_memmap_entry map[BOOT_MEMMAP_MAX];
	uint8_t *zp = mem_ptr(mem, BOOT_INFO_ADDR, 0x1000);
	unsigned count = boot_memmap(cfg->memory_size, map);
	int status;

	if (!zp)
		return err_set(err, PDM_ERR_INVALID_ARG, "the zero page is not in RAM");
	/* All zero, then the setup header as the file has it, then what the loader fills. */
	memset(zp, 0, 0x1000);
	memcpy(zp + LH_SETUP_SECTS, plan->head + LH_SETUP_SECTS,
	       plan->linux_header_end - LH_SETUP_SECTS);
	zp[LH_TYPE_OF_LOADER] = LOADER_TYPE_UNKNOWN;
	boot_put32(zp + LH_CODE32_START, (uint32_t)plan->segs[0].gpa);
	boot_put32(zp + LH_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
	boot_put32(zp + LH_RAMDISK_IMAGE, plan->initrd.fd >= 0 ? (uint32_t)plan->initrd_gpa : 0);
	boot_put32(zp + LH_RAMDISK_SIZE, plan->initrd.fd >= 0 ? (uint32_t)plan->initrd.size : 0);
	zp[ZP_E820_ENTRIES] = (uint8_t)count;
	for (unsigned i = 0; i < count && i < ZP_E820_MAX; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + 20 * i;

		boot_put64(e, map[i].addr);
		boot_put64(e + 8, map[i].size);
		boot_put32(e + 16, map[i].type);
	}
	status = boot_linux_page_tables(mem, err);
	if (status)
		return status;
	*entry = (struct boot_entry){
		.mode = BOOT_MODE_LONG, .rip = plan->entry, .rsp = BOOT_STACK_TOP,
		.rsi = BOOT_INFO_ADDR, .cr3 = BOOT_PML4_ADDR,
	};
	return 0;
}
