bin_PROGRAMS += modvm
modvm_SOURCES = cli/modvm.c
modvm_CPPFLAGS = $(AM_CPPFLAGS) -DMODVM_BUILD_DIR='"$(abs_top_builddir)"' \
	-DMODVM_PLUGIN_DIR='"$(plugindir)"'
modvm_LDADD = $(CORE_LIBS)
