/*
 * vmm/boot_multiboot.c - Multiboot v1 kernels (the Multiboot Specification 0.6.96).
 *
 * The header (magic 0x1BADB002, flags, checksum: the three sum to 0) lies 4-byte
 * aligned in the first 8 KiB. With flag bit 16 its address fields say where the image
 * loads (the "a.out kludge", which works for any file format); without it the file
 * must be ELF and its PT_LOAD segments are loaded at their physical addresses.
 * The kernel is entered in 32-bit protected mode, paging off, flat CS and DS,
 * interrupts off, EAX = 0x2BADB002 and EBX = the Multiboot information block.
 *
 * The information block says: lower and upper memory, the command line, the initrd as
 * module 0 (page aligned; its string is [boot] initrd as written), the memory map and
 * the boot loader's name, "modvm".
 */
#include <string.h>

#include "vmm/boot.h"

#define MB_HEADER_MAGIC 0x1badb002u
#define MB_BOOT_MAGIC   0x2badb002u

/* Header flags: bits 0-15 are requirements a loader must refuse when it cannot meet. */
#define MB_FLAG_PAGE_ALIGN  0x00000001u   /* modules page aligned: always */
#define MB_FLAG_MEMORY      0x00000002u   /* mem_* and mmap: always */
#define MB_FLAG_VIDEO       0x00000004u
#define MB_FLAG_REQUIRED    0x0000ffffu
#define MB_FLAG_AOUT_KLUDGE 0x00010000u

/* Information block flags. */
#define MB_INFO_MEMORY      0x001u
#define MB_INFO_CMDLINE     0x004u
#define MB_INFO_MODS        0x008u
#define MB_INFO_MMAP        0x040u
#define MB_INFO_LOADER_NAME 0x200u

/* Information block fields. */
#define MBI_FLAGS       0
#define MBI_MEM_LOWER   4
#define MBI_MEM_UPPER   8
#define MBI_CMDLINE     16
#define MBI_MODS_COUNT  20
#define MBI_MODS_ADDR   24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR   48
#define MBI_LOADER_NAME 64

/* Where the tables go, in the page at BOOT_TABLES_ADDR. */
#define MB_MMAP_ADDR   BOOT_TABLES_ADDR              /* 24-byte entries, size field first */
#define MB_MODS_ADDR   (BOOT_TABLES_ADDR + 0x200)    /* one 16-byte module */
#define MB_LOADER_ADDR (BOOT_TABLES_ADDR + 0x300)

long boot_multiboot_find(const struct boot_plan *plan)
{
	for (size_t off = 0; off + 12 <= plan->head_len; off += 4) {
		const uint8_t *p = plan->head + off;

		if (boot_get32(p) == MB_HEADER_MAGIC &&
		    (uint32_t)(boot_get32(p) + boot_get32(p + 4) + boot_get32(p + 8)) == 0)
			return (long)off;
	}
	return -1;
}

/* The a.out kludge: one segment from the header's address fields. */
static int boot_multiboot_kludge(struct boot_config *cfg, struct boot_plan *plan, size_t off,
				 struct err *err)
{
	const uint8_t *p = plan->head + off;
	const char *path = plan->kernel.path;
	uint32_t header_addr, load_addr, load_end, bss_end;
	uint64_t start, load_size, mem_size;
	int status;

	if (off + 32 > plan->head_len)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is truncated: its Multiboot header's address fields need bytes "
			       "%#zx-%#zx", path, off + 12, off + 31);
	header_addr = boot_get32(p + 12);
	load_addr = boot_get32(p + 16);
	load_end = boot_get32(p + 20);
	bss_end = boot_get32(p + 24);
	/* The file offset of load_addr: the header is header_addr - load_addr into the image. */
	if (load_addr > header_addr || header_addr - load_addr > off)
		return err_set(err, PDM_ERR_CFG,
			       "'%s': Multiboot header_addr %#x and load_addr %#x put the image's start "
			       "before the file's", path, header_addr, load_addr);
	start = off - (header_addr - load_addr);
	if (!load_end) {
		load_size = plan->kernel.size - start;  /* 0: the rest of the file */
	} else if (load_end < load_addr) {
		return err_set(err, PDM_ERR_CFG,
			       "'%s': Multiboot load_end_addr %#x is below load_addr %#x", path,
			       load_end, load_addr);
	} else {
		load_size = load_end - load_addr;
	}
	mem_size = load_size;
	if (bss_end) {
		if (bss_end < load_addr + load_size)
			return err_set(err, PDM_ERR_CFG,
				       "'%s': Multiboot bss_end_addr %#x is below the image's end %#llx",
				       path, bss_end, (unsigned long long)(load_addr + load_size));
		mem_size = bss_end - load_addr;
	}
	status = boot_plan_segment(cfg, plan, &(struct boot_segment){
					   .offset = start, .file_size = load_size,
					   .gpa = load_addr, .mem_size = mem_size }, 0, err);
	plan->entry = boot_get32(p + 28);
	return status;
}

