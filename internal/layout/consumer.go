package layout

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrBadData is wrapped by every error about bytes read from ZooKeeper that
// do not follow the layout.
var ErrBadData = errors.New("bad data")

// Subscription patterns of a registration.
const (
	PatternStatic    = "static"
	PatternWhiteList = "white_list"
	PatternBlackList = "black_list"
)

// Registration is the JSON of /consumers/<group>/ids/<consumerID>, exactly
// as Kafka's own ZooKeeper consumer writes it:
//
//	{"version":1,"subscription":{"<topic>":1},"pattern":"static","timestamp":"1416974968782"}
//
// Field order and types matter to the tools that read it: timestamp is a
// string of Unix milliseconds, subscription maps a topic (or, for the list
// patterns, a regular expression) to a stream count.
type Registration struct {
	Version      int            `json:"version"`
	Subscription map[string]int `json:"subscription"`
	Pattern      string         `json:"pattern"`
	Timestamp    string         `json:"timestamp"`
}

// NewRegistration returns the static registration of a member subscribed to
// topics (one stream each) that started at start.
func NewRegistration(topics []string, start time.Time) Registration {
	sub := make(map[string]int, len(topics))
	for _, t := range topics {
		sub[t] = 1
	}
	return Registration{
		Version:      1,
		Subscription: sub,
		Pattern:      PatternStatic,
		Timestamp:    strconv.FormatInt(start.UnixMilli(), 10),
	}
}

// NewPatternRegistration returns the registration of a member subscribed by
// regular expression (one stream), as Kafka's consumer writes a whitelist:
// the regex is the subscription's key, the pattern "white_list".
func NewPatternRegistration(regex string, start time.Time) Registration {
	return Registration{
		Version:      1,
		Subscription: map[string]int{regex: 1},
		Pattern:      PatternWhiteList,
		Timestamp:    strconv.FormatInt(start.UnixMilli(), 10),
	}
}

