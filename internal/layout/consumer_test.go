package layout_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// kafkaStart is the start time of the examples: 1416974968782 ms.
var kafkaStart = time.UnixMilli(1416974968782)

func TestRegistrationEncodeGolden(t *testing.T) {
	for _, tc := range []struct {
		topics []string
		want   string
	}{
		{[]string{"t"}, `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"1416974968782"}`},
		{[]string{"zeta", "alpha", "mid-topic"}, `{"version":1,"subscription":{"alpha":1,"mid-topic":1,"zeta":1},"pattern":"static","timestamp":"1416974968782"}`},
		{[]string{"b", "a", "b"}, `{"version":1,"subscription":{"a":1,"b":1},"pattern":"static","timestamp":"1416974968782"}`},
		{[]string{"t.1", "t_2", "T3"}, `{"version":1,"subscription":{"T3":1,"t.1":1,"t_2":1},"pattern":"static","timestamp":"1416974968782"}`},
	} {
		r := layout.NewRegistration(tc.topics, kafkaStart)
		got := r.Encode()
		if string(got) != tc.want {
			t.Errorf("NewRegistration(%q).Encode()\n got %s\nwant %s", tc.topics, got, tc.want)
		}
		// Same bytes every time (map order must not leak).
		for i := 0; i < 20; i++ {
			if again := r.Encode(); !bytes.Equal(again, got) {
				t.Fatalf("Encode is not deterministic: %s then %s", got, again)
			}
		}
		back, err := layout.ParseRegistration(got)
		if err != nil {
			t.Fatalf("ParseRegistration(%s): %v", got, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("ParseRegistration(Encode()) = %+v, want %+v", back, r)
		}
		if !back.Time().Equal(kafkaStart) {
			t.Errorf("Time() = %v, want %v", back.Time(), kafkaStart)
		}
	}

	// The timestamp is milliseconds as a string, never seconds or a number.
	r := layout.NewRegistration([]string{"t"}, time.Unix(1416974968, 782_999_999))
	if r.Timestamp != "1416974968782" {
		t.Errorf("Timestamp = %q, want milliseconds as a string", r.Timestamp)
	}
	if got := r.Topics(); !reflect.DeepEqual(got, []string{"t"}) {
		t.Errorf("Topics() = %q", got)
	}
	if got := layout.NewRegistration([]string{"c", "a", "b"}, kafkaStart).Topics(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("Topics() = %q, want sorted", got)
	}
}

var parseRegistrationCases = []struct {
	name string
	in   string
	want layout.Registration
}{
	{
		"as Kafka writes it",
		`{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"1416974968782"}`,
		layout.Registration{Version: 1, Subscription: map[string]int{"t": 1}, Pattern: "static", Timestamp: "1416974968782"},
	},
	{
		"Kafka, several topics and streams, other key order",
		`{"pattern":"static","timestamp":"1416974968782","subscription":{"a":2,"b":1},"version":1}`,
		layout.Registration{Version: 1, Subscription: map[string]int{"a": 2, "b": 1}, Pattern: "static", Timestamp: "1416974968782"},
	},
	{
		"numeric timestamp of older libraries",
		`{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":1416974968782}`,
		layout.Registration{Version: 1, Subscription: map[string]int{"t": 1}, Pattern: "static", Timestamp: "1416974968782"},
	},
	{
		"white list regex",
		`{"version":1,"subscription":{"events\\..*":1},"pattern":"white_list","timestamp":"1416974968782"}`,
		layout.Registration{Version: 1, Subscription: map[string]int{`events\..*`: 1}, Pattern: "white_list", Timestamp: "1416974968782"},
	},
	{
		"black list",
		`{"version":1,"subscription":{"__.*":1},"pattern":"black_list","timestamp":"1416974968782"}`,
		layout.Registration{Version: 1, Subscription: map[string]int{"__.*": 1}, Pattern: "black_list", Timestamp: "1416974968782"},
	},
	{
		"no timestamp",
		`{"version":1,"subscription":{"t":1},"pattern":"static"}`,
		layout.Registration{Version: 1, Subscription: map[string]int{"t": 1}, Pattern: "static", Timestamp: "0"},
	},
	{
		"surrounding white space",
		" {\"version\":1,\"subscription\":{\"t\":1},\"pattern\":\"static\",\"timestamp\":\"1\"}\n",
		layout.Registration{Version: 1, Subscription: map[string]int{"t": 1}, Pattern: "static", Timestamp: "1"},
	},
}

func TestParseRegistration(t *testing.T) {
	for _, tc := range parseRegistrationCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := layout.ParseRegistration([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseRegistration(%s): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseRegistration(%s)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

var parseRegistrationBadCases = []struct {
	name, in, msg string
}{
	{"empty node", ``, "empty"},
	{"truncated", `{"version":1,"subscription":{"t":1},"pattern":"sta`, "unexpected EOF"},
	{"trailing garbage", `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"1"}x`, "trailing data"},
	{"second value", `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"1"} {}`, "trailing data"},
	{"no version", `{"subscription":{"t":1},"pattern":"static","timestamp":"1"}`, "no version"},
	{"null version", `{"version":null,"subscription":{"t":1},"pattern":"static","timestamp":"1"}`, "no version"},
	{"unknown pattern", `{"version":1,"subscription":{"t":1},"pattern":"regex","timestamp":"1"}`, `unknown pattern "regex"`},
	{"no pattern", `{"version":1,"subscription":{"t":1},"timestamp":"1"}`, `unknown pattern ""`},
	{"empty subscription", `{"version":1,"subscription":{},"pattern":"static","timestamp":"1"}`, "empty subscription"},
	{"no subscription", `{"version":1,"pattern":"static","timestamp":"1"}`, "empty subscription"},
	{"zero streams", `{"version":1,"subscription":{"t":0},"pattern":"static","timestamp":"1"}`, `topic "t" has 0 streams`},
	{"negative streams", `{"version":1,"subscription":{"t":-1},"pattern":"static","timestamp":"1"}`, `topic "t" has -1 streams`},
	{"fractional streams", `{"version":1,"subscription":{"t":1.5},"pattern":"static","timestamp":"1"}`, "subscription"},
	{"timestamp in words", `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"yesterday"}`, "timestamp"},
	{"negative timestamp", `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"-5"}`, "timestamp"},
	{"fractional timestamp", `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":1416974968.782}`, "timestamp"},
	{"object timestamp", `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":{}}`, "timestamp"},
	{"not an object", `[1,2]`, "registration"},
	{"a string", `"static"`, "registration"},
	{"huge pattern", `{"version":1,"subscription":{"t":1},"pattern":"` + strings.Repeat("p", 100000) + `","timestamp":"1"}`, `unknown pattern "ppp`},
	{"huge topic", `{"version":1,"subscription":{"` + strings.Repeat("\\u0001", 100000) + `":0},"pattern":"static","timestamp":"1"}`, "has 0 streams"},
	{"huge timestamp", `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":` + strings.Repeat("9", 100000) + `}`, "timestamp 999"},
	{"huge stream count", `{"version":1,"subscription":{"t":` + strings.Repeat("9", 100000) + `},"pattern":"static","timestamp":"1"}`, "cannot unmarshal number 999"},
}

func TestParseRegistrationBadData(t *testing.T) {
	for _, tc := range parseRegistrationBadCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := layout.ParseRegistration([]byte(tc.in))
			if err == nil {
				t.Fatalf("ParseRegistration(%s) = %+v, nil; want an error", tc.in, r)
			}
			checkBadData(t, err, "consumer registration", tc.msg)
		})
	}
}

// maxErrLen bounds the errors about a node's data, however large the node:
// they quote at most 64 bytes of each part of it they name (each byte at
// most 4 characters with %q: \xff) and at most 256 bytes of a JSON error.
const maxErrLen = 1024

// checkBadData checks that err wraps ErrBadData and says each of msgs.
func checkBadData(t *testing.T, err error, msgs ...string) {
	t.Helper()
	if !errors.Is(err, layout.ErrBadData) {
		t.Errorf("error %q does not wrap ErrBadData", err)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not say %q", err, m)
		}
	}
	if len(err.Error()) > maxErrLen {
		t.Errorf("error of %d bytes, want at most %d: %.300s...", len(err.Error()), maxErrLen, err)
	}
}

