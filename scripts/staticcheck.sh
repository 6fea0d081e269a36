#!/bin/sh
# Runs staticcheck (dead code, misuse, style: staticcheck.conf) on the three
# modules: the root, plugin/cgprom and e2e. Installs the pinned version with
# `go install` first when missing (from the Go module proxy, once, into
# $(go env GOPATH)/bin). 0.8.2 (2026.2.2) is the first that supports Go 1.26.
set -eu
VERSION=v0.8.2
GO=${GO:-go}
bin=$($GO env GOPATH)/bin/staticcheck
if ! "$bin" -version 2>/dev/null | grep -q "(${VERSION#v})"; then
	echo "staticcheck: installing honnef.co/go/tools/cmd/staticcheck@$VERSION"
	if ! $GO install "honnef.co/go/tools/cmd/staticcheck@$VERSION"; then
		echo "staticcheck: could not install it (the module proxy must be reachable); run: $GO install honnef.co/go/tools/cmd/staticcheck@$VERSION" >&2
		exit 1
	fi
fi
root=$(cd "$(dirname "$0")/.." && pwd)
# internal/zk is go-zookeeper v1.0.4 as released, but for its patches (the
# lastZxid fix and MultiRead: internal/zk/README.md): it is not linted, so that it stays upstream's code.
(cd "$root" && "$bin" $($GO list ./... | grep -v '/internal/zk$'))
for dir in plugin/cgprom e2e; do
	(cd "$root/$dir" && "$bin" ./...)
done
