/*
 * tests/guests/reboot.S - guest-triggered reset: counts its boots in RAM outside its
 * image (a reset places the image again but keeps RAM), resets through the i8042
 * (0xfe to port 0x64) until it has booted 3 times, then exits with debug-exit value
 * 3 (status 7).
 */
#include "guest.h"

#define BOOTS 0x8000            /* DS offset, beyond the image */

	.code16
	.text
	.globl _start
_start:
	incw BOOTS
	cmpw $3, BOOTS
	jae done
	mov $0xfe, %al
	out %al, $0x64
1:	jmp 1b                  /* until the reset takes us */
done:
	GUEST_EXIT(3)
