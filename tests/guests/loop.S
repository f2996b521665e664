/*
 * tests/guests/loop.S - a guest that keeps running: greets on COM1 once, then loops
 * forever in guest code (interrupts off, no port I/O), so that a control client can
 * pause, resume, reset and power it off. After a reset it starts over and greets
 * again. examples/hello-loop.ini runs it.
 */
#include "guest.h"

	.code16
	.text
	.globl _start
_start:
	mov $greeting, %si
	call puts
1:	jmp 1b

#include "puts.inc"

greeting:
	.asciz "Hello from a looping modvm guest: control me through the socket\n"
