package zookeeper_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

func TestZKNodes(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)

	if err := z.Create(ctx, "/a/b/c", []byte("v"), false); err != nil {
		t.Fatal(err)
	}
	if got := get(t, raw, chroot+"/a/b/c"); got != "v" {
		t.Fatalf("created %q, want v", got)
	}
	err := z.Create(ctx, "/a/b/c", []byte("w"), false)
	if !errors.Is(err, zookeeper.ErrNodeExists) || !strings.Contains(err.Error(), chroot+"/a/b/c") {
		t.Fatalf("second Create: %v, want ErrNodeExists naming the path", err)
	}
	var pe *zookeeper.PathError
	if !errors.As(err, &pe) || pe.Path != chroot+"/a/b/c" || pe.Op != "create" {
		t.Fatalf("second Create: %#v, want a PathError", err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{{"/a", true}, {"/a/b/c", true}, {"/a/x", false}, {"/", true}} {
		ok, err := z.Exists(ctx, tc.path)
		if err != nil || ok != tc.want {
			t.Errorf("Exists(%s) = %v, %v; want %v", tc.path, ok, err, tc.want)
		}
	}
	if err := z.MkdirAll(ctx, "/m/n/o"); err != nil {
		t.Fatal(err)
	}
	if err := z.MkdirAll(ctx, "/m/n/o"); err != nil {
		t.Fatalf("MkdirAll of an existing path: %v", err)
	}
	if err := z.Create(ctx, "/m/n/o/e", nil, true); err != nil {
		t.Fatal(err)
	}
	if _, stat, err := raw.Get(chroot + "/m/n/o/e"); err != nil || stat.EphemeralOwner == 0 {
		t.Fatalf("ephemeral node: stat %+v, %v", stat, err)
	}
	if err := z.DeleteAll(ctx, "/m"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := raw.Exists(chroot + "/m"); ok {
		t.Fatal("DeleteAll left /m")
	}
	if err := z.DeleteAll(ctx, "/m"); err != nil {
		t.Fatalf("DeleteAll of a missing node: %v", err)
	}
	if err := z.Create(ctx, "relative", nil, false); !errors.Is(err, zookeeper.ErrInvalidArgument) {
		t.Fatalf("Create of a relative path: %v, want ErrInvalidArgument", err)
	}
}

// TestLayoutBytes checks what the layer writes against the layout document,
// byte for byte, read back with a plain client.
func TestLayoutBytes(t *testing.T) {
	chroot := testenv.Chroot(t) + "/kafka"
	z := dialZK(t, chroot+"/") // a trailing slash is removed
	if z.Chroot() != chroot {
		t.Fatalf("Chroot() = %q, want %q", z.Chroot(), chroot)
	}
	raw := rawZK(t)
	ctx := testCtx(t)
	const group = "g1"
	before := time.Now().UnixMilli()
	id := register(t, z, group, "orders", "audit")
	after := time.Now().UnixMilli()

	// Consumer id: <group>_<hostname>-<startUnixMs>-<8 hex chars>.
	if !regexp.MustCompile(`^g1_.+-\d{13}-[0-9a-f]{8}$`).MatchString(id) {
		t.Fatalf("consumer id %q is not in Kafka's format", id)
	}
	for _, dir := range []string{"ids", "owners", "offsets"} {
		if ok, _, err := raw.Exists(chroot + "/consumers/g1/" + dir); !ok || err != nil {
			t.Errorf("RegisterGroup did not create /consumers/g1/%s: %v", dir, err)
		}
	}
	reg := get(t, raw, chroot+"/consumers/g1/ids/"+id)
	m := regexp.MustCompile(`^\{"version":1,"subscription":\{"audit":1,"orders":1\},"pattern":"static","timestamp":"(\d+)"\}$`).FindStringSubmatch(reg)
	if m == nil {
		t.Fatalf("registration %s is not Kafka's JSON", reg)
	}
	if ts, _ := strconv.ParseInt(m[1], 10, 64); ts < before || ts > after {
		t.Fatalf("registration timestamp %s is not the registration time in ms (%d..%d)", m[1], before, after)
	}
	r, err := z.Registration(ctx, group, id)
	if err != nil || strings.Join(r.Topics, ",") != "audit,orders" || r.Pattern != "static" {
		t.Fatalf("Registration = %+v, %v", r, err)
	}

	if err := z.Claim(ctx, group, "orders", 7, id); err != nil {
		t.Fatal(err)
	}
	if got := get(t, raw, chroot+"/consumers/g1/owners/orders/7"); got != id {
		t.Fatalf("owner node holds %q, want the consumer id %q", got, id)
	}
	if _, stat, _ := raw.Get(chroot + "/consumers/g1/owners/orders/7"); stat.EphemeralOwner == 0 {
		t.Fatal("owner node is not ephemeral")
	}
	if err := z.Commit(ctx, group, "orders", 7, 1042); err != nil {
		t.Fatal(err)
	}
	if got := get(t, raw, chroot+"/consumers/g1/offsets/orders/7"); got != "1042" {
		t.Fatalf("offset node holds %q, want 1042", got)
	}
	if err := z.CommitOffsets(ctx, group, id, map[zookeeper.TopicPartition]int64{{Topic: "orders", Partition: 7}: 2000}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, raw, chroot+"/consumers/g1/offsets/orders/7"); got != "2000" {
		t.Fatalf("offset node holds %q after the fenced commit, want 2000", got)
	}
	if _, stat, _ := raw.Get(chroot + "/consumers/g1/offsets/orders/7"); stat.EphemeralOwner != 0 {
		t.Fatal("offset node is ephemeral")
	}
}

func TestCommitAndOffset(t *testing.T) {
	z := dialZK(t, testenv.Chroot(t))
	ctx := testCtx(t)
	if _, err := z.Offset(ctx, "g", "t", 0); !errors.Is(err, zookeeper.ErrNoNode) {
		t.Fatalf("Offset with nothing committed: %v, want ErrNoNode", err)
	}
	for _, off := range []int64{0, 5, 1 << 40} {
		if err := z.Commit(ctx, "g", "t", 0, off); err != nil {
			t.Fatal(err)
		}
		if got, err := z.Offset(ctx, "g", "t", 0); err != nil || got != off {
			t.Fatalf("Offset = %d, %v; want %d", got, err, off)
		}
	}
	if err := z.Commit(ctx, "g", "t", 0, -1); !errors.Is(err, zookeeper.ErrInvalidArgument) {
		t.Fatalf("Commit of a negative offset: %v, want ErrInvalidArgument", err)
	}
	if err := z.Commit(ctx, "g", "t", 1, 9); err != nil {
		t.Fatal(err)
	}
	if err := z.Commit(ctx, "g", "u", 3, 4); err != nil {
		t.Fatal(err)
	}
	all, err := z.Offsets(ctx, "g")
	if err != nil || len(all) != 2 || all["t"][0] != 1<<40 || all["t"][1] != 9 || all["u"][3] != 4 {
		t.Fatalf("Offsets = %v, %v", all, err)
	}
	groups, err := z.Groups(ctx)
	if err != nil || strings.Join(groups, ",") != "g" {
		t.Fatalf("Groups = %v, %v; want [g]", groups, err)
	}
}

// TestBadData writes what a broken tool might and checks that every read
// names the node and matches ErrBadData, and that lists keep the good parts.
func TestBadData(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)

	put(t, raw, chroot+"/consumers/g/offsets/t/0", "abc")
	put(t, raw, chroot+"/consumers/g/offsets/t/1", "17")
	put(t, raw, chroot+"/consumers/g/offsets/t/x", "3")
	_, err := z.Offset(ctx, "g", "t", 0)
	if !errors.Is(err, zookeeper.ErrBadData) || !strings.Contains(err.Error(), chroot+"/consumers/g/offsets/t/0") || !strings.Contains(err.Error(), "abc") {
		t.Fatalf("Offset of %q: %v; want ErrBadData naming the path and the data", "abc", err)
	}
	all, err := z.Offsets(ctx, "g")
	if !errors.Is(err, zookeeper.ErrBadData) || all["t"][1] != 17 || len(all["t"]) != 1 {
		t.Fatalf("Offsets with bad nodes = %v, %v; want t/1 and ErrBadData", all, err)
	}
	if !strings.Contains(err.Error(), "offsets/t/x") {
		t.Fatalf("Offsets error does not name the bad partition node: %v", err)
	}

	put(t, raw, chroot+"/consumers/g/owners/t/0", "")
	if _, err := z.Owner(ctx, "g", "t", 0); !errors.Is(err, zookeeper.ErrBadData) {
		t.Fatalf("Owner of an empty node: %v, want ErrBadData", err)
	}

	put(t, raw, chroot+"/consumers/g/ids/m1", `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"1`)
	if _, err := z.Registration(ctx, "g", "m1"); !errors.Is(err, zookeeper.ErrBadData) || !strings.Contains(err.Error(), "ids/m1") {
		t.Fatalf("truncated registration: %v, want ErrBadData naming it", err)
	}

	put(t, raw, chroot+"/brokers/ids/1", `{"version":4,"host":"h","port":-5,"jmx_port":-1,"timestamp":"1"}`)
	put(t, raw, chroot+"/brokers/ids/2", `{"version":4,"endpoints":["PLAINTEXT://127.0.0.1:9092"],"host":"127.0.0.1","port":9092,"jmx_port":-1,"timestamp":"1"`)
	put(t, raw, chroot+"/brokers/ids/3", `{"version":4,"endpoints":["PLAINTEXT://127.0.0.1:9093"],"host":"127.0.0.1","port":9093,"jmx_port":-1,"timestamp":"1"}`)
	brokers, err := z.Brokers(ctx)
	if !errors.Is(err, zookeeper.ErrBadData) || len(brokers) != 1 || brokers[0] != "127.0.0.1:9093" {
		t.Fatalf("Brokers with two bad registrations = %v, %v; want the good one and ErrBadData", brokers, err)
	}
	if !strings.Contains(err.Error(), "/brokers/ids/1") || !strings.Contains(err.Error(), "/brokers/ids/2") || !strings.Contains(err.Error(), "port -5") {
		t.Fatalf("Brokers error does not name both bad nodes: %v", err)
	}

	put(t, raw, chroot+"/brokers/topics/t", `{"version":1,"partitions":{"0":[1],"2":[1]}}`)
	if _, _, err := z.Partitions(ctx, "t"); !errors.Is(err, zookeeper.ErrBadData) || !strings.Contains(err.Error(), "/brokers/topics/t") {
		t.Fatalf("Partitions of a topic with a gap: %v, want ErrBadData", err)
	}
	if _, _, err := z.Partitions(ctx, "missing"); !errors.Is(err, zookeeper.ErrNoNode) {
		t.Fatalf("Partitions of a missing topic: %v, want ErrNoNode", err)
	}
	// TopicExists looks at the node only (a join's check), its data
	// whatever it is; a name Kafka refuses is refused before any request.
	if ok, err := z.TopicExists(ctx, "t"); !ok || err != nil {
		t.Fatalf("TopicExists(t) = %v, %v; want true", ok, err)
	}
	if ok, err := z.TopicExists(ctx, "missing"); ok || err != nil {
		t.Fatalf("TopicExists(missing) = %v, %v; want false, no error", ok, err)
	}
	if _, err := z.TopicExists(ctx, "a/b"); err == nil || !strings.Contains(err.Error(), "a/b") {
		t.Fatalf("TopicExists(a/b) = %v, want an error naming the topic", err)
	}
}

func TestChrootIsolation(t *testing.T) {
	base := testenv.Chroot(t)
	a := dialZK(t, base+"/a")
	b := dialZK(t, base+"/b")
	ctx := testCtx(t)
	idA := register(t, a, "g", "t")
	if err := a.Claim(ctx, "g", "t", 0, idA); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx, "g", "t", 0, 10); err != nil {
		t.Fatal(err)
	}
	ids, _, err := b.Consumers(ctx, "g")
	if err != nil || len(ids) != 0 {
		t.Fatalf("another chroot sees consumers %v, %v", ids, err)
	}
	idB := register(t, b, "g", "t")
	if err := b.Claim(ctx, "g", "t", 0, idB); err != nil {
		t.Fatalf("claim of the same partition in another chroot: %v", err)
	}
	if _, err := b.Offset(ctx, "g", "t", 0); !errors.Is(err, zookeeper.ErrNoNode) {
		t.Fatalf("another chroot sees an offset: %v", err)
	}
	if off, err := a.Offset(ctx, "g", "t", 0); err != nil || off != 10 {
		t.Fatalf("Offset = %d, %v", off, err)
	}
}

