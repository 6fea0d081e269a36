#!/usr/bin/env bash
# Makes sure the jars of two Apache Kafka brokers are in the cache, fetched
# from Maven Central with Maven (no tarballs):
#   kafka-4    the newest Apache Kafka 4.x that resolves (KRaft)
#   kafka-3.9  Apache Kafka 3.9.x, the last line with ZooKeeper mode
# and, when named (make compat), older lines in ZooKeeper mode:
#   kafka-3.6  Apache Kafka 3.6.x
#   kafka-2.8  Apache Kafka 2.8.x
# Each lands in $CACHE/<kind>/lib with a VERSION file, once: a second run
# does nothing. Where a kind cannot be resolved, $CACHE/<kind>/UNAVAILABLE
# says why, the tests that need it are skipped with that message, and this
# script still exits 0; it exits 1 only when Java or Maven is missing.
#
# CACHE is $CONSUMERGROUP_KAFKA_CACHE, else $XDG_CACHE_HOME/consumergroup/kafka,
# else ~/.cache/consumergroup/kafka. Nothing to do when CONSUMERGROUP_TEST_KAFKA
# names a cluster of your own (unless --always comes first: make compat).
# Arguments choose the kinds (default: kafka-4 and kafka-3.9).
set -euo pipefail

cache=${CONSUMERGROUP_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consumergroup/kafka}
complete() { [ -f "$cache/$1/VERSION" ] && [ -d "$cache/$1/lib" ]; }

always=
if [ "${1:-}" = --always ]; then
	always=1
	shift
fi
kinds=("$@")
report=
if [ "${1:-}" = --report ]; then
	report=1
	kinds=()
fi
[ ${#kinds[@]} -gt 0 ] || kinds=(kafka-4 kafka-3.9)

# --report: one line saying which brokers the behaviour suites run on.
if [ -n "$report" ]; then
	if [ -n "${CONSUMERGROUP_TEST_KAFKA:-}" ]; then
		echo "Kafka under the tests: kfake and your cluster at $CONSUMERGROUP_TEST_KAFKA"
		exit 0
	fi
	line="Kafka under the tests: kfake"
	for k in "${kinds[@]}"; do
		if complete "$k"; then
			line+=", $k (Apache Kafka $(cat "$cache/$k/VERSION"))"
		else
			line+=", $k SKIPPED: $(cat "$cache/$k/UNAVAILABLE" 2>/dev/null || echo "not fetched: run scripts/ensure-kafka.sh")"
		fi
	done
	echo "$line"
	exit 0
fi

# Candidate versions, newest first. The logging binding matches the slf4j API
# that each line's broker brings (1.7.x for all).
candidates() {
	case "$1" in
	kafka-4) echo 4.4.0 4.3.1 4.3.0 4.2.2 4.2.1 4.2.0 4.1.2 4.1.1 4.1.0 ;;
	kafka-3.9) echo 3.9.2 3.9.1 3.9.0 ;;
	kafka-3.6) echo 3.6.2 3.6.1 ;;
	kafka-2.8) echo 2.8.2 2.8.1 ;;
	*) echo "error: unknown kind $1 (want kafka-4, kafka-3.9, kafka-3.6 or kafka-2.8)" >&2; exit 2 ;;
	esac
}
slf4jBinding=1.7.36

if [ -n "${CONSUMERGROUP_TEST_KAFKA:-}" ] && [ -z "$always" ]; then
	exit 0
fi
todo=()
for k in "${kinds[@]}"; do
	candidates "$k" >/dev/null
	complete "$k" || todo+=("$k")
done
[ ${#todo[@]} -gt 0 ] || exit 0

missing=()
command -v java >/dev/null 2>&1 || missing+=("Java 17 or newer (Debian: apt-get install -y openjdk-17-jre-headless)")
command -v mvn >/dev/null 2>&1 || missing+=("Maven (Debian: apt-get install -y maven)")
if [ ${#missing[@]} -gt 0 ]; then
	echo "error: fetching Apache Kafka's jars needs:" >&2
	printf '  - %s\n' "${missing[@]}" >&2
	echo "  or point the tests at a cluster of your own: CONSUMERGROUP_TEST_KAFKA=host:port" >&2
	exit 1
fi

fetch() { # kind version: copies the broker's runtime jars into a fresh directory
	local kind=$1 version=$2 work
	work=$(mktemp -d)
	cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>consumergroup.local</groupId>
  <artifactId>$kind-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>$slf4jBinding</version>
    </dependency>
  </dependencies>
</project>
POM
	if mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1 && [ -f "$work/lib/kafka_2.13-$version.jar" ]; then
		rm -rf "$cache/$kind"
		mkdir -p "$cache/$kind"
		mv "$work/lib" "$cache/$kind/lib"
		echo "$version" >"$cache/$kind/VERSION"
		rm -rf "$work"
		return 0
	fi
	tail -n 5 "$work/mvn.log" | sed 's/^/    /' >&2
	rm -rf "$work"
	return 1
}

for k in "${todo[@]}"; do
	mkdir -p "$cache/$k"
	tried=()
	ok=
	for v in $(candidates "$k"); do
		echo "Fetching Apache Kafka $v ($k) from Maven Central into $cache/$k ..." >&2
		if fetch "$k" "$v"; then
			ok=$v
			break
		fi
		echo "  Apache Kafka $v did not resolve." >&2
		tried+=("$v")
	done
	if [ -n "$ok" ]; then
		rm -f "$cache/$k/UNAVAILABLE"
		echo "Apache Kafka $ok ready ($k)." >&2
	else
		msg="no version of Apache Kafka for $k resolved from Maven Central (tried ${tried[*]}); the tests that need it are skipped"
		echo "$msg" >"$cache/$k/UNAVAILABLE"
		echo "warning: $msg" >&2
	fi
done
