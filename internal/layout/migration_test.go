package layout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/layout"
)

func TestMigrationMarker(t *testing.T) {
	p, err := layout.NewPaths("/kafka/")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Migration("g"); got != "/kafka/consumers/g/migration" {
		t.Fatalf("Migration path %q", got)
	}
	at := time.UnixMilli(1764480000123)
	m := layout.NewMigrationMarker(at, "groupctl migrate", "k1:9092,k2:9092")
	want := `{"version":1,"to":"kafka","timestamp":"1764480000123","by":"groupctl migrate","bootstrap":"k1:9092,k2:9092"}`
	if got := string(m.Encode()); got != want {
		t.Fatalf("Encode: %s, want %s", got, want)
	}
	back, err := layout.ParseMigrationMarker(m.Encode())
	if err != nil || back != m || !back.Time().Equal(at) {
		t.Fatalf("ParseMigrationMarker(Encode) = %+v, %v", back, err)
	}
	for _, tc := range []struct{ data, msg string }{
		{"", "empty"},
		{"garbage", "invalid character"},
		{`{"version":2,"to":"kafka","timestamp":"1"}`, "version 2"},
		{`{"version":1,"to":"zookeeper","timestamp":"1"}`, `to "zookeeper"`},
		{`{"version":1,"to":"kafka","timestamp":"yesterday"}`, `timestamp "yesterday"`},
		{`{"version":1,"to":"kafka","timestamp":"-5"}`, `timestamp "-5"`},
		{`{"version":1,"to":"kafka","timestamp":"1"} {}`, "trailing data"},
	} {
		_, err := layout.ParseMigrationMarker([]byte(tc.data))
		if !errors.Is(err, layout.ErrBadData) || !strings.Contains(err.Error(), "migration marker") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseMigrationMarker(%q) = %v; want ErrBadData naming the marker and %q", tc.data, err, tc.msg)
		}
	}
}
