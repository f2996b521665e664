/*
 * tests/guests/inloop.S - counts its boots in RAM outside its image (offset 0x8000 of
 * its segment, guest-physical 0x18000), then reads port 0x500 forever. A reset that
 * lands while KVM still has an IN pending must not let that IN complete into the
 * fresh registers: the boot count would miss the reset.
 */
#include "guest.h"

	.code16
	.text
	.globl _start
_start:
	incw 0x8000
	mov $0x500, %dx
1:	in %dx, %al
	jmp 1b
