#!/usr/bin/env bash
# make compat: the ZooKeeper coordinator's smoke scenario (internal/compat:
# two members join, one leaves, one joins, commits, the ids/owners/offsets
# nodes that Burrow and Kafka's own tools read, and Burrow reading them
# where it is installed) on ZooKeeper servers 3.5 to
# 3.9 (with kfake registered in them) and on Apache Kafka 2.8, 3.6 and 3.9
# brokers in ZooKeeper mode, each fetched from Maven Central once (Java and
# Maven needed; this script says so when they are missing).
#
# COMPAT selects targets, separated by spaces or commas (default: all):
#   zookeeper-3.5 zookeeper-3.6 zookeeper-3.7 zookeeper-3.8 zookeeper-3.9
#   kafka-2.8 kafka-3.6 kafka-3.9
# The results table (target, versions, result, Burrow, durations, date, machine) is
# printed at the end and written to $COMPAT_REPORT (default bin/compat.md).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
targets=${COMPAT:-all}
report=${COMPAT_REPORT:-bin/compat.md}

# What each target needs: a Kafka line runs on the ZooKeeper line whose
# client it ships, as internal/compat/targets_test.go pairs them.
zk=() kafka=()
for t in ${targets//,/ }; do
	case "$t" in
	all) zk+=(3.5 3.6 3.7 3.8 3.9) kafka+=(kafka-2.8 kafka-3.6 kafka-3.9) ;;
	zookeeper-3.[5-9]) zk+=("${t#zookeeper-}") ;;
	kafka-2.8) zk+=(3.5) kafka+=(kafka-2.8) ;;
	kafka-3.6 | kafka-3.9) zk+=(3.8) kafka+=("$t") ;;
	*) echo "error: COMPAT: unknown target $t (want all or some of zookeeper-3.5 ... zookeeper-3.9, kafka-2.8, kafka-3.6, kafka-3.9)" >&2; exit 2 ;;
	esac
done
# (no mapfile: macOS's bash 3.2)
read -r -a zk <<<"$(printf '%s\n' "${zk[@]}" | sort -u | tr '\n' ' ')"
scripts/ensure-zookeeper-maven.sh "${zk[@]}"
if [ ${#kafka[@]} -gt 0 ]; then
	read -r -a kafka <<<"$(printf '%s\n' "${kafka[@]}" | sort -u | tr '\n' ' ')"
	scripts/ensure-kafka.sh --always "${kafka[@]}"
fi

# Burrow reads the group's offsets too where it is installed (Debian's
# package); elsewhere the scenario checks the nodes without it, and the
# table says so.
if ! scripts/ensure-burrow.sh; then
	echo "Burrow is not installed: the scenario checks the nodes without it (the table's Burrow column says so)." >&2
fi

mkdir -p "$(dirname "$report")"
rm -f "$report"
echo "make compat: the smoke scenario on $targets (about a minute once the jars are fetched)" >&2
rc=0
CONSUMERGROUP_COMPAT="$targets" CONSUMERGROUP_COMPAT_REPORT="$PWD/$report" \
	$GO test -race -count=1 -timeout 30m -run '^TestCompat$' ./internal/compat/ || rc=$?
if [ -f "$report" ]; then
	echo
	cat "$report"
	echo "(written to $report: paste it into docs/TESTING.md, \"Compatibility, measured\")"
fi
exit $rc
