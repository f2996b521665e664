/*
 * vmm/boot.c - [boot]: what to boot, how vCPU 0 starts, and what every kernel format
 * shares (files, memory map, low-memory structures, initrd and command line).
 *
 * [boot] flat = FILE: the file is copied to guest-physical 0x10000 and vCPU 0 starts
 * in real mode with CS = DS = ES = FS = GS = SS = 0x1000 (base 0x10000), IP = 0,
 * SP = 0xfff0, FLAGS = 0x2 (interrupts off), every other general register 0, CR0 as
 * at reset (0x60000010: real mode, paging off).
 *
 * [boot] kernel = FILE (with initrd and cmdline): the format is found the way QEMU's
 * -kernel finds it: "HdrS" at 0x202 is a Linux bzImage (boot_linux.c); otherwise a
 * Multiboot header in the first 8 KiB is a Multiboot kernel (boot_multiboot.c);
 * otherwise an ELF file is booted through its PVH entry note (boot_elf.c). Each gets
 * the same memory map and an MP table for [vm] cpus processors (mptable.c).
 *
 * In every case the other vCPUs wait for INIT/SIPI in the in-kernel LAPIC, as on a
 * real machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/boot.h"
#include "vmm/vcpu.h"

#define BOOT_FLAT_ADDR 0x10000u
#define BOOT_FLAT_SEGMENT 0x1000u
#define BOOT_FLAT_SP 0xfff0u

#define CR0_PE 0x1ull
#define CR0_ET 0x10ull
#define CR0_PG 0x80000000ull
#define CR4_PAE 0x20ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull

static const struct pdm_cfg_key boot_cfg[] = {
	{ .name = "flat", .type = PDM_CFG_PATH,
	  .help = "raw binary loaded at 0x10000 and entered in real mode at 1000:0000" },
	{ .name = "kernel", .type = PDM_CFG_PATH,
	  .help = "Linux bzImage, Multiboot (ELF or a.out kludge) or PVH ELF kernel" },
	{ .name = "initrd", .type = PDM_CFG_PATH,
	  .help = "initial ramdisk for 'kernel' (a Multiboot kernel gets it as module 0)" },
	{ .name = "cmdline", .type = PDM_CFG_STRING, .help = "command line for 'kernel'" },
	{ 0 }
};

const char *boot_format_name(enum boot_format format)
{
	switch (format) {
	case BOOT_FORMAT_LINUX: return "Linux bzImage";
	case BOOT_FORMAT_MULTIBOOT: return "Multiboot";
	case BOOT_FORMAT_PVH: return "PVH ELF";
	case BOOT_FORMAT_INVALID: break;
	}
	return "unknown";
}

/* ---- the memory map ---- */

uint64_t boot_low_end(uint64_t memory_size)
{
	return memory_size < MEM_LOW_LIMIT ? memory_size : MEM_LOW_LIMIT;
}

/*
 * As mem.c maps RAM: from 0 up to 3 GiB, the rest from 4 GiB. The top KiB of base
 * memory (the EBDA) and 640 KiB - 1 MiB (VGA, option ROMs, BIOS: here the MP table)
 * are reserved, as on a PC, so the guest keeps its hands off them.
 */
unsigned boot_memmap(uint64_t memory_size, struct boot_memmap_entry *map)
{
	uint64_t low_end = boot_low_end(memory_size);
	unsigned count = 0;

	map[count++] = (struct boot_memmap_entry){ 0, BOOT_EBDA_ADDR, BOOT_MEM_RAM };
	map[count++] = (struct boot_memmap_entry){ BOOT_EBDA_ADDR, BOOT_HIGH_ADDR - BOOT_EBDA_ADDR,
						   BOOT_MEM_RESERVED };
	if (low_end > BOOT_HIGH_ADDR)
		map[count++] = (struct boot_memmap_entry){ BOOT_HIGH_ADDR, low_end - BOOT_HIGH_ADDR,
							   BOOT_MEM_RAM };
	if (memory_size > low_end)
		map[count++] = (struct boot_memmap_entry){ MEM_HIGH_BASE, memory_size - low_end,
							   BOOT_MEM_RAM };
	return count;
}

