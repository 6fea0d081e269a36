#!/usr/bin/env bash
# Makes sure iproute2's ip is installed: the tests of real packet loss
# (internal/testenv's SilentLink; TestSilentLink, TestKafkaBlackholes) make
# network namespaces and veth pairs of their own with it, as root, and
# remove them. Without root they are skipped, saying why, and nothing is
# installed here; as root, ip is installed with apt-get when missing.
set -euo pipefail

if command -v ip >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "note: iproute2's ip is missing and this is not root: the tests of real packet loss will be skipped." >&2
	exit 0
fi

. "$(dirname "$0")/apt-install.sh"
apt_install ip \
	"Install iproute2 so that 'ip' is on PATH; the tests of real packet loss need it (and root)." \
	iproute2
echo "iproute2 installed." >&2
