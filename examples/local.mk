noinst_DATA += examples/hello.bin
CLEANFILES += examples/hello.bin examples/hello-out.txt
EXTRA_DIST += examples/hello.S examples/hello.ini examples/hello-file.ini
examples/hello.bin: tests/guests/guest.h tests/guests/puts.inc
EXTRA_DIST += examples/plugin/hello-dev.c examples/plugin/Makefile examples/plugin/README.md
# hello-loop.ini boots tests/guests/loop.bin: built by `make`, not only `make check`.
noinst_DATA += tests/guests/loop.bin
EXTRA_DIST += examples/hello-loop.ini
EXTRA_DIST += examples/linux.ini