/* ---- files ---- */

static int boot_file_open(struct boot_file *f, const char *path, struct err *err)
{
	struct stat st;

	f->path = path;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return err_set(err, PDM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f->fd);
		f->fd = -1;
		return err_set(err, PDM_ERR_IO, "'%s' is not a regular file", path);
	}
	f->size = (uint64_t)st.st_size;
	return 0;
}

static void boot_file_close(struct boot_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int boot_file_read(const struct boot_file *f, uint64_t offset, void *buf, size_t len,
		   const char *what, struct err *err)
{
	uint8_t *p = buf;
	size_t done = 0;

	if (offset > f->size || len > f->size - offset)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is truncated: bytes %#llx-%#llx (%s) are past its end at %llu",
			       f->path, (unsigned long long)offset,
			       (unsigned long long)(offset + len - 1), what,
			       (unsigned long long)f->size);
	while (done < len) {
		ssize_t n = pread(f->fd, p + done, len - done, (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(err, PDM_ERR_IO, "cannot read '%s': %s", f->path,
				       n < 0 ? strerror(errno) : "the file got shorter");
		done += (size_t)n;
	}
	return 0;
}

int boot_copy_segment(struct mem *mem, const struct boot_file *f, const struct boot_segment *seg,
		      struct err *err)
{
	uint8_t *dst = mem_ptr(mem, seg->gpa, seg->mem_size);
	int status;

	if (!dst)
		return err_set(err, PDM_ERR_INVALID_ARG, "segment %#llx-%#llx of '%s' is not in RAM",
			       (unsigned long long)seg->gpa,
			       (unsigned long long)(seg->gpa + seg->mem_size - 1), f->path);
	status = boot_file_read(f, seg->offset, dst, (size_t)seg->file_size, "a segment", err);
	if (status)
		return status;
	memset(dst + seg->file_size, 0, (size_t)(seg->mem_size - seg->file_size));
	return 0;
}

/* ---- what every kernel format shares ---- */

int boot_plan_segment(struct boot_config *cfg, struct boot_plan *plan,
		      const struct boot_segment *seg, unsigned index, struct err *err)
{
	uint64_t low_end = boot_low_end(cfg->memory_size);
	const char *path = plan->kernel.path;

	if (seg->file_size > seg->mem_size)
		return err_set(err, PDM_ERR_CFG,
			       "'%s': segment %u has more bytes in the file (%llu) than in memory (%llu)",
			       path, index, (unsigned long long)seg->file_size,
			       (unsigned long long)seg->mem_size);
	if (seg->offset > plan->kernel.size || seg->file_size > plan->kernel.size - seg->offset)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is truncated: segment %u needs bytes %#llx-%#llx, the file has %llu",
			       path, index, (unsigned long long)seg->offset,
			       (unsigned long long)(seg->offset + seg->file_size - 1),
			       (unsigned long long)plan->kernel.size);
	if (seg->gpa < BOOT_HIGH_ADDR)
		return err_set(err, PDM_ERR_CFG,
			       "'%s': segment %u loads at %#llx, below 1 MiB, where modvm keeps the "
			       "boot data", path, index, (unsigned long long)seg->gpa);
	if (seg->gpa >= low_end || seg->mem_size > low_end - seg->gpa)
		return err_set(err, PDM_ERR_CFG,
			       "'%s' does not fit in guest RAM: segment %u needs %#llx-%#llx, [vm] "
			       "memory gives RAM up to %#llx (%llu MiB)", path, index,
			       (unsigned long long)seg->gpa,
			       (unsigned long long)(seg->gpa + seg->mem_size - 1),
			       (unsigned long long)low_end, (unsigned long long)(low_end >> 20));
	if (plan->seg_count == BOOT_MAX_SEGMENTS)
		return err_set(err, PDM_ERR_CFG, "'%s' has more than %d loadable segments", path,
			       BOOT_MAX_SEGMENTS);
	plan->segs[plan->seg_count++] = *seg;
	if (seg->gpa + seg->mem_size > plan->kernel_end)
		plan->kernel_end = seg->gpa + seg->mem_size;
	return 0;
}

bool boot_in_segment(const struct boot_plan *plan, uint64_t addr)
{
	for (unsigned i = 0; i < plan->seg_count; i++)
		if (addr >= plan->segs[i].gpa && addr - plan->segs[i].gpa < plan->segs[i].mem_size)
			return true;
	return false;
}

static int boot_put(struct mem *mem, uint64_t gpa, const void *data, size_t len, struct err *err)
{
	if (mem_write(mem, gpa, data, len))
		return err_set(err, PDM_ERR_INVALID_ARG, "boot data at %#llx (%zu bytes) is not in RAM",
			       (unsigned long long)gpa, len);
	return 0;
}

static int boot_place_common(struct mem *mem, const struct boot_config *cfg,
			     const struct boot_plan *plan, struct err *err)
{
	/* 0x08 code32, 0x10 code64, 0x18 data: flat 4 GiB; 0x20 a busy TSS (base 0, 0x67). */
	static const uint64_t gdt[] = {
		0, 0x00cf9b000000ffffull, 0x00af9b000000ffffull, 0x00cf93000000ffffull,
		0x00008b0000000067ull, 0,
	};
	uint8_t bda[0x20] = { 0 }, gdt_bytes[sizeof(gdt)];
	int status;

	/*
	 * What a BIOS leaves in its data area about memory, for kernels that look: the
	 * EBDA's segment (0x40e) and the KiB of base memory below it (0x413).
	 */
	boot_put16(bda + 0x0e, BOOT_EBDA_ADDR >> 4);
	boot_put16(bda + 0x13, BOOT_EBDA_ADDR >> 10);
	for (size_t i = 0; i < sizeof(gdt) / sizeof(gdt[0]); i++)
		boot_put64(gdt_bytes + 8 * i, gdt[i]);
	status = boot_put(mem, BOOT_BDA_ADDR, bda, sizeof(bda), err);
	if (!status)
		status = boot_put(mem, BOOT_GDT_ADDR, gdt_bytes, sizeof(gdt_bytes), err);
	if (!status)
		status = boot_put(mem, BOOT_CMDLINE_ADDR, cfg->cmdline, strlen(cfg->cmdline) + 1, err);
	/* The EBDA is reserved, not used: zero it so nothing stale is found there. */
	if (!status) {
		uint8_t *ebda = mem_ptr(mem, BOOT_EBDA_ADDR, 0x400);

		if (ebda)
			memset(ebda, 0, 0x400);
		status = mptable_write(mem, cfg, err);
	}
	for (unsigned i = 0; !status && i < plan->seg_count; i++)
		status = boot_copy_segment(mem, &plan->kernel, &plan->segs[i], err);
	if (!status && plan->initrd.fd >= 0) {
		struct boot_segment seg = { .offset = 0, .file_size = plan->initrd.size,
					    .gpa = plan->initrd_gpa, .mem_size = plan->initrd.size };

		status = boot_copy_segment(mem, &plan->initrd, &seg, err);
	}
	return status;
}

static int boot_plan_initrd(struct boot_config *cfg, struct boot_plan *plan, struct err *err)
{
	uint64_t low_end = boot_low_end(cfg->memory_size);
	uint64_t top = (plan->initrd_limit < low_end ? plan->initrd_limit : low_end) & ~0xfffull;
	uint64_t size = plan->initrd.size;

	if (plan->initrd.fd < 0)
		return 0;
	if (size > top || ((top - size) & ~0xfffull) < plan->kernel_end) {
		cfg->bad_key = "initrd";
		return err_set(err, PDM_ERR_CFG,
			       "'%s' (%llu bytes) does not fit in guest RAM: it must lie between "
			       "the kernel's end at %#llx and %#llx%s", plan->initrd.path,
			       (unsigned long long)size, (unsigned long long)plan->kernel_end,
			       (unsigned long long)top,
			       top < (low_end & ~0xfffull) ? ", the highest address the kernel takes" :
							     "; raise [vm] memory");
	}
	plan->initrd_gpa = (top - size) & ~0xfffull;
	return 0;
}

static int boot_detect(struct boot_config *cfg, struct boot_plan *plan, struct err *err)
{
	const uint8_t *h = plan->head;

	if (plan->head_len >= 0x206 && !memcmp(h + 0x202, "HdrS", 4))
		plan->format = BOOT_FORMAT_LINUX;
	else if (boot_multiboot_find(plan) >= 0)
		plan->format = BOOT_FORMAT_MULTIBOOT;
	else if (boot_is_elf(plan))
		plan->format = BOOT_FORMAT_PVH;
	else
		return err_set(err, PDM_ERR_CFG,
			       "'%s' is not a kernel modvm can boot: expected a Linux bzImage "
			       "(\"HdrS\" at 0x202), a Multiboot v1 image (magic 0x1badb002 in its "
			       "first 8 KiB) or an ELF file with a PVH entry note (Xen ELF note 18, "
			       "PHYS32_ENTRY)", cfg->kernel);
	return 0;
}

int boot_kernel_load(struct mem *mem, struct boot_config *cfg, struct boot_entry *entry,
		     struct err *err)
{
	struct boot_plan *plan = calloc(1, sizeof(*plan));
	int status;

	if (!plan)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	plan->kernel.fd = plan->initrd.fd = -1;
	cfg->bad_key = "kernel";
	status = boot_file_open(&plan->kernel, cfg->kernel, err);
	if (!status) {
		plan->head_len = plan->kernel.size < BOOT_HEAD_SIZE ? (size_t)plan->kernel.size :
								      BOOT_HEAD_SIZE;
		status = boot_file_read(&plan->kernel, 0, plan->head, plan->head_len, "the header",
					err);
	}
	if (!status && cfg->initrd) {
		status = boot_file_open(&plan->initrd, cfg->initrd, err);
		if (status)
			cfg->bad_key = "initrd";
	}
	if (!status && strlen(cfg->cmdline) + 1 > BOOT_CMDLINE_MAX) {
		cfg->bad_key = "cmdline";
		status = err_set(err, PDM_ERR_CFG, "%zu bytes long: modvm passes at most %u",
				 strlen(cfg->cmdline), BOOT_CMDLINE_MAX - 1);
	}
	if (!status)
		status = boot_detect(cfg, plan, err);
	if (!status) {
		plan->initrd_limit = UINT64_MAX;
		switch (plan->format) {
		case BOOT_FORMAT_LINUX:
			status = boot_linux_plan(cfg, plan, err);
			break;
		case BOOT_FORMAT_MULTIBOOT:
			status = boot_multiboot_plan(cfg, plan, err);
			break;
		case BOOT_FORMAT_PVH:
			status = boot_pvh_plan(cfg, plan, err);
			break;
		case BOOT_FORMAT_INVALID:
			status = PDM_ERR_INVALID_ARG;
			break;
		}
	}
	if (!status)
		status = boot_plan_initrd(cfg, plan, err);
	if (!status && mem) {
		cfg->bad_key = "kernel";
		memset(entry, 0, sizeof(*entry));
		status = boot_place_common(mem, cfg, plan, err);
		if (!status && plan->format == BOOT_FORMAT_LINUX)
			status = boot_linux_place(mem, cfg, plan, entry, err);
		else if (!status && plan->format == BOOT_FORMAT_MULTIBOOT)
			status = boot_multiboot_place(mem, cfg, plan, entry, err);
		else if (!status)
			status = boot_pvh_place(mem, cfg, plan, entry, err);
		if (!status)
			log_info("boot", "loaded %s '%s' (%llu bytes), entry %#llx",
				 boot_format_name(plan->format), cfg->kernel,
				 (unsigned long long)plan->kernel.size, (unsigned long long)entry->rip);
		if (!status && plan->initrd.fd >= 0)
			log_info("boot", "initrd '%s' (%llu bytes) at %#llx", cfg->initrd,
				 (unsigned long long)plan->initrd.size,
				 (unsigned long long)plan->initrd_gpa);
	}
	boot_file_close(&plan->kernel);
	boot_file_close(&plan->initrd);
	free(plan);
	return status;
}

/* ---- [boot] ---- */

struct boot_keys {
	struct cfg_value *flat, *kernel, *initrd, *cmdline;
};

static void boot_find_keys(struct cfg_node *boot, struct boot_keys *keys)
{
	keys->flat = cfg_value_find(boot, "flat");
	keys->kernel = cfg_value_find(boot, "kernel");
	keys->initrd = cfg_value_find(boot, "initrd");
	keys->cmdline = cfg_value_find(boot, "cmdline");
}

/* The [boot] values of a kernel boot; memory and vCPUs are the caller's. */
static int boot_read_kernel_config(struct cfg_node *boot, struct boot_config *cfg,
				   struct err *err)
{
	struct cfg_value *initrd = cfg_value_find(boot, "initrd");
	int status;

	cfg->bad_key = "kernel";
	status = cfg_get_path(boot, boot_cfg, "kernel", &cfg->kernel, err);
	if (!status && initrd) {
		cfg->bad_key = "initrd";
		status = cfg_get_path(boot, boot_cfg, "initrd", &cfg->initrd, err);
		cfg->initrd_name = initrd->text;
	}
	if (!status) {
		cfg->bad_key = "cmdline";
		status = cfg_get_string(boot, boot_cfg, "cmdline", &cfg->cmdline, err);
		if (status == PDM_ERR_CFG_MISSING) {
			cfg->cmdline = "";
			status = 0;
		}
	}
	return status;
}

static int boot_check_flat(struct cfg_value *flat, const char *path, struct cfg_diag *diag)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		cfg_diag_add(diag, flat->origin, flat->line, "boot/flat", "cannot read '%s': %s",
			     path, strerror(errno));
		return PDM_ERR_CFG;
	}
	if (!S_ISREG(st.st_mode)) {
		cfg_diag_add(diag, flat->origin, flat->line, "boot/flat", "'%s' is not a regular file",
			     path);
		return PDM_ERR_CFG;
	}
	return 0;
}

