/*
 * tests/guests/guest.h - macros for the tiny real-mode test guests.
 *
 * The flat loader enters at 1000:0000 with every segment register 0x1000, so labels
 * (linked at 0) are valid offsets in DS as well as CS.
 */
#define COM1 0x3f8
#define COM1_LSR (COM1 + 5)
#define LSR_THRE 0x20
#define DEBUG_EXIT 0xf4

/* Ends the VM through debug-exit with value v: `modvm run` exits (v << 1) | 1. */
#define GUEST_EXIT(v) \
	mov $DEBUG_EXIT, %dx; \
	mov $(v), %al; \
	out %al, %dx; \
9:	hlt; \
	jmp 9b
