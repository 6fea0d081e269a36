package layout

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Migration is the node that marks a group moved to Kafka's group
// coordinator: /consumers/<group>/migration. Like the assignment node, it is
// not part of Kafka's layout; it sits beside ids, owners and offsets, which
// it leaves as they are (the offsets stay, for a rollback), and tools that
// read the layout ignore it.
func (p Paths) Migration(group string) string { return p.Group(group) + "/migration" }

// MigrationMarker is the JSON of the migration node:
//
//	{"version":1,"to":"kafka","timestamp":"1764480000000","by":"groupctl migrate","bootstrap":"k1:9092"}
//
// timestamp is Unix milliseconds as a string, as in Kafka's own nodes.
type MigrationMarker struct {
	Version   int    `json:"version"`
	To        string `json:"to"`
	Timestamp string `json:"timestamp"`
	By        string `json:"by,omitempty"`
	Bootstrap string `json:"bootstrap,omitempty"`
}

// MigratedToKafka is the only destination a marker names.
const MigratedToKafka = "kafka"

// NewMigrationMarker returns the marker of a move to Kafka's coordinator
// at t, by the tool by, toward the brokers bootstrap.
func NewMigrationMarker(t time.Time, by, bootstrap string) MigrationMarker {
	return MigrationMarker{Version: 1, To: MigratedToKafka, Timestamp: strconv.FormatInt(t.UnixMilli(), 10), By: by, Bootstrap: bootstrap}
}

// Time returns the marker's timestamp.
func (m MigrationMarker) Time() time.Time {
	ms, _ := strconv.ParseInt(m.Timestamp, 10, 64)
	return time.UnixMilli(ms)
}

// Encode returns the node's bytes.
func (m MigrationMarker) Encode() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic("layout: marshal migration marker: " + err.Error())
	}
	return b
}

// ParseMigrationMarker parses a migration node.
func ParseMigrationMarker(b []byte) (MigrationMarker, error) {
	var m MigrationMarker
	if err := strictUnmarshal(b, &m); err != nil {
		return MigrationMarker{}, fmt.Errorf("%w: migration marker: %v", ErrBadData, shortMessage(err.Error()))
	}
	if m.Version != 1 || m.To != MigratedToKafka {
		return MigrationMarker{}, fmt.Errorf("%w: migration marker: version %d, to %q (want 1, %q)", ErrBadData, m.Version, short(m.To), MigratedToKafka)
	}
	if ms, err := strconv.ParseInt(m.Timestamp, 10, 64); err != nil || ms < 0 {
		return MigrationMarker{}, fmt.Errorf("%w: migration marker: timestamp %q is not Unix milliseconds", ErrBadData, short(m.Timestamp))
	}
	return m, nil
}