/* [vm] memory as vm.c will read it; 64 GiB (the most) when invalid, which vm.c reports. */
static uint64_t boot_check_memory(struct cfg_node *boot)
{
	struct cfg_value *memory = cfg_value_find(cfg_find(boot->tree->root, "vm"), "memory");
	int64_t size = 128 << 20;

	if (memory && (cfg_parse_int(memory->text, &size) || size < (1 << 20) || size > (64ll << 30)))
		size = 64ll << 30;
	return (uint64_t)size & ~0xfffull;
}

int boot_check_config(struct cfg_node *boot, struct cfg_diag *diag)
{
	struct boot_config cfg = { 0 };
	struct boot_keys keys;
	const char *path;
	struct err err;

	if (!boot) {
		cfg_diag_add(diag, "-", 0, "boot",
			     "no [boot] section: nothing to boot (set [boot] kernel or flat)");
		return PDM_ERR_CFG;
	}
	if (cfg_check_schema(boot, boot_cfg, NULL, "section [boot]", diag))
		return PDM_ERR_CFG;
	boot_find_keys(boot, &keys);
	if (keys.flat && keys.kernel) {
		cfg_diag_add(diag, keys.kernel->origin, keys.kernel->line, "boot/kernel",
			     "set 'kernel' or 'flat', not both");
		return PDM_ERR_CFG;
	}
	if (!keys.flat && !keys.kernel) {
		cfg_diag_add(diag, boot->origin, boot->line, boot->path,
			     "nothing to boot: set 'kernel' (or 'flat' for a raw binary)");
		return PDM_ERR_CFG;
	}
	if (keys.flat) {
		int status = 0;
		struct cfg_value *extra[] = { keys.initrd, keys.cmdline };

		for (size_t i = 0; i < 2; i++)
			if (extra[i]) {
				cfg_diag_add(diag, extra[i]->origin, extra[i]->line, boot->path,
					     "'%s' goes with 'kernel': a flat binary takes none",
					     extra[i]->key);
				status = PDM_ERR_CFG;
			}
		if (cfg_get_path(boot, boot_cfg, "flat", &path, &err))
			return PDM_ERR_CFG;
		return boot_check_flat(keys.flat, path, diag) ? PDM_ERR_CFG : status;
	}
	if (boot_read_kernel_config(boot, &cfg, &err))
		return PDM_ERR_CFG;   /* cfg_check_schema has reported it */
	cfg.memory_size = boot_check_memory(boot);
	cfg.cpu_count = 1;
	if (boot_kernel_load(NULL, &cfg, NULL, &err)) {
		struct cfg_value *bad = cfg_value_find(boot, cfg.bad_key);
		char key_path[64];

		if (!bad)
			bad = keys.kernel;
		snprintf(key_path, sizeof(key_path), "boot/%s", bad->key);
		cfg_diag_add(diag, bad->origin, bad->line, key_path, "%s", err.msg);
		return PDM_ERR_CFG;
	}
	return 0;
}

