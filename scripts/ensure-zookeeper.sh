#!/usr/bin/env bash
# Makes sure Debian's ZooKeeper 3.8 (and a Java runtime) are installed: the
# tests, the demo and the benchmarks start their own servers from its jars.
# Installs it with apt-get when it is missing and this user may; otherwise
# says what to run. Nothing to do when CONSUMERGROUP_TEST_ZOOKEEPER names an
# existing ensemble.
set -euo pipefail

jars=(zookeeper.jar zookeeper-jute.jar slf4j-api.jar slf4j-nop.jar netty-handler.jar
      netty-common.jar netty-buffer.jar netty-transport.jar netty-resolver.jar netty-codec.jar
      netty-transport-native-epoll.jar netty-transport-native-unix-common.jar metrics-core.jar)

installed() {
	command -v java >/dev/null 2>&1 || return 1
	for j in "${jars[@]}"; do
		[ -f "/usr/share/java/$j" ] || return 1
	done
}

if [ -n "${CONSUMERGROUP_TEST_ZOOKEEPER:-}" ] || installed; then
	exit 0
fi

echo "ZooKeeper is not installed: installing Debian's zookeeper package with apt-get..." >&2
if ! command -v apt-get >/dev/null 2>&1; then
	echo "error: apt-get is not available here. Install ZooKeeper 3.8 so that its jars are in /usr/share/java," >&2
	echo "       or point the tests at a running ensemble: CONSUMERGROUP_TEST_ZOOKEEPER=host:port make test" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		echo "error: installing ZooKeeper needs root. Run: sudo apt-get update && sudo apt-get install -y zookeeper" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq zookeeper >&2
if ! installed; then
	echo "error: apt-get installed zookeeper but its jars or java are still missing from /usr/share/java and PATH" >&2
	exit 1
fi
echo "ZooKeeper installed." >&2
