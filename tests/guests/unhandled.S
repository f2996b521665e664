/*
 * tests/guests/unhandled.S - touches ports nobody claims. A read must return all-ones
 * in every width; writes must be ignored. Exits with 1 when all held, else 2 + check.
 */
#include "guest.h"

	.code16
	.text
	.globl _start
_start:
	mov $0x510, %dx         /* no device there */
	mov $0x12, %al
	out %al, %dx            /* ignored */
	in %dx, %al
	cmp $0xff, %al
	jne fail_byte
	in %dx, %ax
	cmp $0xffff, %ax
	jne fail_word
	inl %dx, %eax
	cmp $0xffffffff, %eax
	jne fail_long
	GUEST_EXIT(1)
fail_byte:
	GUEST_EXIT(2)
fail_word:
	GUEST_EXIT(3)
fail_long:
	GUEST_EXIT(4)
