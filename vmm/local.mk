noinst_LIBRARIES += vmm/libvmm.a
vmm_libvmm_a_SOURCES = vmm/vm.h vmm/vcpu.h vmm/vm.c vmm/power.c vmm/emt.c vmm/kvm.c vmm/kvm.h \
	vmm/mem.c vmm/mem.h vmm/iom.c vmm/iom.h vmm/cpuid.c vmm/boot.h vmm/boot.c \
	vmm/boot_linux.c vmm/boot_elf.c vmm/boot_multiboot.c vmm/mptable.c \
	vmm/irqchip.h vmm/irqchip.c vmm/pic.c vmm/ioapic.c vmm/pit.c

CORE_LIBS = vmm/libvmm.a pdm/libpdm.a config/libconfig.a util/libutil.a $(INIPARSER_LIBS)

check_PROGRAMS += vmm/vmm_test
TESTS += vmm/vmm_test
vmm_vmm_test_SOURCES = vmm/vmm_test.c tests/testutil.c tests/testutil.h tests/registry.c tests/registry.h
vmm_vmm_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
vmm_vmm_test_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += vmm/emt_test vmm/iom_test
TESTS += vmm/emt_test vmm/iom_test
vmm_emt_test_SOURCES = vmm/emt_test.c tests/testutil.c tests/testutil.h tests/registry.c \
	tests/registry.h
vmm_emt_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
vmm_emt_test_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
vmm_iom_test_SOURCES = vmm/iom_test.c
vmm_iom_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
vmm_iom_test_LDADD = vmm/libvmm.a util/libutil.a $(CHECK_LIBS)

# The user-space PIC, IOAPIC and PIT of [vm] irqchip = split, as pure models.
check_PROGRAMS += vmm/irqchip_test
TESTS += vmm/irqchip_test
vmm_irqchip_test_SOURCES = vmm/irqchip_test.c
vmm_irqchip_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
vmm_irqchip_test_LDADD = vmm/libvmm.a util/libutil.a $(CHECK_LIBS)

check_PROGRAMS += vmm/power_test
TESTS += vmm/power_test
vmm_power_test_SOURCES = vmm/power_test.c tests/testutil.c tests/testutil.h tests/registry.c \
	tests/registry.h
vmm_power_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
vmm_power_test_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += vmm/state_test
TESTS += vmm/state_test
vmm_state_test_SOURCES = vmm/state_test.c
vmm_state_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
vmm_state_test_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

# The boot loaders: planning and placing on a plain buffer (no KVM), then the kernel
# test guests of tests/guests on KVM.
check_PROGRAMS += vmm/boot_test
TESTS += vmm/boot_test
vmm_boot_test_SOURCES = vmm/boot_test.c tests/testutil.c tests/testutil.h tests/registry.c \
	tests/registry.h tests/guests/bootcheck.h
vmm_boot_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
vmm_boot_test_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