/* ---- vCPU 0 at entry ---- */

struct boot_entry_req {
	const struct boot_entry *entry;
	struct err *err;
};

static struct kvm_segment boot_flat_segment(uint16_t selector, uint8_t type, bool is_code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type, .present = 1,
		.dpl = 0, .db = !is_code64, .s = 1, .l = is_code64, .g = 1,
	};
}

static int boot_set_entry(struct vm *vm, void *arg)
{
	struct boot_entry_req *req = arg;
	const struct boot_entry *entry = req->entry;
	struct vcpu *vcpu = &vm->vcpus[0];
	struct kvm_regs regs = {
		.rip = entry->rip, .rsp = entry->rsp, .rax = entry->rax, .rbx = entry->rbx,
		.rsi = entry->rsi, .rflags = 0x2,
	};
	struct kvm_sregs sregs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(req->err, PDM_ERR_KVM, "KVM_GET_SREGS failed: %s", strerror(errno));
	if (entry->mode == BOOT_MODE_REAL) {
		struct kvm_segment *segs[] = { &sregs.cs, &sregs.ds, &sregs.es, &sregs.fs,
					       &sregs.gs, &sregs.ss };

		for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
			segs[i]->selector = entry->real_segment;
			segs[i]->base = (uint64_t)entry->real_segment << 4;
		}
	} else {
		bool is_long = entry->mode == BOOT_MODE_LONG;
		struct kvm_segment data = boot_flat_segment(BOOT_SEL_DATA, 0x3, false);

		sregs.cs = is_long ? boot_flat_segment(BOOT_SEL_CODE64, 0xb, true) :
				     boot_flat_segment(BOOT_SEL_CODE32, 0xb, false);
		sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
		/* VM entry wants a busy TSS in TR outside real mode; PVH asks for this one. */
		sregs.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = BOOT_SEL_TSS,
						 .type = 0xb, .present = 1 };
		sregs.gdt.base = BOOT_GDT_ADDR;
		sregs.gdt.limit = 6 * 8 - 1;
		/* No IDT: interrupts are off, and an exception should not look handled. */
		sregs.idt.base = 0;
		sregs.idt.limit = 0;
		/* Caches on (reset leaves CD and NW set); ET is fixed to 1 anyway. */
		sregs.cr0 = CR0_PE | CR0_ET | (is_long ? CR0_PG : 0);
		sregs.cr3 = is_long ? entry->cr3 : 0;
		sregs.cr4 = is_long ? CR4_PAE : 0;
		sregs.efer = is_long ? EFER_LME | EFER_LMA : 0;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(req->err, PDM_ERR_KVM, "KVM_SET_SREGS failed: %s", strerror(errno));
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return err_set(req->err, PDM_ERR_KVM, "KVM_SET_REGS failed: %s", strerror(errno));
	return 0;
}

