noinst_LIBRARIES += pdm/libpdm.a
pdm_libpdm_a_SOURCES = pdm/pdm.h pdm/instance.h pdm/module.c pdm/device.c pdm/driver.c \
	pdm/thread.c pdm/power.c pdm/check.c
