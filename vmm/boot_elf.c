/*
 * vmm/boot_elf.c - ELF executables: their PT_LOAD segments (for PVH and Multiboot)
 * and the PVH direct boot ABI (Xen's hvm_start_info, as QEMU and Firecracker use it
 * for Linux's vmlinux; xen/include/public/arch-x86/hvm/start_info.h).
 *
 * A PVH kernel names its 32-bit entry point in an ELF note: name "Xen", type 18
 * (XEN_ELFNOTE_PHYS32_ENTRY), a 4- or 8-byte physical address. It is entered in
 * 32-bit protected mode with paging off, flat 4 GiB CS and DS, a TSS in TR,
 * interrupts off, and EBX = the guest-physical address of an hvm_start_info.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/boot.h"

#define ELF_MAX_PHDRS 256
#define ELF_MAX_NOTES 0x10000u      /* bytes of PT_NOTE read: notes are small */

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* hvm_start_info and its tables, version 1. */
#define HVM_START_MAGIC 0x336ec578u
#define HVM_SI_MAGIC 0
#define HVM_SI_VERSION 4
#define HVM_SI_NR_MODULES 12
#define HVM_SI_MODLIST 16
#define HVM_SI_CMDLINE 24
#define HVM_SI_MEMMAP 40
#define HVM_SI_MEMMAP_ENTRIES 48
#define HVM_MODLIST_ADDR BOOT_TABLES_ADDR               /* one hvm_modlist_entry: 32 bytes */
#define HVM_MEMMAP_ADDR (BOOT_TABLES_ADDR + 0x100)      /* hvm_memmap_table_entry: 24 bytes */

bool boot_is_elf(const struct boot_plan *plan)
{
	return plan->head_len >= SELFMAG && !memcmp(plan->head, ELFMAG, SELFMAG);
}

struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, file_size, mem_size;
};

static void elf_get_phdr(const uint8_t *p, bool is64, struct elf_phdr *ph)
{
	ph->type = boot_get32(p);
	if (is64) {
		ph->offset = boot_get64(p + 8);
		ph->vaddr = boot_get64(p + 16);
		ph->paddr = boot_get64(p + 24);
		ph->file_size = boot_get64(p + 32);
		ph->mem_size = boot_get64(p + 40);
	} else {
		ph->offset = boot_get32(p + 4);
		ph->vaddr = boot_get32(p + 8);
		ph->paddr = boot_get32(p + 12);
		ph->file_size = boot_get32(p + 16);
		ph->mem_size = boot_get32(p + 20);
	}
}

