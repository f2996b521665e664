/*
 * tests/guests/timer.S - the PC's timer and interrupt controller, as a BIOS-era guest
 * uses them: the 8259A pair initialized with the BIOS's vectors (IRQ 0 at 0x08), the
 * 8254's channel 0 at 1 kHz taken as interrupts through real-mode IVT, a latched
 * count that runs, and channel 2's OUT seen through port 0x61. It runs the same on
 * KVM's chips and on modvm's ([vm] irqchip = split).
 *
 * Exit values (debug-exit): 0x11 all well; 1 the latched count did not move;
 * 2 channel 2's OUT was high while counting, or never rose; 3 the PIT's interrupt
 * never came (after 65536 HLTs: something else woke the vCPU each time); 4 the
 * master PIC's mask was not 0 at the start (as after power-on or a reset).
 */
#include "guest.h"

#define TICKS 5

	.code16
	.text
	.globl _start
_start:
	cli
	in $0x21, %al                   /* the mask as power-on (or a reset) left it */
	test %al, %al
	jz 0f
	GUEST_EXIT(4)
0:	xor %ax, %ax                    /* IVT entry 0x08: the handler, at CS */
	mov %ax, %es
	movw $timer, %es:(0x08 * 4)
	movw %cs, %es:(0x08 * 4 + 2)

	mov $0x11, %al                  /* ICW1: edge, cascade, ICW4 follows */
	out %al, $0x20
	out %al, $0xa0
	mov $0x08, %al                  /* ICW2: the BIOS's vector bases */
	out %al, $0x21
	mov $0x70, %al
	out %al, $0xa1
	mov $0x04, %al                  /* ICW3: the slave on IRQ 2 */
	out %al, $0x21
	mov $0x02, %al
	out %al, $0xa1
	mov $0x01, %al                  /* ICW4: 8086 mode, normal EOI */
	out %al, $0x21
	out %al, $0xa1
	mov $0xfe, %al                  /* only IRQ 0 */
	out %al, $0x21
	mov $0xff, %al
	out %al, $0xa1

	mov $0x34, %al                  /* channel 0, low then high byte, mode 2 */
	out %al, $0x43
	mov $(1193 & 0xff), %al         /* 1193: 1 kHz */
	out %al, $0x40
	mov $(1193 >> 8), %al
	out %al, $0x40

	call latch                      /* the count runs: two latches differ */
	mov %ax, %bx
	mov $200, %cx
1:	in $0x80, %al                   /* time passes: about 200 exits */
	loop 1b
	call latch
	cmp %ax, %bx
	jne 2f
	GUEST_EXIT(1)

2:	xor %cx, %cx                    /* IRQ 0 through the PIC: TICKS of them */
	sti
3:	hlt
	cmpw $TICKS, %cs:ticks
	jae 4f
	loop 3b
	GUEST_EXIT(3)

4:	cli
	in $0x61, %al                   /* channel 2: gate on, speaker off */
	and $0xfc, %al
	or $0x01, %al
	out %al, $0x61
	mov $0xb0, %al                  /* channel 2, low then high byte, mode 0 */
	out %al, $0x43
	mov $0xff, %al                  /* 0xffff pulses: 55 ms, long enough to see */
	out %al, $0x42                  /* OUT low even under valgrind */
	out %al, $0x42
	in $0x61, %al                   /* OUT is low while it counts */
	test $0x20, %al
	jnz 6f
	mov $64, %bx                    /* then rises: 4M polls at most */
	xor %cx, %cx
5:	in $0x61, %al
	test $0x20, %al
	jnz 7f
	loop 5b
	dec %bx
	jnz 5b
6:	GUEST_EXIT(2)
7:	GUEST_EXIT(0x11)

/* Latches channel 0 and returns its count in AX. */
latch:
	mov $0x00, %al
	out %al, $0x43
	in $0x40, %al
	mov %al, %ah
	in $0x40, %al
	xchg %al, %ah
	ret

timer:
	push %ax
	incw %cs:ticks
	mov $0x20, %al                  /* non-specific EOI */
	out %al, $0x20
	pop %ax
	iret

ticks:
	.word 0
