/*
 * tests/guests/multiboot.S - a Multiboot v1 kernel that checks what it was given: EAX,
 * the information block (flags, mem_lower/mem_upper, the memory map, the command
 * line, the initrd as module 0 with its string, the loader's name), then the checks of
 * bootcheck.inc. Exits through debug-exit with 0 when all held, else the BC_* value of
 * the first that failed (bootcheck.h).
 *
 * Built three times: as an ELF file (multiboot.elf); with -DMB_AOUT as a flat binary
 * whose header carries the load addresses (the a.out kludge, flag bit 16); and with
 * -DBT_RESET_ONCE as an ELF file that, on its first boot, spoils what it was given
 * (its own image, the information block, the command line, the module, .bss, the MP
 * table) and resets through the i8042, so that its checks pass only when the reset
 * placed everything again. It counts its boots at 0x5000, RAM no loader writes for a
 * Multiboot kernel.
 */
#include "guest.h"
#include "bootcheck.h"

#define MB_MAGIC 0x1badb002
#ifdef MB_AOUT
#define MB_FLAGS 0x00010003     /* page-aligned modules, memory info, address fields */
#else
#define MB_FLAGS 0x00000003
#endif
#define MB_INFO_NEEDED 0x24d    /* memory, cmdline, mods, mmap, loader name */

	.section .multiboot, "ax"
	.balign 4
image_start:
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
#ifdef MB_AOUT
	.long mb_header, image_start, _edata, _end, _start
#endif

	.text
	.code32
	.globl _start
_start:
	mov $bc_stack_top, %esp
	cmp $0x2badb002, %eax
	jne fail_magic
	mov %ebx, %ebp
#ifdef BT_RESET_ONCE
#define BOOT_COUNT 0x5000
	cmpl $0, BOOT_COUNT
	jne 2f
	incl BOOT_COUNT
	movb $'X', bc_cmdline           /* the image */
	movb $1, bc_bss
	mov 16(%ebp), %esi
	movb $'Y', (%esi)               /* the command line */
	mov 24(%ebp), %esi
	mov (%esi), %esi
	notb 100(%esi)                  /* the module */
	movl $0, 0xf0000                /* the MP floating pointer */
	movl $0, 20(%ebp)               /* the information block: no modules */
	mov $0xfe, %al                  /* i8042: pulse the reset line */
	out %al, $0x64
1:	jmp 1b
2:
#endif
	call bc_check_entry_state
	mov (%ebp), %eax
	and $MB_INFO_NEEDED, %eax
	cmp $MB_INFO_NEEDED, %eax
	jne fail_flags

	cmpl $639, 4(%ebp)
	jne fail_memory
	cmpl $((BT_MEMORY_MB << 10) - 1024), 8(%ebp)
	jne fail_memory

	/* The map: entries of 24 bytes whose size field says 20. */
	mov 44(%ebp), %eax
	xor %edx, %edx
	mov $24, %ecx
	div %ecx
	test %edx, %edx
	jnz fail_mmap
	mov %eax, %ecx
	mov 48(%ebp), %esi
	mov %ecx, %ebx
1:	cmpl $20, (%esi)
	jne fail_mmap
	add $24, %esi
	dec %ebx
	jnz 1b
	mov 48(%ebp), %esi
	add $4, %esi
	mov $24, %edx
	call bc_check_memmap

	mov 16(%ebp), %esi
	call bc_check_cmdline

	cmpl $1, 20(%ebp)
	jne fail_module
	mov 24(%ebp), %ebx
	mov (%ebx), %esi
	mov 4(%ebx), %edi
	call bc_check_module
	mov 24(%ebp), %ebx
	mov 8(%ebx), %esi
	mov $bc_module_name, %edi
	call bc_strcmp
	jne fail_module_name

	mov 64(%ebp), %esi
	mov $bc_loader_name, %edi
	call bc_strcmp
	jne fail_loader_name

	call bc_check_common
	BC_FAIL(BC_OK)

fail_magic:	BC_FAIL(BC_MAGIC)
fail_flags:	BC_FAIL(BC_INFO_FLAGS)
fail_memory:	BC_FAIL(BC_MEMORY)
fail_mmap:	BC_FAIL(BC_MMAP)
fail_module:	BC_FAIL(BC_MODULE)
fail_module_name: BC_FAIL(BC_MODULE_NAME)
fail_loader_name: BC_FAIL(BC_LOADER_NAME)

#include "bootcheck.inc"
