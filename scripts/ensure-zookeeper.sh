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

. "$(dirname "$0")/apt-install.sh"
apt_install ZooKeeper \
	"Install ZooKeeper 3.8 so that its jars are in /usr/share/java, or point the tests at a running ensemble: CONSUMERGROUP_TEST_ZOOKEEPER=host:port make test" \
	zookeeper
if ! installed; then
	echo "error: apt-get installed zookeeper but its jars or java are still missing from /usr/share/java and PATH" >&2
	exit 1
fi
echo "ZooKeeper installed." >&2
