#!/bin/sh
# Regenerates the autotools files; run once after a fresh clone.
set -e
cd "$(dirname "$0")"
autoreconf --install --force
