/*
 * vmm/boot_test.c - the boot loaders.
 *
 * Without KVM, on a plain buffer standing in for guest RAM: the zero page, page tables
 * and placement of a synthetic bzImage; the segments and tables of the PVH and
 * Multiboot test kernels; the memory map; the MP table; each vCPU's CPUID; the errors
 * that bad kernels, initrds and [boot] sections get, from the loader and from
 * `modvm check`'s boot_check_config.
 *
 * On KVM: the test kernels of tests/guests (Multiboot ELF and a.out kludge, PVH, a
 * bzImage-shaped one entered in 64-bit mode) check from inside what they were given
 * (tests/guests/bootcheck.h), one of them after a reset that must place everything
 * again; each vCPU's CPUID and the IOAPIC's id as KVM holds them. Without /dev/kvm that part is skipped (exit 77 when the rest passed).
 */
#include <check.h>
#include <elf.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/guests/bootcheck.h"
#include "tests/registry.h"
#include "tests/testutil.h"
#include "vmm/boot.h"
#include "vmm/vcpu.h"

static char *tmp;

static void setup(void)
{
	tmp = tu_tmpdir();
}

static void teardown(void)
{
	tu_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The file's bytes (malloc'ed), *len its size. */
static uint8_t *read_bytes(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	off_t size;
	uint8_t *buf;

	ck_assert_msg(fd >= 0, "cannot open %s", path);
	size = lseek(fd, 0, SEEK_END);
	buf = malloc((size_t)size + 1);
	ck_assert_int_eq(pread(fd, buf, (size_t)size, 0), size);
	close(fd);
	*len = (size_t)size;
	return buf;
}

/* The test initrd of bootcheck.h, in tmp. */
static char *make_initrd(void)
{
	char *path = tu_fmt("%s/%s", tmp, BT_MODULE_NAME);
	uint8_t buf[BT_INITRD_SIZE];

	for (int i = 0; i < BT_INITRD_SIZE; i++)
		buf[i] = BT_INITRD_BYTE(i);
	write_bytes(path, buf, sizeof(buf));
	return path;
}

/* Absolute: the test's INI files, whose relative paths count from tmp, name them. */
static char *guest_path(const char *name)
{
	char *dir = realpath(tu_builddir(), NULL), *path;

	ck_assert_ptr_nonnull(dir);
	path = tu_fmt("%s/tests/guests/%s", dir, name);
	free(dir);
	return path;
}

/* Guest RAM as mem.c lays it out, on anonymous memory (zero, or fill). */
static void fake_mem_init(struct mem *mem, uint64_t size, int fill)
{
	memset(mem, 0, sizeof(*mem));
	mem->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(mem->base, MAP_FAILED);
	if (fill)
		memset(mem->base, fill, size);
	mem->size = size;
	mem->regions[0] = (struct mem_region){ 0, size, mem->base };
	mem->region_count = 1;
}

static void fake_mem_release(struct mem *mem)
{
	munmap(mem->base, mem->size);
}

static uint8_t *gp(struct mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *p = mem_ptr(mem, gpa, len);

	ck_assert_msg(p, "%#llx+%llu is not in RAM", (unsigned long long)gpa,
		      (unsigned long long)len);
	return p;
}

static struct boot_config config(const char *kernel, const char *initrd, const char *cmdline,
				 uint64_t memory, unsigned cpus)
{
	return (struct boot_config){
		.kernel = kernel, .initrd = initrd, .initrd_name = initrd ? BT_MODULE_NAME : NULL,
		.cmdline = cmdline, .memory_size = memory, .cpu_count = cpus,
		.cpu_signature = 0x50657, .cpu_features = 0x0f8bfbff,
	};
}

/* ---- a synthetic bzImage ---- */

struct bz {
	unsigned version;
	uint16_t xloadflags;
	uint8_t loadflags, relocatable, setup_sects, jump_len;
	uint32_t align, init_size, cmdline_size, initrd_max;
	uint64_t pref;
	size_t kernel_size;
	size_t cut;                 /* write only this many bytes when not 0 */
};

static const struct bz bz_default = {
	.version = 0x20f, .xloadflags = 0x1, .loadflags = 0x1, .relocatable = 1,
	.setup_sects = 1, .jump_len = 0x6a, .align = 0x200000, .init_size = 0x100000,
	.cmdline_size = 2047, .initrd_max = 0x7fffffff, .pref = 0x1000000, .kernel_size = 0x3000,
};

static uint8_t bz_kernel_byte(size_t i)
{
	return (uint8_t)(i * 13 + 1);
}

static char *write_bzimage(const struct bz *bz)
{
	size_t setup_size = ((bz->setup_sects ? bz->setup_sects : 4) + 1u) * 512;
	size_t size = setup_size + bz->kernel_size;
	uint8_t *buf = calloc(1, size);
	char *path = tu_fmt("%s/bzImage", tmp);

	buf[0x1f1] = bz->setup_sects;
	boot_put16(buf + 0x1fa, 0xfffd);        /* vid_mode: a value that must be kept */
	boot_put16(buf + 0x1fe, 0xaa55);
	buf[0x200] = 0xeb;
	buf[0x201] = bz->jump_len;
	memcpy(buf + 0x202, "HdrS", 4);
	boot_put16(buf + 0x206, (uint16_t)bz->version);
	buf[0x211] = bz->loadflags;
	boot_put32(buf + 0x22c, bz->initrd_max);
	boot_put32(buf + 0x230, bz->align);
	buf[0x234] = bz->relocatable;
	boot_put16(buf + 0x236, bz->xloadflags);
	boot_put32(buf + 0x238, bz->cmdline_size);
	boot_put64(buf + 0x258, bz->pref);
	boot_put32(buf + 0x260, bz->init_size);
	for (size_t i = 0; i < bz->kernel_size; i++)
		buf[setup_size + i] = bz_kernel_byte(i);
	write_bytes(path, buf, bz->cut ? bz->cut : size);
	free(buf);
	return path;
}

/* ---- without KVM ---- */

START_TEST(memmap_describes_ram_around_the_bios_area_and_the_32bit_hole)
{
	struct boot_memmap_entry map[BOOT_MEMMAP_MAX];

	ck_assert_uint_eq(boot_memmap(32 << 20, map), 3);
	ck_assert(map[0].addr == 0 && map[0].size == 0x9fc00 && map[0].type == BOOT_MEM_RAM);
	ck_assert(map[1].addr == 0x9fc00 && map[1].size == 0x60400 &&
		  map[1].type == BOOT_MEM_RESERVED);
	ck_assert(map[2].addr == 0x100000 && map[2].size == (31 << 20) &&
		  map[2].type == BOOT_MEM_RAM);
	/* 4 GiB: 3 GiB below the hole, the last one from 4 GiB on. */
	ck_assert_uint_eq(boot_memmap(4ull << 30, map), 4);
	ck_assert(map[2].addr == 0x100000 && map[2].size == (3ull << 30) - 0x100000);
	ck_assert(map[3].addr == (4ull << 30) && map[3].size == (1ull << 30) &&
		  map[3].type == BOOT_MEM_RAM);
	ck_assert_uint_eq(boot_low_end(4ull << 30), 3ull << 30);
	/* 1 MiB: nothing above the BIOS area. */
	ck_assert_uint_eq(boot_memmap(1 << 20, map), 2);
}
END_TEST

