modvminclude_HEADERS += sdk/include/modvm/char.h sdk/include/modvm/config.h \
	sdk/include/modvm/device.h sdk/include/modvm/driver.h sdk/include/modvm/interface.h \
	sdk/include/modvm/pdm.h sdk/include/modvm/status.h sdk/include/modvm/version.h
pkgconfig_DATA += sdk/modvm-sdk.pc