/* Walks the notes of one PT_NOTE segment for Xen's PHYS32_ENTRY. */
static int elf_scan_notes(const struct boot_plan *plan, const uint8_t *notes, uint64_t len,
			  unsigned index, struct boot_elf *elf, struct err *err)
{
	uint64_t off = 0;

	while (len - off >= 12) {
		uint64_t name_size = boot_get32(notes + off), desc_size = boot_get32(notes + off + 4);
		uint32_t type = boot_get32(notes + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + ((name_size + 3) & ~3ull);

		off = desc_off + ((desc_size + 3) & ~3ull);
		if (desc_off > len || off > len)
			return err_set(err, PDM_ERR_CFG,
				       "'%s': a note of segment %u runs past the segment's end",
				       plan->kernel.path, index);
		if (name_size != 4 || memcmp(notes + name_off, "Xen", 4) ||
		    type != XEN_ELFNOTE_PHYS32_ENTRY)
			continue;
		if (desc_size == 4) {
			elf->pvh_entry = boot_get32(notes + desc_off);
		} else if (desc_size == 8 && boot_get64(notes + desc_off) <= UINT32_MAX) {
			elf->pvh_entry = (uint32_t)boot_get64(notes + desc_off);
		} else {
			return err_set(err, PDM_ERR_CFG,
				       "'%s': its PVH entry note holds %llu bytes, not a 32-bit address",
				       plan->kernel.path, (unsigned long long)desc_size);
		}
		elf->has_pvh_entry = true;
	}
	return 0;
}

static int elf_read_notes(const struct boot_plan *plan, const struct elf_phdr *ph, unsigned index,
			  struct boot_elf *elf, struct err *err)
{
	uint8_t *notes;
	int status;

	if (!ph->file_size || ph->file_size > ELF_MAX_NOTES)
		return 0;       /* not Xen's kind of note: skipped */
	notes = malloc((size_t)ph->file_size);
	if (!notes)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	status = boot_file_read(&plan->kernel, ph->offset, notes, (size_t)ph->file_size,
				"a note segment", err);
	if (!status)
		status = elf_scan_notes(plan, notes, ph->file_size, index, elf, err);
	free(notes);
	return status;
}

int boot_elf_parse(struct boot_config *cfg, struct boot_plan *plan, struct boot_elf *elf,
		   struct err *err)
{
	const uint8_t *h = plan->head;
	const char *path = plan->kernel.path;
	bool is64 = h[EI_CLASS] == ELFCLASS64;
	size_t header_size = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phdr_size = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	uint64_t phoff, entry;
	unsigned phnum, phentsize;
	struct elf_phdr *phdrs;
	uint8_t *raw;
	int status = 0;

	memset(elf, 0, sizeof(*elf));
	if (plan->head_len < EI_NIDENT || (h[EI_CLASS] != ELFCLASS32 && !is64))
		return err_set(err, PDM_ERR_CFG, "'%s': ELF class %u is neither 32- nor 64-bit", path,
			       plan->head_len > EI_CLASS ? h[EI_CLASS] : 0);
	if (plan->head_len < header_size)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is truncated: an ELF header needs %zu bytes, the file has %llu",
			       path, header_size, (unsigned long long)plan->kernel.size);
	if (h[EI_DATA] != ELFDATA2LSB || h[EI_VERSION] != EV_CURRENT)
		return err_set(err, PDM_ERR_CFG, "'%s' is not a little-endian ELF version 1 file",
			       path);
	if (boot_get16(h + 16) != ET_EXEC)
		return err_set(err, PDM_ERR_CFG, "'%s': ELF type %u is not an executable (ET_EXEC)",
			       path, boot_get16(h + 16));
	if (boot_get16(h + 18) != EM_386 && boot_get16(h + 18) != EM_X86_64)
		return err_set(err, PDM_ERR_CFG, "'%s': ELF machine %u is not x86", path,
			       boot_get16(h + 18));
	entry = is64 ? boot_get64(h + 24) : boot_get32(h + 24);
	phoff = is64 ? boot_get64(h + 32) : boot_get32(h + 28);
	phentsize = boot_get16(h + (is64 ? 54 : 42));
	phnum = boot_get16(h + (is64 ? 56 : 44));
	if (phentsize != phdr_size)
		return err_set(err, PDM_ERR_CFG, "'%s': program headers of %u bytes, expected %zu",
			       path, phentsize, phdr_size);
	if (!phnum || phnum > ELF_MAX_PHDRS)
		return err_set(err, PDM_ERR_CFG, "'%s' has %u program headers: expected 1 to %d",
			       path, phnum, ELF_MAX_PHDRS);
	raw = malloc((size_t)phnum * phdr_size);
	phdrs = calloc(phnum, sizeof(*phdrs));
	if (!raw || !phdrs) {
		free(raw);
		free(phdrs);
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	}
	status = boot_file_read(&plan->kernel, phoff, raw, (size_t)phnum * phdr_size,
				"the program headers", err);
	for (unsigned i = 0; !status && i < phnum; i++) {
		elf_get_phdr(raw + (size_t)i * phdr_size, is64, &phdrs[i]);
		if (phdrs[i].type == PT_LOAD && phdrs[i].mem_size)
			status = boot_plan_segment(cfg, plan, &(struct boot_segment){
							   .offset = phdrs[i].offset,
							   .file_size = phdrs[i].file_size,
							   .gpa = phdrs[i].paddr,
							   .mem_size = phdrs[i].mem_size }, i, err);
		else if (phdrs[i].type == PT_NOTE)
			status = elf_read_notes(plan, &phdrs[i], i, elf, err);
	}
	if (!status && !plan->seg_count)
		status = err_set(err, PDM_ERR_CFG, "'%s' has no loadable segment", path);
	/* e_entry may be virtual: a segment that holds it says where it is physically. */
	elf->entry = entry;
	for (unsigned i = 0; !status && i < phnum; i++)
		if (phdrs[i].type == PT_LOAD && entry >= phdrs[i].vaddr &&
		    entry - phdrs[i].vaddr < phdrs[i].mem_size) {
			elf->entry = entry - phdrs[i].vaddr + phdrs[i].paddr;
			break;
		}
	free(raw);
	free(phdrs);
	return status;
}

