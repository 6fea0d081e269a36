package consumergroup

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestKafkaJoinProbeReadsOnePartition: the join's check that its topics
// exist asks for one partition of each (DescribeTopicPartitions), not for
// the topic's every partition (Metadata): at 500 members joining a topic of
// 10,000 partitions, the probe's Metadata answers were a fifth of the
// start's CPU. Brokers without DescribeTopicPartitions (Kafka before 3.8,
// or in ZooKeeper mode), and one that fails it, are asked Metadata, with
// the same errors.
func TestKafkaJoinProbeReadsOnePartition(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions *kversion.Versions // nil: kfake's own
		refuse   bool               // DescribeTopicPartitions fails
		wantMeta bool               // the probe falls back to Metadata
	}{
		{name: "describe"},
		{name: "no-describe", versions: withoutKey(kmsg.DescribeTopicPartitions), wantMeta: true},
		{name: "describe-fails", refuse: true, wantMeta: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1000, "t"), kfake.SeedTopics(3, "u")}
			if tc.versions != nil {
				opts = append(opts, kfake.MaxVersions(tc.versions))
			}
			kc, err := kfake.NewCluster(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer kc.Close()

			var mu sync.Mutex
			var metaTopics, described int // Metadata requests naming topics; DescribeTopicPartitions requests
			var limits []int32
			kc.ControlKey(int16(kmsg.Metadata), func(r kmsg.Request) (kmsg.Response, error, bool) {
				kc.KeepControl()
				if req := r.(*kmsg.MetadataRequest); req.Topics == nil || len(req.Topics) > 0 {
					mu.Lock()
					metaTopics++
					mu.Unlock()
				}
				return nil, nil, false
			})
			kc.ControlKey(int16(kmsg.DescribeTopicPartitions), func(r kmsg.Request) (kmsg.Response, error, bool) {
				kc.KeepControl()
				mu.Lock()
				described++
				limits = append(limits, r.(*kmsg.DescribeTopicPartitionsRequest).ResponsePartitionLimit)
				mu.Unlock()
				if tc.refuse {
					return nil, errors.New("refused"), true
				}
				return nil, nil, false
			})
			counts := func() (int, int, []int32) {
				mu.Lock()
				defer mu.Unlock()
				m, d, l := metaTopics, described, limits
				metaTopics, described, limits = 0, 0, nil
				return m, d, l
			}

			cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.RetryTimeout(2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cfg := NewConsumerGroupConfig()

			matching, err := checkKafka(ctx, cl, []string{"t", "u"}, cfg)
			if err != nil || !matching {
				t.Fatalf("checkKafka(t, u) = %v, %v; want true, nil", matching, err)
			}
			m, d, l := counts()
			if tc.wantMeta {
				if m == 0 {
					t.Errorf("checkKafka sent no Metadata naming its topics: the fallback did not run")
				}
			} else {
				if m != 0 {
					t.Errorf("checkKafka sent %d Metadata requests naming topics (every partition of each): want 0", m)
				}
				if d != 2 {
					t.Errorf("checkKafka sent %d DescribeTopicPartitions requests: want one per topic, 2", d)
				}
				for _, n := range l {
					if n != 1 {
						t.Errorf("DescribeTopicPartitions asked for %d partitions: want 1", n)
					}
				}
			}

			_, err = checkKafka(ctx, cl, []string{"t", "missing", "u"}, cfg)
			if !errors.Is(err, ErrUnknownTopic) || !strings.Contains(err.Error(), `"missing"`) {
				t.Errorf("checkKafka(t, missing, u) = %v; want ErrUnknownTopic naming \"missing\"", err)
			}
			if m, _, _ := counts(); !tc.wantMeta && m != 0 {
				t.Errorf("checkKafka of a missing topic sent %d Metadata requests naming topics: want 0", m)
			}
		})
	}
}

// withoutKey is kfake's versions without key.
func withoutKey(key kmsg.Key) *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(key.Int16(), -1)
	return v
}

// TestKafkaResumeListsItsPartitionsOnly: a member resuming its partitions
// after a silence (resumeOffsets) lists the start offsets of the
// partitions it holds with nothing committed, not of their topics' every
// partition (kadm's ListStartOffsets): after a loaded start of 500
// members on 10,000 partitions, 110 resumes listed 10,000 offsets each.
// Each partition resumes at its committed offset, or at its log's start.
func TestKafkaResumeListsItsPartitionsOnly(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(100, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, p := range []int32{3, 5, 7} {
		for range 4 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: p, Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Partition 3's log starts at 2; partition 5 has a commit at 3.
	del := kmsg.NewPtrDeleteRecordsRequest()
	dt := kmsg.NewDeleteRecordsRequestTopic()
	dt.Topic = "t"
	dp := kmsg.NewDeleteRecordsRequestTopicPartition()
	dp.Partition, dp.Offset = 3, 2
	dt.Partitions = append(dt.Partitions, dp)
	del.Topics = append(del.Topics, dt)
	if resp, err := del.RequestWith(ctx, cl); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("delete records: %v %+v", err, resp)
	}
	offs := make(kadm.Offsets)
	offs.Add(kadm.Offset{Topic: "t", Partition: 5, At: 3, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatalf("commit: %v", err)
	}

	var mu sync.Mutex
	var listed []int // partitions named per ListOffsets request
	kc.ControlKey(int16(kmsg.ListOffsets), func(r kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		n := 0
		for _, t := range r.(*kmsg.ListOffsetsRequest).Topics {
			n += len(t.Partitions)
		}
		mu.Lock()
		listed = append(listed, n)
		mu.Unlock()
		return nil, nil, false
	})
	coord := &kafkaCoordinator{g: &ConsumerGroup{name: "g", ctx: ctx, cfg: *NewConsumerGroupConfig(), admin: kadm.NewClient(cl)}, cl: cl, session: 5 * time.Second}
	got := coord.resumeOffsets([]TopicPartition{{Topic: "t", Partition: 3}, {Topic: "t", Partition: 5}, {Topic: "t", Partition: 7}})
	want := map[TopicPartition]int64{{Topic: "t", Partition: 3}: 2, {Topic: "t", Partition: 5}: 3, {Topic: "t", Partition: 7}: 0}
	if len(got) != len(want) {
		t.Errorf("resumeOffsets = %v, want %v", got, want)
	}
	for tp, off := range want {
		if got[tp] != off {
			t.Errorf("resumeOffsets[%v] = %d, want %d", tp, got[tp], off)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range listed {
		if n > 2 {
			t.Errorf("a ListOffsets request named %d partitions: want the 2 held with nothing committed", n)
		}
	}
	if len(listed) == 0 {
		t.Errorf("no ListOffsets request: the uncommitted partitions' starts were not listed")
	}
}