START_TEST(bzimage_zero_page_holds_header_cmdline_initrd_and_e820)
{
	char *kernel = write_bzimage(&bz_default), *initrd = make_initrd();
	struct boot_config cfg = config(kernel, initrd, "console=ttyS0 root=/dev/ram", 64 << 20, 2);
	struct boot_entry entry;
	struct err err = { 0 };
	struct mem mem;
	uint8_t *zp, *e820;
	uint32_t rd;

	fake_mem_init(&mem, 64 << 20, 0);
	ck_assert_msg(boot_kernel_load(&mem, &cfg, &entry, &err) == 0, "%s", err.msg);
	/* Relocatable, aligned, fits: loaded at pref_address, entered at +0x200 in long mode. */
	ck_assert_int_eq(entry.mode, BOOT_MODE_LONG);
	ck_assert_uint_eq(entry.rip, 0x1000200);
	ck_assert_uint_eq(entry.rsi, BOOT_INFO_ADDR);
	ck_assert_uint_eq(entry.cr3, BOOT_PML4_ADDR);
	for (size_t i = 0; i < bz_default.kernel_size; i++)
		ck_assert_uint_eq(gp(&mem, 0x1000000 + i, 1)[0], bz_kernel_byte(i));

	zp = gp(&mem, BOOT_INFO_ADDR, 0x1000);
	ck_assert(!memcmp(zp + 0x202, "HdrS", 4));
	ck_assert_uint_eq(boot_get16(zp + 0x206), 0x20f);
	ck_assert_uint_eq(boot_get16(zp + 0x1fa), 0xfffd);     /* copied as it was */
	ck_assert_uint_eq(boot_get32(zp + 0x238), 2047);
	ck_assert_uint_eq(zp[0x1ef], 0);                       /* sentinel */
	ck_assert_uint_eq(zp[0x210], 0xff);                    /* type_of_loader */
	ck_assert_uint_eq(boot_get32(zp + 0x214), 0x1000000);  /* code32_start */
	ck_assert_str_eq((char *)gp(&mem, boot_get32(zp + 0x228), 1), "console=ttyS0 root=/dev/ram");
	rd = boot_get32(zp + 0x218);
	ck_assert_uint_eq(boot_get32(zp + 0x21c), BT_INITRD_SIZE);
	ck_assert_uint_eq(rd & 0xfff, 0);
	ck_assert_uint_le(rd + BT_INITRD_SIZE, 64 << 20);
	ck_assert_uint_ge(rd, 0x1000000 + bz_default.init_size);
	ck_assert_uint_gt(rd + BT_INITRD_SIZE, (64 << 20) - 0x2000);     /* as high as it goes */
	for (int i = 0; i < BT_INITRD_SIZE; i++)
		ck_assert_uint_eq(gp(&mem, rd + i, 1)[0], BT_INITRD_BYTE(i));
	ck_assert_uint_eq(zp[0x1e8], 3);
	e820 = zp + 0x2d0;
	ck_assert(boot_get64(e820) == 0 && boot_get64(e820 + 8) == 0x9fc00 &&
		  boot_get32(e820 + 16) == 1);
	ck_assert(boot_get64(e820 + 20) == 0x9fc00 && boot_get64(e820 + 28) == 0x60400 &&
		  boot_get32(e820 + 36) == 2);
	ck_assert(boot_get64(e820 + 40) == 0x100000 && boot_get64(e820 + 48) == (63 << 20) &&
		  boot_get32(e820 + 56) == 1);
	/* 0-4 GiB identity-mapped with 2 MiB pages; __BOOT_CS 64-bit, __BOOT_DS flat. */
	ck_assert_uint_eq(boot_get64(gp(&mem, BOOT_PML4_ADDR, 8)), BOOT_PDPT_ADDR | 3);
	ck_assert_uint_eq(boot_get64(gp(&mem, BOOT_PDPT_ADDR + 24, 8)), (BOOT_PD_ADDR + 0x3000) | 3);
	ck_assert_uint_eq(boot_get64(gp(&mem, BOOT_PD_ADDR + 8 * 2047, 8)), (2047ull << 21) | 0x83);
	ck_assert_uint_eq(boot_get64(gp(&mem, BOOT_GDT_ADDR + BOOT_SEL_CODE64, 8)),
			  0x00af9b000000ffffull);
	ck_assert_uint_eq(boot_get64(gp(&mem, BOOT_GDT_ADDR + BOOT_SEL_DATA, 8)),
			  0x00cf93000000ffffull);
	/* The MP table is there for the 2 vCPUs. */
	ck_assert(!memcmp(gp(&mem, BOOT_MPTABLE_ADDR, 4), "_MP_", 4));
	fake_mem_release(&mem);
	free(kernel);
	free(initrd);
}
END_TEST

