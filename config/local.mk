noinst_LIBRARIES += config/libconfig.a
config_libconfig_a_SOURCES = config/config.c config/config.h

check_PROGRAMS += config/config_test
TESTS += config/config_test
config_config_test_SOURCES = config/config_test.c
config_config_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
config_config_test_LDADD = config/libconfig.a util/libutil.a $(INIPARSER_LIBS) $(CHECK_LIBS)
