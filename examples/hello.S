/*
 * examples/hello.S - the smallest modvm guest: greets on COM1, then exits through
 * debug-exit with value 0 (so `modvm run` exits (0 << 1) | 1 = 1, as QEMU would).
 * Built by `make` into examples/hello.bin; run with `./modvm run examples/hello.ini`.
 */
#include "guest.h"

	.code16
	.text
	.globl _start
_start:
	mov $greeting, %si
	call puts
	GUEST_EXIT(0)

#include "puts.inc"

greeting:
	.asciz "Hello from a modvm guest!\n"
