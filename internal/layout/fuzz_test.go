package layout_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// The fuzz targets are seeded with every example of the table tests, valid
// and invalid, so that plain go test runs them all through the invariants;
// all but the huge ones (of 100 KB, about error lengths), which would make
// the fuzzer spend its time minimizing.
const maxSeedLen = 1024

// checkDialable checks that addr is a host:port that net.SplitHostPort
// accepts, with a non-empty host and a port in 1..65535.
func checkDialable(t *testing.T, what, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s = %q: SplitHostPort: %v", what, addr, err)
	}
	if host == "" {
		t.Fatalf("%s = %q: empty host", what, addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		t.Fatalf("%s = %q: port %q is not in 1..65535", what, addr, port)
	}
}

func checkErrLen(t *testing.T, err error) {
	t.Helper()
	if len(err.Error()) > maxErrLen {
		t.Fatalf("error of %d bytes, want at most %d: %.300s...", len(err.Error()), maxErrLen, err)
	}
}

func FuzzParseBroker(f *testing.F) {
	for _, tc := range parseBrokerCases {
		f.Add(int32(1), []byte(tc.in))
	}
	for _, tc := range parseBrokerBadCases {
		if len(tc.in) > maxSeedLen {
			continue
		}
		f.Add(int32(1), []byte(tc.in))
	}
	f.Add(int32(1001), []byte(`{"version":4,"host":null,"port":-1,"listener_security_protocol_map":{"SSL":"SSL"},"endpoints":["SSL://h:9093"]}`))
	f.Add(int32(-1), []byte(`{"version":4,"host":null,"port":-1,"listener_security_protocol_map":{"CLIENT":"PLAINTEXT"},"endpoints":["CLIENT://:9092","CLIENT://h:9093"]}`))

	f.Fuzz(func(t *testing.T, id int32, data []byte) {
		b, err := layout.ParseBroker(id, data)
		if err != nil {
			if !errors.Is(err, layout.ErrBadData) {
				t.Fatalf("error %q does not wrap ErrBadData", err)
			}
			if want := "broker " + strconv.Itoa(int(id)); !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %q", err, want)
			}
			checkErrLen(t, err)
			return
		}
		if b.ID != id {
			t.Fatalf("ID = %d, want %d", b.ID, id)
		}
		if b.Host == "" && len(b.Endpoints) == 0 {
			t.Fatalf("parsed a broker with neither host nor endpoints: %+v", b)
		}
		if b.Host != "" {
			if b.Port < 1 || b.Port > 65535 {
				t.Fatalf("host %q with port %d", b.Host, b.Port)
			}
		}
		again, err := layout.ParseBroker(id, data)
		if err != nil || !reflect.DeepEqual(again, b) {
			t.Fatalf("second parse differs: %+v, %v", again, err)
		}
		for _, e := range b.Endpoints {
			if e.Listener == "" || e.Listener != strings.ToUpper(e.Listener) {
				t.Fatalf("endpoint listener %q is not an upper-case name", e.Listener)
			}
			if e.SecurityProtocol == "" {
				t.Fatalf("endpoint %+v has no security protocol", e)
			}
			if e.Port < 1 || e.Port > 65535 {
				t.Fatalf("endpoint port %d", e.Port)
			}
			// Listener names match case-insensitively, and the first
			// endpoint of a name is the one Addr picks.
			name := strings.ToLower(e.Listener)
			if !strings.EqualFold(name, e.Listener) { // not every upper case has a simple lower case
				name = e.Listener
			}
			first := firstEndpoint(b, name)
			addr, err := b.Addr(name)
			if err != nil {
				if first.Host != "" {
					t.Fatalf("Addr(%q) of %+v: %v", name, first, err)
				}
				continue
			}
			checkDialable(t, "Addr("+name+")", addr)
			if addr != first.Addr() {
				t.Fatalf("Addr(%q) = %q, want that of %+v", name, addr, first)
			}
		}
		addr, err := b.Addr("")
		if err != nil {
			if b.Host != "" && !hasDefaultEndpoint(b) {
				t.Fatalf("Addr(\"\") of a broker with host %q and no PLAINTEXT endpoint: %v", b.Host, err)
			}
			if !hasDefaultEndpoint(b) {
				for _, e := range b.Endpoints {
					if !strings.Contains(err.Error(), e.Listener) {
						t.Fatalf("Addr(\"\"): error %q does not name listener %q", err, e.Listener)
					}
				}
			}
			return
		}
		checkDialable(t, `Addr("")`, addr)
		if b.Host != "" && !hasDefaultEndpoint(b) && addr != net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) {
			t.Fatalf("Addr(\"\") = %q, want the host and port fields %q:%d", addr, b.Host, b.Port)
		}
	})
}

