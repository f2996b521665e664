# scripts/make-guest builds the Linux test guest for `make check-linux` (tests/local.mk).
EXTRA_DIST += scripts/make-guest scripts/qemu-check-guest scripts/guest/boot-done.c \
	scripts/guest/cmdline scripts/guest/init scripts/guest/kernel.config \
	$(wildcard $(srcdir)/scripts/guest/patches/*.patch)
