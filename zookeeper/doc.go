// Package zookeeper is a client of Kafka's ZooKeeper layout: the znodes
// through which Kafka's ZooKeeper-era brokers and consumers (Kafka 0.8 to
// 3.x) described a cluster and its consumer groups, byte for byte, so that
// the tools that read that layout (Burrow, offset checkers,
// kafka-consumer-groups.sh --zookeeper) understand what it writes. It is
// what package consumergroup coordinates its ZooKeeper groups with, as
// franz-go's kadm sits beside kgo; it can also be used on its own, by tools
// that inspect, reset or move a group.
//
// # The layout
//
//	/brokers/ids/<id>                               brokers (read: Brokers)
//	/brokers/topics/<topic>                         partitions (read: Partitions)
//	/consumers/<group>/ids/<consumerId>             members (RegisterConsumer, Consumers, Members, Registration)
//	/consumers/<group>/owners/<topic>/<partition>   claims (Claim, ClaimAll, Release, ReleaseAll, Owner, OwnerW, Owners)
//	/consumers/<group>/offsets/<topic>/<partition>  next offset to consume (Commit, CommitOffsets, Offset, Offsets)
//	/consumers/<group>/assignment                   the leader's assignment (ReadAssignment, PublishAssignment)
//	/consumers/<group>/assignment/<consumerId>      a member's part of it (ReadMemberAssignment)
//	/consumers/<group>/migration                    the migration marker (Migration, MarkMigrated, ClearMigration)
//
// The last three are not Kafka's: the consumer group's leader publishes its
// assignment there, and groupctl migrate marks a group moved to Kafka's own
// group coordinator. Tools that read the layout ignore them. Config.Chroot
// puts everything under a prefix, as Kafka's zookeeper.connect=host/chroot.
//
// # Sessions and fencing
//
// A ZooKeeper session is a thing of its own (Session): a member's
// registration and its claims are ephemeral nodes that live exactly as long
// as the session that created them. Session.Done is closed when it ends
// (the server expired it, the Client was closed, or the client was cut off
// long enough that the server may have expired it: the Client then opens a
// new session rather than resume one whose nodes may be gone). A member
// that registers again after that takes a new consumer id (NewConsumerID).
//
// Claims and commits are fenced. Claim and ClaimAll check, in the same
// atomic multi that creates the owner nodes, that the member is registered.
// CommitOffsets checks, in the multi that writes an offset, that the member
// is still registered and still owns the partition: a member that lost a
// partition, to a session expiry or a release, can never move its offset.
// Commit is the unfenced write of tools.
//
// # Admin operations
//
// ResetOffsets, DeleteGroup and DeleteOffsets change a group that has no
// members (no member consuming the topic, for DeleteOffsets) and refuse,
// changing nothing, with ErrGroupActive otherwise; a group that does not
// exist gives ErrUnknownGroup (CheckGroup tells beforehand).
//
// # Errors
//
// Errors are *PathError values that name the operation and the znode (chroot
// included), and match the package's sentinels with errors.Is: ErrNoNode,
// ErrNodeExists, ErrAlreadyClaimed, ErrNotOwner, ErrNotRegistered,
// ErrSessionExpired, ErrConnectionLoss, ErrBadData (a node that does not
// follow the layout), ErrInvalidArgument, ErrNoBrokers, ErrRequestTooLarge,
// ErrClosed. The
// cause underneath (a go-zookeeper error such as zk.ErrNoAuth, a parse
// error) is matched too. Package consumergroup re-exports the sentinels
// with the same values.
//
// # Requests
//
// Every blocking method takes a context. go-zookeeper has none: when ctx
// ends first, the method returns ctx's error at once and the request may
// still be applied by the server. A request whose connection is lost before
// the answer is sent again once the connection is back: every request the
// client makes is safe to repeat.
//
// Every request is sized before it is sent, by the length ZooKeeper checks
// against its jute.maxbuffer (1,048,575 bytes by default; over it, the
// server closes the connection), and none goes over Config.MaxRequestBytes
// (512 KiB by default). Claims, releases, commits, offset-node creation and
// resets of many partitions go in as many multis as that takes (chunks:
// 2 or 3 for 10,000 partitions), each atomic; the methods' docs say what
// holds across chunks: a chunked claim that fails leaves no owner node, a
// chunked release deletes only the member's nodes, a chunked commit writes
// no offset after the partition's ownership ended. A request that cannot
// fit, one node's data alone, fails unsent with ErrRequestTooLarge, naming
// the node and the size.
package zookeeper