func firstEndpoint(b layout.Broker, listener string) layout.Endpoint {
	for _, e := range b.Endpoints {
		if strings.EqualFold(e.Listener, listener) {
			return e
		}
	}
	return layout.Endpoint{}
}

// hasDefaultEndpoint reports whether Addr("") picks an endpoint: one named
// PLAINTEXT or with the PLAINTEXT protocol.
func hasDefaultEndpoint(b layout.Broker) bool {
	for _, e := range b.Endpoints {
		if e.Listener == layout.DefaultListener || e.SecurityProtocol == layout.DefaultListener {
			return true
		}
	}
	return false
}

func FuzzParseTopic(f *testing.F) {
	for _, tc := range parseTopicCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range parseTopicBadCases {
		if len(tc.in) > maxSeedLen {
			continue
		}
		f.Add([]byte(tc.in))
	}
	for _, tc := range topicEncodeCases {
		f.Add([]byte(tc.want))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		ta, err := layout.ParseTopic(data)
		if err != nil {
			if !errors.Is(err, layout.ErrBadData) || !strings.Contains(err.Error(), "topic assignment") {
				t.Fatalf("error %q: want ErrBadData naming the topic assignment", err)
			}
			checkErrLen(t, err)
			return
		}
		n := ta.Count()
		if n < 0 || int(n) != len(ta.Partitions) {
			t.Fatalf("Count() = %d with %d partitions", n, len(ta.Partitions))
		}
		for p := int32(0); p < n; p++ {
			if _, ok := ta.Partitions[p]; !ok {
				t.Fatalf("Count() = %d but no partition %d", n, p)
			}
		}
		enc := ta.Encode()
		back, err := layout.ParseTopic(enc)
		if err != nil {
			t.Fatalf("ParseTopic(Encode()) = %v; Encode() = %s", err, enc)
		}
		if back.Version != ta.Version || back.Count() != n || !bytes.Equal(back.Encode(), enc) {
			t.Fatalf("round trip: %+v, then %+v", ta, back)
		}
	})
}

func FuzzParseOffset(f *testing.F) {
	for _, tc := range parseOffsetCases {
		f.Add([]byte(tc.in), tc.want)
	}
	for _, in := range badOffsets {
		if len(in) > maxSeedLen {
			continue
		}
		f.Add([]byte(in), int64(-1))
	}
	f.Add([]byte("1042"), int64(1042))
	f.Add([]byte("9223372036854775807"), int64(9223372036854775807))

	f.Fuzz(func(t *testing.T, data []byte, next int64) {
		n, err := layout.ParseOffset(data)
		if err != nil {
			if !errors.Is(err, layout.ErrBadData) || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("error %q: want ErrBadData naming the offset", err)
			}
			checkErrLen(t, err)
		} else {
			if n < 0 {
				t.Fatalf("ParseOffset(%q) = %d", data, n)
			}
			if enc, trimmed := layout.EncodeOffset(n), bytes.TrimSpace(data); !bytes.Equal(enc, trimmed) {
				t.Fatalf("ParseOffset(%q) = %d, which encodes as %q, not as the trimmed input %q", data, n, enc, trimmed)
			}
		}

		// Every offset we write reads back.
		if next >= 0 {
			got, err := layout.ParseOffset(layout.EncodeOffset(next))
			if err != nil || got != next {
				t.Fatalf("ParseOffset(EncodeOffset(%d)) = %d, %v", next, got, err)
			}
		}
	})
}

