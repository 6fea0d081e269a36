package consumergroup_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestKafkaAssignedReadsItsOffsetsOnly: a member assigned part of a topic
// reads the committed offsets of its partitions only. It read the group's
// every offset at each assignment (kadm's FetchOffsets: an OffsetFetch
// naming no topic): at 500 members on 10,000 partitions, 500 answers of
// 10,000 offsets per rebalance. Each member of two on a topic of 8
// partitions, all committed, starts at its partitions' committed offsets.
func TestKafkaAssignedReadsItsOffsetsOnly(t *testing.T) {
	for _, s := range []setup{{coord: coordClassic, kind: testenv.KindKfake}, {coord: coordConsumer, kind: testenv.KindKfake}} {
		t.Run(s.name(), func(t *testing.T) {
			c := startClusterSetup(t, s, map[string]int32{"t": 8})
			ctx := testCtx(t)
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			offs := make(kadm.Offsets)
			for p := range int32(8) {
				for range 3 {
					if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: p, Value: []byte("v")}).FirstErr(); err != nil {
						t.Fatal(err)
					}
				}
				offs.Add(kadm.Offset{Topic: "t", Partition: p, At: 2, LeaderEpoch: -1})
			}
			if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "g", offs); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			var whole int          // OffsetFetch requests naming no topic (the group's every offset)
			asked := map[int]int{} // partitions named per request, by count
			kc := c.kafka.(*testenv.Kafka).Cluster()
			kc.ControlKey(int16(kmsg.OffsetFetch), func(r kmsg.Request) (kmsg.Response, error, bool) {
				kc.KeepControl()
				req := r.(*kmsg.OffsetFetchRequest)
				n, all := 0, len(req.Topics) == 0 && len(req.Groups) == 0
				for _, t := range req.Topics {
					n += len(t.Partitions)
				}
				for _, g := range req.Groups {
					all = all || len(g.Topics) == 0
					for _, t := range g.Topics {
						n += len(t.Partitions)
					}
				}
				mu.Lock()
				if all {
					whole++
				} else {
					asked[n]++
				}
				mu.Unlock()
				return nil, nil, false
			})

			cfg := cg.NewConsumerGroupConfig()
			cfg.GroupProtocol = map[string]string{coordClassic: cg.GroupProtocolClassic, coordConsumer: cg.GroupProtocolConsumer}[s.coord]
			var got sync.Map // partition -> first offset delivered
			var members []*cg.ConsumerGroup
			for range 2 {
				g, err := cg.JoinKafkaConsumerGroup(ctx, "g", []string{"t"}, c.kafka.Addrs(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				members = append(members, g)
				go func() {
					for ev := range g.Stream() {
						got.LoadOrStore(ev.Partition, ev.Offset)
						g.MarkDone(ev)
					}
				}()
			}
			defer func() {
				for _, g := range members {
					g.Close()
				}
			}()
			testenv.WaitFor(t, 30*time.Second, "a record of every partition delivered", func() error {
				n := 0
				got.Range(func(any, any) bool { n++; return true })
				if n < 8 {
					return fmt.Errorf("%d of 8 partitions delivered", n)
				}
				return nil
			})
			got.Range(func(p, off any) bool {
				if off.(int64) != 2 {
					t.Errorf("partition %d started at %d, want its committed offset 2", p, off)
				}
				return true
			})
			mu.Lock()
			defer mu.Unlock()
			t.Logf("OffsetFetch requests: %d of the whole group, by partitions named: %v", whole, asked)
			if whole > 0 {
				t.Errorf("%d OffsetFetch requests asked for the group's every offset", whole)
			}
			for n := range asked {
				if n > 8 {
					t.Errorf("an OffsetFetch named %d partitions", n)
				}
			}
		})
	}
}