func TestBadArguments(t *testing.T) {
	z := dialZK(t, testenv.Chroot(t))
	ctx := testCtx(t)
	for name, err := range map[string]error{
		"empty group":        z.RegisterGroup(ctx, ""),
		"slash in group":     z.RegisterGroup(ctx, "a/b"),
		"dot group":          z.RegisterGroup(ctx, ".."),
		"no topic":           z.RegisterConsumer(ctx, "g", "id"),
		"empty topic":        z.Claim(ctx, "g", "", 0, "id"),
		"negative partition": z.Claim(ctx, "g", "t", -1, "id"),
		"empty id":           z.Claim(ctx, "g", "t", 0, ""),
		"negative offset":    z.CommitOffsets(ctx, "g", "id", map[zookeeper.TopicPartition]int64{{Topic: "t"}: -2}),
	} {
		if !errors.Is(err, zookeeper.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	for _, cfg := range []zookeeper.Config{
		{},
		{Servers: []string{"nohost"}},
		{Servers: []string{"127.0.0.1:1"}, Chroot: "kafka"},
		{Servers: []string{"127.0.0.1:1"}, SessionTimeout: -time.Second},
		{Servers: []string{"127.0.0.1:1"}, Auth: []zookeeper.Auth{{}}},
		{Servers: []string{"127.0.0.1:1"}, ACL: []zk.ACL{}},
		{Servers: []string{"127.0.0.1:1"}, ACL: []zk.ACL{{Perms: zk.PermAll}}},
	} {
		if _, err := zookeeper.Dial(ctx, cfg); !errors.Is(err, zookeeper.ErrInvalidArgument) {
			t.Errorf("DialZK(%+v): %v, want ErrInvalidArgument", cfg, err)
		}
	}
}

func TestDialUnreachable(t *testing.T) {
	ln := closedPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := zookeeper.Dial(ctx, zookeeper.Config{Servers: []string{ln}})
	if err == nil || !strings.Contains(err.Error(), ln) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DialZK of a closed port: %v; want a deadline error naming %s", err, ln)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("DialZK took %v past its deadline", d)
	}
	_, err = zookeeper.New([]string{ln}, "", 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), ln) {
		t.Fatalf("NewZK of a closed port: %v", err)
	}
}

func TestClose(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	id := register(t, z, "g", "t")
	s, err := z.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitClosed(t, s.Done(), "session end on Close")
	if !errors.Is(s.Err(), zookeeper.ErrClosed) {
		t.Fatalf("session Err after Close = %v, want ErrClosed", s.Err())
	}
	if ok, _, _ := raw.Exists(chroot + "/consumers/g/ids/" + id); ok {
		t.Fatal("registration still there after Close")
	}
	if _, err := z.Offset(ctx, "g", "t", 0); !errors.Is(err, zookeeper.ErrClosed) {
		t.Fatalf("Offset after Close: %v, want ErrClosed", err)
	}
	if _, err := z.Session(ctx); !errors.Is(err, zookeeper.ErrClosed) {
		t.Fatalf("Session after Close: %v, want ErrClosed", err)
	}
}