func FuzzParseRegistration(f *testing.F) {
	for _, tc := range parseRegistrationCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range parseRegistrationBadCases {
		if len(tc.in) > maxSeedLen {
			continue
		}
		f.Add([]byte(tc.in))
	}
	f.Add(layout.NewRegistration([]string{"t"}, kafkaStart).Encode())
	f.Add(layout.NewRegistration([]string{"b", "a", "c"}, kafkaStart).Encode())

	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := layout.ParseRegistration(data)
		if err != nil {
			if !errors.Is(err, layout.ErrBadData) || !strings.Contains(err.Error(), "consumer registration") {
				t.Fatalf("error %q: want ErrBadData naming the registration", err)
			}
			checkErrLen(t, err)
			return
		}
		switch r.Pattern {
		case layout.PatternStatic, layout.PatternWhiteList, layout.PatternBlackList:
		default:
			t.Fatalf("pattern %q", r.Pattern)
		}
		if len(r.Subscription) == 0 {
			t.Fatal("empty subscription")
		}
		for topic, n := range r.Subscription {
			if n <= 0 {
				t.Fatalf("topic %q has %d streams", topic, n)
			}
		}
		ms, err := strconv.ParseInt(r.Timestamp, 10, 64)
		if err != nil || ms < 0 || strconv.FormatInt(ms, 10) != r.Timestamp {
			t.Fatalf("timestamp %q is not a canonical non-negative decimal", r.Timestamp)
		}
		if r.Time().UnixMilli() != ms {
			t.Fatalf("Time() = %v, want %d ms", r.Time(), ms)
		}
		topics := r.Topics()
		if len(topics) != len(r.Subscription) || !sort.StringsAreSorted(topics) {
			t.Fatalf("Topics() = %q", topics)
		}

		enc := r.Encode()
		back, err := layout.ParseRegistration(enc)
		if err != nil {
			t.Fatalf("ParseRegistration(Encode()) = %v; Encode() = %s", err, enc)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, r)
		}
		if again := back.Encode(); !bytes.Equal(again, enc) {
			t.Fatalf("Encode is not stable: %s then %s", enc, again)
		}
	})
}

func FuzzParseOwner(f *testing.F) {
	for _, in := range goodOwners {
		f.Add([]byte(in))
	}
	for _, tc := range badOwners {
		f.Add([]byte(tc.in))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := layout.ParseOwner(data)
		if err != nil {
			if !errors.Is(err, layout.ErrBadData) || !strings.Contains(err.Error(), "owner") {
				t.Fatalf("error %q: want ErrBadData naming the owner", err)
			}
			checkErrLen(t, err)
			return
		}
		if s != string(data) {
			t.Fatalf("ParseOwner(%q) = %q", data, s)
		}
		// An owner is a consumer id: it must be usable as a znode name.
		if err := layout.CheckName("owner", s); err != nil {
			t.Fatalf("ParseOwner accepted %q: %v", s, err)
		}
	})
}

func FuzzParseConsumerID(f *testing.F) {
	for _, tc := range parseConsumerIDCases {
		f.Add(tc.group, tc.id, tc.host, tc.ms, []byte{0x0a, 0x1b, 0x2c, 0x3d})
	}
	for _, tc := range badConsumerIDs {
		f.Add(tc.group, tc.id, "host", int64(1416974968782), []byte{0xde, 0xad, 0xbe, 0xef})
	}
	f.Add("g", "", "h-1416974968000-deadbeef", int64(1416974968782), []byte{1, 2, 3, 4})
	f.Add("g", "", "", int64(1416974968782), []byte{1, 2, 3, 4})
	f.Add("g", "", "we/ird\nhost", int64(1416974968782), []byte{1, 2, 3})
	f.Add("g/x", "", "h", int64(-1), []byte{1, 2, 3, 4})

	f.Fuzz(func(t *testing.T, group, id, hostname string, ms int64, random []byte) {
		if info, ok := layout.ParseConsumerID(group, id); ok {
			if !strings.HasPrefix(id, group+"_"+info.Host+"-") {
				t.Fatalf("ParseConsumerID(%q, %q) = host %q, not in the id", group, id, info.Host)
			}
			if info.Start.UnixMilli() <= 0 {
				t.Fatalf("ParseConsumerID(%q, %q) = start %v", group, id, info.Start)
			}
		}

		cid, err := layout.NewConsumerID(group, hostname, time.UnixMilli(ms), bytes.NewReader(random))
		if err != nil {
			if len(random) >= 4 && !errors.Is(err, layout.ErrInvalidName) {
				t.Fatalf("NewConsumerID: %v", err)
			}
			return
		}
		if len(random) < 4 {
			t.Fatalf("NewConsumerID with %d random bytes = %q", len(random), cid)
		}
		if err := layout.CheckName("consumer id", cid); err != nil {
			t.Fatalf("NewConsumerID = %q: %v", cid, err)
		}
		tail := "-" + strconv.FormatInt(ms, 10) + "-" + hex.EncodeToString(random[:4])
		if !strings.HasPrefix(cid, group+"_") || !strings.HasSuffix(cid, tail) || len(cid) <= len(group)+1+len(tail) {
			t.Fatalf("NewConsumerID(%q, %q, %d) = %q, not <group>_<host>%s", group, hostname, ms, cid, tail)
		}
		host := cid[len(group)+1 : len(cid)-len(tail)]
		if strings.ContainsRune(host, '/') {
			t.Fatalf("host %q of id %q has a '/'", host, cid)
		}
		if ms < 1e9 { // before 1970-01-12: not the start of a real process
			return
		}
		for _, suffix := range []string{"", "-0", "-17"} {
			info, ok := layout.ParseConsumerID(group, cid+suffix)
			if !ok || info.Host != host || info.Start.UnixMilli() != ms {
				t.Fatalf("ParseConsumerID(%q, %q) = %+v, %v; want host %q, start %d", group, cid+suffix, info, ok, host, ms)
			}
		}
	})
}

