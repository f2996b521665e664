/*
 * tests/guests/mmio.S - MMIO dispatch: in 32-bit protected mode, reads the sink's page
 * at 0xd0000000 (expects its value 0x11223344), writes it, then reads an unclaimed
 * page at 0xd0001000 (expects all-ones). Exits 1 when all held, 2 or 3 otherwise.
 */
#include "guest.h"
#define SINK_PAGE 0xd0000000
#define NOBODY_PAGE 0xd0001000

	.text
	.globl _start
_start:
#include "pmode.inc"

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
