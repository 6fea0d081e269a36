package main

// kafka-consumer-groups.sh parity: the options operators know from Kafka's
// tool.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

func TestAllGroups(t *testing.T) {
	t.Parallel()
	const topic = "many"
	c := newCluster(t, map[string]int32{topic: 2})
	c.produce(topic, 0, "a", "b", "c")
	for _, g := range []string{"g1", "g2"} {
		c.tool("consume", "--group", g, "--topic", topic, "--max", "1").want(t, 0)
	}
	var all struct {
		Groups []struct {
			Group    string `json:"group"`
			TotalLag *int64 `json:"total_lag"`
		} `json:"groups"`
	}
	c.tool("describe", "--all-groups", "--output", "json").want(t, 0).decode(t, &all)
	if len(all.Groups) != 2 || all.Groups[0].Group != "g1" || all.Groups[1].Group != "g2" || all.Groups[0].TotalLag == nil || *all.Groups[0].TotalLag != 2 {
		t.Errorf("describe --all-groups: %+v", all)
	}
	c.tool("describe", "--all-groups").want(t, 0).wantStdout(t, "GROUP g1 ", "GROUP g2 ")
	r := c.tool("lag", "--all-groups", "--output", "json").want(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"group":"g1"`) || !strings.Contains(lines[1], `"group":"g2"`) {
		t.Errorf("lag --all-groups: one line per group wanted:\n%s", r.stdout)
	}
	c.tool("describe", "g1", "--all-groups").want(t, exitUsage).wantStderr(t, "give GROUP or --all-groups, not both")
}

func TestResetParity(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]int32{"a": 2, "b": 2})
	old := time.Now().Add(-2 * time.Hour)
	for _, topic := range []string{"a", "b"} {
		for p := range int32(2) {
			recs := timestamped(4, old, "old", 0)
			recs = append(recs, timestamped(2, time.Now(), "new", 4)...)
			if err := c.produceRecords(testCtx(t), topic, p, recs...); err != nil {
				t.Fatal(err)
			}
		}
	}
	const g = "rp"
	// Several topics, one scoped to a partition.
	c.tool("reset-offsets", g, "--topic", "a", "--topic", "b:1", "--to-offset", "1", "--execute").want(t, 0)
	want := map[string]map[int32]int64{"a": {0: 1, 1: 1}, "b": {1: 1}}
	checkOffsets(t, c, g, want)
	// --by-duration: the first message of the last hour.
	c.tool("reset-offsets", g, "--topic", "a:0", "--by-duration", "PT1H", "--execute").want(t, 0)
	want["a"][0] = 4
	checkOffsets(t, c, g, want)
	// --to-current changes nothing that is committed; the partition
	// without an offset goes to the log end.
	var out resetOut
	c.tool("reset-offsets", g, "--all-topics", "--to-current", "--output", "json").want(t, 0).decode(t, &out)
	if len(out.Changes) != 4 || out.Changes[2].Old != -1 || out.Changes[2].New != 6 || out.Changes[0].New != 4 {
		t.Errorf("--all-topics --to-current: %+v, want every partition of the group's topics a and b, unchanged but b/0 (none: the log end)", out)
	}
	c.tool("reset-offsets", g, "--topic", "b", "--to-current", "--execute").want(t, 0)
	want["b"][0] = 6
	checkOffsets(t, c, g, want)
	// --export then --from-file: a round trip through Kafka's CSV.
	r := c.tool("reset-offsets", g, "--all-topics", "--to-current", "--export").want(t, 0)
	if want := "a,0,4\na,1,1\nb,0,6\nb,1,1\n"; r.stdout != want {
		t.Fatalf("--export: %q, want %q", r.stdout, want)
	}
	c.tool("reset-offsets", g, "--all-topics", "--to-earliest", "--execute").want(t, 0)
	file := filepath.Join(t.TempDir(), "offsets.csv")
	if err := os.WriteFile(file, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	c.tool("reset-offsets", g, "--from-file", file, "--execute").want(t, 0)
	checkOffsets(t, c, g, want)
	if err := os.WriteFile(file, []byte("a,x,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.tool("reset-offsets", g, "--from-file", file).want(t, exitUsage).wantStderr(t, `line 1: "a,x,1" is not topic,partition,offset`)
	c.tool("reset-offsets", g, "--topic", "a", "--by-duration", "1h").want(t, exitUsage).wantStderr(t, `--by-duration "1h" is not PnDTnHnMnS`)

	// delete-offsets: a topic's offsets go, the other topic's stay.
	c.tool("delete-offsets", g, "--topic", "b").want(t, 0).wantStdout(t, "deleted the offsets of topic b in group rp")
	delete(want, "b")
	checkOffsets(t, c, g, want)
	c.tool("delete-offsets", g, "--topic", "b").want(t, exitError).wantStderr(t, `no offsets of topic "b"`)
	c.tool("delete-offsets", "nosuch", "--topic", "a").want(t, exitError).wantStderr(t, "no such group")
	m := c.join(g, []string{"a"}, false)
	c.tool("delete-offsets", g, "--topic", "a").want(t, exitError).wantStderr(t, "refused, nothing changed")
	m.close(t)
}

// checkOffsets compares the group's committed offsets with want.
func checkOffsets(t *testing.T, c *cluster, group string, want map[string]map[int32]int64) {
	t.Helper()
	got, err := c.ZK().Offsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	for topic, ps := range want {
		for p, off := range ps {
			if got[topic][p] != off {
				t.Errorf("%s/%d: offset %d, want %d (all: %v)", topic, p, got[topic][p], off, got)
			}
		}
	}
	for topic, ps := range got {
		if len(ps) > 0 && want[topic] == nil {
			t.Errorf("topic %s has offsets %v, want none", topic, ps)
		}
	}
}

func TestConsumeFromTime(t *testing.T) {
	t.Parallel()
	const topic = "timed"
	c := newCluster(t, map[string]int32{topic: 1})
	if err := c.produceRecords(testCtx(t), topic, 0, timestamped(3, time.Now().Add(-time.Hour), "old", 0)...); err != nil {
		t.Fatal(err)
	}
	cut := time.Now().Add(-time.Minute)
	if err := c.produceRecords(testCtx(t), topic, 0, &kgo.Record{Value: []byte("new"), Headers: []kgo.RecordHeader{{Key: "k", Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	r := c.tool("consume", "--topic", topic, "--from-time", cut.UTC().Format(time.RFC3339), "--max", "1", "--output", "json").want(t, 0)
	var m struct {
		Offset  int64             `json:"offset"`
		Value   string            `json:"value"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.Offset != 3 || m.Value != "new" || m.Headers["k"] != "v" {
		t.Errorf("consume --from-time: %+v, %v\n%v", m, err, r)
	}
	c.tool("consume", "--topic", topic, "--group", "g", "--from-offset", "1").want(t, exitUsage).wantStderr(t, "read without a group")
}

// TLS and SASL reach a Kafka that asks for them; the password may come
// from the environment.
func TestTLSAndSASL(t *testing.T) {
	t.Parallel()
	certFile, pair := selfSigned(t)
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "op", "secret"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pair}}), kfake.SeedTopics(1, "sec"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	zk := strings.Join(testenv.ZooKeeperAddrs(t), ",") + testenv.Chroot(t)
	common := []string{"--zookeeper", zk, "--brokers", strings.Join(kf.ListenAddrs(), ","), "--tls-ca", certFile, "--sasl-mechanism", "scram-sha-512", "--sasl-user", "op"}
	env := []string{envSASLPassword + "=secret"}
	runToolInput(t, env, "hello\n", append([]string{"produce", "--topic", "sec"}, common...)...).want(t, 0).wantStdout(t, "produced 1 messages")
	r := runToolEnv(t, env, append([]string{"consume", "--topic", "sec", "--from-offset", "0", "--max", "1", "--format", "{value}"}, common...)...).want(t, 0)
	if r.stdout != "hello\n" {
		t.Errorf("consumed %q", r.stdout)
	}
	runToolInput(t, []string{envSASLPassword + "=wrong"}, "x\n", append([]string{"produce", "--topic", "sec", "--timeout", "3s"}, common...)...).want(t, exitError)
	runTool(t, append([]string{"produce", "--topic", "sec"}, common...)...).want(t, exitUsage).wantStderr(t, "needs --sasl-user and --sasl-password")
	runTool(t, "list", "--zookeeper", zk, "--sasl-mechanism", "gssapi").want(t, exitUsage).wantStderr(t, "--sasl-mechanism must be plain, scram-sha-256 or scram-sha-512")
	runTool(t, "list", "--zookeeper", zk, "--tls-cert", certFile).want(t, exitUsage).wantStderr(t, "--tls-cert and --tls-key go together")
	// ZooKeeper digest auth is added to the session (an open ZooKeeper
	// accepts it); a malformed one is a usage error.
	runTool(t, "list", "--zookeeper", zk, "--zookeeper-auth", "digest:op:secret").want(t, exitError).wantStderr(t, "no Kafka brokers")
	runTool(t, "list", "--zookeeper", zk, "--zookeeper-auth", "digest").want(t, exitUsage).wantStderr(t, "is not SCHEME:CREDENTIALS")
}

// selfSigned writes a self-signed certificate for 127.0.0.1 (the CA file of
// the client) and returns it with its key for the server.
func selfSigned(t *testing.T) (certFile string, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	dir := t.TempDir()
	certFile = filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, pair
}