int boot_pvh_plan(struct boot_config *cfg, struct boot_plan *plan, struct err *err)
{
	struct boot_elf elf;
	int status = boot_elf_parse(cfg, plan, &elf, err);

	if (status)
		return status;
	if (!elf.has_pvh_entry)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is an ELF file without a PVH entry note (Xen ELF note 18, "
			       "PHYS32_ENTRY) or a Multiboot header: modvm cannot tell how to enter it",
			       plan->kernel.path);
	if (!boot_in_segment(plan, elf.pvh_entry))
		return err_set(err, PDM_ERR_CFG,
			       "'%s': its PVH entry %#x lies outside its loadable segments",
			       plan->kernel.path, elf.pvh_entry);
	plan->entry = elf.pvh_entry;
	/* 64-bit fields, but a kernel that starts with paging off reaches 4 GiB only. */
	plan->initrd_limit = 1ull << 32;
	return 0;
}

int boot_pvh_place(struct mem *mem, const struct boot_config *cfg, const struct boot_plan *plan,
		   struct boot_entry *entry, struct err *err)
{
	struct boot_memmap_entry map[BOOT_MEMMAP_MAX];
	uint8_t *si = mem_ptr(mem, BOOT_INFO_ADDR, 0x1000);
	uint8_t *tables = mem_ptr(mem, BOOT_TABLES_ADDR, 0x1000);
	unsigned count = boot_memmap(cfg->memory_size, map);
	bool has_initrd = plan->initrd.fd >= 0;

	if (!si || !tables)
		return err_set(err, PDM_ERR_INVALID_ARG, "the PVH start info is not in RAM");
	memset(si, 0, 0x1000);
	memset(tables, 0, 0x1000);
	boot_put32(si + HVM_SI_MAGIC, HVM_START_MAGIC);
	boot_put32(si + HVM_SI_VERSION, 1);     /* 1: with the memory map */
	boot_put32(si + HVM_SI_NR_MODULES, has_initrd ? 1 : 0);
	boot_put64(si + HVM_SI_MODLIST, has_initrd ? HVM_MODLIST_ADDR : 0);
	boot_put64(si + HVM_SI_CMDLINE, BOOT_CMDLINE_ADDR);
	boot_put64(si + HVM_SI_MEMMAP, HVM_MEMMAP_ADDR);
	boot_put32(si + HVM_SI_MEMMAP_ENTRIES, count);
	if (has_initrd) {
		uint8_t *mod = tables + (HVM_MODLIST_ADDR - BOOT_TABLES_ADDR);

		boot_put64(mod, plan->initrd_gpa);
		boot_put64(mod + 8, plan->initrd.size);
	}
	for (unsigned i = 0; i < count; i++) {
		uint8_t *e = tables + (HVM_MEMMAP_ADDR - BOOT_TABLES_ADDR) + 24 * i;

		boot_put64(e, map[i].addr);
		boot_put64(e + 8, map[i].size);
		boot_put32(e + 16, map[i].type);
	}
	*entry = (struct boot_entry){
		.mode = BOOT_MODE_PROTECTED, .rip = plan->entry, .rsp = BOOT_STACK_TOP,
		.rbx = BOOT_INFO_ADDR,
	};
	return 0;
}
