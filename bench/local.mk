EXTRA_DIST += bench/exit-dispatch bench/rawkvm.c bench/README.md
EXTRA_DIST += bench/pause-resume bench/qmp-rtt.c
EXTRA_DIST += bench/boot
EXTRA_DIST += bench/start bench/spawn.c