func TestOffsetGolden(t *testing.T) {
	for _, tc := range []struct {
		next int64
		want string
	}{
		{1042, "1042"},
		{0, "0"},
		{1, "1"},
		{9223372036854775807, "9223372036854775807"},
	} {
		if got := layout.EncodeOffset(tc.next); string(got) != tc.want {
			t.Errorf("EncodeOffset(%d) = %q, want %q", tc.next, got, tc.want)
		}
		if got, err := layout.ParseOffset([]byte(tc.want)); err != nil || got != tc.next {
			t.Errorf("ParseOffset(%q) = %d, %v; want %d", tc.want, got, err, tc.next)
		}
	}
}

var badOffsets = []string{
	"", "\n", "abc", "-1", "-0", "+5", "0042", "00", "1.5", "1e3", "0x10", "10 20", "1042x",
	"9223372036854775808", "99999999999999999999", "١٢", "1042\x00",
	strings.Repeat("9", 200),
	"\x00\xb5\xbd0\xb8\x19\xb200\xd8\xff\x16\"\x81\xa7\xf9\x7f\x85\x8a\x86\xef\xe6\xb600\x050\xcf\x0500\xea\x1c\x97\xad\x92000\xbe0\x01000\"0\xb1\x86", // found by FuzzParseOffset: a long error
	strings.Repeat("\xff", 1000),
}