START_TEST(bzimage_goes_to_1mib_unless_relocatable_to_an_aligned_pref_address)
{
	struct bz bz = bz_default;
	struct boot_entry entry;
	struct err err = { 0 };
	struct boot_config cfg;
	struct mem mem;
	char *kernel;

	fake_mem_init(&mem, 64 << 20, 0);
	bz.relocatable = 0;
	kernel = write_bzimage(&bz);
	cfg = config(kernel, NULL, "", 64 << 20, 1);
	ck_assert_msg(boot_kernel_load(&mem, &cfg, &entry, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(entry.rip, 0x100200);
	ck_assert_uint_eq(gp(&mem, 0x100000, 1)[0], bz_kernel_byte(0));
	ck_assert_uint_eq(boot_get32(gp(&mem, BOOT_INFO_ADDR + 0x218, 4)), 0);   /* no initrd */
	free(kernel);
	bz = bz_default;
	bz.pref = 0x1100000;            /* not 2 MiB aligned */
	kernel = write_bzimage(&bz);
	cfg = config(kernel, NULL, "", 64 << 20, 1);
	ck_assert_msg(boot_kernel_load(&mem, &cfg, &entry, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(entry.rip, 0x100200);
	free(kernel);
	fake_mem_release(&mem);
}
END_TEST

struct refusal {
	const char *name;
	struct bz bz;
	uint64_t memory;
	const char *cmdline;
	const char *key;
	const char *needle;
};

START_TEST(bad_bzimages_are_refused_with_the_reason)
{
	struct refusal cases[] = {
		{ "old protocol", .bz = { .version = 0x20a }, .key = "kernel",
		  .needle = "boot protocol 2.10: modvm needs 2.12" },
		{ "32-bit only", .bz = { .xloadflags = 0x2 }, .key = "kernel",
		  .needle = "no 64-bit entry point" },
		{ "zImage", .bz = { .loadflags = 0x80 }, .key = "kernel", .needle = "zImage" },
		{ "cut in the header", .bz = { .cut = 0x220 }, .key = "kernel",
		  .needle = "is truncated: a Linux setup header" },
		{ "cut in the setup code", .bz = { .cut = 0x300 }, .key = "kernel",
		  .needle = "is truncated: 1 setup sectors" },
		{ "header too short", .bz = { .jump_len = 0x40 }, .key = "kernel",
		  .needle = "before the fields of protocol 2.12" },
		{ "bad alignment", .bz = { .align = 0x3000 }, .key = "kernel",
		  .needle = "not a power of two" },
		{ "too big", .bz = { .init_size = 0x2000000 }, .memory = 32 << 20, .key = "kernel",
		  .needle = "does not fit in guest RAM" },
		{ "little RAM", .memory = 16 << 20, .key = "kernel",
		  .needle = "does not fit in guest RAM: it needs RAM up to 0x1100000" },
		{ "long cmdline", .bz = { .cmdline_size = 8 }, .cmdline = "console=ttyS0",
		  .key = "cmdline", .needle = "takes at most 8" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bz bz = bz_default;
		struct refusal *c = &cases[i];
		struct err err = { 0 };
		struct boot_config cfg;
		char *kernel;

		/* Each case sets only what differs from bz_default. */
		if (c->bz.version) bz.version = c->bz.version;
		if (c->bz.xloadflags) bz.xloadflags = c->bz.xloadflags & 0x1;
		if (c->bz.loadflags) bz.loadflags = c->bz.loadflags & 0x1;
		if (c->bz.cut) bz.cut = c->bz.cut;
		if (c->bz.jump_len) bz.jump_len = c->bz.jump_len;
		if (c->bz.align) bz.align = c->bz.align;
		if (c->bz.init_size) bz.init_size = c->bz.init_size;
		if (c->bz.cmdline_size) bz.cmdline_size = c->bz.cmdline_size;
		kernel = write_bzimage(&bz);
		cfg = config(kernel, NULL, c->cmdline ? c->cmdline : "",
			     c->memory ? c->memory : 64 << 20, 1);
		/* Planning alone (modvm check) finds it, and so does loading. */
		ck_assert_msg(boot_kernel_load(NULL, &cfg, NULL, &err) == PDM_ERR_CFG, "%s: %s",
			      c->name, err.msg);
		ck_assert_msg(strstr(err.msg, c->needle) && (!strcmp(c->key, "cmdline") ||
							     strstr(err.msg, kernel)),
			      "%s: %s", c->name, err.msg);
		ck_assert_str_eq(cfg.bad_key, c->key);
		free(kernel);
	}
}
END_TEST

START_TEST(an_initrd_that_does_not_fit_is_refused_naming_it)
{
	char *kernel = write_bzimage(&bz_default), *initrd = tu_fmt("%s/big.img", tmp);
	struct boot_config cfg;
	struct err err = { 0 };
	int fd = open(initrd, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	/* 20 MiB (sparse) above a kernel that runs at 16 MiB in 32 MiB of RAM. */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 20 << 20), 0);
	close(fd);
	cfg = config(kernel, initrd, "", 32 << 20, 1);
	ck_assert_int_eq(boot_kernel_load(NULL, &cfg, NULL, &err), PDM_ERR_CFG);
	ck_assert_str_eq(cfg.bad_key, "initrd");
	ck_assert_msg(strstr(err.msg, initrd) && strstr(err.msg, "does not fit in guest RAM"),
		      "%s", err.msg);
	cfg = config(kernel, initrd, "", 64 << 20, 1);
	ck_assert_msg(boot_kernel_load(NULL, &cfg, NULL, &err) == 0, "%s", err.msg);
	free(kernel);
	free(initrd);
}
END_TEST

START_TEST(unknown_files_are_refused_naming_the_accepted_formats)
{
	const char *contents[] = { "", "#!/bin/sh\necho not a kernel\n" };

	for (size_t i = 0; i < 2; i++) {
		char *kernel = tu_fmt("%s/junk%zu", tmp, i);
		struct boot_config cfg = config(kernel, NULL, "", 64 << 20, 1);
		struct err err = { 0 };

		tu_write_file(kernel, contents[i]);
		ck_assert_int_eq(boot_kernel_load(NULL, &cfg, NULL, &err), PDM_ERR_CFG);
		ck_assert_msg(strstr(err.msg, kernel) && strstr(err.msg, "bzImage") &&
			      strstr(err.msg, "Multiboot") && strstr(err.msg, "PVH"), "%s", err.msg);
		free(kernel);
	}
}
END_TEST

/* A copy of tests/guests/<name> in tmp, patched by fn; its path. */
static char *patched_guest(const char *name, void (*fn)(uint8_t *buf, size_t *len))
{
	char *src = guest_path(name), *dst = tu_fmt("%s/patched-%s", tmp, name);
	size_t len;
	uint8_t *buf = read_bytes(src, &len);

	fn(buf, &len);
	write_bytes(dst, buf, len);
	free(buf);
	free(src);
	return dst;
}

static Elf32_Phdr *first_phdr(uint8_t *buf, uint32_t type)
{
	Elf32_Ehdr *eh = (Elf32_Ehdr *)buf;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf32_Phdr *ph = (Elf32_Phdr *)(buf + eh->e_phoff + i * sizeof(Elf32_Phdr));

		if (ph->p_type == type)
			return ph;
	}
	ck_abort_msg("no program header of type %u", type);
	return NULL;
}

static void cut_elf_header(uint8_t *buf, size_t *len) { *len = 40; }
static void move_phdrs_away(uint8_t *buf, size_t *len) { ((Elf32_Ehdr *)buf)->e_phoff = 0xffff0; }
static void load_below_1mib(uint8_t *buf, size_t *len) { first_phdr(buf, PT_LOAD)->p_paddr = 0x8000; }
static void make_arm(uint8_t *buf, size_t *len) { ((Elf32_Ehdr *)buf)->e_machine = EM_ARM; }
static void cut_segment(uint8_t *buf, size_t *len)
{
	*len = first_phdr(buf, PT_LOAD)->p_offset + 16;
}
static void drop_pvh_note(uint8_t *buf, size_t *len)
{
	Elf32_Phdr *note = first_phdr(buf, PT_NOTE);

	boot_put32(buf + note->p_offset + 8, 19);       /* another Xen note type */
}
static void pvh_entry_outside(uint8_t *buf, size_t *len)
{
	Elf32_Phdr *note = first_phdr(buf, PT_NOTE);

	boot_put32(buf + note->p_offset + 16, 0x200000);
}

START_TEST(bad_elf_kernels_are_refused_with_the_reason)
{
	struct {
		void (*patch)(uint8_t *buf, size_t *len);
		uint64_t memory;
		const char *needle;
	} cases[] = {
		{ cut_elf_header, 0, "is truncated: an ELF header needs 52 bytes" },
		{ move_phdrs_away, 0, "is truncated: bytes 0xffff0-0x10004f (the program headers) are past its end" },
		{ load_below_1mib, 0, "loads at 0x8000, below 1 MiB" },
		{ make_arm, 0, "ELF machine 40 is not x86" },
		{ cut_segment, 0, "is truncated: segment 0 needs bytes" },
		{ drop_pvh_note, 0, "without a PVH entry note" },
		{ pvh_entry_outside, 0, "entry 0x200000 lies outside its loadable segments" },
		{ NULL, 1 << 20, "does not fit in guest RAM: segment 0 needs 0x100000-" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *kernel = cases[i].patch ? patched_guest("pvh.elf", cases[i].patch) :
						guest_path("pvh.elf");
		struct boot_config cfg = config(kernel, NULL, "",
						cases[i].memory ? cases[i].memory : 64 << 20, 1);
		struct err err = { 0 };

		ck_assert_msg(boot_kernel_load(NULL, &cfg, NULL, &err) == PDM_ERR_CFG, "case %zu: %s",
			      i, err.msg);
		ck_assert_msg(strstr(err.msg, cases[i].needle) && strstr(err.msg, kernel),
			      "case %zu: %s", i, err.msg);
		ck_assert_str_eq(cfg.bad_key, "kernel");
		free(kernel);
	}
}
END_TEST

/* An 8 KiB file with a Multiboot header at 0x40: flags, then the address fields. */
static char *write_multiboot(uint32_t flags, const uint32_t *fields, bool is_checksum_ok)
{
	uint8_t buf[8192] = { 0 };
	char *path = tu_fmt("%s/mb.bin", tmp);

	boot_put32(buf + 0x40, 0x1badb002);
	boot_put32(buf + 0x44, flags);
	boot_put32(buf + 0x48, -(0x1badb002u + flags) + (is_checksum_ok ? 0 : 1));
	for (int i = 0; fields && i < 5; i++)
		boot_put32(buf + 0x4c + 4 * i, fields[i]);
	write_bytes(path, buf, sizeof(buf));
	return path;
}

START_TEST(bad_multiboot_kernels_are_refused_with_the_reason)
{
	const uint32_t good[] = { 0x100040, 0x100000, 0, 0x103000, 0x100050 };
	const uint32_t before[] = { 0x100040, 0x0fff00, 0, 0, 0x100050 };
	const uint32_t outside[] = { 0x100040, 0x100000, 0, 0, 0x300000 };
	const uint32_t short_bss[] = { 0x100040, 0x100000, 0x101000, 0x100800, 0x100050 };
	struct {
		uint32_t flags;
		const uint32_t *fields;
		bool is_checksum_ok;
		const char *needle;
	} cases[] = {
		{ 0x3, NULL, false, "is not a kernel modvm can boot" },
		{ 0x7, NULL, true, "requires a video mode" },
		{ 0x13, NULL, true, "requires Multiboot features modvm does not know (flags 0x10)" },
		{ 0x3, NULL, true, "is not an ELF file and its Multiboot header has no address fields" },
		{ 0x10003, before, true, "put the image's start before the file's" },
		{ 0x10003, outside, true, "entry 0x300000 lies outside what is loaded" },
		{ 0x10003, short_bss, true, "bss_end_addr 0x100800 is below the image's end" },
	};
	struct boot_entry entry;
	struct err err = { 0 };
	struct boot_config cfg;
	struct mem mem;
	char *kernel;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kernel = write_multiboot(cases[i].flags, cases[i].fields, cases[i].is_checksum_ok);
		cfg = config(kernel, NULL, "", 64 << 20, 1);
		ck_assert_msg(boot_kernel_load(NULL, &cfg, NULL, &err) == PDM_ERR_CFG, "case %zu: %s",
			      i, err.msg);
		ck_assert_msg(strstr(err.msg, cases[i].needle) && strstr(err.msg, kernel),
			      "case %zu: %s", i, err.msg);
		free(kernel);
	}
	/* The good one: the file from the header's offset back, then bss to 0x103000. */
	fake_mem_init(&mem, 16 << 20, 0xee);
	kernel = write_multiboot(0x10003, good, true);
	cfg = config(kernel, NULL, "", 16 << 20, 1);
	ck_assert_msg(boot_kernel_load(&mem, &cfg, &entry, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(entry.rip, 0x100050);
	ck_assert_uint_eq(boot_get32(gp(&mem, 0x100040, 4)), 0x1badb002);
	ck_assert_uint_eq(gp(&mem, 0x101fff, 1)[0], 0);         /* the file's last byte */
	ck_assert_uint_eq(gp(&mem, 0x102fff, 1)[0], 0);         /* bss, zeroed */
	ck_assert_uint_eq(gp(&mem, 0x103000, 1)[0], 0xee);      /* beyond: untouched */
	fake_mem_release(&mem);
	free(kernel);
}
END_TEST

START_TEST(pvh_kernel_gets_segments_bss_and_start_info)
{
	char *kernel = guest_path("pvh.elf"), *initrd = make_initrd();
	struct boot_config cfg = config(kernel, initrd, BT_CMDLINE, 32 << 20, 1);
	struct boot_entry entry;
	struct err err = { 0 };
	Elf32_Phdr *text, *bss;
	uint8_t *file, *si, *mod, *map;
	struct mem mem;
	size_t len;

	fake_mem_init(&mem, 32 << 20, 0xff);    /* what a reset finds: not zero */
	ck_assert_msg(boot_kernel_load(&mem, &cfg, &entry, &err) == 0, "%s", err.msg);
	file = read_bytes(kernel, &len);
	text = first_phdr(file, PT_LOAD);
	bss = (Elf32_Phdr *)((uint8_t *)text + sizeof(*text));
	ck_assert_uint_eq(bss->p_filesz, 0);
	ck_assert(!memcmp(gp(&mem, text->p_paddr, text->p_filesz), file + text->p_offset,
			  text->p_filesz));
	for (uint32_t i = 0; i < bss->p_memsz; i++)
		ck_assert_uint_eq(gp(&mem, bss->p_paddr + i, 1)[0], 0);
	ck_assert_int_eq(entry.mode, BOOT_MODE_PROTECTED);
	ck_assert_uint_eq(entry.rbx, BOOT_INFO_ADDR);
	ck_assert_uint_eq(entry.rip, boot_get32(file + first_phdr(file, PT_NOTE)->p_offset + 16));
	si = gp(&mem, BOOT_INFO_ADDR, 56);
	ck_assert_uint_eq(boot_get32(si), 0x336ec578);
	ck_assert_uint_eq(boot_get32(si + 4), 1);
	ck_assert_uint_eq(boot_get32(si + 12), 1);
	ck_assert_str_eq((char *)gp(&mem, boot_get64(si + 24), 1), BT_CMDLINE);
	mod = gp(&mem, boot_get64(si + 16), 32);
	ck_assert_uint_eq(boot_get64(mod + 8), BT_INITRD_SIZE);
	ck_assert_uint_eq(gp(&mem, boot_get64(mod) + 4999, 1)[0], BT_INITRD_BYTE(4999));
	ck_assert_uint_eq(boot_get32(si + 48), 3);
	map = gp(&mem, boot_get64(si + 40), 3 * 24);
	ck_assert(boot_get64(map + 48) == 0x100000 && boot_get64(map + 56) == (31 << 20) &&
		  boot_get32(map + 64) == 1);
	free(file);
	fake_mem_release(&mem);
	free(kernel);
	free(initrd);
}
END_TEST

START_TEST(multiboot_kernel_gets_its_information_block)
{
	char *kernel = guest_path("multiboot-aout.bin"), *initrd = make_initrd();
	struct boot_config cfg = config(kernel, initrd, BT_CMDLINE, 32 << 20, 1);
	struct boot_entry entry;
	struct err err = { 0 };
	uint8_t *info, *mod, *mmap;
	struct mem mem;

	fake_mem_init(&mem, 32 << 20, 0xff);
	ck_assert_msg(boot_kernel_load(&mem, &cfg, &entry, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(entry.mode, BOOT_MODE_PROTECTED);
	ck_assert_uint_eq(entry.rax, 0x2badb002);
	info = gp(&mem, entry.rbx, 72);
	ck_assert_uint_eq(boot_get32(info) & 0x24d, 0x24d);
	ck_assert_uint_eq(boot_get32(info + 4), 639);
	ck_assert_uint_eq(boot_get32(info + 8), 31 * 1024);
	ck_assert_str_eq((char *)gp(&mem, boot_get32(info + 16), 1), BT_CMDLINE);
	ck_assert_uint_eq(boot_get32(info + 20), 1);
	mod = gp(&mem, boot_get32(info + 24), 16);
	ck_assert_uint_eq(boot_get32(mod + 4) - boot_get32(mod), BT_INITRD_SIZE);
	ck_assert_uint_eq(boot_get32(mod) & 0xfff, 0);
	ck_assert_str_eq((char *)gp(&mem, boot_get32(mod + 8), 1), BT_MODULE_NAME);
	ck_assert_uint_eq(boot_get32(info + 44), 3 * 24);
	mmap = gp(&mem, boot_get32(info + 48), 3 * 24);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(boot_get32(mmap + 24 * i), 20);
	ck_assert_str_eq((char *)gp(&mem, boot_get32(info + 64), 1), "modvm");
	/* The a.out kludge image: its bss (up to _end) zeroed over the 0xff. */
	ck_assert_uint_eq(gp(&mem, 0x100000, 4)[0], 0x02);         /* the header's first byte */
	fake_mem_release(&mem);
	free(kernel);
	free(initrd);
}
END_TEST

/* The MP table at 0xf0000 for cpus processors, checked as a guest OS reads it. */
static void check_mptable(struct mem *mem, unsigned cpus)
{
	uint8_t *fp = gp(mem, BOOT_MPTABLE_ADDR, 16), *table, *e, sum = 0;
	unsigned processors = 0, irqs = 0, count;
	uint16_t len;

	ck_assert(!memcmp(fp, "_MP_", 4));
	ck_assert_uint_eq(fp[8], 1);
	ck_assert_uint_eq(fp[9], 4);
	for (int i = 0; i < 16; i++)
		sum = (uint8_t)(sum + fp[i]);
	ck_assert_uint_eq(sum, 0);
	table = gp(mem, boot_get32(fp + 4), 44);
	ck_assert(!memcmp(table, "PCMP", 4));
	len = boot_get16(table + 4);
	ck_assert_uint_eq(len + 16, mptable_size(cpus));
	table = gp(mem, boot_get32(fp + 4), len);
	for (unsigned i = 0; i < len; i++)
		sum = (uint8_t)(sum + table[i]);
	ck_assert_uint_eq(sum, 0);
	ck_assert_uint_eq(boot_get32(table + 36), 0xfee00000);
	count = boot_get16(table + 34);
	ck_assert_uint_eq(count, cpus + 1 + 1 + 16 + 2);
	e = table + 44;
	for (unsigned i = 0; i < count; i++) {
		switch (e[0]) {
		case 0:
			ck_assert_uint_eq(e[1], processors);
			ck_assert_uint_eq(e[3], processors == 0 ? 3 : 1);
			ck_assert_uint_eq(boot_get32(e + 4), 0x50657);
			processors++;
			e += 20;
			continue;
		case 1:
			ck_assert(!memcmp(e + 2, "ISA   ", 6));
			break;
		case 2:
			ck_assert_uint_eq(e[1], cpus);
			ck_assert_uint_eq(e[3], 1);
			ck_assert_uint_eq(boot_get32(e + 4), 0xfec00000);
			break;
		case 3:
			ck_assert_uint_eq(e[1], 0);                     /* INT */
			ck_assert_uint_eq(e[5], irqs);                  /* ISA IRQ */
			ck_assert_uint_eq(e[6], cpus);                  /* the IOAPIC */
			ck_assert_uint_eq(e[7], irqs);                  /* its pin */
			irqs++;
			break;
		case 4:
			ck_assert_uint_eq(e[6], 0xff);
			ck_assert_uint_eq(e[1], e[7] == 0 ? 3 : 1);     /* LINT0 ExtINT, LINT1 NMI */
			break;
		default:
			ck_abort_msg("entry type %u", e[0]);
		}
		e += 8;
	}
	ck_assert_uint_eq(processors, cpus);
	ck_assert_uint_eq(irqs, 16);
	ck_assert_ptr_eq(e, table + len);
}

START_TEST(mptable_lists_each_vcpu_with_valid_checksums)
{
	static const unsigned counts[] = { 1, 2, 5, 64 };
	struct mem mem;

	fake_mem_init(&mem, 2 << 20, 0xaa);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct boot_config cfg = config("", NULL, "", 2 << 20, counts[i]);
		struct err err = { 0 };

		ck_assert_msg(mptable_write(&mem, &cfg, &err) == 0, "%s", err.msg);
		check_mptable(&mem, counts[i]);
	}
	fake_mem_release(&mem);
}
END_TEST

static struct kvm_cpuid2 *cpuid_alloc(uint32_t room)
{
	return calloc(1, sizeof(struct kvm_cpuid2) + room * sizeof(struct kvm_cpuid_entry2));
}

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c, uint32_t fn,
						 uint32_t index)
{
	const struct kvm_cpuid_entry2 *found = NULL;

	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index) {
			ck_assert_msg(!found, "leaf %#x.%u twice", fn, index);
			found = &c->entries[i];
		}
	return found;
}

/* What a host's KVM_GET_SUPPORTED_CPUID might say, with the host's topology in it. */
static struct kvm_cpuid2 *cpuid_supported(bool is_amd)
{
	static const struct kvm_cpuid_entry2 intel[] = {
		{ .function = 0, .eax = 0x1f, .ebx = 0x756e6547, .edx = 0x49656e69, .ecx = 0x6c65746e },
		{ .function = 1, .eax = 0x50657, .ebx = 0x07020800, .ecx = 0x00200000, .edx = 0x0f8bfbff },
		{ .function = 4, .index = 0, .flags = 1, .eax = 0x1c004121 },
		{ .function = 4, .index = 1, .flags = 1, .eax = 0x1c03c163 },
		{ .function = 0xb, .index = 0, .flags = 1, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
		{ .function = 0x1f, .index = 0, .flags = 1, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
		{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b },
		{ .function = 0x40000001, .eax = 0x01007efb },
	};
	static const struct kvm_cpuid_entry2 amd[] = {
		{ .function = 0, .eax = 0xa, .ebx = 0x68747541, .edx = 0x69746e65, .ecx = 0x444d4163 },
		{ .function = 1, .eax = 0x800f12, .ebx = 0x07020800, .edx = 0x178bfbff },
		{ .function = 0x80000008, .eax = 0x3030, .ecx = 0x7007 },
		{ .function = 0x8000001e, .eax = 9, .ebx = 0x105, .ecx = 0x301 },
	};
	const struct kvm_cpuid_entry2 *src = is_amd ? amd : intel;
	uint32_t n = is_amd ? sizeof(amd) / sizeof(amd[0]) : sizeof(intel) / sizeof(intel[0]);
	struct kvm_cpuid2 *c = cpuid_alloc(n);

	memcpy(c->entries, src, n * sizeof(*src));
	c->nent = n;
	return c;
}

START_TEST(cpuid_gives_each_vcpu_its_apic_id_and_the_topology)
{
	struct kvm_cpuid2 *sup = cpuid_supported(false), *out = cpuid_alloc(sup->nent + 8);
	const struct kvm_cpuid_entry2 *e;

	ck_assert_int_eq(cpuid_build(sup, 3, 4, true, false, out, sup->nent + 8), 0);
	e = cpuid_find(out, 1, 0);
	ck_assert_uint_eq(e->ebx >> 24, 3);                     /* initial APIC id */
	ck_assert_uint_eq((e->ebx >> 16) & 0xff, 4);            /* logical processors */
	ck_assert_uint_eq(e->ebx & 0xffff, 0x0800);             /* the rest kept */
	ck_assert(e->edx & (1u << 28));                         /* HTT */
	ck_assert(e->ecx & (1u << 31));                         /* hypervisor */
	ck_assert(e->ecx & (1u << 24));                         /* TSC deadline */
	ck_assert(e->ecx & (1u << 21));                         /* x2APIC kept */
	ck_assert_uint_eq(cpuid_find(out, 4, 0)->eax >> 26, 3); /* 4 cores */
	ck_assert_uint_eq((cpuid_find(out, 4, 0)->eax >> 14) & 0xfff, 0);   /* L1: 1 thread */
	ck_assert_uint_eq((cpuid_find(out, 4, 1)->eax >> 14) & 0xfff, 3);   /* L3: all */
	for (uint32_t leaf = 0xb; leaf <= 0x1f; leaf += 0x1f - 0xb) {
		e = cpuid_find(out, leaf, 0);
		ck_assert(e->eax == 0 && e->ebx == 1 && e->ecx == 0x100 && e->edx == 3);
		e = cpuid_find(out, leaf, 1);
		ck_assert(e->eax == 2 && e->ebx == 4 && e->ecx == 0x201 && e->edx == 3);
		e = cpuid_find(out, leaf, 2);
		ck_assert(e->ebx == 0 && e->ecx == 2 && e->edx == 3);
		ck_assert_uint_eq(e->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	}
	/* kvm-clock and the MSR-based features stay; those that issue hypercalls go... */
	ck_assert_uint_eq(cpuid_find(out, 0x40000001, 0)->eax, 0x0100007b);
	/* ...unless [vm] kvm_pv = host asks for all of them. */
	ck_assert_int_eq(cpuid_build(sup, 3, 4, true, true, out, sup->nent + 8), 0);
	ck_assert_uint_eq(cpuid_find(out, 0x40000001, 0)->eax, 0x01007efb);
	/* One vCPU: no HTT, one logical processor; no TSC deadline without the cap. */
	ck_assert_int_eq(cpuid_build(sup, 0, 1, false, false, out, sup->nent + 8), 0);
	e = cpuid_find(out, 1, 0);
	ck_assert_uint_eq(e->ebx >> 16, 1);
	ck_assert(!(e->edx & (1u << 28)) && !(e->ecx & (1u << 24)));
	ck_assert_uint_eq(cpuid_find(out, 0xb, 1)->eax, 0);
	ck_assert_int_eq(cpuid_build(sup, 4, 4, false, false, out, sup->nent + 8), PDM_ERR_INVALID_ARG);
	ck_assert_int_eq(cpuid_build(sup, 0, 4, false, false, out, sup->nent), PDM_ERR_INVALID_ARG);
	free(sup);
	free(out);

	/* AMD: no leaf 0xB below max 0xa; 0x80000008 and 0x8000001E carry the topology. */
	sup = cpuid_supported(true);
	out = cpuid_alloc(sup->nent + 8);
	ck_assert_int_eq(cpuid_build(sup, 2, 3, false, false, out, sup->nent + 8), 0);
	ck_assert_ptr_null(cpuid_find(out, 0xb, 0));
	ck_assert_uint_eq(cpuid_find(out, 0x80000008, 0)->ecx, 0x2002);
	e = cpuid_find(out, 0x8000001e, 0);
	ck_assert(e->eax == 2 && e->ebx == 0x002 && e->ecx == 0);
	free(sup);
	free(out);
}
END_TEST

/* boot_check_config on [boot] text with [vm] memory; the diagnostics, one a line. */
static char *check_boot_memory(const char *memory, const char *boot_text)
{
	char *ini = tu_fmt("%s/vm.ini", tmp);
	char *text = tu_fmt("[vm]\nmemory = %s\n[boot]\n%s", memory, boot_text);
	struct cfg_tree *tree = NULL;
	struct cfg_diag diag;
	size_t len = 1;
	char *out = calloc(1, 1);

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	boot_check_config(cfg_find(tree->root, "boot"), &diag);
	for (int i = 0; i < diag.count; i++) {
		len += strlen(diag.lines[i]) + 1;
		out = realloc(out, len);
		strcat(strcat(out, diag.lines[i]), "\n");
	}
	cfg_diag_release(&diag);
	cfg_free(tree);
	free(text);
	free(ini);
	return out;
}

static char *check_boot(const char *boot_text)
{
	return check_boot_memory("32M", boot_text);
}

START_TEST(check_reports_boot_problems_at_their_keys)
{
	char *bz = write_bzimage(&bz_default), *initrd = make_initrd();
	char *pvh = guest_path("pvh.elf"), *in, *out;

	out = check_boot("");
	ck_assert_msg(strstr(out, "vm.ini:3: boot: nothing to boot: set 'kernel'"), "%s", out);
	free(out);
	in = tu_fmt("flat = %s\nkernel = %s\n", pvh, pvh);
	out = check_boot(in);
	ck_assert_msg(strstr(out, "vm.ini:5: boot/kernel: set 'kernel' or 'flat', not both"), "%s",
		      out);
	free(in);
	free(out);
	in = tu_fmt("flat = %s\ncmdline = quiet\n", pvh);
	out = check_boot(in);
	ck_assert_msg(strstr(out, "vm.ini:5: boot: 'cmdline' goes with 'kernel'"), "%s", out);
	free(in);
	free(out);
	out = check_boot("kernel = missing.elf\n");
	ck_assert_msg(strstr(out, "vm.ini:4: boot/kernel: cannot open '") &&
		      strstr(out, "missing.elf'"), "%s", out);
	free(out);
	in = tu_fmt("kernel = %s\ninitrd = nothing.img\n", pvh);
	out = check_boot(in);
	ck_assert_msg(strstr(out, "vm.ini:5: boot/initrd: cannot open '"), "%s", out);
	free(in);
	free(out);
	/* 32M of RAM: the synthetic bzImage runs at 16 MiB and needs 1 MiB there. */
	in = tu_fmt("kernel = %s\ninitrd = %s\ncmdline = %0600d\n", bz, initrd, 0);
	out = check_boot(in);
	ck_assert_str_eq(out, "");
	free(in);
	free(out);
	in = tu_fmt("kernel = %s\n", bz);
	out = check_boot_memory("8M", in);
	ck_assert_msg(strstr(out, "vm.ini:4: boot/kernel: '") && strstr(out, "does not fit"),
		      "%s", out);
	free(in);
	free(out);
	free(bz);
	bz = write_bzimage(&(struct bz){ .version = 0x20f, .xloadflags = 1, .loadflags = 1,
					 .setup_sects = 1, .jump_len = 0x6a, .align = 0x200000,
					 .init_size = 0x10000, .cmdline_size = 16,
					 .initrd_max = 0x7fffffff, .kernel_size = 0x1000 });
	in = tu_fmt("kernel = %s\ncmdline = %040d\n", bz, 0);
	out = check_boot(in);
	ck_assert_msg(strstr(out, "vm.ini:5: boot/cmdline: 40 bytes long: '") &&
		      strstr(out, "takes at most 16"), "%s", out);
	free(in);
	free(out);
	free(bz);
	free(initrd);
	free(pvh);
}
END_TEST

/* ---- on KVM ---- */

static struct pdm_registry registry;
static struct cfg_tree *tree;

static void kvm_setup(void)
{
	setup();
	tu_load_registry(&registry);
}

static void kvm_teardown(void)
{
	cfg_free(tree);
	tree = NULL;
	pdm_registry_release(&registry);
	teardown();
}

static const char *const bc_names[BC_COUNT] = {
	[BC_OK] = "ok", [BC_MAGIC] = "magic", [BC_INFO_FLAGS] = "info flags/version",
	[BC_MEMORY] = "mem_lower/mem_upper", [BC_MMAP] = "memory map", [BC_CMDLINE] = "cmdline",
	[BC_MODULE] = "module start/end", [BC_MODULE_DATA] = "module data",
	[BC_MODULE_NAME] = "module string", [BC_LOADER_NAME] = "loader name", [BC_BSS] = "bss",
	[BC_FWCFG_SIGNATURE] = "fw_cfg signature", [BC_FWCFG_ID] = "fw_cfg id",
	[BC_FWCFG_RAM] = "fw_cfg RAM size", [BC_FWCFG_CPUS] = "fw_cfg CPUs",
	[BC_FWCFG_CMDLINE_SIZE] = "fw_cfg cmdline size", [BC_FWCFG_CMDLINE] = "fw_cfg cmdline",
	[BC_MP_FLOAT] = "MP floating pointer", [BC_MP_TABLE] = "MP table",
	[BC_MP_CPUS] = "MP processors", [BC_MP_IOAPIC] = "MP IOAPIC", [BC_MP_IRQS] = "MP ISA IRQs",
	[BC_CPUID_APIC] = "CPUID APIC id", [BC_CPUID_HYPERVISOR] = "CPUID hypervisor bit",
	[BC_CPUID_TOPOLOGY] = "CPUID topology", [BC_ENTRY_STATE] = "entry state",
	[BC_ZERO_PAGE] = "zero page",
};

/* A VM booting tests/guests/<guest> as bootcheck.h describes, with extra sections. */
static struct cfg_tree *kernel_vm_config(const char *guest, const char *extra)
{
	char *ini = tu_fmt("%s/vm.ini", tmp), *kernel = guest_path(guest), *initrd = make_initrd();
	char *text = tu_fmt("[vm]\nmemory = %dM\ncpus = %d\n[boot]\nkernel = %s\n"
			    "initrd = " BT_MODULE_NAME "\ncmdline = " BT_CMDLINE "\n"
			    "[devices/debug-exit/0]\n%s%s", BT_MEMORY_MB, BT_CPUS, kernel,
#ifdef BT_FWCFG
			    "[devices/fw_cfg/0]\n",
#else
			    "",
#endif
			    extra);
	struct cfg_diag diag;
	struct cfg_tree *t = NULL;

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &t, &diag), 0);
	ck_assert_msg(vm_check_config(t, &registry, &diag) == 0, "%s",
		      diag.count ? diag.lines[0] : "?");
	cfg_diag_release(&diag);
	free(ini);
	free(kernel);
	free(initrd);
	free(text);
	return t;
}

static void count_reset(struct vm *vm, void *user)
{
	atomic_fetch_add((_Atomic int *)user, 1);
}

/* Runs the guest to its debug-exit; fails naming the check the guest reported. */
static void run_kernel_guest(const char *guest, const char *extra, int expected_resets)
{
	_Atomic int resets = 0;
	struct err err = { 0 };
	struct vm *vm;
	int status, value;

	tree = kernel_vm_config(guest, extra);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_at_reset_register(vm, count_reset, (void *)&resets), 0);
	ck_assert_msg(vm_power_on(vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	status = vm_exit_status(vm);
	ck_assert_int_eq(vm_at_reset_deregister(vm, count_reset, (void *)&resets), 0);
	vm_destroy(vm);
	ck_assert_msg(status >= 0 && (status & 1), "%s: no debug-exit (status %d)", guest, status);
	value = status >> 1;
	ck_assert_msg(value == BC_OK, "%s: check %d (%s) failed", guest, value,
		      value < BC_COUNT && bc_names[value] ? bc_names[value] : "?");
	ck_assert_int_eq(atomic_load(&resets), expected_resets);
}

START_TEST(multiboot_elf_guest_finds_what_it_was_given)
{
	run_kernel_guest("multiboot.elf", "", 0);
}
END_TEST

START_TEST(multiboot_aout_kludge_guest_finds_what_it_was_given)
{
	run_kernel_guest("multiboot-aout.bin", "", 0);
}
END_TEST

START_TEST(pvh_guest_finds_what_it_was_given)
{
	run_kernel_guest("pvh.elf", "", 0);
}
END_TEST

START_TEST(bzimage_guest_enters_in_long_mode_and_finds_its_zero_page)
{
	run_kernel_guest("bzimage.bin", "", 0);
}
END_TEST

START_TEST(reset_places_kernel_initrd_and_tables_again)
{
	/* The guest spoils its image, info, module, bss and MP table, then resets once. */
	run_kernel_guest("multiboot-reset.elf", "[devices/i8042/0]\n", 1);
}
END_TEST

/*
 * SMP: tests/guests/smp*.elf starts every other vCPU with INIT and start-up IPIs and
 * exits with how many run. _i: 2 or 4 vCPUs, xAPIC (even) or x2APIC (odd).
 */
START_TEST(aps_start_through_init_and_startup_ipis)
{
	unsigned cpus = _i < 2 ? 2 : 4;
	const char *guest = _i % 2 ? "smp-x2apic.elf" : "smp.elf";
	char *ini = tu_fmt("%s/vm.ini", tmp), *kernel = guest_path(guest);
	char *text = tu_fmt("[vm]\nmemory = 16M\ncpus = %u\n[boot]\nkernel = %s\n"
			    "[devices/fw_cfg/0]\n[devices/debug-exit/0]\n", cpus, kernel);
	struct cfg_diag diag;
	struct err err = { 0 };
	struct vm *vm;
	int status;

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	cfg_diag_release(&diag);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_msg(vm_power_on(vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_wait_stopped(vm), PDM_VM_OFF);
	status = vm_exit_status(vm);
	vm_destroy(vm);
	ck_assert_msg(status >= 0 && (status & 1), "%s: no debug-exit (status %d)", guest, status);
	ck_assert_msg(status >> 1 == (int)cpus, "%s: %d of %u vCPUs running", guest, status >> 1,
		      cpus);
	free(ini);
	free(kernel);
	free(text);
}
END_TEST

struct cpuid_probe {
	uint32_t apic_id, x2apic_id, logical, cores;
};

static int probe_cpuid(struct vm *vm, void *arg)
{
	struct vcpu *vcpu = emt_self();
	struct cpuid_probe *probe = (struct cpuid_probe *)arg + vcpu->id;
	struct kvm_cpuid2 *c = cpuid_alloc(300);
	const struct kvm_cpuid_entry2 *e;

	c->nent = 300;
	if (ioctl(vcpu->fd, KVM_GET_CPUID2, c) < 0) {
		free(c);
		return PDM_ERR_KVM;
	}
	if ((e = cpuid_find(c, 1, 0))) {
		probe->apic_id = e->ebx >> 24;
		probe->logical = (e->ebx >> 16) & 0xff;
	}
	if ((e = cpuid_find(c, 0xb, 1))) {
		probe->x2apic_id = e->edx;
		probe->cores = e->ebx;
	}
	free(c);
	return 0;
}

START_TEST(each_vcpu_has_its_apic_id_and_the_ioapic_the_mp_table_id)
{
	struct cpuid_probe probes[4];
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct err err = { 0 };
	struct vm *vm;

	memset(probes, 0xff, sizeof(probes));
	tree = kernel_vm_config("pvh.elf", "");
	ck_assert_int_eq(cfg_set(tree, "vm", "cpus", "4", "-o", 0), 0);
	ck_assert_msg(vm_create(tree, &registry, &vm, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm_req_call(vm, VM_CPU_ALL, 0, -1, probe_cpuid, probes), 0);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_uint_eq(probes[i].apic_id, i);
		ck_assert_uint_ge(probes[i].logical, 4);
		if (probes[i].cores != 0xffffffff) {     /* where the host has leaf 0xB */
			ck_assert_uint_eq(probes[i].x2apic_id, i);
			ck_assert_uint_eq(probes[i].cores, 4);
		}
	}
	ck_assert_int_eq(ioctl(vm->kvm.vm_fd, KVM_GET_IRQCHIP, &chip), 0);
	ck_assert_uint_eq(chip.chip.ioapic.id, 4);
	check_mptable(&vm->mem, 4);
	vm_destroy(vm);
}
END_TEST

START_TEST(a_bad_kernel_fails_vm_create_naming_key_and_file)
{
	struct err err = { 0 };
	struct vm *vm = NULL;
	char *junk = tu_fmt("%s/junk", tmp);

	tree = kernel_vm_config("pvh.elf", "");
	tu_write_file(junk, "junk");
	ck_assert_int_eq(cfg_set(tree, "boot", "kernel", junk, "-o", 0), 0);
	ck_assert_int_eq(vm_create(tree, &registry, &vm, &err), PDM_ERR_CFG);
	ck_assert_ptr_null(vm);
	ck_assert_msg(strstr(err.msg, "[boot] kernel: '") && strstr(err.msg, junk) &&
		      strstr(err.msg, "not a kernel modvm can boot"), "%s", err.msg);
	free(junk);
}
END_TEST

static Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, memmap_describes_ram_around_the_bios_area_and_the_32bit_hole);
	tcase_add_test(tc, bzimage_zero_page_holds_header_cmdline_initrd_and_e820);
	tcase_add_test(tc, bzimage_goes_to_1mib_unless_relocatable_to_an_aligned_pref_address);
	tcase_add_test(tc, bad_bzimages_are_refused_with_the_reason);
	tcase_add_test(tc, an_initrd_that_does_not_fit_is_refused_naming_it);
	tcase_add_test(tc, unknown_files_are_refused_naming_the_accepted_formats);
	tcase_add_test(tc, bad_elf_kernels_are_refused_with_the_reason);
	tcase_add_test(tc, bad_multiboot_kernels_are_refused_with_the_reason);
	tcase_add_test(tc, pvh_kernel_gets_segments_bss_and_start_info);
	tcase_add_test(tc, multiboot_kernel_gets_its_information_block);
	tcase_add_test(tc, mptable_lists_each_vcpu_with_valid_checksums);
	tcase_add_test(tc, cpuid_gives_each_vcpu_its_apic_id_and_the_topology);
	tcase_add_test(tc, check_reports_boot_problems_at_their_keys);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *boot_kvm_suite(void)
{
	Suite *s = suite_create("boot on KVM");
	TCase *tc = tcase_create("guests");

	tcase_add_checked_fixture(tc, kvm_setup, kvm_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, multiboot_elf_guest_finds_what_it_was_given);
	tcase_add_test(tc, multiboot_aout_kludge_guest_finds_what_it_was_given);
	tcase_add_test(tc, pvh_guest_finds_what_it_was_given);
	tcase_add_test(tc, bzimage_guest_enters_in_long_mode_and_finds_its_zero_page);
	tcase_add_test(tc, reset_places_kernel_initrd_and_tables_again);
	tcase_add_loop_test(tc, aps_start_through_init_and_startup_ipis, 0, 4);
	tcase_add_test(tc, each_vcpu_has_its_apic_id_and_the_ioapic_the_mp_table_id);
	tcase_add_test(tc, a_bad_kernel_fails_vm_create_naming_key_and_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(boot_suite());
	int failed, fd;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	fd = open(kvm_device_path(), O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("SKIP: cannot open %s: the boot tests that run guests need KVM\n",
		       kvm_device_path());
		return failed ? 1 : 77;
	}
	close(fd);
	runner = srunner_create(boot_kvm_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed += srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
