bin_PROGRAMS += modvm
modvm_SOURCES = cli/modvm.c cli/control.c cli/control.h cli/ctl.c
modvm_CPPFLAGS = $(AM_CPPFLAGS) -DMODVM_BUILD_DIR='"$(abs_top_builddir)"' \
	-DMODVM_PLUGIN_DIR='"$(plugindir)"'
modvm_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
modvm_LDADD = $(CORE_LIBS) $(JSONC_LIBS)

# The installed modvm must find the installed plugins (make installcheck, distcheck).
installcheck-local:
	$(DESTDIR)$(bindir)/modvm plugins > installcheck-plugins.out
	grep -q '^$(plugindir)/serial.so (ABI ' installcheck-plugins.out
	rm -f installcheck-plugins.out

# The control socket: QMP conversations with an in-process VM, and `modvm ctl`
# against `modvm run --control`. Needs KVM (skips without it) and the test plugins.
check_PROGRAMS += cli/control_test
TESTS += cli/control_test
cli_control_test_SOURCES = cli/control_test.c cli/control.c cli/control.h \
	tests/registry.c tests/registry.h \
	tests/testutil.c tests/testutil.h
cli_control_test_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CHECK_CFLAGS)
cli_control_test_LDADD = $(CORE_LIBS) $(JSONC_LIBS) $(CHECK_LIBS)