var parseOffsetCases = []struct {
	in   string
	want int64
}{
	{"1042", 1042},
	{"1042\n", 1042}, // echo 1042 | zkCli
	{"1042\r\n", 1042},
	{" 1042 ", 1042},
	{"\t0\n", 0},
}

func TestParseOffset(t *testing.T) {
	for _, tc := range parseOffsetCases {
		if got, err := layout.ParseOffset([]byte(tc.in)); err != nil || got != tc.want {
			t.Errorf("ParseOffset(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range badOffsets {
		got, err := layout.ParseOffset([]byte(in))
		if err == nil {
			t.Errorf("ParseOffset(%q) = %d, nil; want an error", in, got)
			continue
		}
		checkBadData(t, err, "offset")
		if len(err.Error()) > maxErrLen {
			t.Errorf("ParseOffset(%d bytes): error of %d bytes, want a short one", len(in), len(err.Error()))
		}
	}
	_, err := layout.ParseOffset([]byte("abc"))
	checkBadData(t, err, `offset "abc" is not a non-negative decimal integer`)
	_, err = layout.ParseOffset([]byte("-1"))
	checkBadData(t, err, `offset "-1"`)
}

var badOwners = []struct{ in, msg string }{
	{"", "owner is empty"},
	{"a/b", "'/'"},
	{".", `"." and ".."`},
	{"..", `"." and ".."`},
	{"id\n", "U+000A"},
	{"a\x00b", "U+0000"},
	{"\xff\xfe", "UTF-8"},
}

var goodOwners = []string{
	"g_host-1416974968782-0a1b2c3d",
	"g_host-1416974968782-0a1b2c3d-0", // Kafka's consumer appends the thread id
	"anything",
}

func TestParseOwner(t *testing.T) {
	for _, in := range goodOwners {
		if got, err := layout.ParseOwner([]byte(in)); err != nil || got != in {
			t.Errorf("ParseOwner(%q) = %q, %v; want it back", in, got, err)
		}
	}
	for _, tc := range badOwners {
		got, err := layout.ParseOwner([]byte(tc.in))
		if err == nil {
			t.Errorf("ParseOwner(%q) = %q, nil; want an error", tc.in, got)
			continue
		}
		checkBadData(t, err, "owner", tc.msg)
	}
}

func TestNewConsumerIDGolden(t *testing.T) {
	random := func() io.Reader { return bytes.NewReader([]byte{0x0a, 0x1b, 0x2c, 0x3d, 0xff}) }
	for _, tc := range []struct {
		group, host, want, wantHost string
	}{
		{"g", "host", "g_host-1416974968782-0a1b2c3d", "host"},
		{"my-group", "broker-1.example.com", "my-group_broker-1.example.com-1416974968782-0a1b2c3d", "broker-1.example.com"},
		{"g_x", "a-b-c", "g_x_a-b-c-1416974968782-0a1b2c3d", "a-b-c"},
		{"g", "", "g_unknown-1416974968782-0a1b2c3d", "unknown"},
		{"g", "we/ird\nhost", "g_we_ird_host-1416974968782-0a1b2c3d", "we_ird_host"},
		// A host that itself looks like the tail of an id.
		{"g", "h-1416974968000-deadbeef", "g_h-1416974968000-deadbeef-1416974968782-0a1b2c3d", "h-1416974968000-deadbeef"},
	} {
		id, err := layout.NewConsumerID(tc.group, tc.host, kafkaStart, random())
		if err != nil {
			t.Fatalf("NewConsumerID(%q, %q): %v", tc.group, tc.host, err)
		}
		if id != tc.want {
			t.Errorf("NewConsumerID(%q, %q) = %q, want %q", tc.group, tc.host, id, tc.want)
		}
		if err := layout.CheckName("consumer id", id); err != nil {
			t.Errorf("NewConsumerID gave an invalid name: %v", err)
		}
		info, ok := layout.ParseConsumerID(tc.group, id)
		if !ok || info.Host != tc.wantHost || !info.Start.Equal(kafkaStart) {
			t.Errorf("ParseConsumerID(%q, %q) = %+v, %v; want host %q, start %v", tc.group, id, info, ok, tc.wantHost, kafkaStart)
		}
		// With the thread id suffix of Kafka's owners.
		info, ok = layout.ParseConsumerID(tc.group, id+"-0")
		if !ok || info.Host != tc.wantHost || !info.Start.Equal(kafkaStart) {
			t.Errorf("ParseConsumerID(%q, %q) = %+v, %v; want host %q, start %v", tc.group, id+"-0", info, ok, tc.wantHost, kafkaStart)
		}
	}

	// Default randomness: the right shape, and two ids differ.
	a, err := layout.NewConsumerID("g", "h", kafkaStart, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := layout.NewConsumerID("g", "h", kafkaStart, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || !strings.HasPrefix(a, "g_h-1416974968782-") || len(a) != len("g_h-1416974968782-")+8 {
		t.Errorf("NewConsumerID with crypto/rand: %q and %q", a, b)
	}
}

func TestNewConsumerIDErrors(t *testing.T) {
	if _, err := layout.NewConsumerID("g", "h", kafkaStart, bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("NewConsumerID with 2 random bytes: nil error")
	}
	boom := errors.New("boom")
	if _, err := layout.NewConsumerID("g", "h", kafkaStart, iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("NewConsumerID with a failing reader: %v, want it wrapped", err)
	}
	for _, group := range []string{"a/b", "g\x00", "\xff"} {
		if _, err := layout.NewConsumerID(group, "h", kafkaStart, bytes.NewReader(make([]byte, 4))); !errors.Is(err, layout.ErrInvalidName) {
			t.Errorf("NewConsumerID(group %q): %v, want ErrInvalidName", group, err)
		}
	}
}

var badConsumerIDs = []struct{ group, id string }{
	{"g", ""},
	{"g", "g"},
	{"g", "other_host-1416974968782-0a1b2c3d"},
	{"g", "g_host"},
	{"g", "g_host-1416974968782"},
	{"g", "g_host-1416974968782-xyz"},
	{"g", "g_host-1416974968782-0a1b2c3"},
	{"g", "g_host-123-0a1b2c3d"},
	{"g", "g_host-0000000000000-0a1b2c3d"},
	{"g", "g_1416974968782-0a1b2c3d"},
	{"g", "g_host-abc-0a1b2c3d"},
	{"g", "8c5e8f3c-3c4f-4b8a-9b0e-1f2e3d4c5b6a"},
}

var parseConsumerIDCases = []struct {
	group, id string
	host      string
	ms        int64
}{
	{"g", "g_host-1416974968782-0a1b2c3d", "host", 1416974968782},
	{"g", "g_host-1416974968782-0A1B2C3D", "host", 1416974968782},
	{"g", "g_ip-10-0-0-1-1416974968782-0a1b2c3d-3", "ip-10-0-0-1", 1416974968782},
	{"console-consumer-1", "console-consumer-1_my-mac.local-1416974968782-deadbeef", "my-mac.local", 1416974968782},
	{"g", "g_h-1700000000000-12345678", "h", 1700000000000},
}

func TestParseConsumerID(t *testing.T) {
	for _, tc := range parseConsumerIDCases {
		info, ok := layout.ParseConsumerID(tc.group, tc.id)
		if !ok || info.Host != tc.host || info.Start.UnixMilli() != tc.ms {
			t.Errorf("ParseConsumerID(%q, %q) = %+v, %v; want host %q at %d", tc.group, tc.id, info, ok, tc.host, tc.ms)
		}
	}
	for _, tc := range badConsumerIDs {
		if info, ok := layout.ParseConsumerID(tc.group, tc.id); ok {
			t.Errorf("ParseConsumerID(%q, %q) = %+v, true; want false", tc.group, tc.id, info)
		}
	}
}

func TestPatternRegistrationEncodeGolden(t *testing.T) {
	r := layout.NewPatternRegistration(`orders-<eu|us>&.*`, kafkaStart)
	want := `{"version":1,"subscription":{"orders-<eu|us>&.*":1},"pattern":"white_list","timestamp":"1416974968782"}`
	if got := string(r.Encode()); got != want {
		t.Fatalf("NewPatternRegistration.Encode()\n got %s\nwant %s", got, want)
	}
	back, err := layout.ParseRegistration([]byte(want))
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("ParseRegistration = %+v, %v; want %+v", back, err, r)
	}
}
