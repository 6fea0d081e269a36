package consumergroup

// PartitionLag is the one definition of a partition's lag used by Lag,
// EventsBehindLatest, DescribeGroup and the metrics: how many messages of
// the log the group has yet to process, logEnd minus where the group
// stands. The group stands at its committed offset; with no commit
// (committed < 0), or a commit below the log start (those messages are
// gone: the group restarts from InitialOffset), it stands at the log start,
// so that "the whole log" is what the log still holds. logStart < 0 means
// unknown: 0 is assumed. The lag is never negative (a commit past the log
// end, after the log was truncated, is 0), and -1 when logEnd is unknown
// (< 0): unknown never reads as zero.
func PartitionLag(committed, logStart, logEnd int64) int64 {
	if logEnd < 0 {
		return -1
	}
	from := max(committed, logStart, 0)
	return max(0, logEnd-from)
}
