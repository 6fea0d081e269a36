package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Registration is what a member writes at /consumers/<group>/ids/<id>.
type Registration struct {
	Topics    []string  // subscribed topics (patterns for the list patterns), sorted
	Pattern   string    // "static", "white_list" or "black_list"
	Timestamp time.Time // when the member started
}

// Subscribes reports whether the registration subscribes to topic: lists
// it, or its pattern matches the whole name (white_list) or does not
// (black_list). An expression Go's regexp cannot compile (Kafka's
// consumers wrote Java's) subscribes to every topic: the safe answer for
// a refusal.
func (r Registration) Subscribes(topic string) bool {
	if r.Pattern != layout.PatternWhiteList && r.Pattern != layout.PatternBlackList {
		return slices.Contains(r.Topics, topic)
	}
	for _, expr := range r.Topics {
		re, err := regexp.Compile("^(?:" + expr + ")$")
		if err != nil {
			return true
		}
		if re.MatchString(topic) == (r.Pattern == layout.PatternWhiteList) {
			return true
		}
	}
	return false
}

// NewConsumerID returns a new consumer id in Kafka's format,
// <group>_<hostname>-<startUnixMs>-<8 random hex chars>.
func NewConsumerID(group string) (string, error) {
	if err := layout.CheckName("group", group); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	id, err := layout.NewConsumerID(group, host, time.Now(), nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return id, nil
}

// checkNames checks group, topic and id names before they become paths.
func checkNames(op string, names ...string) error {
	for i := 0; i+1 < len(names); i += 2 {
		if err := layout.CheckName(names[i], names[i+1]); err != nil {
			return &PathError{Op: op, Err: ErrInvalidArgument, Cause: err}
		}
	}
	return nil
}

// Groups lists the groups under /consumers, sorted.
func (z *Client) Groups(ctx context.Context) ([]string, error) {
	names, err := z.children(ctx, "list groups", z.paths.Consumers())
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	return names, err
}

// RegisterGroup creates the group's ids, owners and offsets nodes.
func (z *Client) RegisterGroup(ctx context.Context, group string) error {
	if err := checkNames("register group", "group", group); err != nil {
		return err
	}
	for _, p := range []string{z.paths.IDs(group), z.paths.Owners(group), z.paths.Offsets(group)} {
		if err := z.mkdirAll(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// RegisterConsumer registers member id in group as subscribed to topics,
// with an ephemeral node that lives as long as the session. Registering an
// id this session already registered updates its subscription; an id
// registered by another session gives ErrNodeExists.
func (z *Client) RegisterConsumer(ctx context.Context, group, id string, topics ...string) error {
	if err := checkNames("register consumer", "group", group, "consumer id", id); err != nil {
		return err
	}
	if len(topics) == 0 {
		return &PathError{Op: "register consumer", Path: z.paths.ID(group, id), Err: ErrInvalidArgument, Cause: errors.New("no topic")}
	}
	for _, t := range topics {
		if err := checkNames("register consumer", "topic", t); err != nil {
			return err
		}
	}
	return z.register(ctx, group, id, layout.NewRegistration(topics, time.Now()).Encode())
}

// RegisterConsumerPattern registers member id in group as subscribed to
// the topics that the regular expression pattern matches, the way Kafka's
// consumer registers a whitelist ("pattern":"white_list", the regex as the
// subscription's key): Kafka's tools read it as such. Otherwise as
// RegisterConsumer.
func (z *Client) RegisterConsumerPattern(ctx context.Context, group, id, pattern string) error {
	if err := checkNames("register consumer", "group", group, "consumer id", id); err != nil {
		return err
	}
	if _, err := regexp.Compile(pattern); err != nil || pattern == "" {
		if err == nil {
			err = errors.New("empty pattern")
		}
		return &PathError{Op: "register consumer", Path: z.paths.ID(group, id), Err: ErrInvalidArgument, Cause: err}
	}
	return z.register(ctx, group, id, layout.NewPatternRegistration(pattern, time.Now()).Encode())
}

// register creates member id's registration with data, or updates it when
// this session created it.
func (z *Client) register(ctx context.Context, group, id string, data []byte) error {
	p := z.paths.ID(group, id)
	if err := z.checkWrite("register consumer", p, data, z.acl); err != nil {
		return err // so many topics: neither the create nor the set below fits
	}
	err := z.create(ctx, "register consumer", p, data, true)
	if !errors.Is(err, ErrNodeExists) {
		return err
	}
	_, stat, gerr := z.get(ctx, "register consumer", p)
	if gerr != nil {
		return gerr
	}
	if sid := z.sessionID(); sid == 0 || stat.EphemeralOwner != sid {
		return err
	}
	return pathErr("register consumer", p, z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Set(p, data, stat.Version); return err }))
}

// DeregisterConsumer deletes member id's registration. A registration that
// does not exist is not an error.
func (z *Client) DeregisterConsumer(ctx context.Context, group, id string) error {
	if err := checkNames("deregister consumer", "group", group, "consumer id", id); err != nil {
		return err
	}
	p := z.paths.ID(group, id)
	err := z.call(ctx, func(conn *zk.Conn) error { return conn.Delete(p, -1) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return pathErr("deregister consumer", p, err)
}

// Consumers returns the ids of the group's members, sorted (the same order
// on every member), and a watch that fires once on the next join or leave
// (graceful or by session expiry). When the group has no ids node yet, the
// list is empty and the watch fires when it is created. A watch also fires,
// with an error event, when the session or connection it was set on ends:
// read again on every event.
func (z *Client) Consumers(ctx context.Context, group string) ([]string, <-chan Event, error) {
	if err := checkNames("list consumers", "group", group); err != nil {
		return nil, nil, err
	}
	p := z.paths.IDs(group)
	for {
		ids, ch, err := z.childrenW(ctx, "list consumers", p)
		if !errors.Is(err, ErrNoNode) {
			return ids, ch, err
		}
		ok, ch, err := z.existsW(ctx, "list consumers", p)
		if err != nil || !ok {
			return nil, ch, err
		}
		// Created meanwhile: list it.
	}
}

// Registration reads member id's registration.
func (z *Client) Registration(ctx context.Context, group, id string) (Registration, error) {
	if err := checkNames("read registration", "group", group, "consumer id", id); err != nil {
		return Registration{}, err
	}
	p := z.paths.ID(group, id)
	data, _, err := z.get(ctx, "read registration", p)
	if err != nil {
		return Registration{}, err
	}
	r, err := layout.ParseRegistration(data)
	if err != nil {
		return Registration{}, pathErr("read registration", p, err)
	}
	return Registration{Topics: r.Topics(), Pattern: r.Pattern, Timestamp: r.Time()}, nil
}

// Members returns the ids of the group's members, sorted, as Consumers
// does but without a watch: for a look at the group rather than following
// it. A group without members (or without an ids node) has none.
func (z *Client) Members(ctx context.Context, group string) ([]string, error) {
	if err := checkNames("list consumers", "group", group); err != nil {
		return nil, err
	}
	ids, err := z.children(ctx, "list consumers", z.paths.IDs(group))
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	return ids, err
}

// existsW reports whether p exists and sets a watch on its creation,
// change or deletion.
// WatchConsumer reports whether member id is registered in group and sets
// a watch that fires once when its registration is created or deleted. A
// member that is not its group's leader follows the one registered right
// before it this way (a leave of any other member changes nothing for it),
// instead of every join and leave (Consumers).
func (z *Client) WatchConsumer(ctx context.Context, group, id string) (bool, <-chan Event, error) {
	if err := checkNames("watch consumer", "group", group, "member", id); err != nil {
		return false, nil, err
	}
	return z.existsW(ctx, "watch consumer", z.paths.ID(group, id))
}

func (z *Client) existsW(ctx context.Context, op, p string) (bool, <-chan zk.Event, error) {
	var ok bool
	var ch <-chan zk.Event
	err := z.call(ctx, func(conn *zk.Conn) error { var err error; ok, _, ch, err = conn.ExistsW(p); return err })
	if err != nil {
		return false, nil, pathErr(op, p, err)
	}
	return ok, ch, nil
}

// sessionID returns the live session's id, 0 when there is none.
func (z *Client) sessionID() int64 {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.sess == nil {
		return 0
	}
	return z.sess.id
}
