/*
 * tests/guests/outloop.S - the exit-dispatch workload: LOOPS byte writes to port
 * SINK_PORT, then debug-exit 0. bench/exit-dispatch assembles it with -DLOOPS=n; the
 * raw KVM loop runs the same binary.
 */
#include "guest.h"
#ifndef LOOPS
#define LOOPS 1000
#endif
#ifndef SINK_PORT
#define SINK_PORT 0x500
#endif

	.code16
	.text
	.globl _start
_start:
	mov $SINK_PORT, %dx
	mov $LOOPS, %ecx        /* 32-bit registers work in real mode on a 386 and later */
1:	out %al, %dx
	dec %ecx
	jnz 1b
	GUEST_EXIT(0)
