/*
 * vmm/boot.h - the boot loaders' insides, shared by vmm/boot*.c, vmm/mptable.c and
 * their tests. (vcpu.h declares what the rest of vmm calls: boot_check_config,
 * boot_load, boot_reset.)
 *
 * A kernel is loaded in two steps. Planning reads the file's headers, works out where
 * everything goes and checks that it fits in the RAM [vm] memory gives; it writes
 * nothing, so `modvm check` runs it as well. Placing copies the image, the initrd and
 * the command line into guest RAM, builds what the format hands over (zero page,
 * hvm_start_info or Multiboot info), the memory map and the MP table, and says in a
 * struct boot_entry how vCPU 0 starts. Placing sees guest RAM only as a struct mem,
 * so tests can run it on a plain buffer.
 *
 * Every kernel file is untrusted input: every offset and size read from it is
 * checked against the file and against RAM before it is used.
 *
 * Guest-physical layout below 1 MiB, the same for every kernel format:
 *   0x00400  BIOS data area: EBDA segment (0x40e), base memory in KiB (0x413)
 *   0x00500  GDT: 0x08 flat 32-bit code, 0x10 64-bit code, 0x18 flat data, 0x20 TSS
 *   0x01000  page tables (Linux): PML4, PDPT, 4 page directories of 2 MiB pages
 *   0x07000  zero page / hvm_start_info / Multiboot info
 *   0x08000  memory map, module list, boot loader name
 *   0x10000  top of a scratch stack (ESP at entry; no format promises one)
 *   0x20000  command line, NUL-terminated, 64 KiB at most
 *   0x30000  Multiboot module string
 *   0x9fc00  EBDA: reserved, empty
 *   0xf0000  MP floating pointer, then the MP configuration table
 * Kernel images load at or above 1 MiB, below the end of low RAM; the initrd goes as
 * high as it can below the end of low RAM (and the kernel's limit), page aligned.
 */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "vmm/mem.h"

#define BOOT_BDA_ADDR       0x400u
#define BOOT_GDT_ADDR       0x500u
#define BOOT_PML4_ADDR      0x1000u
#define BOOT_PDPT_ADDR      0x2000u
#define BOOT_PD_ADDR        0x3000u     /* 4 of them: 0-4 GiB */
#define BOOT_INFO_ADDR      0x7000u
#define BOOT_TABLES_ADDR    0x8000u
#define BOOT_STACK_TOP      0x10000u
#define BOOT_CMDLINE_ADDR   0x20000u
#define BOOT_CMDLINE_MAX    0x10000u    /* with its NUL */
#define BOOT_MODSTR_ADDR    0x30000u
#define BOOT_MODSTR_MAX     0x10000u
#define BOOT_EBDA_ADDR      0x9fc00u
#define BOOT_MPTABLE_ADDR   0xf0000u
#define BOOT_HIGH_ADDR      0x100000u   /* 1 MiB: where kernels go */

/* GDT selectors (the Linux boot protocol wants __BOOT_CS 0x10 and __BOOT_DS 0x18). */
#define BOOT_SEL_CODE32 0x08u
#define BOOT_SEL_CODE64 0x10u
#define BOOT_SEL_DATA   0x18u
#define BOOT_SEL_TSS    0x20u

/* Memory map entry types: e820's, which PVH and Multiboot share. */
#define BOOT_MEM_RAM      1u
#define BOOT_MEM_RESERVED 2u
#define BOOT_MEMMAP_MAX   8

struct boot_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* What [boot] and [vm] ask for. */
struct boot_config {
	const char *kernel;         /* resolved path */
	const char *initrd;         /* resolved path, or NULL */
	const char *initrd_name;    /* as written in [boot] initrd: the Multiboot module string */
	const char *cmdline;        /* "" when not set */
	uint64_t memory_size;       /* guest RAM bytes, a multiple of 4 KiB */
	unsigned cpu_count;
	uint32_t cpu_signature;     /* CPUID.1 EAX and EDX, for the MP table's processors */
	uint32_t cpu_features;
	const char *bad_key;        /* out: the [boot] key a failure is about */
};

enum boot_mode {
	BOOT_MODE_INVALID = 0,
	BOOT_MODE_REAL,             /* every segment register real_segment */
	BOOT_MODE_PROTECTED,        /* flat 32-bit segments, paging off */
	BOOT_MODE_LONG,             /* 64-bit, paging on with the page tables at cr3 */
};

/* How vCPU 0 starts; every register not named here is 0, RFLAGS 0x2. */
struct boot_entry {
	enum boot_mode mode;
	uint16_t real_segment;
	uint64_t rip, rsp, rax, rbx, rsi;
	uint64_t cr3;
};

enum boot_format {
	BOOT_FORMAT_INVALID = 0,
	BOOT_FORMAT_LINUX,
	BOOT_FORMAT_MULTIBOOT,
	BOOT_FORMAT_PVH,
};

#define BOOT_HEAD_SIZE 8192u        /* Multiboot's header must lie in the first 8 KiB */
#define BOOT_MAX_SEGMENTS 32