static int boot_apply_entry(struct vm *vm, const struct boot_entry *entry, struct err *err)
{
	struct boot_entry_req req = { entry, err };

	return vm_req_call(vm, 0, 0, -1, boot_set_entry, &req);
}

/* ---- loading ---- */

static int boot_load_flat(struct vm *vm, const char *path, struct err *err)
{
	struct boot_entry entry = { .mode = BOOT_MODE_REAL, .real_segment = BOOT_FLAT_SEGMENT,
				    .rip = 0, .rsp = BOOT_FLAT_SP };
	uint64_t room = vm->mem.regions[0].size - BOOT_FLAT_ADDR;
	struct boot_file f = { .fd = -1 };
	struct boot_segment seg;
	int status;

	status = boot_file_open(&f, path, err);
	if (status)
		return status;
	if (f.size > room) {
		boot_file_close(&f);
		return err_set(err, PDM_ERR_INVALID_ARG,
			       "'%s' (%llu bytes) does not fit in guest RAM above 0x10000 (%llu bytes)",
			       path, (unsigned long long)f.size, (unsigned long long)room);
	}
	seg = (struct boot_segment){ .offset = 0, .file_size = f.size, .gpa = BOOT_FLAT_ADDR,
				     .mem_size = f.size };
	status = boot_copy_segment(&vm->mem, &f, &seg, err);
	boot_file_close(&f);
	if (!status)
		status = boot_apply_entry(vm, &entry, err);
	if (!status)
		log_info("boot", "loaded '%s' (%llu bytes) at %#x", path, (unsigned long long)seg.file_size,
			 BOOT_FLAT_ADDR);
	return status;
}

