/*
 * tests/guests/smp.S - a Multiboot kernel that starts the other vCPUs as an operating
 * system does: INIT, then two start-up IPIs, sent through its local APIC to all but
 * itself. Each AP runs a few real-mode instructions at the start-up vector's page and
 * counts itself. The vCPU count comes from fw_cfg (item 5). Exits through debug-exit
 * with the number of vCPUs running (the APs that counted themselves, plus this one)
 * once all have, or after a bounded wait.
 *
 * Built twice: smp.elf writes the ICR through the xAPIC's MMIO page; with -DX2APIC,
 * smp-x2apic.elf switches to x2APIC mode and writes it as an MSR (what Linux does
 * when CPUID offers x2APIC).
 */
#include "guest.h"

#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_NB_CPUS 5
#define LAPIC_SVR 0xfee000f0
#define LAPIC_ICR_LO 0xfee00300
#define LAPIC_ICR_HI 0xfee00310
#define MSR_APIC_BASE 0x1b
#define MSR_X2APIC_ICR 0x830
#define ICR_INIT 0x000c4500             /* INIT, level assert, all excluding self */
#define ICR_STARTUP 0x000c4600          /* start-up, all excluding self; | vector */
#define AP_COUNT 0x7000                 /* the APs' counter */
#define AP_START 0x8000                 /* their code: start-up vector 0x08 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003

	.section .multiboot, "ax"
	.balign 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

#ifdef X2APIC
#define SEND_IPI(icr) mov $(icr), %eax; xor %edx, %edx; mov $MSR_X2APIC_ICR, %ecx; wrmsr
#else
#define SEND_IPI(icr) movl $0, LAPIC_ICR_HI; movl $(icr), LAPIC_ICR_LO
#endif

	.text
	.code32
	.globl _start
_start:
	mov $stack_top, %esp
	mov $FW_CFG_NB_CPUS, %ax
	mov $FW_CFG_SELECTOR, %dx
	outw %ax, %dx
	mov $FW_CFG_DATA, %dx
	inb %dx, %al
	mov %al, %bl
	inb %dx, %al
	mov %al, %bh
	movzwl %bx, %ebx                /* EBX: vCPUs */
	movw $0, AP_COUNT
	mov $ap_code, %esi
	mov $AP_START, %edi
	mov $(ap_code_end - ap_code), %ecx
	cld
	rep movsb
	orl $0x100, LAPIC_SVR           /* software-enable the local APIC */
#ifdef X2APIC
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	or $0xc00, %eax                 /* enabled, x2APIC mode */
	wrmsr
#endif
	SEND_IPI(ICR_INIT)
	call short_wait
	SEND_IPI(ICR_STARTUP | (AP_START >> 12))
	call short_wait
	SEND_IPI(ICR_STARTUP | (AP_START >> 12))  /* twice, as the MP spec has it */
	mov $50000000, %ecx             /* seconds here, under emulation; far less on hardware */
1:	movzwl AP_COUNT, %eax
	inc %eax
	cmp %ebx, %eax
	jae 2f
	pause
	dec %ecx
	jnz 1b
2:	movzwl AP_COUNT, %eax
	inc %eax
	mov $DEBUG_EXIT, %dx
	out %al, %dx
3:	hlt
	jmp 3b

short_wait:
	mov $20000, %ecx
1:	pause
	dec %ecx
	jnz 1b
	ret

	/* Copied to AP_START; runs there, at 0800:0000, in real mode on every AP. */
	.code16
ap_code:
	cli
	xor %ax, %ax
	mov %ax, %ds
	lock incw AP_COUNT
1:	hlt
	jmp 1b
ap_code_end:

	.bss
	.balign 16
	.skip 4096
stack_top:
