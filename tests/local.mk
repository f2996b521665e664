# Test plugins: built for `make check` only, never installed.
check_LTLIBRARIES += tests/plugins/recorder.la tests/plugins/bad-abi.la \
	tests/plugins/no-entry.la tests/plugins/dup-type.la tests/plugins/sink.la \
	tests/plugins/minor-old.la tests/plugins/minor-new.la tests/plugins/machine.la
tests_plugins_recorder_la_SOURCES = tests/plugins/recorder.c
tests_plugins_recorder_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
tests_plugins_recorder_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_recorder_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_bad_abi_la_SOURCES = tests/plugins/bad-abi.c
tests_plugins_bad_abi_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
tests_plugins_bad_abi_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_bad_abi_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_no_entry_la_SOURCES = tests/plugins/no-entry.c
tests_plugins_no_entry_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
tests_plugins_no_entry_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_no_entry_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_dup_type_la_SOURCES = tests/plugins/dup-type.c
tests_plugins_dup_type_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
tests_plugins_dup_type_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_dup_type_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_sink_la_SOURCES = tests/plugins/sink.c
tests_plugins_sink_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
tests_plugins_sink_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_sink_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

tests_plugins_machine_la_SOURCES = tests/plugins/machine.c
tests_plugins_machine_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
tests_plugins_machine_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_machine_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

tests_plugins_minor_old_la_SOURCES = tests/plugins/minor.c
tests_plugins_minor_old_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) -DMINOR=0
tests_plugins_minor_old_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_minor_old_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_minor_new_la_SOURCES = tests/plugins/minor.c
tests_plugins_minor_new_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) '-DMINOR=(PDM_ABI_MINOR + 1)'
tests_plugins_minor_new_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_minor_new_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

# Tiny guests for the vmm and cli tests.
TEST_GUESTS = tests/guests/exit42.bin tests/guests/unhandled.bin tests/guests/spin.bin \
	tests/guests/outloop.bin tests/guests/triple.bin tests/guests/mmio.bin \
	tests/guests/echo.bin tests/guests/reboot.bin tests/guests/inloop.bin \
	tests/guests/timer.bin tests/guests/level.bin
check_DATA += $(TEST_GUESTS) examples/hello.bin
CLEANFILES += $(TEST_GUESTS)
EXTRA_DIST += tests/guests/guest.h tests/guests/puts.inc tests/guests/pmode.inc tests/guests/exit42.S \
	tests/guests/unhandled.S tests/guests/spin.S tests/guests/outloop.S \
	tests/guests/triple.S tests/guests/mmio.S tests/guests/echo.S tests/guests/reboot.S \
	tests/guests/inloop.S tests/guests/timer.S tests/guests/level.S
$(TEST_GUESTS): tests/guests/guest.h tests/guests/puts.inc tests/guests/pmode.inc

# The pdm suite loads the test plugins above.
check_PROGRAMS += pdm/pdm_test
TESTS += pdm/pdm_test
pdm_pdm_test_SOURCES = pdm/pdm_test.c tests/testutil.c tests/testutil.h
pdm_pdm_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
pdm_pdm_test_LDADD = pdm/libpdm.a config/libconfig.a util/libutil.a $(INIPARSER_LIBS) $(CHECK_LIBS)

# The command line, end to end.
check_PROGRAMS += cli/cli_test
TESTS += cli/cli_test
cli_cli_test_SOURCES = cli/cli_test.c tests/testutil.c tests/testutil.h
cli_cli_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
cli_cli_test_LDADD = util/libutil.a $(CHECK_LIBS)
check_PROGRAMS += cli/cli_run_test
TESTS += cli/cli_run_test
cli_cli_run_test_SOURCES = cli/cli_test.c tests/testutil.c tests/testutil.h
cli_cli_run_test_CPPFLAGS = $(AM_CPPFLAGS) -DCLI_TEST_RUN
cli_cli_run_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
cli_cli_run_test_LDADD = util/libutil.a $(CHECK_LIBS)

# The same suites under memcheck, then the threaded ones under drd; see
# tests/valgrind.sh. Each run has its own summary log.
EXTRA_DIST += tests/valgrind.sh tests/valgrind.supp
THREADED_TESTS = pdm/pdm_test vmm/vmm_test vmm/emt_test vmm/power_test cli/cli_run_test
check-valgrind:
	$(MAKE) $(AM_MAKEFLAGS) check LOG_COMPILER='$(abs_top_srcdir)/tests/valgrind.sh' \
		TEST_SUITE_LOG=test-suite-valgrind.log
	VALGRIND_TOOL=drd $(MAKE) $(AM_MAKEFLAGS) check TESTS='$(THREADED_TESTS)' \
		LOG_COMPILER='$(abs_top_srcdir)/tests/valgrind.sh' TEST_SUITE_LOG=test-suite-drd.log
.PHONY: check-valgrind

# The control socket: a guest that keeps running (examples/hello-loop.ini runs it too),
# and a threaded suite for drd.
TEST_GUESTS += tests/guests/loop.bin
EXTRA_DIST += tests/guests/loop.S
THREADED_TESTS += cli/control_test
tests/guests/loop.bin: tests/guests/guest.h tests/guests/puts.inc

# The console suites (plugins/local.mk): their ./modvm processes run the char worker
# against the stdio and socket drivers' EMT-side writes, for drd.
THREADED_TESTS += plugins/stdio/stdio_test plugins/socket/socket_test

