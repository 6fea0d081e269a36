package layout_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// TestPathsGolden checks every Paths method against the paths of the layout
// document, at the root and under chroots (a trailing slash is removed).
func TestPathsGolden(t *testing.T) {
	for _, tc := range []struct {
		chroot string
		prefix string // what every path starts with
	}{
		{"", ""},
		{"/", ""},
		{"/kafka", "/kafka"},
		{"/kafka/", "/kafka"},
		{"/kafka//", "/kafka"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b"},
	} {
		p, err := layout.NewPaths(tc.chroot)
		if err != nil {
			t.Fatalf("NewPaths(%q): %v", tc.chroot, err)
		}
		if got := p.Chroot(); got != tc.prefix {
			t.Errorf("NewPaths(%q).Chroot() = %q, want %q", tc.chroot, got, tc.prefix)
		}
		c := tc.prefix
		for _, g := range []struct{ name, got, want string }{
			{"Consumers", p.Consumers(), c + "/consumers"},
			{"Group", p.Group("g"), c + "/consumers/g"},
			{"IDs", p.IDs("g"), c + "/consumers/g/ids"},
			{"ID", p.ID("g", "g_host-1416974968782-0a1b2c3d"), c + "/consumers/g/ids/g_host-1416974968782-0a1b2c3d"},
			{"Owners", p.Owners("g"), c + "/consumers/g/owners"},
			{"OwnersTopic", p.OwnersTopic("g", "t"), c + "/consumers/g/owners/t"},
			{"Owner", p.Owner("g", "t", 0), c + "/consumers/g/owners/t/0"},
			{"Owner 17", p.Owner("g", "t", 17), c + "/consumers/g/owners/t/17"},
			{"Offsets", p.Offsets("g"), c + "/consumers/g/offsets"},
			{"OffsetsTopic", p.OffsetsTopic("g", "t"), c + "/consumers/g/offsets/t"},
			{"Offset", p.Offset("g", "t", 0), c + "/consumers/g/offsets/t/0"},
			{"Offset 17", p.Offset("g", "t", 17), c + "/consumers/g/offsets/t/17"},
			{"BrokerIDs", p.BrokerIDs(), c + "/brokers/ids"},
			{"BrokerID", p.BrokerID(1001), c + "/brokers/ids/1001"},
			{"Topics", p.Topics(), c + "/brokers/topics"},
			{"Topic", p.Topic("t"), c + "/brokers/topics/t"},
			{"PartitionState", p.PartitionState("t", 3), c + "/brokers/topics/t/partitions/3/state"},
		} {
			if g.got != g.want {
				t.Errorf("chroot %q: %s = %q, want %q", tc.chroot, g.name, g.got, g.want)
			}
		}
	}
}

// TestPathsFullyWritten spells out the paths under /kafka in full, so that a
// mistake in the prefix logic of the test above cannot hide one in Paths.
func TestPathsFullyWritten(t *testing.T) {
	p, err := layout.NewPaths("/kafka/")
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		p.Consumers():                 "/kafka/consumers",
		p.ID("grp", "grp_h-1-aa"):     "/kafka/consumers/grp/ids/grp_h-1-aa",
		p.Owner("grp", "events", 5):   "/kafka/consumers/grp/owners/events/5",
		p.Offset("grp", "events", 5):  "/kafka/consumers/grp/offsets/events/5",
		p.BrokerID(0):                 "/kafka/brokers/ids/0",
		p.Topic("events"):             "/kafka/brokers/topics/events",
		p.PartitionState("events", 5): "/kafka/brokers/topics/events/partitions/5/state",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	var zero layout.Paths
	if got, want := zero.Offset("g", "t", 1), "/consumers/g/offsets/t/1"; got != want {
		t.Errorf("zero Paths: Offset = %q, want %q", got, want)
	}
	if layout.ConsumersPath != "/consumers" || layout.BrokerIDsPath != "/brokers/ids" || layout.TopicsPath != "/brokers/topics" {
		t.Errorf("root constants changed: %q %q %q", layout.ConsumersPath, layout.BrokerIDsPath, layout.TopicsPath)
	}
}

func TestAbsRel(t *testing.T) {
	for _, tc := range []struct {
		chroot, rel, abs string
	}{
		{"", "/", "/"},
		{"", "/consumers/g", "/consumers/g"},
		{"/kafka", "/", "/kafka"},
		{"/kafka", "/consumers/g", "/kafka/consumers/g"},
		{"/kafka/", "/brokers/ids/1", "/kafka/brokers/ids/1"},
		{"/a/b", "/", "/a/b"},
		{"/a/b", "/consumers", "/a/b/consumers"},
	} {
		p, err := layout.NewPaths(tc.chroot)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Abs(tc.rel); got != tc.abs {
			t.Errorf("chroot %q: Abs(%q) = %q, want %q", tc.chroot, tc.rel, got, tc.abs)
		}
		rel, ok := p.Rel(tc.abs)
		if !ok || rel != tc.rel {
			t.Errorf("chroot %q: Rel(%q) = %q, %v, want %q, true", tc.chroot, tc.abs, rel, ok, tc.rel)
		}
		// Every path that Paths builds is under the chroot.
		if rel, ok := p.Rel(p.Offset("g", "t", 2)); !ok || rel != "/consumers/g/offsets/t/2" {
			t.Errorf("chroot %q: Rel(Offset) = %q, %v", tc.chroot, rel, ok)
		}
	}

	// Paths outside the chroot, including ones that merely share a prefix.
	for _, tc := range []struct{ chroot, abs string }{
		{"", ""},
		{"", "consumers"},
		{"/kafka", "/"},
		{"/kafka", "/kafka2"},
		{"/kafka", "/kafka2/consumers"},
		{"/kafka", "/kafk"},
		{"/kafka", "/other/consumers"},
		{"/kafka", ""},
		{"/a/b", "/a"},
		{"/a/b", "/a/bc"},
	} {
		p, err := layout.NewPaths(tc.chroot)
		if err != nil {
			t.Fatal(err)
		}
		if rel, ok := p.Rel(tc.abs); ok {
			t.Errorf("chroot %q: Rel(%q) = %q, true; want not under the chroot", tc.chroot, tc.abs, rel)
		}
	}
}

var badChroots = []struct{ in, msg string }{
	{"kafka", "must start with '/'"},
	{"kafka/", "must start with '/'"},
	{"/a//b", "empty"},
	{"//kafka", "empty"},
	{"/a/./b", `"." and ".."`},
	{"/a/..", `"." and ".."`},
	{"/ka\x00fka", "U+0000"},
	{"/ka\nfka", "U+000A"},
	{"/ka\xffka", "UTF-8"},
	{"/a/\ue000", "U+E000"},
	{"/kafka/grp-🙂", "U+1F642"},
}

var normalizeChrootCases = []struct{ in, want string }{
	{"", ""},
	{"/", ""},
	{"//", ""},
	{"/kafka", "/kafka"},
	{"/kafka/", "/kafka"},
	{"/kafka///", "/kafka"},
	{"/a/b", "/a/b"},
	{"/a/b/", "/a/b"},
	{"/kafka-prod.1", "/kafka-prod.1"},
	{"/käfka", "/käfka"},
	{"/a/\ufeff", "/a/\ufeff"},
}

func TestNormalizeChroot(t *testing.T) {
	for _, tc := range normalizeChrootCases {
		got, err := layout.NormalizeChroot(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeChroot(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range badChroots {
		got, err := layout.NormalizeChroot(tc.in)
		if err == nil {
			t.Errorf("NormalizeChroot(%q) = %q, nil; want an error", tc.in, got)
			continue
		}
		if !errors.Is(err, layout.ErrInvalidChroot) {
			t.Errorf("NormalizeChroot(%q): error %v does not wrap ErrInvalidChroot", tc.in, err)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("NormalizeChroot(%q): error %q does not say %q", tc.in, err, tc.msg)
		}
		if _, err := layout.NewPaths(tc.in); !errors.Is(err, layout.ErrInvalidChroot) {
			t.Errorf("NewPaths(%q): error %v, want ErrInvalidChroot", tc.in, err)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{
		"g", "my-group", "my_group.v2", "topic-1", "a..b", "...", "zookeeper",
		"g_host-1416974968782-0a1b2c3d", "日本語", "with space",
		// ZooKeeper refuses none of these: its rules are exactly those of
		// PathUtils.validatePath (see checkSegment).
		"a\ufeffb", "\u00a0", "\u00a0\u00ff", "\uf900", "\uffef", ".a", "a.", "\u0020",
	} {
		if err := layout.CheckName("group", name); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", name, err)
		}
	}
	for _, tc := range []struct{ name, msg string }{
		{"", "empty"},
		{".", `"." and ".."`},
		{"..", `"." and ".."`},
		{"a/b", "'/'"},
		{"/", "'/'"},
		{"a\x00b", "U+0000"},
		{"a\tb", "U+0009"},
		{"a\x7fb", "U+007F"},
		{"a\u0085b", "U+0085"},
		{"a\u001fb", "U+001F"},
		{"a\u009fb", "U+009F"},
		{"a\ue000b", "U+E000"},
		{"a\uf8ffb", "U+F8FF"},
		{"a\ufff0b", "U+FFF0"},
		{"a\ufffdb", "U+FFFD"},
		{"a\uffffb", "U+FFFF"},
		{"grp-🙂", "U+1F642"},
		{"\U00010000", "U+10000"},
		{"\U0010FFFF", "U+10FFFF"},
		{"a\xffb", "UTF-8"},
		{"\xc3", "UTF-8"},
	} {
		err := layout.CheckName("topic", tc.name)
		if err == nil {
			t.Errorf("CheckName(%q) = nil, want an error", tc.name)
			continue
		}
		if !errors.Is(err, layout.ErrInvalidName) {
			t.Errorf("CheckName(%q): %v does not wrap ErrInvalidName", tc.name, err)
		}
		if msg := err.Error(); !strings.Contains(msg, tc.msg) || !strings.Contains(msg, "topic") {
			t.Errorf("CheckName(%q): error %q does not name the topic and say %q", tc.name, msg, tc.msg)
		}
	}
}

func TestParsePartitionAndBrokerID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
	}{
		{"0", 0}, {"1", 1}, {"17", 17}, {"1001", 1001}, {"2147483647", 2147483647},
	} {
		if got, err := layout.ParsePartition(tc.in); err != nil || got != tc.want {
			t.Errorf("ParsePartition(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if got, err := layout.ParseBrokerID(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseBrokerID(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "-1", "01", "00", "+1", "-0", " 1", "1 ", "1a", "0x1", "2147483648", "1e3", "١"} {
		if got, err := layout.ParsePartition(in); err == nil {
			t.Errorf("ParsePartition(%q) = %d, nil; want an error", in, got)
		} else if !strings.Contains(err.Error(), "partition") {
			t.Errorf("ParsePartition(%q): error %q does not say partition", in, err)
		}
		if got, err := layout.ParseBrokerID(in); err == nil {
			t.Errorf("ParseBrokerID(%q) = %d, nil; want an error", in, got)
		} else if !strings.Contains(err.Error(), "broker id") {
			t.Errorf("ParseBrokerID(%q): error %q does not say broker id", in, err)
		}
	}
}
