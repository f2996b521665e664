# The built-in plugins. Each is a libtool module seeing only sdk/include.
plugin_LTLIBRARIES += plugins/serial.la plugins/char.la plugins/stdio.la plugins/file.la \
	plugins/debug-exit.la plugins/i8042.la plugins/socket.la plugins/fw_cfg.la plugins/boot-timer.la

plugins_serial_la_SOURCES = plugins/serial/serial.c plugins/serial/uart.c plugins/serial/uart.h
plugins_serial_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_serial_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_serial_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_char_la_SOURCES = plugins/char/char.c
plugins_char_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_char_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_char_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_stdio_la_SOURCES = plugins/stdio/stdio.c plugins/stream/fdstream.c plugins/stream/fdstream.h
plugins_stdio_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_stdio_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_stdio_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_file_la_SOURCES = plugins/file/file.c plugins/stream/fdstream.c plugins/stream/fdstream.h
plugins_file_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_file_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_file_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_socket_la_SOURCES = plugins/socket/socket.c plugins/stream/fdstream.c plugins/stream/fdstream.h
plugins_socket_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_socket_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_socket_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_debug_exit_la_SOURCES = plugins/debug-exit/debug-exit.c
plugins_debug_exit_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_debug_exit_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_debug_exit_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_i8042_la_SOURCES = plugins/i8042/i8042.c
plugins_i8042_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_i8042_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_i8042_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_fw_cfg_la_SOURCES = plugins/fw_cfg/fw_cfg.c
plugins_fw_cfg_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_fw_cfg_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_fw_cfg_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_boot_timer_la_SOURCES = plugins/boot-timer/boot-timer.c
plugins_boot_timer_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_boot_timer_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_boot_timer_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# The pure UART model is tested alone, without the core.
check_PROGRAMS += plugins/serial/uart_test
TESTS += plugins/serial/uart_test
plugins_serial_uart_test_SOURCES = plugins/serial/uart_test.c plugins/serial/uart.c
plugins_serial_uart_test_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_serial_uart_test_CFLAGS = $(WARN_CFLAGS) $(CHECK_CFLAGS)
plugins_serial_uart_test_LDADD = $(CHECK_LIBS)

# fw_cfg byte by byte against a fake VM; then fw_cfg and boot-timer as a guest sees
# them, through `modvm run` (KVM).
check_PROGRAMS += plugins/fw_cfg/fw_cfg_test plugins/fw_cfg/fw_cfg_guest_test \
	plugins/boot-timer/boot_timer_test
TESTS += plugins/fw_cfg/fw_cfg_test plugins/fw_cfg/fw_cfg_guest_test \
	plugins/boot-timer/boot_timer_test
plugins_fw_cfg_fw_cfg_test_SOURCES = plugins/fw_cfg/fw_cfg_test.c tests/testutil.c tests/testutil.h
plugins_fw_cfg_fw_cfg_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
plugins_fw_cfg_fw_cfg_test_LDADD = pdm/libpdm.a config/libconfig.a util/libutil.a \
	$(INIPARSER_LIBS) $(CHECK_LIBS)
plugins_fw_cfg_fw_cfg_guest_test_SOURCES = plugins/fw_cfg/fw_cfg_guest_test.c tests/testutil.c \
	tests/testutil.h
plugins_fw_cfg_fw_cfg_guest_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
plugins_fw_cfg_fw_cfg_guest_test_LDADD = $(CHECK_LIBS)
plugins_boot_timer_boot_timer_test_SOURCES = plugins/boot-timer/boot_timer_test.c \
	tests/testutil.c tests/testutil.h
plugins_boot_timer_boot_timer_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
plugins_boot_timer_boot_timer_test_LDADD = $(CHECK_LIBS)

# The consoles end to end: ./modvm on a real pty (stdio) and behind a real socket
# (socket). They need KVM (they skip without it) and the test guests.
check_PROGRAMS += plugins/stdio/stdio_test plugins/socket/socket_test
TESTS += plugins/stdio/stdio_test plugins/socket/socket_test
plugins_stdio_stdio_test_SOURCES = plugins/stdio/stdio_test.c tests/testutil.c tests/testutil.h
plugins_stdio_stdio_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
plugins_stdio_stdio_test_LDADD = $(CHECK_LIBS)
plugins_socket_socket_test_SOURCES = plugins/socket/socket_test.c tests/testutil.c tests/testutil.h
plugins_socket_socket_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
plugins_socket_socket_test_LDADD = $(CHECK_LIBS)
