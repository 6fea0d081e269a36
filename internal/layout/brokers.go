package layout

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// DefaultListener is the listener name Brokers picks when none is named.
const DefaultListener = "PLAINTEXT"

// Broker is what a Kafka broker writes at /brokers/ids/<id> (JSON versions 1
// to 5: v1 has host and port, v2 adds endpoints, v4 the listener map and the
// rack; a broker with several listeners may write a null host and port -1).
type Broker struct {
	ID        int32
	Version   int
	Host      string // "" when the broker wrote null
	Port      int    // -1 or 0 when the broker wrote none
	Endpoints []Endpoint
	Rack      string
}

// Endpoint is one listener of a broker, from "NAME://host:port".
type Endpoint struct {
	Listener         string // the listener name, e.g. PLAINTEXT, INTERNAL
	SecurityProtocol string // from the listener map; the name itself when absent
	Host             string
	Port             int
}

// Addr returns host:port, bracketing IPv6 hosts.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// ParseBroker parses the registration of broker id.
func ParseBroker(id int32, b []byte) (Broker, error) {
	var raw struct {
		Version     *int              `json:"version"`
		Host        *string           `json:"host"`
		Port        *int              `json:"port"`
		Endpoints   []string          `json:"endpoints"`
		ListenerMap map[string]string `json:"listener_security_protocol_map"`
		Rack        *string           `json:"rack"`
	}
	if err := strictUnmarshal(b, &raw); err != nil {
		return Broker{}, fmt.Errorf("%w: broker %d: %v", ErrBadData, id, err)
	}
	if raw.Version == nil {
		return Broker{}, fmt.Errorf("%w: broker %d: no version", ErrBadData, id)
	}
	br := Broker{ID: id, Version: *raw.Version, Port: -1}
	if raw.Host != nil {
		br.Host = *raw.Host
	}
	if raw.Port != nil {
		br.Port = *raw.Port
	}
	if raw.Rack != nil {
		br.Rack = *raw.Rack
	}
	if br.Host != "" && (br.Port < 1 || br.Port > 65535) {
		return Broker{}, fmt.Errorf("%w: broker %d: port %d is out of range", ErrBadData, id, br.Port)
	}
	if err := checkHost(br.Host); err != nil {
		return Broker{}, fmt.Errorf("%w: broker %d: %v", ErrBadData, id, err)
	}
	for _, s := range raw.Endpoints {
		ep, err := parseEndpoint(s)
		if err != nil {
			return Broker{}, fmt.Errorf("%w: broker %d: %v", ErrBadData, id, err)
		}
		ep.SecurityProtocol = ep.Listener
		if p, ok := raw.ListenerMap[ep.Listener]; ok {
			if p == "" {
				return Broker{}, fmt.Errorf("%w: broker %d: listener %q has an empty security protocol", ErrBadData, id, short(ep.Listener))
			}
			ep.SecurityProtocol = p
		}
		br.Endpoints = append(br.Endpoints, ep)
	}
	if br.Host == "" && len(br.Endpoints) == 0 {
		return Broker{}, fmt.Errorf("%w: broker %d: neither host nor endpoints", ErrBadData, id)
	}
	return br, nil
}

func parseEndpoint(s string) (Endpoint, error) {
	name, hostport, ok := strings.Cut(s, "://")
	if !ok || name == "" {
		return Endpoint{}, fmt.Errorf("endpoint %q is not NAME://host:port", short(s))
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) { // its message repeats the whole address
			err = errors.New(ae.Err)
		}
		return Endpoint{}, fmt.Errorf("endpoint %q: %v", short(s), err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return Endpoint{}, fmt.Errorf("endpoint %q: port %q is out of range", short(s), short(port))
	}
	if err := checkHost(host); err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: %v", short(s), err)
	}
	return Endpoint{Listener: strings.ToUpper(name), Host: host, Port: p}, nil
}

// checkHost rejects a host that cannot form a host:port with a port: one
// with brackets, or with a colon that is not part of an IPv6 address (a
// host that already carries a port). Addr would build an address that
// cannot be dialed or split again from it.
func checkHost(host string) error {
	if strings.ContainsAny(host, "[]") {
		return fmt.Errorf("host %q contains a bracket", short(host))
	}
	if strings.Contains(host, ":") {
		ip, _, _ := strings.Cut(host, "%") // an IPv6 zone: fe80::1%eth0
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("host %q contains ':' but is not an IPv6 address", short(host))
		}
	}
	return nil
}

