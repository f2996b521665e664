/* tests/guests/triple.S - loads an empty IDT and raises an exception: a triple fault. */
#include "guest.h"

	.code16
	.text
	.globl _start
_start:
	lidt idt_empty
	int3
	GUEST_EXIT(9)           /* not reached */
idt_empty:
	.word 0
	.long 0