struct boot_file {
	int fd;
	const char *path;
	uint64_t size;
};

/* A piece of the kernel file and where it goes; mem_size - file_size bytes are zeroed. */
struct boot_segment {
	uint64_t offset;
	uint64_t file_size;
	uint64_t gpa;
	uint64_t mem_size;
};

struct boot_plan {
	enum boot_format format;
	struct boot_file kernel;
	struct boot_file initrd;        /* fd -1: none */
	uint8_t head[BOOT_HEAD_SIZE];   /* the kernel file's first bytes */
	size_t head_len;
	struct boot_segment segs[BOOT_MAX_SEGMENTS];
	unsigned seg_count;
	uint64_t kernel_end;            /* above all the kernel needs: the initrd goes higher */
	uint64_t initrd_limit;          /* the initrd must end at or below this */
	uint64_t initrd_gpa;
	uint64_t entry;
	size_t linux_header_end;        /* Linux: the setup header is head[0x1f1, this) */
};

/* boot.c */
const char *boot_format_name(enum boot_format format);
/* The memory map for memory_size bytes of RAM; returns the number of entries. */
unsigned boot_memmap(uint64_t memory_size, struct boot_memmap_entry *map);
/* The end of RAM below the 32-bit hole. */
uint64_t boot_low_end(uint64_t memory_size);
/*
 * Plans the kernel of cfg and, when mem is not NULL, places it and fills *entry.
 * On failure cfg->bad_key names the key and err says what is wrong with which file.
 */
int boot_kernel_load(struct mem *mem, struct boot_config *cfg, struct boot_entry *entry,
		     struct err *err);
/* Reads len bytes at offset of f; a file too short is an error naming it and what. */
int boot_file_read(const struct boot_file *f, uint64_t offset, void *buf, size_t len,
		   const char *what, struct err *err);
/*
 * Checks a segment of the kernel file (index for messages) against the file and RAM:
 * at or above 1 MiB, below the end of low RAM; then adds it to plan.
 */
int boot_plan_segment(struct boot_config *cfg, struct boot_plan *plan,
		      const struct boot_segment *seg, unsigned index, struct err *err);
/* Whether addr lies in a planned segment. */
bool boot_in_segment(const struct boot_plan *plan, uint64_t addr);
/* Copies a segment into guest RAM (planned: it lies in RAM) and zeroes its tail. */
int boot_copy_segment(struct mem *mem, const struct boot_file *f, const struct boot_segment *seg,
		      struct err *err);

/* Little-endian fields of file headers and guest structures. */
static inline uint16_t boot_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t boot_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t boot_get64(const uint8_t *p)
{
	return boot_get32(p) | (uint64_t)boot_get32(p + 4) << 32;
}
static inline void boot_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void boot_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void boot_put64(uint8_t *p, uint64_t v)
{
	boot_put32(p, (uint32_t)v);
	boot_put32(p + 4, (uint32_t)(v >> 32));
}

/* boot_linux.c: the x86 boot protocol, 64-bit entry. */
int boot_linux_plan(struct boot_config *cfg, struct boot_plan *plan, struct err *err);
int boot_linux_place(struct mem *mem, const struct boot_config *cfg, const struct boot_plan *plan,
		     struct boot_entry *entry, struct err *err);

/* boot_elf.c: ELF program headers, and PVH (an ELF with Xen's PHYS32_ENTRY note). */
struct boot_elf {
	uint64_t entry;             /* e_entry, turned physical when it lies in a segment */
	bool has_pvh_entry;
	uint32_t pvh_entry;
};
/* Fills plan->segs with the PT_LOAD segments, each checked against the file and RAM. */
int boot_elf_parse(struct boot_config *cfg, struct boot_plan *plan, struct boot_elf *elf,
		   struct err *err);
bool boot_is_elf(const struct boot_plan *plan);
int boot_pvh_plan(struct boot_config *cfg, struct boot_plan *plan, struct err *err);
int boot_pvh_place(struct mem *mem, const struct boot_config *cfg, const struct boot_plan *plan,
		   struct boot_entry *entry, struct err *err);

/* boot_multiboot.c: Multiboot 0.6.96 (v1), ELF or the a.out kludge. */
/* The offset of a valid Multiboot header in plan->head, or -1. */
long boot_multiboot_find(const struct boot_plan *plan);
int boot_multiboot_plan(struct boot_config *cfg, struct boot_plan *plan, struct err *err);
int boot_multiboot_place(struct mem *mem, const struct boot_config *cfg,
			 const struct boot_plan *plan, struct boot_entry *entry, struct err *err);

/* mptable.c: the Intel MP table (1.4) for cpu_count processors, at BOOT_MPTABLE_ADDR. */
#define MPTABLE_IOAPIC_ADDR 0xfec00000u
#define MPTABLE_LAPIC_ADDR  0xfee00000u
/* Bytes the table takes for cpu_count processors, floating pointer included. */
size_t mptable_size(unsigned cpu_count);
int mptable_write(struct mem *mem, const struct boot_config *cfg, struct err *err);

#endif
