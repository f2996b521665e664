/*
 * vmm/boot.c - boot loaders. This first one loads a flat binary.
 *
 * [boot] flat = FILE: the file is copied to guest-physical 0x10000 and vCPU 0 starts
 * in real mode with CS = DS = ES = FS = GS = SS = 0x1000 (base 0x10000), IP = 0,
 * SP = 0xfff0, FLAGS = 0x2 (interrupts off), every other general register 0, CR0 as
 * at reset (0x60000010: real mode, paging off). The other vCPUs wait for INIT/SIPI
 * in the in-kernel LAPIC, as on a real machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/vcpu.h"

#define BOOT_FLAT_ADDR 0x10000u
#define BOOT_FLAT_SEGMENT 0x1000u
#define BOOT_FLAT_SP 0xfff0u

static const struct pdm_cfg_key boot_cfg[] = {
	{ .name = "flat", .type = PDM_CFG_PATH,
	  .help = "raw binary loaded at 0x10000 and entered in real mode at 1000:0000" },
	{ 0 }
};

int boot_check_config(struct cfg_node *boot, struct cfg_diag *diag)
{
	struct cfg_value *flat;
	const char *path;
	struct stat st;
	struct err err;

	if (!boot) {
		cfg_diag_add(diag, "-", 0, "boot", "no [boot] section: nothing to boot (set [boot] flat)");
		return PDM_ERR_CFG;
	}
	if (cfg_check_schema(boot, boot_cfg, NULL, "section [boot]", diag))
		return PDM_ERR_CFG;
	flat = cfg_value_find(boot, "flat");
	if (!flat) {
		cfg_diag_add(diag, boot->origin, boot->line, boot->path,
			     "nothing to boot: set 'flat' to a binary");
		return PDM_ERR_CFG;
	}
	if (cfg_get_path(boot, boot_cfg, "flat", &path, &err))
		return PDM_ERR_CFG;
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

static int boot_flat_regs(struct vm *vm, void *arg)
{
	struct vcpu *vcpu = &vm->vcpus[0];
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rsp = BOOT_FLAT_SP, .rflags = 0x2 };
	struct err *err = arg;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(err, PDM_ERR_KVM, "KVM_GET_SREGS failed: %s", strerror(errno));
	struct kvm_segment *segs[] = { &sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs,
				       &sregs.ss };
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		segs[i]->selector = BOOT_FLAT_SEGMENT;
		segs[i]->base = BOOT_FLAT_ADDR;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(err, PDM_ERR_KVM, "KVM_SET_SREGS failed: %s", strerror(errno));
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return err_set(err, PDM_ERR_KVM, "KVM_SET_REGS failed: %s", strerror(errno));
	return 0;
}

static int boot_load_flat(struct vm *vm, const char *path, struct err *err)
{
	uint64_t room = vm->mem.regions[0].size - BOOT_FLAT_ADDR;
	struct stat st;
	ssize_t n;
	int fd, status;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, PDM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, PDM_ERR_IO, "'%s' is not a regular file", path);
	}
	if ((uint64_t)st.st_size > room) {
		close(fd);
		return err_set(err, PDM_ERR_INVALID_ARG,
			       "'%s' (%lld bytes) does not fit in guest RAM above 0x10000 (%llu bytes)",
			       path, (long long)st.st_size, (unsigned long long)room);
	}
	n = read(fd, mem_ptr(&vm->mem, BOOT_FLAT_ADDR, (uint64_t)st.st_size), (size_t)st.st_size);
	close(fd);
	if (n != st.st_size)
		return err_set(err, PDM_ERR_IO, "cannot read '%s': %s", path,
			       n < 0 ? strerror(errno) : "short read");
	status = vm_req_call(vm, 0, 0, -1, boot_flat_regs, err);
	if (!status)
		log_info("boot", "loaded '%s' (%lld bytes) at %#x", path, (long long)st.st_size,
			 BOOT_FLAT_ADDR);
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
	status = cfg_get_path(boot, boot_cfg, "flat", &path, err);
	if (status == PDM_ERR_CFG_MISSING)
		return err_set(err, PDM_ERR_CFG, "[boot]: nothing to boot: set 'flat'");
	if (status)
		return status;
	return boot_load_flat(vm, path, err);
}
