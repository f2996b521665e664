/*
 * tests/guests/level.S - a level-triggered IOAPIC pin, end to end: the serial port's
 * IRQ 4 routed by the IOAPIC as a level-triggered interrupt to the local APIC, in
 * 32-bit protected mode, on modvm's IOAPIC ([vm] irqchip = split), where the level
 * pin's EOI comes back from KVM's local APIC as an exit.
 *
 * (On KVM's own IOAPIC, on the nested host modvm is developed on, a 3rd interrupt
 * comes after the re-sent 2nd and ends this guest with 4, although modvm raised and
 * lowered IRQ 4 once each (strace: two KVM_IRQ_LINE calls): that is KVM's, not
 * modvm's, and not checked on hardware KVM; vmm_test runs this guest on split only.)
 *
 * The UART holds its IRQ line high while its transmit-holding-register-empty
 * interrupt is pending (reading IIR clears that). So:
 *   1st interrupt: the handler finds the entry's remote IRR set, and EOIs without
 *      clearing the source: the line is still high, so the IOAPIC must send again;
 *   2nd interrupt: the handler reads IIR (the line falls), then EOIs;
 *   then no 3rd until the guest writes a byte: THR empties again, a 3rd comes.
 * The PIC is masked: only the IOAPIC delivers.
 *
 * Exit values (debug-exit): 0x11 all well; 1 no interrupt came; 2 remote IRR was
 * clear inside the 1st handler; 3 the 2nd (re-sent after the EOI) never came;
 * 4 an interrupt came while the line was low; 5 remote IRR still set after the EOIs;
 * 6 the 3rd (after a new byte) never came.
 */
#include "guest.h"

	.text
	.globl _start
_start:
#include "pmode.inc"

#define LAPIC 0xfee00000
#define LAPIC_EOI (LAPIC + 0xb0)
#define LAPIC_SVR (LAPIC + 0xf0)
#define IOAPIC_SEL 0xfec00000
#define IOAPIC_WIN 0xfec00010
#define PIN 4
#define VECTOR 0x30
#define RTE_LEVEL (1 << 15)
#define RTE_REMOTE_IRR (1 << 14)
#define COUNT (LOAD_BASE + count)
#define WAITS 200000            /* spins: 0.7 s where ring 0 is emulated */

pm_entry:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $(LOAD_BASE + 0xfff0), %esp

	mov $0xff, %al                  /* the PICs: everything masked */
	out %al, $0x21
	out %al, $0xa1

	mov $(LOAD_BASE + handler), %eax        /* IDT gate VECTOR: 32-bit interrupt gate */
	mov $(LOAD_BASE + idt + VECTOR * 8), %edi
	mov %ax, (%edi)
	movw $0x08, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	lidt LOAD_BASE + idt_desc

	movl $0x1ff, LAPIC_SVR        /* the local APIC on, spurious vector 0xff */

	movl $(0x10 + 2 * PIN + 1), IOAPIC_SEL        /* to APIC 0 */
	movl $0, IOAPIC_WIN
	movl $(0x10 + 2 * PIN), IOAPIC_SEL            /* fixed, physical, high, level */
	movl $(VECTOR | RTE_LEVEL), IOAPIC_WIN

	mov $(COM1 + 1), %dx            /* IER: THR-empty interrupt; THR is empty now */
	mov $0x02, %al
	out %al, %dx

	sti
	mov $1, %ebx                    /* wait for the 1st and the re-sent 2nd */
	call wait_for
	jnc 1f
	cmpl $0, COUNT
	jne 0f
	GUEST_EXIT(1)
0:	GUEST_EXIT(3)
1:	cmpl $2, LOAD_BASE + irr_seen
	je 2f
	GUEST_EXIT(2)

2:	mov $WAITS, %ecx                /* the line is low: nothing more may come */
3:	nop
	loop 3b
	cmpl $2, COUNT
	je 4f
	GUEST_EXIT(4)

4:	movl $(0x10 + 2 * PIN), IOAPIC_SEL    /* every EOI cleared remote IRR */
	testl $RTE_REMOTE_IRR, IOAPIC_WIN
	jz 5f
	GUEST_EXIT(5)

5:	mov $COM1, %dx                  /* a byte out: THR empties, the line rises */
	mov $'L', %al
	out %al, %dx
	mov $2, %ebx
	call wait_for
	jnc 6f
	GUEST_EXIT(6)
6:	GUEST_EXIT(0x11)

/*
 * Waits until count > ebx; CF set when it did not happen. It spins rather than HLTs:
 * an interrupt that never comes must end the guest with its exit value, not hang it.
 */
wait_for:
	mov $WAITS, %ecx
7:	cmp %ebx, COUNT
	ja 8f
	nop
	loop 7b
	stc
	ret
8:	clc
	ret

handler:
	push %eax
	push %edx
	incl COUNT
	cmpl $1, COUNT
	jne 9f
	movl $(0x10 + 2 * PIN), IOAPIC_SEL    /* 1st: in service, remote IRR set */
	testl $RTE_REMOTE_IRR, IOAPIC_WIN
	jz 10f
	movl $2, LOAD_BASE + irr_seen
	jmp 10f                         /* and the source stays: the line stays high */
9:	mov $(COM1 + 2), %dx            /* later ones: reading IIR clears THR-empty */
	in %dx, %al
10:	movl $0, LAPIC_EOI
	pop %edx
	/*
	 * IRET by hand: KVM's instruction emulator (which runs all ring-0 code on hosts
	 * like this project's nested one) has IRET for real mode only. EFLAGS moves into
	 * the CS slot and EIP to the top: popf, then ret.
	 */
	mov 12(%esp), %eax              /* the stack: eax, EIP, CS, EFLAGS */
	mov %eax, 8(%esp)
	mov 4(%esp), %eax
	mov %eax, 12(%esp)              /* now: eax, EIP, EFLAGS, EIP */
	pop %eax
	add $4, %esp
	popf
	ret

	.p2align 3
idt:
	.fill 256, 8, 0
idt_desc:
	.word 256 * 8 - 1
	.long LOAD_BASE + idt
	.p2align 2
count:
	.long 0
irr_seen:
	.long 0