static int boot_load_kernel(struct vm *vm, struct cfg_node *boot, struct err *err)
{
	struct boot_config cfg = { .memory_size = vm->memory_size, .cpu_count = vm->cpu_count };
	struct boot_entry entry;
	int status;

	for (uint32_t i = 0; i < vm->kvm.cpuid->nent; i++)
		if (vm->kvm.cpuid->entries[i].function == 1) {
			cfg.cpu_signature = vm->kvm.cpuid->entries[i].eax;
			cfg.cpu_features = vm->kvm.cpuid->entries[i].edx;
		}
	status = boot_read_kernel_config(boot, &cfg, err);
	if (!status)
		status = boot_kernel_load(&vm->mem, &cfg, &entry, err);
	if (status) {
		err_prefix(err, "[boot] %s", cfg.bad_key);
		return status;
	}
	/* The MP table gives the IOAPIC the id after the last CPU's: so does the IOAPIC. */
	if (vm->is_split_irqchip)
		irqchip_set_ioapic_id(&vm->irqchip, (uint8_t)vm->cpu_count);
	else
		status = kvm_set_ioapic_id(&vm->kvm, vm->cpu_count, err);
	if (!status)
		status = boot_apply_entry(vm, &entry, err);
	return status;
}

int boot_reset(struct vm *vm, struct err *err)
{
	/* Like QEMU's -kernel: the image is placed anew, whatever the guest made of it. */
	return boot_load(vm, err);
}

int boot_load(struct vm *vm, struct err *err)
{
	struct cfg_node *boot = cfg_find(vm->cfg->root, "boot");
	const char *path;
	int status;

	if (!boot)
		return err_set(err, PDM_ERR_CFG, "no [boot] section: nothing to boot");
	if (cfg_value_find(boot, "kernel"))
		return boot_load_kernel(vm, boot, err);
	status = cfg_get_path(boot, boot_cfg, "flat", &path, err);
	if (status == PDM_ERR_CFG_MISSING)
		return err_set(err, PDM_ERR_CFG, "[boot]: nothing to boot: set 'kernel' or 'flat'");
	if (status)
		return status;
	return boot_load_flat(vm, path, err);
}