func FuzzNormalizeChroot(f *testing.F) {
	for _, tc := range normalizeChrootCases {
		f.Add(tc.in)
	}
	for _, tc := range badChroots {
		f.Add(tc.in)
	}

	f.Fuzz(func(t *testing.T, chroot string) {
		c, err := layout.NormalizeChroot(chroot)
		p, perr := layout.NewPaths(chroot)
		if err != nil {
			if !errors.Is(err, layout.ErrInvalidChroot) {
				t.Fatalf("error %q does not wrap ErrInvalidChroot", err)
			}
			if !errors.Is(perr, layout.ErrInvalidChroot) {
				t.Fatalf("NormalizeChroot failed but NewPaths gave %v", perr)
			}
			return
		}
		if perr != nil || p.Chroot() != c {
			t.Fatalf("NewPaths(%q) = %q, %v; NormalizeChroot gave %q", chroot, p.Chroot(), perr, c)
		}
		if c != strings.TrimRight(chroot, "/") {
			t.Fatalf("NormalizeChroot(%q) = %q: more than the trailing slashes removed", chroot, c)
		}
		if c != "" {
			if c[0] != '/' || strings.HasSuffix(c, "/") || strings.Contains(c, "//") {
				t.Fatalf("NormalizeChroot(%q) = %q: not an absolute path without empty segments", chroot, c)
			}
			for _, seg := range strings.Split(c[1:], "/") {
				if err := layout.CheckName("chroot segment", seg); err != nil {
					t.Fatalf("NormalizeChroot(%q) = %q: %v", chroot, c, err)
				}
			}
		}
		if again, err := layout.NormalizeChroot(c); err != nil || again != c {
			t.Fatalf("NormalizeChroot(%q) = %q, %v: not idempotent", c, again, err)
		}
		for _, rel := range []string{"/", "/consumers", "/consumers/g/offsets/t/0", "/brokers/ids/1"} {
			abs := p.Abs(rel)
			back, ok := p.Rel(abs)
			if !ok || back != rel {
				t.Fatalf("chroot %q: Rel(Abs(%q) = %q) = %q, %v", c, rel, abs, back, ok)
			}
		}
		for _, abs := range []string{p.Offset("g", "t", 3), p.BrokerIDs(), p.Topic("t")} {
			rel, ok := p.Rel(abs)
			if !ok || p.Abs(rel) != abs || !strings.HasPrefix(abs, c+"/") {
				t.Fatalf("chroot %q: path %q, Rel = %q, %v", c, abs, rel, ok)
			}
		}
		if got, want := p.Offset("g", "t", 3), c+"/consumers/g/offsets/t/3"; got != want {
			t.Fatalf("Offset = %q, want %q", got, want)
		}
	})
}

