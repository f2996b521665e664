/*
 * tests/guests/boottime.S - signals "booted" to the boot-timer at port 0x440 twice
 * (a byte write of 123, then a word write of 123), with writes of other values
 * between (ignored), then exits with debug-exit value 0 (status 1).
 */
#include "guest.h"

#define BOOT_TIMER 0x440

	.code16
	.text
	.globl _start
_start:
	mov $BOOT_TIMER, %dx
	mov $123, %al
	out %al, %dx                    /* signal 1 */
	mov $122, %al
	out %al, %dx                    /* ignored: not 123 */
	mov $0x017b, %ax
	out %ax, %dx                    /* ignored: 123 in the low byte only */
	mov $123, %ax
	out %ax, %dx                    /* signal 2 */
	GUEST_EXIT(0)
