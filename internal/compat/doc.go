// Package compat holds `make compat`'s smoke scenario of the ZooKeeper
// coordinator (compat_test.go), run over ZooKeeper servers 3.5 to 3.9 and
// older Apache Kafka brokers in ZooKeeper mode, each fetched from Maven
// Central (docs/TESTING.md, "Compatibility, measured"). Outside `make
// compat` its TestCompat skips; the package has no code of its own.
package compat