func FuzzParseMigrationMarker(f *testing.F) {
	f.Add(layout.NewMigrationMarker(kafkaStart, "groupctl migrate", "k1:9092").Encode())
	f.Add([]byte(`{"version":1,"to":"kafka","timestamp":"0"}`))
	f.Add([]byte(`{"version":2,"to":"kafka","timestamp":"1"}`))
	f.Add([]byte(`{"version":1,"to":"zookeeper","timestamp":"1"}`))
	f.Add([]byte(`{"version":1,"to":"kafka","timestamp":"-1"}`))
	f.Add([]byte(`{"version":1,"to":"kafka","timestamp":"1","extra":true}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := layout.ParseMigrationMarker(data)
		if err != nil {
			if !errors.Is(err, layout.ErrBadData) || !strings.Contains(err.Error(), "migration marker") {
				t.Fatalf("error %q: want ErrBadData naming the migration marker", err)
			}
			checkErrLen(t, err)
			return
		}
		if m.Version != 1 || m.To != layout.MigratedToKafka {
			t.Fatalf("accepted version %d to %q", m.Version, m.To)
		}
		if ms, err := strconv.ParseInt(m.Timestamp, 10, 64); err != nil || ms < 0 || m.Time().UnixMilli() != ms {
			t.Fatalf("accepted timestamp %q", m.Timestamp)
		}
		again, err := layout.ParseMigrationMarker(m.Encode())
		if err != nil || again != m {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, m)
		}
	})
}

// zkValidatePath is ZooKeeper's PathUtils.validatePath, transcribed on the
// UTF-16 code units Java sees: the oracle of FuzzCheckName.
func zkValidatePath(path []uint16) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if path[len(path)-1] == '/' {
		return false
	}
	lastc := uint16('/')
	for i := 1; i < len(path); lastc, i = path[i], i+1 {
		c := path[i]
		switch {
		case c == 0:
			return false
		case c == '/' && lastc == '/':
			return false
		case c == '.' && lastc == '.':
			if path[i-2] == '/' && (i+1 == len(path) || path[i+1] == '/') {
				return false
			}
		case c == '.':
			if path[i-1] == '/' && (i+1 == len(path) || path[i+1] == '/') {
				return false
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			return false
		}
	}
	return true
}

// FuzzCheckName checks CheckName against ZooKeeper's own rule: a name is
// accepted exactly when "/"+name is a path the server accepts, as the
// server sees it (Java decodes the bytes as UTF-8, bytes that are not UTF-8
// becoming U+FFFD, into UTF-16), and is a single segment (no '/', not
// empty). A refusal names the offending character or why.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{
		"g", "my-group", "a..b", "...", ".", "..", "", "a/b", "/", "日本語", "grp-🙂",
		"a\x00b", "a\x1fb", "a\x7fb", "a\u0085b", "a\u009fb", "\u00a0", "a\ufeffb", "\ud7ff",
		"\ue000", "\uf8ff", "\uf900", "\uffef", "\ufff0", "\ufffd", "\uffff", "\U00010000",
		"\U0010ffff", "a\xffb", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", ". ", " .", ".\x19",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := layout.CheckName("group", name)
		java := utf16.Encode([]rune("/" + name)) // invalid UTF-8 becomes U+FFFD, as in Java
		want := name != "" && !strings.Contains(name, "/") && zkValidatePath(java)
		if (err == nil) != want {
			t.Fatalf("CheckName(%q) = %v; ZooKeeper accepts it: %v", name, err, want)
		}
		if err == nil {
			return
		}
		if !errors.Is(err, layout.ErrInvalidName) || !strings.Contains(err.Error(), "group") {
			t.Fatalf("CheckName(%q) = %q: want ErrInvalidName naming the group", name, err)
		}
		if utf8.ValidString(name) && !strings.Contains(name, "/") && name != "" && name != "." && name != ".." {
			// Refused for a character: the error names it.
			var bad rune = -1
			for _, r := range name {
				if r > 0xFFFF || (r != '.' && !zkValidatePath(utf16.Encode([]rune{'/', r}))) {
					bad = r
					break
				}
			}
			if want := fmt.Sprintf("%U", bad); !strings.Contains(err.Error(), want) {
				t.Fatalf("CheckName(%q) = %q: want it to name %s", name, err, want)
			}
		}
	})
}
