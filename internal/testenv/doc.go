// Package testenv provides the real servers that this module's tests, demo
// and benchmarks run against: ZooKeeper 3.8 servers started from the jars
// Debian installs (standalone or as an ensemble), a TCP proxy that cuts
// connections on demand to force disconnects and session expiry, and an
// in-process Kafka cluster (kfake) registered in ZooKeeper exactly as Kafka
// brokers in ZooKeeper mode register themselves, and real Apache Kafka
// brokers (StartApache: 3.9 in ZooKeeper mode, 4.x KRaft) from the jars
// scripts/ensure-kafka.sh fetches. SharedCluster gives a test package one
// broker of each kind, started at first use and stopped by Main.
//
// A test package shares one ZooKeeper server through ZooKeeperAddrs, and
// stops it and checks for leaked goroutines with leakcheck.Main (a package
// of its own, so that the demo's binary does not link goleak):
//
//	func TestMain(m *testing.M) { leakcheck.Main(m, testenv.StopShared) }
//
//	func TestSomething(t *testing.T) {
//		servers := testenv.ZooKeeperAddrs(t)
//		chroot := testenv.Chroot(t)
//		...
//	}
//
// Every process and goroutine started here has an owner that stops it and
// waits for it: Close on each type returns only once nothing it started is
// left running, and leakcheck.Main fails the test binary when goroutines leak.
//
// Environment variables:
//
//   - CONSUMERGROUP_TEST_ZOOKEEPER: a comma-separated list of ZooKeeper
//     addresses; when set, ZooKeeperAddrs uses that ensemble and starts
//     nothing.
//   - CONSUMERGROUP_ZK_LOG=1: servers started here print their log to
//     stderr (the default is silent; see WithServerLog).
//   - CONSUMERGROUP_TEST_KAFKA: a comma-separated list of Kafka brokers;
//     when set, KafkaKinds is kfake and that cluster (KindExternal), and no
//     Apache Kafka broker is started.
//   - CONSUMERGROUP_KAFKA_CACHE: where scripts/ensure-kafka.sh keeps the
//     Apache Kafka jars StartApache runs (see KafkaCache).
//   - CONSUMERGROUP_KAFKA_LOG=1: Apache Kafka brokers print their log.
package testenv
