/* tests/guests/exit42.S - prints a line, then exits with debug-exit value 42 (status 85). */
#include "guest.h"

	.code16
	.text
	.globl _start
_start:
	mov $line, %si
	call puts
	GUEST_EXIT(42)

#include "puts.inc"

line:
	.asciz "exit42\n"
