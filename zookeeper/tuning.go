package zookeeper

// The client's tuning constants, in one place: not configurable, each with
// its reason. The configurable ones are Config's.
const (
	// callAttempts bounds how often a ZooKeeper request whose
	// connection was lost before the answer came is sent (Client.call).
	callAttempts = 4

	// createOffsetsRounds bounds how often CreateMissingOffsets lists the
	// offset nodes again after another member created some of those it was
	// creating; past it, the rest are created dropping one per round trip.
	createOffsetsRounds = 4

	// claimConflicts bounds how often Client.ClaimAll sends its multi again
	// after a partition turned out to be owned; the rest is claimed one
	// by one (the member lists the owners first, so conflicts are rare).
	claimConflicts = 8

	// offsetListing: past this many partitions of a topic whose offset
	// nodes are not known to exist, CommitOffsets lists the topic's offset
	// nodes (one request, an answer of about 8 bytes a node) rather than
	// asking for each (one round trip each).
	offsetListing = 16
)
