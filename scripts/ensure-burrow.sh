#!/usr/bin/env bash
# Makes sure Debian's Burrow (LinkedIn's Kafka lag monitor, package burrow,
# binary /usr/bin/Burrow) is installed: TestBurrow runs it against the
# tests' ZooKeeper and Kafka to check that it sees every partition of our
# groups. Installs it with apt-get when it is missing and this user may;
# otherwise says what to run. The package's systemd unit is not started.
set -euo pipefail

if command -v Burrow >/dev/null 2>&1 || [ -x /usr/bin/Burrow ]; then
	exit 0
fi

echo "Burrow is not installed: installing Debian's burrow package with apt-get..." >&2
if ! command -v apt-get >/dev/null 2>&1; then
	echo "error: apt-get is not available here. Install Burrow 1.2 (https://github.com/linkedin/Burrow) so that" >&2
	echo "       'Burrow' is on PATH; TestBurrow needs it." >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		echo "error: installing Burrow needs root. Run: sudo apt-get update && sudo apt-get install -y burrow" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq burrow >&2
if ! command -v Burrow >/dev/null 2>&1 && [ ! -x /usr/bin/Burrow ]; then
	echo "error: apt-get installed burrow but /usr/bin/Burrow is still missing" >&2
	exit 1
fi
echo "Burrow installed." >&2
