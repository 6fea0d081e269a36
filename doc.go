// Package consumergroup is a Kafka consumer group coordinated through
// ZooKeeper, on Kafka's own ZooKeeper layout: many instances of a service
// read one or more topics together, every message is processed by exactly
// one of them, and partitions move between instances as they come and go.
//
// This first layer is ZK: a ZooKeeper connection that speaks the layout
// Kafka's ZooKeeper-era brokers and consumers agreed on, byte for byte, so
// that existing monitoring tools (Burrow, offset checkers) understand the
// groups it writes:
//
//	/brokers/ids/<id>                               brokers (read: Brokers)
//	/brokers/topics/<topic>                         partitions (read: Partitions)
//	/consumers/<group>/ids/<consumerId>             members (RegisterConsumer, Consumers)
//	/consumers/<group>/owners/<topic>/<partition>   claims (Claim, Release, Owner)
//	/consumers/<group>/offsets/<topic>/<partition>  next offset to consume (Commit, CommitOffsets, Offset)
//
// A ZooKeeper session is a thing of its own (Session): the registration
// and the claims of a member are ephemeral nodes that die with it, so ZK
// tells when it ends. CommitOffsets is fenced: one atomic multi that writes
// nothing once the member has lost any of the partitions it commits.
//
// Errors are PathErrors that name the operation and the znode and match the
// package's sentinels (ErrNoNode, ErrAlreadyClaimed, ErrNotOwner,
// ErrSessionExpired, ErrBadData, ...) with errors.Is.
package consumergroup
