/*
 * tests/guests/triple.S - enters 32-bit protected mode with an empty IDT and divides by
 * zero: #DE cannot be delivered, nor the #GP and #DF that follow, so the CPU shuts
 * down (a triple fault). Protected mode because some nested hosts ignore the IDT
 * limit in real mode and run off into the zeroed interrupt vector table instead.
 */
#include "guest.h"

	.text
	.globl _start
_start:
#include "pmode.inc"

pm_entry:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %ss
	lidt (LOAD_BASE + idt_empty)
	xor %ecx, %ecx
	div %ecx
1:	hlt                     /* not reached */
	jmp 1b

idt_empty:
	.word 0
	.long 0
