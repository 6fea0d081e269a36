#!/usr/bin/env bash
# Makes sure the jars of ZooKeeper servers are in the cache, fetched from
# Maven Central with Maven (org.apache.zookeeper:zookeeper and its runtime
# dependencies, with slf4j-simple as the logging binding instead of the
# logback that 3.8 brings, and the metrics-core and snappy-java that 3.6 and
# newer need but declare "provided"). Arguments are release lines (default: 3.8):
#   3.5 3.6 3.7 3.8 3.9
# Each lands in $CACHE/zookeeper-<line>/lib with a VERSION file, once: a
# second run does nothing. Where a line cannot be resolved,
# $CACHE/zookeeper-<line>/UNAVAILABLE says why, and this script still exits
# 0; it exits 1 only when Java or Maven is missing.
#
# CACHE is $CONSUMERGROUP_ZOOKEEPER_CACHE, else
# $XDG_CACHE_HOME/consumergroup/zookeeper, else ~/.cache/consumergroup/zookeeper.
# The servers run wherever Java does (macOS included): `make demo
# ZOOKEEPER=maven` and `make compat` use them.
set -euo pipefail

cache=${CONSUMERGROUP_ZOOKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consumergroup/zookeeper}
complete() { [ -f "$cache/zookeeper-$1/VERSION" ] && [ -d "$cache/zookeeper-$1/lib" ]; }

# Candidate versions of a line, newest first.
candidates() {
	case "$1" in
	3.5) echo 3.5.10 3.5.9 ;;
	3.6) echo 3.6.4 3.6.3 ;;
	3.7) echo 3.7.2 3.7.1 ;;
	3.8) echo 3.8.4 3.8.3 ;;
	3.9) echo 3.9.5 3.9.4 3.9.3 ;;
	*) echo "error: unknown ZooKeeper line $1 (want 3.5, 3.6, 3.7, 3.8 or 3.9)" >&2; exit 2 ;;
	esac
}

# The slf4j API and binding of a line: 3.9 brings slf4j 2, the others 1.7.
slf4jVersion() {
	case "$1" in
	3.9) echo 2.0.17 ;;
	*) echo 1.7.36 ;;
	esac
}

# Dropwizard's metrics-core and snappy-java, which 3.6 and newer need at
# run time but declare "provided": the versions each line's build uses.
metricsVersion() {
	case "$1" in
	3.5 | 3.6) echo 3.2.5 ;;
	*) echo 4.1.12.1 ;;
	esac
}
snappyVersion() {
	case "$1" in
	3.5 | 3.6) echo 1.1.8.4 ;;
	*) echo 1.1.10.5 ;;
	esac
}

lines=("$@")
[ ${#lines[@]} -gt 0 ] || lines=(3.8)
todo=()
for l in "${lines[@]}"; do
	candidates "$l" >/dev/null
	complete "$l" || todo+=("$l")
done
[ ${#todo[@]} -gt 0 ] || exit 0

missing=()
command -v java >/dev/null 2>&1 || missing+=("Java 11 or newer (Debian: apt-get install -y openjdk-17-jre-headless; macOS: brew install openjdk)")
command -v mvn >/dev/null 2>&1 || missing+=("Maven (Debian: apt-get install -y maven; macOS: brew install maven)")
if [ ${#missing[@]} -gt 0 ]; then
	echo "error: fetching ZooKeeper's jars from Maven Central needs:" >&2
	printf '  - %s\n' "${missing[@]}" >&2
	exit 1
fi

fetch() { # line version: copies the server's runtime jars into the cache
	local line=$1 version=$2 slf4j metrics snappy work
	slf4j=$(slf4jVersion "$line")
	metrics=$(metricsVersion "$line")
	snappy=$(snappyVersion "$line")
	work=$(mktemp -d)
	cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>consumergroup.local</groupId>
  <artifactId>zookeeper-$line-server</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.zookeeper</groupId>
      <artifactId>zookeeper</artifactId>
      <version>$version</version>
      <exclusions>
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>log4j</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-log4j12</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>io.dropwizard.metrics</groupId>
      <artifactId>metrics-core</artifactId>
      <version>$metrics</version>
    </dependency>
    <dependency>
      <groupId>org.xerial.snappy</groupId>
      <artifactId>snappy-java</artifactId>
      <version>$snappy</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>$slf4j</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>$slf4j</version>
    </dependency>
  </dependencies>
</project>
POM
	if mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1 && [ -f "$work/lib/zookeeper-$version.jar" ]; then
		rm -rf "$cache/zookeeper-$line"
		mkdir -p "$cache/zookeeper-$line"
		mv "$work/lib" "$cache/zookeeper-$line/lib"
		echo "$version" >"$cache/zookeeper-$line/VERSION"
		rm -rf "$work"
		return 0
	fi
	tail -n 5 "$work/mvn.log" | sed 's/^/    /' >&2
	rm -rf "$work"
	return 1
}

for l in "${todo[@]}"; do
	mkdir -p "$cache/zookeeper-$l"
	tried=()
	ok=
	for v in $(candidates "$l"); do
		echo "Fetching ZooKeeper $v from Maven Central into $cache/zookeeper-$l ..." >&2
		if fetch "$l" "$v"; then
			ok=$v
			break
		fi
		echo "  ZooKeeper $v did not resolve." >&2
		tried+=("$v")
	done
	if [ -n "$ok" ]; then
		rm -f "$cache/zookeeper-$l/UNAVAILABLE"
		echo "ZooKeeper $ok ready (zookeeper-$l)." >&2
	else
		msg="no version of ZooKeeper $l resolved from Maven Central (tried ${tried[*]})"
		echo "$msg" >"$cache/zookeeper-$l/UNAVAILABLE"
		echo "warning: $msg" >&2
	fi
done
