package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// scaleTick: with -traffic, every tick the producer writes one message to
// every partition of the scale topic (1,000 per 50 ms: 20,000 msg/s).
const scaleTick = 50 * time.Millisecond

// scalePause separates two measured changes, so that the group is at rest
// when the next one starts.
const scalePause = 300 * time.Millisecond

// scaleKey names a system of part 3 for -systems.
type scaleKey struct {
	key string
	sys system
	zk  bool // ours on ZooKeeper: owners are read from ZooKeeper
}

// scaleSystemKeys are the systems of part 3, in the report's order: ours on
// each coordinator, and franz-go's own group consumers on Kafka's
// coordinator, the reference (to tell ours from the coordinator's cost).
var scaleSystemKeys = []scaleKey{
	{"zk", system{"ours (sticky)", startOursDirect}, true},
	{"classic", system{"ours on Kafka classic (cooperative-sticky)", startOursKafka(consumergroup.GroupProtocolClassic)}, false},
	{"848", system{"ours on Kafka KIP-848 (uniform)", startOursKafka(consumergroup.GroupProtocolConsumer)}, false},
	{"bare-classic", system{"franz-go classic cooperative-sticky (bare)", startKgo(kgo.CooperativeStickyBalancer())}, false},
	{"bare-848", system{"franz-go KIP-848 (bare)", startKgo(kgo.CooperativeStickyBalancer(), kgo.ServerSideBalancer())}, false},
}

// scaleSystems are the systems -systems names (default: ours on each
// coordinator, and the bare ones when -filter is given, as before
// -systems), those -filter selects, without KIP-848 on Kafka 3.9.
func scaleSystems(b *bench) []scaleKey {
	keys := b.scale.systems
	if len(keys) == 0 && !b.scale.herd {
		keys = []string{"zk", "classic", "848"}
		if len(b.only) > 0 {
			keys = append(keys, "bare-classic", "bare-848")
		}
	}
	var out []scaleKey
	for _, k := range scaleSystemKeys {
		if !slices.Contains(keys, k.key) || !b.selected(k.sys.name) {
			continue
		}
		if b.broker == "apache" && strings.Contains(k.key, "848") {
			continue // Kafka 3.9 has no KIP-848
		}
		out = append(out, k)
	}
	return out
}

// scaleGrid returns the sizes of the part: -members × -partitions, or the
// run's one size.
func scaleGrid(b *bench) (members []int, partitions []int32) {
	members, partitions = b.scale.members, b.scale.partitions
	if len(members) == 0 {
		members = []int{b.sz.scaleMembers}
	}
	if len(partitions) == 0 {
		partitions = []int32{b.sz.scalePartitions}
	}
	return members, partitions
}

func scale(ctx context.Context, b *bench) error {
	if b.scale.reps == 0 {
		b.scale.reps = b.sz.scaleReps
	}
	if b.scale.timeout == 0 {
		b.scale.timeout = 2 * time.Minute
	}
	members, partitions := scaleGrid(b)
	syss := scaleSystems(b)
	var cells []*cellResult
	var herds []herdResult
	for _, parts := range partitions {
		topic := fmt.Sprintf("scale-%d", parts)
		if err := b.kafka.CreateTopic(ctx, topic, parts); err != nil {
			return err
		}
		stopProducer := func() {}
		if b.scale.traffic {
			var err error
			if stopProducer, err = startProducer(b, topic, parts, scaleTick); err != nil {
				return err
			}
		}
		for _, n := range members {
			for _, k := range syss {
				group := fmt.Sprintf("scale-%s-%d-%d", k.key, n, parts)
				c, err := runCell(ctx, b, k, topic, group, n, int(parts))
				if err != nil {
					stopProducer()
					return fmt.Errorf("%s, %d members × %d partitions: %w", k.sys.name, n, parts, err)
				}
				cells = append(cells, c)
				b.logf("scale: %s", c.summary())
			}
		}
		// After every cell of the topic: herd writes records to the
		// topic, which the groups of later cells would deliver (a Stream
		// member holds its last message: a hand-off would wait for it).
		for _, n := range members {
			if b.scale.herd {
				h := herd(ctx, b, topic, n, int(parts))
				herds = append(herds, h)
				b.logf("scale: %s", h.summary())
			}
		}
		stopProducer()
	}
	b.rep.section(renderScale(b, syss, cells))
	if len(herds) > 0 {
		b.rep.section(renderHerd(herds))
	}
	scaleTargets(b, cells)
	return nil
}

// cores is the machine's share of one core per CPU: CPU shares are of all
// of them.
func cores() float64 { return float64(runtime.NumCPU()) }
