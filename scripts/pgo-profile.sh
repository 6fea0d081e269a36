#!/usr/bin/env bash
# Rebuilds cmd/groupctl/default.pgo, the profile `go build ./cmd/groupctl`
# optimises groupctl with (docs/BENCHMARKS.md, Profile-guided optimisation):
# the library's delivery paths (the bench's Next, Poll and Stream at 12 and
# 100 bytes, kfake in its own process) and groupctl's own evaluation of a
# group of 10,000 partitions (BenchmarkDescribe10k, BenchmarkLag10k), merged.
# Needs ZooKeeper (make zookeeper) and python3. About 3 minutes. An
# argument writes the profile there instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/cmd/groupctl/default.pgo}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$root/bench" && go build -pgo=off -o "$tmp/bench" ./cmd/bench &&
	"$tmp/bench" -only throughput -kafka kfake-proc -sizes 12,100 \
		-filter 'ours: Next,ours: Poll(),ours: Stream' -cpuprofile "$tmp/bench" -out "$tmp/report.md" >/dev/null)
(cd "$root" && go test -pgo=off -run '^$' -bench 'Describe10k|Lag10k' -benchtime 2s \
	-cpuprofile "$tmp/groupctl.pprof" -o "$tmp/groupctl.test" ./cmd/groupctl/ >/dev/null)

# The test binary names package main by its import path; groupctl's binary
# names it main: rewrite the profile's string table so that the names match.
python3 - "$tmp/groupctl.pprof" "$tmp/groupctl-main.pprof" <<'PY'
import gzip, sys
old = b"github.com/consumergroup/consumergroup/cmd/groupctl."
data = gzip.open(sys.argv[1]).read()
def varint(b, i):
    x = s = 0
    while True:
        c = b[i]; i += 1; x |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return x, i
def put(x):
    out = bytearray()
    while True:
        c = x & 0x7f; x >>= 7
        if not x:
            out.append(c); return bytes(out)
        out.append(c | 0x80)
out, i = bytearray(), 0
while i < len(data):
    start = i
    tag, i = varint(data, i)
    field, wire = tag >> 3, tag & 7
    if wire == 0:
        _, i = varint(data, i)
    elif wire == 1:
        i += 8
    elif wire == 5:
        i += 4
    elif wire == 2:
        n, j = varint(data, i); i = j + n
        if field == 6:  # Profile.string_table
            s = data[j:i].replace(old, b"main.")
            out += put(tag) + put(len(s)) + s
            continue
    else:
        sys.exit("unexpected wire type %d" % wire)
    out += data[start:i]
gzip.open(sys.argv[2], "wb").write(bytes(out))
PY

# The bench's own package main is hidden: its names are not groupctl's.
for f in "$tmp"/bench-*; do
	go tool pprof -proto -hide='^main\.' "$f" >"$f.pb.gz" 2>/dev/null
done
go tool pprof -proto "$tmp"/bench-*.pb.gz "$tmp/groupctl-main.pprof" >"$out" 2>/dev/null
echo "wrote $out"
