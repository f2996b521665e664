EXTRA_DIST += bench/exit-dispatch bench/rawkvm.c bench/README.md
