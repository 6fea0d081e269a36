package zookeeper

import (
	"cmp"
	"slices"
)

// TopicPartition names one partition of a topic. The consumer group uses
// the same type (consumergroup.TopicPartition is an alias of it).
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Compare orders topic-partitions by topic, then partition: -1, 0 or +1, as
// cmp.Compare, for slices.SortFunc.
func (tp TopicPartition) Compare(o TopicPartition) int {
	if c := cmp.Compare(tp.Topic, o.Topic); c != 0 {
		return c
	}
	return cmp.Compare(tp.Partition, o.Partition)
}

// sortPartitions sorts topic-partitions by topic, then partition: the
// order of every multi that names several, so that tools enumerating
// partitions see them appear in order.
func sortPartitions(tps []TopicPartition) { slices.SortFunc(tps, TopicPartition.Compare) }
