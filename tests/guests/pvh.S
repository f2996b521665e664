/*
 * tests/guests/pvh.S - a PVH kernel (an ELF file with Xen's PHYS32_ENTRY note) that
 * checks its hvm_start_info: magic, version 1, the command line, the initrd as module
 * 0, the memory map; then the checks of bootcheck.inc. Exits through debug-exit with
 * 0 when all held, else the BC_* value of the first that failed (bootcheck.h).
 */
#include "guest.h"
#include "bootcheck.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign 4
	.long 4                         /* name size: "Xen" and its NUL */
	.long 4                         /* descriptor size: a 32-bit address */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start

	.text
	.code32
	.globl _start
_start:                                 /* not the entry: a loader that uses it fails */
	BC_FAIL(BC_MAGIC)
pvh_start:
	mov $bc_stack_top, %esp
	mov %ebx, %ebp
	call bc_check_entry_state
	cmpl $0x336ec578, (%ebp)
	jne fail_magic
	cmpl $1, 4(%ebp)
	jb fail_version

	/* 64-bit addresses: this little RAM keeps them below 4 GiB. */
	cmpl $0, 28(%ebp)
	jne fail_cmdline
	mov 24(%ebp), %esi
	call bc_check_cmdline

	cmpl $1, 12(%ebp)               /* nr_modules */
	jne fail_module
	mov 16(%ebp), %ebx              /* modlist_paddr: paddr, size, cmdline, reserved */
	cmpl $0, 4(%ebx)
	jne fail_module
	mov (%ebx), %esi
	mov %esi, %edi
	add 8(%ebx), %edi
	call bc_check_module

	mov 40(%ebp), %esi              /* memmap_paddr */
	mov 48(%ebp), %ecx              /* memmap_entries */
	mov $24, %edx
	call bc_check_memmap

	call bc_check_common
	BC_FAIL(BC_OK)

fail_magic:	BC_FAIL(BC_MAGIC)
fail_version:	BC_FAIL(BC_INFO_FLAGS)
fail_cmdline:	BC_FAIL(BC_CMDLINE)
fail_module:	BC_FAIL(BC_MODULE)

#include "bootcheck.inc"
