package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// registry writes a Kafka cluster's broker side of the ZooKeeper layout
// (see zookeeper-layout.md) through its own ZooKeeper session. Like a
// Kafka broker, it registers its brokers again when a session expires,
// and its writes ride out a lost connection.
type registry struct {
	conn   *zk.Conn
	chroot string
	done   chan struct{} // closed when watch returns, after go-zookeeper's goroutines end

	mu         sync.Mutex             // guards registered; held across registrations
	registered map[int32]brokerDetail // brokers to register on every new session
}

// nopZKLogger silences go-zookeeper, which otherwise logs through the
// standard logger.
type nopZKLogger struct{}

func (nopZKLogger) Printf(string, ...any) {}

// Retries of ZooKeeper operations that failed with the connection.
const (
	// registryRetryTimeout bounds the retries of one operation: it covers
	// a reconnection, or a session expiry and a new session.
	registryRetryTimeout = 20 * time.Second
	registryRetryMin     = 20 * time.Millisecond
	registryRetryMax     = 500 * time.Millisecond
	// registryCloseTimeout bounds how long close waits for go-zookeeper's
	// goroutines to end.
	registryCloseTimeout = 10 * time.Second
)

// newRegistry connects to ZooKeeper and waits for the session.
func newRegistry(ctx context.Context, servers []string, chroot string) (*registry, error) {
	if len(servers) == 0 {
		return nil, errorf("no ZooKeeper server to register the Kafka cluster in")
	}
	conn, events, err := zk.Connect(servers, kafkaZKSessionTimeout,
		zk.WithLogger(nopZKLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("testenv: connecting to ZooKeeper %v: %w", servers, err)
	}
	r := &registry{
		conn:       conn,
		chroot:     chroot,
		done:       make(chan struct{}),
		registered: make(map[int32]brokerDetail),
	}
	session := make(chan struct{})
	go r.watch(events, session)
	select {
	case <-session:
		return r, nil
	case <-ctx.Done():
		err := fmt.Errorf("testenv: no ZooKeeper session with %v: %w", servers, ctx.Err())
		return nil, errors.Join(err, r.close())
	}
}

// watch follows the session's events until go-zookeeper closes the
// channel (after Close, once its goroutines have ended). It closes session
// at the first session, and registers the brokers again on each session
// that follows an expiry, as Kafka brokers do.
func (r *registry) watch(events <-chan zk.Event, session chan<- struct{}) {
	defer close(r.done)
	first, expired := true, false
	for ev := range events {
		switch {
		case ev.Type != zk.EventSession:
		case ev.State == zk.StateExpired:
			expired = true
		case ev.State == zk.StateHasSession && first:
			first = false
			close(session)
		case ev.State == zk.StateHasSession && expired:
			expired = false
			r.reregister()
		}
	}
}

// reregister registers every registered broker again, on a new session.
// Failures are not reported: the connection is closing or lost again, and
// the next session retries.
func (r *registry) reregister() {
	ctx, cancel := context.WithTimeout(context.Background(), registryRetryTimeout)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(r.registered)) {
		_ = r.createBroker(ctx, r.registered[id])
	}
}

// close ends the session and waits until go-zookeeper's goroutines and
// watch have ended.
func (r *registry) close() error {
	r.conn.Close()
	timer := time.NewTimer(registryCloseTimeout)
	defer timer.Stop()
	select {
	case <-r.done:
		return nil
	case <-timer.C:
		return errorf("the ZooKeeper connection did not end %v after Close", registryCloseTimeout)
	}
}

// retry runs op until it succeeds, fails other than by losing the
// connection, or ctx ends.
func (r *registry) retry(ctx context.Context, op func() error) error {
	backoff := registryRetryMin
	for {
		err := op()
		if !errors.Is(err, zk.ErrConnectionClosed) && !errors.Is(err, zk.ErrNoServer) && !errors.Is(err, zk.ErrSessionExpired) {
			return err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (retried until: %w)", err, ctx.Err())
		case <-timer.C:
		}
		backoff = min(2*backoff, registryRetryMax)
	}
}

// path prefixes p with the chroot.
func (r *registry) path(p string) string { return r.chroot + p }

// brokerRegistration is /brokers/ids/<id>, in the v4 format Kafka 2.x and
// 3.x brokers write (field order as Kafka writes it).
type brokerRegistration struct {
	ListenerSecurityProtocolMap map[string]string `json:"listener_security_protocol_map"`
	Endpoints                   []string          `json:"endpoints"`
	JMXPort                     int               `json:"jmx_port"`
	Host                        string            `json:"host"`
	Timestamp                   string            `json:"timestamp"` // unix milliseconds, as a string
	Port                        int32             `json:"port"`
	Version                     int               `json:"version"`
}

// topicRegistration is /brokers/topics/<topic>: each partition's replicas,
// the preferred leader first.
type topicRegistration struct {
	Version    int                `json:"version"`
	Partitions map[string][]int32 `json:"partitions"`
}

