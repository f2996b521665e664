/*
 * tests/guests/triple.S - enters 32-bit protected mode with an empty IDT and divides by
 * zero: #DE cannot be delivered, nor the #GP and #DF that follow, so the CPU shuts
 * down (a triple fault). Protected mode because some nested hosts ignore the IDT
 * limit in real mode and run off into the zeroed interrupt vector table instead.
 */
#include "guest.h"

#define LOAD_BASE 0x10000

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
	mov %ax, %ss
	lidt (LOAD_BASE + idt_empty)
	xor %ecx, %ecx
	div %ecx
1:	hlt                     /* not reached */
	jmp 1b

	.p2align 3
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: flat 32-bit data */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long LOAD_BASE + gdt
idt_empty:
	.word 0
	.long 0
