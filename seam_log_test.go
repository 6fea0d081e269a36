package consumergroup

import (
	"strings"
	"testing"
)

// TestPartitionListLogValue: partitions in a log line are ranges per topic,
// and a member of 10,000 partitions logs a short line.
func TestPartitionListLogValue(t *testing.T) {
	tps := []TopicPartition{{Topic: "b", Partition: 0}, {Topic: "a", Partition: 3}, {Topic: "a", Partition: 1}, {Topic: "a", Partition: 2}, {Topic: "a", Partition: 7}}
	if got, want := partitionList(tps).LogValue().String(), "a[1-3 7] b[0]"; got != want {
		t.Errorf("%v logs %q, want %q", tps, got, want)
	}
	var many []TopicPartition
	for p := range int32(10_000) {
		many = append(many, TopicPartition{Topic: "t", Partition: p * 2})
	}
	got := partitionList(many).LogValue().String()
	if len(got) > logLimit+100 || !strings.HasSuffix(got, "(10000 partitions in all)") {
		t.Errorf("10,000 partitions log %d characters: %.120q...", len(got), got)
	}
}