// Addr returns the address of the broker's listener (case-insensitive), or,
// when listener is empty, of the PLAINTEXT listener, else of the first
// listener whose security protocol is PLAINTEXT, else of the host and port
// fields. An empty host in an endpoint (a broker listening on every
// interface) gives an error: it cannot be dialed.
func (b Broker) Addr(listener string) (string, error) {
	if listener != "" {
		for _, e := range b.Endpoints {
			if strings.EqualFold(e.Listener, listener) {
				return endpointAddr(b.ID, e)
			}
		}
		return "", fmt.Errorf("broker %d has no listener %q (it has %s)", b.ID, listener, b.listeners())
	}
	for _, e := range b.Endpoints {
		if e.Listener == DefaultListener {
			return endpointAddr(b.ID, e)
		}
	}
	for _, e := range b.Endpoints {
		if e.SecurityProtocol == DefaultListener {
			return endpointAddr(b.ID, e)
		}
	}
	if b.Host != "" {
		return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), nil
	}
	return "", fmt.Errorf("broker %d has no PLAINTEXT listener (it has %s): name the listener to use", b.ID, b.listeners())
}

func endpointAddr(id int32, e Endpoint) (string, error) {
	if e.Host == "" {
		return "", fmt.Errorf("broker %d: listener %s has no host", id, e.Listener)
	}
	return e.Addr(), nil
}

func (b Broker) listeners() string {
	if len(b.Endpoints) == 0 {
		return "no endpoints"
	}
	names := make([]string, len(b.Endpoints))
	for i, e := range b.Endpoints {
		names[i] = e.Listener
	}
	return strings.Join(names, ", ")
}

// TopicAssignment is the JSON of /brokers/topics/<topic>:
// {"version":1,"partitions":{"0":[1,2],"1":[2,3]}}.
type TopicAssignment struct {
	Version    int
	Partitions map[int32][]int32 // partition id to replica broker ids
}

// Count returns the number of partitions.
func (t TopicAssignment) Count() int32 { return int32(len(t.Partitions)) }

// ParseTopic parses a topic's assignment. Partition ids must be 0..n-1.
func ParseTopic(b []byte) (TopicAssignment, error) {
	var raw struct {
		Version    *int               `json:"version"`
		Partitions map[string][]int32 `json:"partitions"`
	}
	if err := strictUnmarshal(b, &raw); err != nil {
		return TopicAssignment{}, fmt.Errorf("%w: topic assignment: %v", ErrBadData, err)
	}
	if raw.Version == nil {
		return TopicAssignment{}, fmt.Errorf("%w: topic assignment: no version", ErrBadData)
	}
	if raw.Partitions == nil {
		return TopicAssignment{}, fmt.Errorf("%w: topic assignment: no partitions", ErrBadData)
	}
	t := TopicAssignment{Version: *raw.Version, Partitions: make(map[int32][]int32, len(raw.Partitions))}
	for k, replicas := range raw.Partitions {
		p, err := ParsePartition(k)
		if err != nil {
			return TopicAssignment{}, fmt.Errorf("%w: topic assignment: %v", ErrBadData, err)
		}
		t.Partitions[p] = replicas
	}
	for p := int32(0); p < int32(len(t.Partitions)); p++ {
		if _, ok := t.Partitions[p]; !ok {
			return TopicAssignment{}, fmt.Errorf("%w: topic assignment: %d partitions but no partition %d", ErrBadData, len(t.Partitions), p)
		}
	}
	return t, nil
}

// Encode returns the assignment's JSON, partitions in numeric order.
func (t TopicAssignment) Encode() []byte {
	ids := make([]int32, 0, len(t.Partitions))
	for p := range t.Partitions {
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var sb strings.Builder
	sb.WriteString(`{"version":`)
	sb.WriteString(strconv.Itoa(t.Version))
	sb.WriteString(`,"partitions":{`)
	for i, p := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"%d":`, p)
		r, _ := json.Marshal(t.Partitions[p])
		if t.Partitions[p] == nil {
			r = []byte("[]")
		}
		sb.Write(r)
	}
	sb.WriteString("}}")
	return []byte(sb.String())
}

// ParsePartitionLeader parses the leader of a partition's state node,
// /brokers/topics/<topic>/partitions/<p>/state, as Kafka's controller
// writes it: {"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,
// "isr":[2,1]}; -1 when the partition has no leader. Only "leader" is
// read: the controller adds fields from version to version.
func ParsePartitionLeader(b []byte) (int32, error) {
	var raw struct {
		Leader *int32 `json:"leader"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return 0, fmt.Errorf("%w: partition state: %v", ErrBadData, err)
	}
	if raw.Leader == nil {
		return 0, fmt.Errorf("%w: partition state: no leader", ErrBadData)
	}
	return *raw.Leader, nil
}
