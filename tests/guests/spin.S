/*
 * tests/guests/spin.S - loops forever doing port writes to a sink at 0x500, so a
 * test can power it off from outside while vCPU 0 is busy in KVM_RUN.
 */
#include "guest.h"

	.code16
	.text
	.globl _start
_start:
	mov $0x500, %dx
1:	out %al, %dx
	inc %al
	jmp 1b
