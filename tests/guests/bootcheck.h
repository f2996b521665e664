/*
 * tests/guests/bootcheck.h - what the kernel test guests (multiboot.S, pvh.S, bzimage.S) expect
 * of the VM vmm/boot_test.c gives them, and the debug-exit value each failed check
 * exits with (0: every check held). Shared by the guests and the test.
 */
#ifndef TESTS_GUESTS_BOOTCHECK_H
#define TESTS_GUESTS_BOOTCHECK_H

#define BT_MEMORY_MB 32
#define BT_CPUS 2
#define BT_CMDLINE "console=ttyS0 modvm.test=boot check=1"
#define BT_MODULE_NAME "initrd.img"     /* [boot] initrd as written: the module string */
#define BT_INITRD_SIZE 5000             /* not a multiple of a page: mod_end is checked */
/* Byte i of the test initrd. */
#define BT_INITRD_BYTE(i) ((((i) * 7) + 3) & 0xff)

/* The guests read the fw_cfg device (plugins/fw_cfg) too: the test VMs have one. */
#define BT_FWCFG 1

/* Exit values. */
#define BC_OK 0
#define BC_MAGIC 1              /* EAX (Multiboot) or hvm_start_info magic */
#define BC_INFO_FLAGS 2         /* Multiboot info flags, hvm_start_info version */
#define BC_MEMORY 3             /* mem_lower, mem_upper */
#define BC_MMAP 4               /* the memory map's entries and RAM total */
#define BC_CMDLINE 5
#define BC_MODULE 6             /* module count, start (page aligned), end */
#define BC_MODULE_DATA 7
#define BC_MODULE_NAME 8
#define BC_LOADER_NAME 9
#define BC_BSS 10               /* .bss not zero */
#define BC_FWCFG_SIGNATURE 11
#define BC_FWCFG_ID 12
#define BC_FWCFG_RAM 13
#define BC_FWCFG_CPUS 14
#define BC_FWCFG_CMDLINE_SIZE 15
#define BC_FWCFG_CMDLINE 16
#define BC_MP_FLOAT 17          /* no "_MP_" at 0xf0000-0xfffff, or a bad checksum */
#define BC_MP_TABLE 18          /* "PCMP", checksum, an unknown entry */
#define BC_MP_CPUS 19           /* processor entries: count, APIC ids, BSP flag */
#define BC_MP_IOAPIC 20
#define BC_MP_IRQS 21           /* I/O interrupt entries: ISA IRQ i on pin i, 16 of them */
#define BC_CPUID_APIC 22        /* CPUID.1 EBX[31:24] of the BSP */
#define BC_CPUID_HYPERVISOR 23
#define BC_CPUID_TOPOLOGY 24    /* CPUID.1 EBX[23:16], leaf 0xB */
#define BC_ENTRY_STATE 25       /* CR0.PG set, or IF set, at entry (bzImage: CS, DS, long mode) */
#define BC_ZERO_PAGE 26         /* RSI, or the setup header's fields in the zero page */
#define BC_COUNT 27

#ifdef __ASSEMBLER__
/* Ends the guest with debug-exit value code (bootcheck.inc's bc_exit). */
#define BC_FAIL(code) mov $(code), %al; jmp bc_exit
#endif

#endif
