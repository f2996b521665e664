/*
 * tests/guests/bzimage.S - a bzImage-shaped kernel for the x86 boot protocol's 64-bit
 * entry: a setup header (protocol 2.15, relocatable, XLF_KERNEL_64, pref_address
 * 16 MiB), then code at 16 MiB whose 64-bit entry, 0x200 in, checks how it was entered
 * (64-bit mode, paging on, CS 0x10, DS and SS 0x18, IF clear, RSI the zero page) and
 * the zero page's header fields, then goes to 32-bit compatibility mode (code segment
 * 0x08 of the loader's GDT; the identity map stays) for the command line, the initrd,
 * the e820 table and the checks of bootcheck.inc. Exits through debug-exit with 0
 * when all held, else the BC_* value of the first that failed (bootcheck.h).
 */
#include "guest.h"
#include "bootcheck.h"

#define ZP 0x7000                       /* where modvm puts the zero page */

	.section .setup, "a"
	.org 0x1f1
	.byte 1                         /* setup_sects: 1 + the boot sector */
	.org 0x1fe
	.word 0xaa55
	.byte 0xeb, 0x6a                /* jump: the header ends at 0x26c */
	.ascii "HdrS"
	.word 0x020f                    /* protocol 2.15 */
	.org 0x211
	.byte 0x01                      /* loadflags: LOADED_HIGH */
	.org 0x22c
	.long 0x7fffffff                /* initrd_addr_max */
	.long 0x200000                  /* kernel_alignment */
	.byte 1                         /* relocatable_kernel */
	.byte 0                         /* min_alignment */
	.word 0x0001                    /* xloadflags: XLF_KERNEL_64 */
	.long 255                       /* cmdline_size */
	.org 0x258
	.quad 0x1000000                 /* pref_address */
	.long 0x20000                   /* init_size */
	.org 0x400

	.text
	.code32
	.globl _start
_start:                                 /* the 32-bit entry: modvm must not use it */
	BC_FAIL(BC_ENTRY_STATE)

	.org 0x200
	.code64
linux64:
	pushfq                          /* on the loader's scratch stack */
	pop %rax
	mov $bc_stack_top, %esp
	test $0x200, %eax
	jnz fail64_entry
	mov %cs, %ax
	cmp $0x10, %ax
	jne fail64_entry
	mov %ds, %ax
	cmp $0x18, %ax
	jne fail64_entry
	mov %ss, %ax
	cmp $0x18, %ax
	jne fail64_entry
	mov %cr0, %rax
	bt $31, %rax                    /* PG */
	jnc fail64_entry
	mov $0xc0000080, %ecx           /* EFER */
	rdmsr
	test $0x400, %eax               /* LMA */
	jz fail64_entry

	cmp $ZP, %rsi
	jne fail64_zero_page
	cmpl $0x53726448, 0x202(%rsi)   /* the header, copied: "HdrS" */
	jne fail64_zero_page
	cmpw $0x020f, 0x206(%rsi)
	jne fail64_zero_page
	cmpb $0xff, 0x210(%rsi)         /* type_of_loader */
	jne fail64_zero_page
	cmpl $0x1000000, 0x214(%rsi)    /* code32_start: where it was loaded */
	jne fail64_zero_page
	cmpl $0, 0xc0(%rsi)             /* nothing above 4 GiB: ext_ramdisk_image */
	jne fail64_zero_page

	pushq $0x08                     /* to compatibility mode */
	lea compat(%rip), %rax
	push %rax
	lretq

fail64_entry:
	mov $BC_ENTRY_STATE, %al
	jmp exit64
fail64_zero_page:
	mov $BC_ZERO_PAGE, %al
exit64:
	mov $DEBUG_EXIT, %dx
	out %al, %dx
1:	hlt
	jmp 1b

	.code32
compat:
	mov $ZP, %ebp
	mov 0x228(%ebp), %esi           /* cmd_line_ptr */
	call bc_check_cmdline
	mov 0x218(%ebp), %esi           /* ramdisk_image */
	mov %esi, %edi
	add 0x21c(%ebp), %edi           /* ramdisk_size */
	call bc_check_module
	movzbl 0x1e8(%ebp), %ecx        /* e820_entries */
	lea 0x2d0(%ebp), %esi
	mov $20, %edx
	call bc_check_memmap
	call bc_check_common
	BC_FAIL(BC_OK)

#include "bootcheck.inc"
