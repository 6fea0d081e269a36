#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the browser test of groupctl
# serve (e2e/) drives it headless. Installs it with apt-get when it is
# missing and this user may; otherwise says what to run. CHROMIUM may name
# another Chromium or Chrome binary to use instead.
set -euo pipefail

bin="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
	exit 0
fi
if [ -n "${CHROMIUM:-}" ]; then
	echo "error: CHROMIUM=$CHROMIUM is not an executable" >&2
	exit 1
fi

. "$(dirname "$0")/apt-install.sh"
apt_install Chromium \
	"Install Chromium, or point the test at one: CHROMIUM=/path/to/chrome make test" \
	chromium --no-install-recommends
if [ ! -x "$bin" ]; then
	echo "error: apt-get installed chromium but $bin is still missing" >&2
	exit 1
fi
echo "Chromium installed." >&2