# The fw_cfg and boot-timer suites' guests (plugins/local.mk).
TEST_GUESTS += tests/guests/fwcfg.bin tests/guests/boottime.bin
EXTRA_DIST += tests/guests/fwcfg.S tests/guests/boottime.S
tests/guests/fwcfg.bin tests/guests/boottime.bin: tests/guests/guest.h

# Linux on modvm (tests/linux_test.c): the guest from scripts/make-guest, booted to a
# shell. Seconds per boot on a nested KVM, so not in `make check`; `make check-linux`
# builds the guest (cached outside the tree, see scripts/make-guest) and runs it.
check_PROGRAMS += tests/linux_test
tests_linux_test_SOURCES = tests/linux_test.c tests/testutil.c tests/testutil.h
tests_linux_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_linux_test_LDADD = util/libutil.a $(CHECK_LIBS)
# Automake writes a .log rule only for what TESTS lists when it runs; check-linux
# passes TESTS at make time, so this is the rule automake would write for it.
tests/linux_test.log: tests/linux_test$(EXEEXT)
	@p='tests/linux_test$(EXEEXT)'; \
	b='tests/linux_test'; \
	$(am__check_pre) $(LOG_DRIVER) --test-name "$$f" \
	--log-file $$b.log --trs-file $$b.trs \
	$(am__common_driver_flags) $(AM_LOG_DRIVER_FLAGS) $(LOG_DRIVER_FLAGS) -- $(LOG_COMPILE) \
	"$$tst" $(AM_TESTS_FD_REDIRECT)
check-linux:
	$(MAKE) $(AM_MAKEFLAGS) $(check_PROGRAMS) $(check_LTLIBRARIES) $(check_DATA)
	$(abs_top_srcdir)/scripts/make-guest --out $(abs_top_builddir)/guest
	MODVM_GUEST_DIR=$(abs_top_builddir)/guest $(MAKE) $(AM_MAKEFLAGS) check \
		TESTS='tests/linux_test' TEST_SUITE_LOG=test-suite-linux.log
.PHONY: check-linux

# Kernel test guests for vmm/boot_test: 32-bit code linked at 1 MiB by kernel.ld, as ELF
# files (Multiboot, PVH) or a flat Multiboot a.out-kludge image, and a bzImage-shaped
# one laid out by bzimage.ld. multiboot-reset.elf spoils what it was given and resets
# once before it checks.
KERNEL_GUESTS = tests/guests/multiboot.elf tests/guests/multiboot-aout.bin \
	tests/guests/multiboot-reset.elf tests/guests/pvh.elf tests/guests/bzimage.bin \
	tests/guests/smp.elf tests/guests/smp-x2apic.elf
check_DATA += $(KERNEL_GUESTS)
CLEANFILES += $(KERNEL_GUESTS)
EXTRA_DIST += tests/guests/kernel.ld tests/guests/bootcheck.h tests/guests/bootcheck.inc \
	tests/guests/multiboot.S tests/guests/pvh.S tests/guests/bzimage.S tests/guests/bzimage.ld \
	tests/guests/smp.S
KERNEL_GUEST_DEPS = tests/guests/kernel.ld tests/guests/guest.h tests/guests/bootcheck.h \
	tests/guests/bootcheck.inc
KERNEL_GUEST_AS = $(CC) -m32 -nostdlib -ffreestanding -I$(top_srcdir)/tests/guests
KERNEL_GUEST_LD = $(LD) -m elf_i386 -T $(top_srcdir)/tests/guests/kernel.ld
tests/guests/multiboot.elf: tests/guests/multiboot.S $(KERNEL_GUEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(KERNEL_GUEST_AS) -c -o $@.o $< && \
	$(KERNEL_GUEST_LD) -o $@ $@.o && rm -f $@.o
tests/guests/multiboot-reset.elf: tests/guests/multiboot.S $(KERNEL_GUEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(KERNEL_GUEST_AS) -DBT_RESET_ONCE -c -o $@.o $< && \
	$(KERNEL_GUEST_LD) -o $@ $@.o && rm -f $@.o
tests/guests/multiboot-aout.bin: tests/guests/multiboot.S $(KERNEL_GUEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(KERNEL_GUEST_AS) -DMB_AOUT -c -o $@.o $< && \
	$(KERNEL_GUEST_LD) --oformat=binary -o $@ $@.o && rm -f $@.o
tests/guests/smp.elf: tests/guests/smp.S $(KERNEL_GUEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(KERNEL_GUEST_AS) -c -o $@.o $< && \
	$(KERNEL_GUEST_LD) -o $@ $@.o && rm -f $@.o
tests/guests/smp-x2apic.elf: tests/guests/smp.S $(KERNEL_GUEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(KERNEL_GUEST_AS) -DX2APIC -c -o $@.o $< && \
	$(KERNEL_GUEST_LD) -o $@ $@.o && rm -f $@.o
tests/guests/pvh.elf: tests/guests/pvh.S $(KERNEL_GUEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(KERNEL_GUEST_AS) -c -o $@.o $< && \
	$(KERNEL_GUEST_LD) -o $@ $@.o && rm -f $@.o
tests/guests/bzimage.bin: tests/guests/bzimage.S tests/guests/bzimage.ld $(KERNEL_GUEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(CC) -m64 -nostdlib -ffreestanding -I$(top_srcdir)/tests/guests -c -o $@.o $< && \
	$(LD) -m elf_x86_64 -T $(top_srcdir)/tests/guests/bzimage.ld --oformat=binary -o $@ $@.o && \
	rm -f $@.o
THREADED_TESTS += vmm/boot_test
