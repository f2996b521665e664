bin_PROGRAMS += modvm
modvm_SOURCES = cli/modvm.c
modvm_CPPFLAGS = $(AM_CPPFLAGS) -DMODVM_BUILD_DIR='"$(abs_top_builddir)"' \
	-DMODVM_PLUGIN_DIR='"$(plugindir)"'
modvm_LDADD = $(CORE_LIBS)

# The installed modvm must find the installed plugins (make installcheck, distcheck).
installcheck-local:
	$(DESTDIR)$(bindir)/modvm plugins > installcheck-plugins.out
	grep -q '^$(plugindir)/serial.so (ABI ' installcheck-plugins.out
	rm -f installcheck-plugins.out
