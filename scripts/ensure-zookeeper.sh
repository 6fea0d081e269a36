#!/usr/bin/env bash
# Makes sure the ZooKeeper server that the tests, the demo and the benchmarks
# start is there. Two sources, chosen by $CONSUMERGROUP_ZOOKEEPER_JARS (what
# `make ... ZOOKEEPER=...` sets):
#   debian  Debian's zookeeper package (3.8), jars in /usr/share/java,
#           installed with apt-get (root or passwordless sudo)
#   maven   ZooKeeper 3.8 from Maven Central (scripts/ensure-zookeeper-maven.sh),
#           into a cache: needs Java and Maven, runs wherever they do (macOS)
#   a directory of jars: used as it is, nothing to install
#   unset or auto: whichever is there (Debian's first); else Debian's package
#           where apt-get may install it, else Maven Central's
# Nothing to do when CONSUMERGROUP_TEST_ZOOKEEPER names an existing ensemble.
set -euo pipefail
here=$(dirname "$0")

jars=(zookeeper.jar zookeeper-jute.jar slf4j-api.jar slf4j-simple.jar netty-handler.jar
      netty-common.jar netty-buffer.jar netty-transport.jar netty-resolver.jar netty-codec.jar
      netty-transport-native-epoll.jar netty-transport-native-unix-common.jar metrics-core.jar)
cache=${CONSUMERGROUP_ZOOKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consumergroup/zookeeper}

debian_installed() {
	command -v java >/dev/null 2>&1 || return 1
	for j in "${jars[@]}"; do
		[ -f "/usr/share/java/$j" ] || return 1
	done
}
maven_installed() {
	command -v java >/dev/null 2>&1 && [ -f "$cache/zookeeper-3.8/VERSION" ] && [ -d "$cache/zookeeper-3.8/lib" ]
}
# may_apt: apt-get is there and this user may run it.
may_apt() {
	command -v apt-get >/dev/null 2>&1 || return 1
	[ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

install_debian() {
	. "$here/apt-install.sh"
	apt_install ZooKeeper \
		"Install ZooKeeper 3.8 so that its jars are in /usr/share/java, take it from Maven Central (ZOOKEEPER=maven, needs Java and Maven), or point the tests at a running ensemble: CONSUMERGROUP_TEST_ZOOKEEPER=host:port make test" \
		zookeeper
	if ! debian_installed; then
		echo "error: apt-get installed zookeeper but its jars or java are still missing from /usr/share/java and PATH" >&2
		exit 1
	fi
	echo "ZooKeeper installed (Debian's package)." >&2
}

install_maven() {
	"$here/ensure-zookeeper-maven.sh" 3.8
	if [ -f "$cache/zookeeper-3.8/UNAVAILABLE" ]; then
		echo "error: $(cat "$cache/zookeeper-3.8/UNAVAILABLE")" >&2
		exit 1
	fi
	if ! command -v java >/dev/null 2>&1; then
		echo "error: no java on PATH (ZooKeeper needs Java 11 or newer)" >&2
		exit 1
	fi
}

[ -z "${CONSUMERGROUP_TEST_ZOOKEEPER:-}" ] || exit 0
choice=${CONSUMERGROUP_ZOOKEEPER_JARS:-auto}
case "$choice" in
debian) debian_installed || install_debian ;;
maven) maven_installed || install_maven ;;
auto | "")
	if debian_installed || maven_installed; then
		exit 0
	elif may_apt; then
		install_debian
	elif command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
		echo "ZooKeeper is not installed and apt-get is not usable here: taking ZooKeeper 3.8 from Maven Central." >&2
		install_maven
	else
		echo "error: ZooKeeper is not installed. Either:" >&2
		echo "  - Debian's package: sudo apt-get update && sudo apt-get install -y zookeeper" >&2
		echo "  - or Maven Central's jars: install Java 17 and Maven (macOS: brew install openjdk maven), then run again" >&2
		echo "  - or point the tests at a running ensemble: CONSUMERGROUP_TEST_ZOOKEEPER=host:port" >&2
		exit 1
	fi
	;;
*)
	if ! ls "$choice"/zookeeper-*.jar >/dev/null 2>&1; then
		echo "error: CONSUMERGROUP_ZOOKEEPER_JARS=$choice: no zookeeper-*.jar in that directory (want debian, maven, auto or a directory of ZooKeeper's jars)" >&2
		exit 1
	fi
	;;
esac
