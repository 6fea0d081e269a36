// Package testenv provides the real servers that this module's tests, demo
// and benchmarks run against: ZooKeeper servers (standalone or as an
// ensemble) started from the jars Debian's package installs or from those
// scripts/ensure-zookeeper-maven.sh fetches from Maven Central (3.5 to 3.9;
// see Installed, WithJars, MavenZooKeeper), a TCP proxy that cuts
// connections on demand to force disconnects and session expiry, and an
// in-process Kafka cluster (kfake) registered in ZooKeeper exactly as Kafka
// brokers in ZooKeeper mode register themselves, and real Apache Kafka
// brokers (StartApache: 3.9, and for make compat 2.8 and 3.6, in ZooKeeper
// mode; 4.x KRaft) from the jars
// scripts/ensure-kafka.sh fetches. SharedCluster gives a test package one
// broker of each kind, started at first use and stopped by Main. StartBurrow
// runs Burrow, LinkedIn's lag monitor, against a ZooKeeper and Kafka.
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
//   - CONSUMERGROUP_ZOOKEEPER_JARS: which ZooKeeper servers start: debian,
//     maven (3.8 from Maven Central) or a directory of jars; unset, Debian's
//     when installed, else Maven Central's (see EnvZooKeeperJars).
//   - CONSUMERGROUP_ZOOKEEPER_CACHE: where scripts/ensure-zookeeper-maven.sh
//     keeps the jars it fetches (see ZooKeeperCache).
//   - CONSUMERGROUP_ZK_LOG=1: servers started here print their log to
//     stderr (the default is silent; see WithServerLog).
//   - CONSUMERGROUP_TEST_KAFKA: a comma-separated list of Kafka brokers;
//     when set, KafkaKinds is kfake and that cluster (KindExternal), and no
//     Apache Kafka broker is started.
//   - CONSUMERGROUP_KAFKA_CACHE: where scripts/ensure-kafka.sh keeps the
//     Apache Kafka jars StartApache runs (see KafkaCache).
//   - CONSUMERGROUP_KAFKA_LOG=1: Apache Kafka brokers print their log.
package testenv
