modvminclude_HEADERS += sdk/include/modvm/char.h sdk/include/modvm/config.h \
	sdk/include/modvm/device.h sdk/include/modvm/driver.h sdk/include/modvm/interface.h \
	sdk/include/modvm/pdm.h sdk/include/modvm/status.h sdk/include/modvm/version.h
pkgconfig_DATA += sdk/modvm-sdk.pc

# The ABI's layouts, pinned; built with only the SDK on its include path, as a plugin is.
check_PROGRAMS += sdk/abi_test
TESTS += sdk/abi_test
sdk_abi_test_SOURCES = sdk/abi_test.c
sdk_abi_test_CPPFLAGS = $(PLUGIN_CPPFLAGS)
sdk_abi_test_CFLAGS = $(WARN_CFLAGS) $(CHECK_CFLAGS)
sdk_abi_test_LDADD = $(CHECK_LIBS)