int boot_multiboot_plan(struct boot_config *cfg, struct boot_plan *plan, struct err *err)
{
	long off = boot_multiboot_find(plan);
	const char *path = plan->kernel.path;
	uint32_t flags;
	int status;

	if (off < 0)
		return err_set(err, PDM_ERR_CFG, "'%s' has no Multiboot header", path);
	flags = boot_get32(plan->head + off + 4);
	if (flags & MB_FLAG_VIDEO)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' requires a video mode (Multiboot flag bit 2), which modvm "
			       "cannot provide", path);
	if (flags & MB_FLAG_REQUIRED & ~(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY))
		return err_set(err, PDM_ERR_CFG,
			       "'%s' requires Multiboot features modvm does not know (flags %#x)",
			       path, flags & MB_FLAG_REQUIRED & ~(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY));
	if (flags & MB_FLAG_AOUT_KLUDGE) {
		status = boot_multiboot_kludge(cfg, plan, (size_t)off, err);
	} else if (boot_is_elf(plan)) {
		struct boot_elf elf;

		status = boot_elf_parse(cfg, plan, &elf, err);
		plan->entry = elf.entry;
	} else {
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is not an ELF file and its Multiboot header has no address "
			       "fields (flag bit 16): modvm cannot tell where it loads", path);
	}
	if (status)
		return status;
	if (!boot_in_segment(plan, plan->entry))
		return err_set(err, PDM_ERR_CFG,
			       "'%s': its Multiboot entry %#llx lies outside what is loaded", path,
			       (unsigned long long)plan->entry);
	if (cfg->initrd && strlen(cfg->initrd_name) + 1 > BOOT_MODSTR_MAX) {
		cfg->bad_key = "initrd";
		return err_set(err, PDM_ERR_CFG, "the name is too long for a Multiboot module string");
	}
	plan->initrd_limit = 1ull << 32;        /* 32-bit module addresses */
	return 0;
}

int boot_multiboot_place(struct mem *mem, const struct boot_config *cfg,
			 const struct boot_plan *plan, struct boot_entry *entry, struct err *err)
{
	static const char loader_name[] = "modvm";
	struct boot_memmap_entry map[BOOT_MEMMAP_MAX];
	uint8_t *info = mem_ptr(mem, BOOT_INFO_ADDR, 0x1000);
	uint8_t *tables = mem_ptr(mem, BOOT_TABLES_ADDR, 0x1000);
	uint64_t low_end = boot_low_end(cfg->memory_size);
	unsigned count = boot_memmap(cfg->memory_size, map);
	bool has_initrd = plan->initrd.fd >= 0;

	if (!info || !tables)
		return err_set(err, PDM_ERR_INVALID_ARG, "the Multiboot information is not in RAM");
	memset(info, 0, 0x1000);
	memset(tables, 0, 0x1000);
	boot_put32(info + MBI_FLAGS, MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP |
					     MB_INFO_LOADER_NAME);
	/* KiB below the EBDA, and KiB from 1 MiB to the first hole. */
	boot_put32(info + MBI_MEM_LOWER, BOOT_EBDA_ADDR >> 10);
	boot_put32(info + MBI_MEM_UPPER,
		   low_end > BOOT_HIGH_ADDR ? (uint32_t)((low_end - BOOT_HIGH_ADDR) >> 10) : 0);
	boot_put32(info + MBI_CMDLINE, BOOT_CMDLINE_ADDR);
	boot_put32(info + MBI_MODS_COUNT, has_initrd ? 1 : 0);
	boot_put32(info + MBI_MODS_ADDR, MB_MODS_ADDR);
	boot_put32(info + MBI_MMAP_LENGTH, 24 * count);
	boot_put32(info + MBI_MMAP_ADDR, MB_MMAP_ADDR);
	boot_put32(info + MBI_LOADER_NAME, MB_LOADER_ADDR);
	for (unsigned i = 0; i < count; i++) {
		uint8_t *e = tables + (MB_MMAP_ADDR - BOOT_TABLES_ADDR) + 24 * i;

		boot_put32(e, 20);      /* the size of the rest of the entry */
		boot_put64(e + 4, map[i].addr);
		boot_put64(e + 12, map[i].size);
		boot_put32(e + 20, map[i].type);
	}
	memcpy(tables + (MB_LOADER_ADDR - BOOT_TABLES_ADDR), loader_name, sizeof(loader_name));
	if (has_initrd) {
		uint8_t *mod = tables + (MB_MODS_ADDR - BOOT_TABLES_ADDR);
		size_t len = strlen(cfg->initrd_name) + 1;

		boot_put32(mod, (uint32_t)plan->initrd_gpa);
		boot_put32(mod + 4, (uint32_t)(plan->initrd_gpa + plan->initrd.size));
		boot_put32(mod + 8, BOOT_MODSTR_ADDR);
		if (mem_write(mem, BOOT_MODSTR_ADDR, cfg->initrd_name, len))
			return err_set(err, PDM_ERR_INVALID_ARG, "the module string is not in RAM");
	}
	*entry = (struct boot_entry){
		.mode = BOOT_MODE_PROTECTED, .rip = plan->entry, .rsp = BOOT_STACK_TOP,
		.rax = MB_BOOT_MAGIC, .rbx = BOOT_INFO_ADDR,
	};
	return 0;
}
