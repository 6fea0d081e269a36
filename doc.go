// Package consumergroup is a Kafka consumer group: many instances of a
// service read one or more topics together, their partitions shared among
// the instances and moving between them as they come and go.
//
// What it promises: a partition is never delivered to two members at once,
// and no message is lost. Across graceful changes (a member joins, a member
// leaves with Close, partitions are added) every message is processed
// exactly once. Across crashes and lost sessions delivery is at least once,
// bounded by the uncommitted window: the next owner delivers again what
// was processed since the member's last commit (at most
// ConsumerGroupConfig.CommitInterval of messages, and the message in hand).
// The one exception to exactly once is announced: a hand-off waits for the
// message in the application's hands at most HandoffTimeout; past it that
// message is delivered again by the next owner, and a HANDOFF_TIMEOUT
// notification names it.
//
// The same API runs on two coordinators:
//
//   - Kafka's own group coordinator (JoinKafkaConsumerGroup; Kafka 4 has no
//     ZooKeeper): franz-go's group consumer runs the protocol, classic
//     cooperative or KIP-848 (ConsumerGroupConfig.GroupProtocol), and the
//     offsets live in __consumer_offsets.
//   - ZooKeeper on Kafka's own ZooKeeper layout (JoinConsumerGroup, the 2014
//     package's constructor), byte for byte, so that the tools that read it
//     (Burrow, offset checkers, kafka-consumer-groups.sh --zookeeper)
//     understand the group.
//
// A third kind of group shares the API: a share group (Kafka 4.2+, KIP-932,
// JoinKafkaShareGroup), a queue over Kafka's topics whose members take
// messages one by one from the same partitions, each under a time-limited
// lock, and acknowledge each on its own: accepted (the next call, or
// MarkDone), released (Release: delivered again, to any member) or
// rejected (Reject: archived). See JoinKafkaShareGroup.
//
// # Taking messages
//
// Next (one message) and Poll (one partition's batch) are the API to start
// with: calling again means that everything returned before is processed.
// While the application waits inside the call the group knows it holds
// nothing, so a rebalance hands its partitions over at once and the
// periodic commit includes everything returned:
//
//	for {
//		event, err := group.Next(ctx)
//		if err != nil {
//			return err // ctx's error, or ErrClosed after Close
//		}
//		process(event)
//	}
//
// PollRecords is Poll with franz-go's own records instead of events: no
// copy, the fastest path.
//
// The 2014 package's channels stay: Stream, Batches and Checkout. A message
// received from Stream counts as processed only when the loop takes the
// next one (a channel cannot tell a finished loop from a busy one); on a
// quiet topic call MarkDone (MarkBatchDone) when a message is finished, or
// a hand-off of its partition waits HandoffTimeout and the idle member shows
// a lag of 1 (see Stream).
//
// # Guarantees
//
// As stated at the top. docs/USAGE.md in the repository has every rule
// and docs/DESIGN.md every failure case; docs/GLOSSARY.md defines the
// words (in hand, hand-off, fenced, the seed, ...).
//
// # The ZooKeeper layer
//
// The ZooKeeper client is package zookeeper
// (github.com/consumergroup/consumergroup/zookeeper): a client of the layout
// Kafka's ZooKeeper-era brokers and consumers agreed on (brokers, members,
// owners, offsets), with sessions, fenced claims and commits, and the admin
// operations. The group coordinates through it; tools use it directly. ZK,
// ZKConfig, ZKAuth, Session, DialZK, ... are its names under the seed's
// (aliases), and the package's sentinels (ErrNoNode, ErrAlreadyClaimed,
// ErrNotOwner, ErrSessionExpired, ErrBadData, ...) are re-exported with the
// same values: errors.Is matches either name.
package consumergroup
