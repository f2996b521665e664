/*
 * tests/guests/echo.S - console input end to end: polls COM1 for received bytes
 * (LSR.DR) and writes each back, until a newline; then exits with debug-exit value 7
 * (status 15). Input reaches it from the stream driver through the char driver's
 * worker thread and the UART's receive FIFO.
 */
#include "guest.h"

#define LSR_DR 0x01

	.code16
	.text
	.globl _start
_start:
1:	mov $COM1_LSR, %dx
2:	in %dx, %al
	test $LSR_DR, %al
	jz 2b
	mov $COM1, %dx
	in %dx, %al
	mov %al, %bl
	mov $COM1_LSR, %dx
3:	in %dx, %al
	test $LSR_THRE, %al
	jz 3b
	mov $COM1, %dx
	mov %bl, %al
	out %al, %dx
	cmp $'\n', %bl
	jne 1b
	GUEST_EXIT(7)
