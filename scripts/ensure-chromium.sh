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

echo "Chromium is not installed: installing Debian's chromium package with apt-get..." >&2
if ! command -v apt-get >/dev/null 2>&1; then
	echo "error: apt-get is not available here. Install Chromium, or point the test at one: CHROMIUM=/path/to/chrome make test" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		echo "error: installing Chromium needs root. Run: sudo apt-get update && sudo apt-get install -y chromium" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >&2
if [ ! -x "$bin" ]; then
	echo "error: apt-get installed chromium but $bin is still missing" >&2
	exit 1
fi
echo "Chromium installed." >&2
