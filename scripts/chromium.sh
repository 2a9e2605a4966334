#!/bin/sh
# The browser tests drive Debian's Chromium (never a downloaded one). `make test` calls
# this first: with Chromium present it does nothing; run as root on Debian it installs
# the package (as CI does); otherwise it stops at once and prints the one command to run.
set -eu
if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then exit 0; fi
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's Chromium for the browser tests (apt-get install -y chromium)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
    exit 0
fi
echo "The browser tests need Debian's Chromium. Install it, then run make test again:" >&2
echo "    sudo apt-get install -y chromium" >&2
exit 1