// partitionState is /brokers/topics/<topic>/partitions/<p>/state.
type partitionState struct {
	ControllerEpoch int32   `json:"controller_epoch"`
	Leader          int32   `json:"leader"`
	Version         int     `json:"version"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	ISR             []int32 `json:"isr"`
}

// registerBroker creates /brokers/ids/<id> as an ephemeral node, and
// again on every session after an expiry. Like a Kafka broker, it fails
// when the id is registered already, by us or by another session.
func (r *registry) registerBroker(ctx context.Context, b brokerDetail) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.registered[b.id]; ok {
		return errorf("broker %d is registered already", b.id)
	}
	if err := r.createBroker(ctx, b); err != nil {
		return err
	}
	r.registered[b.id] = b
	return nil
}

// createBroker writes broker b's registration; r.mu is held.
func (r *registry) createBroker(ctx context.Context, b brokerDetail) error {
	data, err := json.Marshal(brokerRegistration{
		ListenerSecurityProtocolMap: map[string]string{"PLAINTEXT": "PLAINTEXT"},
		Endpoints:                   []string{"PLAINTEXT://" + hostPort(b.host, b.port)},
		JMXPort:                     -1,
		Host:                        b.host,
		Timestamp:                   strconv.FormatInt(time.Now().UnixMilli(), 10),
		Port:                        b.port,
		Version:                     4,
	})
	if err != nil {
		return fmt.Errorf("testenv: encoding broker %d: %w", b.id, err)
	}
	path := r.path("/brokers/ids/" + strconv.Itoa(int(b.id)))
	if err := r.ensureParents(ctx, path); err != nil {
		return err
	}
	err = r.retry(ctx, func() error {
		_, err := r.conn.Create(path, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			// Ours when a try whose answer was lost created it.
			_, stat, getErr := r.conn.Get(path)
			if getErr != nil {
				return getErr
			}
			if stat.EphemeralOwner == r.conn.SessionID() {
				return nil
			}
			return fmt.Errorf("%w by session 0x%x", err, stat.EphemeralOwner)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("testenv: registering broker %d at %s: %w", b.id, path, err)
	}
	return nil
}

// unregisterBroker deletes /brokers/ids/<id> and stops registering it on
// new sessions. Unregistering an unregistered broker does nothing.
func (r *registry) unregisterBroker(ctx context.Context, id int32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.registered, id)
	path := r.path("/brokers/ids/" + strconv.Itoa(int(id)))
	err := r.retry(ctx, func() error { return r.conn.Delete(path, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("testenv: unregistering broker %d at %s: %w", id, path, err)
	}
	return nil
}

// registerTopic writes /brokers/topics/<topic> with every partition's
// replicas, then creates the state node of each partition that has none,
// in the order a Kafka controller writes them.
func (r *registry) registerTopic(ctx context.Context, topic string, parts []kmsg.MetadataResponseTopicPartition) error {
	assignment := topicRegistration{Version: 1, Partitions: make(map[string][]int32, len(parts))}
	for _, p := range parts {
		replicas := p.Replicas
		if len(replicas) == 0 {
			replicas = []int32{p.Leader}
		}
		assignment.Partitions[strconv.Itoa(int(p.Partition))] = replicas
	}
	data, err := json.Marshal(assignment)
	if err != nil {
		return fmt.Errorf("testenv: encoding topic %q: %w", topic, err)
	}
	topicPath := r.path("/brokers/topics/" + topic)
	if err := r.put(ctx, topicPath, data); err != nil {
		return err
	}
	if err := r.create(ctx, topicPath+"/partitions", nil); err != nil {
		return err
	}
	for _, p := range parts {
		isr := p.ISR
		if len(isr) == 0 {
			isr = []int32{p.Leader}
		}
		state, err := json.Marshal(partitionState{
			ControllerEpoch: 1,
			Leader:          p.Leader,
			Version:         1,
			LeaderEpoch:     max(p.LeaderEpoch, 0),
			ISR:             isr,
		})
		if err != nil {
			return fmt.Errorf("testenv: encoding the state of %s/%d: %w", topic, p.Partition, err)
		}
		partitionPath := fmt.Sprintf("%s/partitions/%d", topicPath, p.Partition)
		if err := r.create(ctx, partitionPath, nil); err != nil {
			return err
		}
		if err := r.create(ctx, partitionPath+"/state", state); err != nil {
			return err
		}
	}
	return nil
}

// put sets path's data, creating it and its parents as persistent nodes
// when missing.
func (r *registry) put(ctx context.Context, path string, data []byte) error {
	err := r.retry(ctx, func() error {
		_, err := r.conn.Set(path, data, -1)
		if !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		if err := r.ensureParents(ctx, path); err != nil {
			return err
		}
		_, err = r.conn.Create(path, data, 0, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) { // created meanwhile, or by a try whose answer was lost
			_, err = r.conn.Set(path, data, -1)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("testenv: writing %s: %w", path, err)
	}
	return nil
}

// create creates path as a persistent node; an existing node is fine.
func (r *registry) create(ctx context.Context, path string, data []byte) error {
	err := r.retry(ctx, func() error {
		_, err := r.conn.Create(path, data, 0, zk.WorldACL(zk.PermAll))
		return err
	})
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("testenv: creating %s: %w", path, err)
	}
	return nil
}

// deleteTree deletes path and every node under it; a node already gone
// is not an error.
func (r *registry) deleteTree(ctx context.Context, path string) error {
	var children []string
	err := r.retry(ctx, func() error {
		var err error
		children, _, err = r.conn.Children(path)
		return err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("testenv: listing %s: %w", path, err)
	}
	for _, c := range children {
		if err := r.deleteTree(ctx, path+"/"+c); err != nil {
			return err
		}
	}
	err = r.retry(ctx, func() error { return r.conn.Delete(path, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("testenv: deleting %s: %w", path, err)
	}
	return nil
}

// ensureParents creates every missing ancestor of path as an empty
// persistent node.
func (r *registry) ensureParents(ctx context.Context, path string) error {
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			if err := r.create(ctx, path[:i], nil); err != nil {
				return err
			}
		}
	}
	return nil
}
