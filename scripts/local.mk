# scripts/make-guest builds the Linux test guest for `make check-linux` (tests/local.mk).
EXTRA_DIST += scripts/make-guest scripts/qemu-check-guest scripts/guest/boot-done.c \
	scripts/guest/cmdline scripts/guest/init scripts/guest/kernel.config \
	scripts/guest/patches/0001-skip-int3-selftest.patch \
	scripts/guest/patches/0002-fpu-drop-without-fwait.patch \
	scripts/guest/patches/0003-complete-syscall-left-in-user-mode.patch \
	scripts/guest/patches/0004-reboot-triple-fault-without-int3.patch \
	scripts/guest/patches/0005-kvm-lapic-timer-period.patch
