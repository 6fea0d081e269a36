package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Brokers returns the addresses (host:port) of the live Kafka brokers
// registered under /brokers/ids, in broker id order: of the listener named
// by Config.BrokerListener, or of the PLAINTEXT one. Registrations that
// cannot be read are left out and reported in the error, which matches
// ErrBadData; when no broker is usable the error also matches ErrNoBrokers.
//
// Kafka clusters without ZooKeeper (KRaft, Kafka 4) register nothing here:
// give their addresses to the group directly.
func (z *Client) Brokers(ctx context.Context) ([]string, error) {
	dir := z.paths.BrokerIDs()
	names, err := z.children(ctx, "list brokers", dir)
	if err != nil && !errors.Is(err, ErrNoNode) {
		return nil, err
	}
	var addrs []string
	var errs []error
	ids := make([]int32, 0, len(names))
	for _, n := range names {
		id, err := layout.ParseBrokerID(n)
		if err != nil {
			errs = append(errs, pathErr("read broker", dir+"/"+n, fmt.Errorf("%w: %v", layout.ErrBadData, err)))
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := z.paths.BrokerID(id)
		data, _, err := z.get(ctx, "read broker", p)
		if errors.Is(err, ErrNoNode) {
			continue // went away meanwhile
		}
		if err != nil {
			return nil, err
		}
		b, err := layout.ParseBroker(id, data)
		if err == nil {
			var addr string
			if addr, err = b.Addr(z.cfg.BrokerListener); err == nil {
				addrs = append(addrs, addr)
				continue
			}
			err = fmt.Errorf("%w: %v", layout.ErrBadData, err)
		}
		errs = append(errs, pathErr("read broker", p, err))
	}
	if len(addrs) == 0 {
		errs = append(errs, &PathError{Op: "list brokers", Path: dir, Err: ErrNoBrokers})
	}
	return addrs, errors.Join(errs...)
}

// TopicExists reports whether Kafka's brokers registered topic under
// /brokers/topics: one small read, whatever the topic's size (Partitions
// reads and parses the topic's whole assignment: about 110 KB of JSON at
// 10,000 partitions). False on a cluster that registers no topic there
// (KRaft): ask Kafka then.
func (z *Client) TopicExists(ctx context.Context, topic string) (bool, error) {
	if err := checkNames("read topic", "topic", topic); err != nil {
		return false, err
	}
	return z.exists(ctx, "read topic", z.paths.Topic(topic))
}

// Partitions returns the number of partitions of topic, from the assignment
// Kafka keeps at /brokers/topics/<topic>, and a watch that fires once when
// the assignment changes (partitions are added) or is deleted. A topic that
// does not exist gives an error that matches ErrNoNode.
func (z *Client) Partitions(ctx context.Context, topic string) (int32, <-chan Event, error) {
	if err := checkNames("read topic", "topic", topic); err != nil {
		return 0, nil, err
	}
	p := z.paths.Topic(topic)
	data, _, ch, err := z.getW(ctx, "read topic", p)
	if err != nil {
		return 0, nil, err
	}
	t, err := layout.ParseTopic(data)
	if err != nil {
		return 0, ch, pathErr("read topic", p, err)
	}
	return t.Count(), ch, nil
}

// Topics returns the topics Kafka's brokers registered under
// /brokers/topics, sorted, and, when watch is set, a watch that fires once
// when a topic is created or deleted (not when one grows: Partitions'
// watch says that); nil without. A cluster that registers no topic there
// (KRaft) gives an error that matches ErrNoNode: read its topics from
// Kafka instead.
func (z *Client) Topics(ctx context.Context, watch bool) ([]string, <-chan Event, error) {
	if !watch {
		names, err := z.children(ctx, "list topics", z.paths.Topics())
		return names, nil, err
	}
	return z.childrenW(ctx, "list topics", z.paths.Topics())
}

// PartitionLeaders returns the leader broker of each of tps as Kafka's
// controller records it in ZooKeeper, /brokers/topics/<topic>/partitions/
// <p>/state, read as getAll reads (multiReads, or getData readsInFlight at a
// time): requests in proportion to tps,
// whatever the size of their topics. A partition without a readable state
// (a cluster without ZooKeeper, KRaft, registers none; a partition without
// a leader, -1) is left out: ask Kafka's metadata for it. The record may lag
// behind a leader's change: a request sent to a broker that no longer leads
// the partition is refused by it (NOT_LEADER_OR_FOLLOWER).
func (z *Client) PartitionLeaders(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int32, error) {
	paths := make([]string, len(tps))
	for i, tp := range tps {
		if err := checkNames("read partition state", "topic", tp.Topic); err != nil {
			return nil, err
		}
		paths[i] = z.paths.PartitionState(tp.Topic, tp.Partition)
	}
	out := make(map[TopicPartition]int32, len(tps))
	for i, r := range z.getAll(ctx, "read partition state", paths) {
		switch {
		case errors.Is(r.err, ErrNoNode):
		case r.err != nil:
			return nil, r.err
		default:
			if leader, err := layout.ParsePartitionLeader(r.data); err == nil && leader >= 0 {
				out[tps[i]] = leader
			}
		}
	}
	return out, nil
}
