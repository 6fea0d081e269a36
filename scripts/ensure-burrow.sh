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

. "$(dirname "$0")/apt-install.sh"
apt_install Burrow \
	"Install Burrow 1.2 (https://github.com/linkedin/Burrow) so that 'Burrow' is on PATH; TestBurrow needs it." \
	burrow
if ! command -v Burrow >/dev/null 2>&1 && [ ! -x /usr/bin/Burrow ]; then
	echo "error: apt-get installed burrow but /usr/bin/Burrow is still missing" >&2
	exit 1
fi
echo "Burrow installed." >&2
