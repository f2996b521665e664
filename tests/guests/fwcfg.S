/*
 * tests/guests/fwcfg.S - reads QEMU's fw_cfg items through ports 0x510/0x511 and
 * compares them with the machine plugins/fw_cfg/fw_cfg_guest_test.c configures: 2
 * vCPUs, 64 MiB, no command line (a flat binary takes none). It exits through
 * debug-exit with a mask of what differed (0: all as expected, status 1):
 *   0x01 the signature ("QEMU", then 0 past its end)
 *   0x02 FW_CFG_ID (1: the I/O interface, no DMA)
 *   0x04 FW_CFG_NB_CPUS and FW_CFG_MAX_CPUS (u16 2)
 *   0x08 FW_CFG_RAM_SIZE (u64 64 MiB)
 *   0x10 FW_CFG_CMDLINE_SIZE (strlen + 1: 1) and FW_CFG_CMDLINE_DATA (just the NUL)
 *   0x20 FW_CFG_FILE_DIR (count 0), an unknown key and an arch-local one (all 0)
 *   0x40 selecting again restarts the item, after a partial read and a data write;
 *        the write-channel bit (0x4000) reads the same item
 */
#include "guest.h"

#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511

/* Selects key, reads len bytes and compares them with those at label; sets bit on a difference. */
#define CHECK(key, label, len, bit) \
	mov $(key), %ax; \
	mov $(label), %si; \
	mov $(len), %cx; \
	mov $(bit), %bl; \
	call check

	.code16
	.text
	.globl _start
_start:
	xor %bh, %bh                    /* the mask of differences */
	CHECK(0x0000, signature, 5, 0x01)
	CHECK(0x0001, id, 5, 0x02)
	CHECK(0x0005, cpus, 3, 0x04)
	CHECK(0x000f, cpus, 3, 0x04)
	CHECK(0x0003, ram_size, 9, 0x08)
	CHECK(0x0014, cmdline_size, 5, 0x10)
	CHECK(0x0015, cmdline, cmdline_end - cmdline, 0x10)
	CHECK(0x0019, zeros, 5, 0x20)
	CHECK(0x1234, zeros, 4, 0x20)
	CHECK(0x8000, zeros, 4, 0x20)

	/* Half the signature, then a write to the data port: both forgotten by a select. */
	CHECK(0x0000, signature, 2, 0x40)
	mov $FW_CFG_DATA, %dx
	mov $'X', %al
	out %al, %dx
	CHECK(0x0000, signature, 5, 0x40)
	CHECK(0x4000, signature, 5, 0x40)

	mov $DEBUG_EXIT, %dx
	mov %bh, %al
	out %al, %dx
1:	hlt
	jmp 1b

/* Selects %ax, compares %cx data bytes with DS:SI; ORs %bl into %bh on a difference. */
check:
	mov $FW_CFG_SELECTOR, %dx
	out %ax, %dx
	mov $FW_CFG_DATA, %dx
1:	in %dx, %al
	cmp (%si), %al
	je 2f
	or %bl, %bh
2:	inc %si
	loop 1b
	ret

/* Each item as the guest should read it, with a 0 read past its end where it fits. */
signature:
	.ascii "QEMU"
	.byte 0
id:
	.long 1
	.byte 0
cpus:
	.word 2
	.byte 0
ram_size:
	.quad 64 << 20
	.byte 0
cmdline_size:
	.long cmdline_end - cmdline - 1
	.byte 0
cmdline:
	.asciz ""
	.byte 0                         /* past the end */
cmdline_end:
zeros:
	.long 0
	.byte 0
