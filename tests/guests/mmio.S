/*
 * tests/guests/mmio.S - MMIO dispatch: in 32-bit protected mode, reads the sink's page
 * at 0xd0000000 (expects its value 0x11223344), writes it, then reads an unclaimed
 * page at 0xd0001000 (expects all-ones). Exits 1 when all held, 2 or 3 otherwise.
 */
#include "guest.h"

#define LOAD_BASE 0x10000
#define SINK_PAGE 0xd0000000
#define NOBODY_PAGE 0xd0001000

	.code16
	.text
	.globl _start
_start:
	cli
	lgdtl gdt_desc
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $(LOAD_BASE + pm_entry)

	.code32
pm_entry:
	mov $0x10, %ax
	mov %ax, %ds
	mov $SINK_PAGE, %ebx
	mov (%ebx), %eax
	cmp $0x11223344, %eax
	jne bad_read
	movl $0xcafe, (%ebx)
	mov $NOBODY_PAGE, %ebx
	mov (%ebx), %eax
	cmp $0xffffffff, %eax
	jne bad_unhandled
	mov $1, %al
	jmp out
bad_read:
	mov $2, %al
	jmp out
bad_unhandled:
	mov $3, %al
out:
	mov $DEBUG_EXIT, %dx
	out %al, %dx
1:	hlt
	jmp 1b

	.p2align 3
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: flat 32-bit data */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long LOAD_BASE + gdt
