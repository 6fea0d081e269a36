package consumergroup_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// The edges of issue 20: arguments and configurations that were accepted
// and then failed forever, or panicked.

// TestBadInputNilContext: every constructor that takes a context refuses a
// nil one with ErrInvalidArgument, as Next does, instead of panicking.
func TestBadInputNilContext(t *testing.T) {
	addr := []string{closedPort(t)}
	for _, tc := range []struct {
		name string
		join func() (*cg.ConsumerGroup, error)
	}{
		{"JoinKafkaConsumerGroup", func() (*cg.ConsumerGroup, error) {
			return cg.JoinKafkaConsumerGroup(nil, "g", []string{"t"}, addr, nil) //nolint:staticcheck
		}},
		{"JoinConsumerGroupTopics", func() (*cg.ConsumerGroup, error) {
			return cg.JoinConsumerGroupTopics(nil, "g", []string{"t"}, addr, nil) //nolint:staticcheck
		}},
		{"NewConsumerGroupTopics", func() (*cg.ConsumerGroup, error) {
			return cg.NewConsumerGroupTopics(nil, nil, nil, "g", []string{"t"}, nil, nil) //nolint:staticcheck
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g *cg.ConsumerGroup
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panicked: %v", r)
					}
				}()
				g, err = tc.join()
			}()
			if g != nil {
				g.Close()
			}
			if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "nil context") {
				t.Fatalf("got %v, want ErrInvalidArgument naming the nil context", err)
			}
		})
	}
}

// TestBadInputNameOutsideBMP: a group or topic name that ZooKeeper refuses
// (a character outside the Basic Multilingual Plane, which Java's UTF-16
// makes a surrogate pair) is refused at the join, naming the character,
// before anything is dialed: it used to pass, and the member repeated
// "mkdir ... invalid arguments" forever.
func TestBadInputNameOutsideBMP(t *testing.T) {
	addr := []string{closedPort(t)}
	for _, tc := range []struct {
		name string
		join func() (*cg.ConsumerGroup, error)
	}{
		{"group", func() (*cg.ConsumerGroup, error) { return cg.JoinConsumerGroup("grp-🙂", "t", addr, nil) }},
		{"topic", func() (*cg.ConsumerGroup, error) { return cg.JoinConsumerGroup("g", "t-🙂", addr, nil) }},
		{"kafka group", func() (*cg.ConsumerGroup, error) {
			return cg.JoinKafkaConsumerGroup(testCtx(t), "grp-🙂", []string{"t"}, addr, nil)
		}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			start := time.Now()
			g, err := tc.join()
			if g != nil {
				g.Close()
			}
			if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "U+1F642") {
				t.Fatalf("got %v, want ErrInvalidArgument naming U+1F642", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v: a bad name should be refused before dialing", d)
			}
		})
	}
}

// TestBadInputIntervalFloors: CommitInterval and MetadataInterval below
// their floors are refused, naming the field and the floor (1 ns used to
// be accepted, and an idle member then burned a core).
func TestBadInputIntervalFloors(t *testing.T) {
	for _, tc := range []struct {
		field string
		floor time.Duration
		set   func(*cg.ConsumerGroupConfig, time.Duration)
	}{
		{"CommitInterval", cg.MinCommitInterval, func(c *cg.ConsumerGroupConfig, d time.Duration) { c.CommitInterval = d }},
		{"MetadataInterval", cg.MinMetadataInterval, func(c *cg.ConsumerGroupConfig, d time.Duration) { c.MetadataInterval = d }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			for _, d := range []time.Duration{time.Nanosecond, tc.floor - time.Nanosecond} {
				cfg := cg.NewConsumerGroupConfig()
				tc.set(cfg, d)
				err := cfg.Validate()
				if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.floor.String()) {
					t.Fatalf("%v: Validate() = %v, want ErrInvalidArgument naming %s and its floor %v", d, err, tc.field, tc.floor)
				}
			}
			cfg := cg.NewConsumerGroupConfig()
			tc.set(cfg, tc.floor)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("the floor itself: Validate() = %v", err)
			}
		})
	}
}