// Encode returns the registration's bytes. Map keys are sorted, so the bytes
// are the same on every member.
// Like Kafka, it writes '<', '>' and '&' as they are (a white_list regex may
// hold them), not as \u003c escapes.
func (r Registration) Encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil { // a struct of strings and ints always encodes
		panic("layout: marshal registration: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Topics returns the subscribed topics (or patterns), sorted.
func (r Registration) Topics() []string {
	ts := make([]string, 0, len(r.Subscription))
	for t := range r.Subscription {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Time returns the registration's timestamp as a time.
func (r Registration) Time() time.Time {
	ms, _ := strconv.ParseInt(r.Timestamp, 10, 64)
	return time.UnixMilli(ms)
}

// ParseRegistration parses the JSON of a member's registration. It accepts
// the timestamp as Kafka writes it (a string of milliseconds) and as some
// older libraries wrote it (a JSON number).
func ParseRegistration(b []byte) (Registration, error) {
	var raw struct {
		Version      *int            `json:"version"`
		Subscription map[string]int  `json:"subscription"`
		Pattern      string          `json:"pattern"`
		Timestamp    json.RawMessage `json:"timestamp"`
	}
	if err := strictUnmarshal(b, &raw); err != nil {
		return Registration{}, fmt.Errorf("%w: consumer registration: %v", ErrBadData, err)
	}
	if raw.Version == nil {
		return Registration{}, fmt.Errorf("%w: consumer registration: no version", ErrBadData)
	}
	switch raw.Pattern {
	case PatternStatic, PatternWhiteList, PatternBlackList:
	default:
		return Registration{}, fmt.Errorf("%w: consumer registration: unknown pattern %q", ErrBadData, short(raw.Pattern))
	}
	if len(raw.Subscription) == 0 {
		return Registration{}, fmt.Errorf("%w: consumer registration: empty subscription", ErrBadData)
	}
	for t, n := range raw.Subscription {
		if n <= 0 {
			return Registration{}, fmt.Errorf("%w: consumer registration: topic %q has %d streams", ErrBadData, short(t), n)
		}
	}
	ts, err := parseTimestamp(raw.Timestamp)
	if err != nil {
		return Registration{}, fmt.Errorf("%w: consumer registration: %v", ErrBadData, err)
	}
	return Registration{
		Version:      *raw.Version,
		Subscription: raw.Subscription,
		Pattern:      raw.Pattern,
		Timestamp:    ts,
	}, nil
}

// parseTimestamp accepts "1416974968782" and 1416974968782; it returns the
// decimal string. Absent means "0".
func parseTimestamp(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "0", nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("timestamp: %v", err)
		}
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 {
		return "", fmt.Errorf("timestamp %s is not a non-negative integer of milliseconds", short(string(raw)))
	}
	return strconv.FormatInt(ms, 10), nil
}

// EncodeOffset returns the bytes of an offset node: the next offset to
// consume, in decimal.
func EncodeOffset(next int64) []byte {
	return strconv.AppendInt(nil, next, 10)
}

// ParseOffset parses an offset node. Surrounding white space is tolerated
// (tools that write with echo add a newline); anything else that is not a
// non-negative decimal integer, written as EncodeOffset writes it (digits
// only, no sign, no leading zero), is an error.
func ParseOffset(b []byte) (int64, error) {
	s := string(bytes.TrimSpace(b))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%w: offset %q is not a non-negative decimal integer", ErrBadData, truncate(b))
	}
	return n, nil
}

// ParseOwner parses an owner node: the owning consumer id as plain text
// (Kafka's own consumer appends "-<threadId>").
func ParseOwner(b []byte) (string, error) {
	s := string(b)
	if s == "" {
		return "", fmt.Errorf("%w: owner is empty", ErrBadData)
	}
	if err := checkSegment(s); err != nil {
		return "", fmt.Errorf("%w: owner %q: %v", ErrBadData, truncate(b), err)
	}
	return s, nil
}

// NewConsumerID returns a consumer id in Kafka's format,
// <group>_<hostname>-<startUnixMs>-<8 hex chars>, with the hex chars from
// random (crypto/rand.Reader when nil).
func NewConsumerID(group, hostname string, start time.Time, random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	var b [4]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("consumer id: read random bytes: %w", err)
	}
	host := strings.Map(func(r rune) rune {
		if r == '/' || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, hostname)
	if host == "" {
		host = "unknown"
	}
	id := group + "_" + host + "-" + strconv.FormatInt(start.UnixMilli(), 10) + "-" + hex.EncodeToString(b[:])
	if err := CheckName("consumer id", id); err != nil {
		return "", err
	}
	return id, nil
}

// ConsumerIDInfo is what a consumer id in Kafka's format tells.
type ConsumerIDInfo struct {
	Host  string
	Start time.Time
}

// ParseConsumerID reads the host and start time out of a consumer id of
// group in Kafka's format (a "-<threadId>" suffix is tolerated). ok is false
// for ids in another format.
func ParseConsumerID(group, id string) (info ConsumerIDInfo, ok bool) {
	rest, found := strings.CutPrefix(id, group+"_")
	if !found {
		return ConsumerIDInfo{}, false
	}
	parts := strings.Split(rest, "-")
	// host may itself contain '-': the start time is the last all-digit part
	// of 13 digits or so followed by a hex part.
	for i := len(parts) - 2; i >= 1; i-- {
		ms, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil || ms <= 0 || len(parts[i]) < 10 || !isHex(parts[i+1]) {
			continue
		}
		return ConsumerIDInfo{Host: strings.Join(parts[:i], "-"), Start: time.UnixMilli(ms)}, true
	}
	return ConsumerIDInfo{}, false
}

func isHex(s string) bool {
	if len(s) != 8 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// strictUnmarshal unmarshals one JSON value and rejects trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			return errors.New("empty: no JSON value")
		}
		// encoding/json quotes numbers in full: keep the message short.
		return errors.New(shortMessage(err.Error()))
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// truncate keeps error messages about large nodes short.
func truncate(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// short is truncate for strings.
func short(s string) string { return truncate([]byte(s)) }

// shortMessage cuts an error message to 256 bytes, on a rune boundary.
func shortMessage(msg string) string {
	const max = 256
	if len(msg) <= max {
		return msg
	}
	i := max
	for i > 0 && !utf8.RuneStart(msg[i]) {
		i--
	}
	return msg[:i] + "..."
}
