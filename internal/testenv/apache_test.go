package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApacheNotInstalled: a missing or unresolvable broker is an error
// wrapping ErrKafkaNotInstalled that says why and what to run, so that the
// suites that need it skip with that message.
func TestApacheNotInstalled(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvKafkaCache, cache)
	_, _, err := ApacheInstalled(KindKafka4)
	if !errors.Is(err, ErrKafkaNotInstalled) || !strings.Contains(err.Error(), "scripts/ensure-kafka.sh") {
		t.Fatalf("empty cache: %v, want ErrKafkaNotInstalled naming scripts/ensure-kafka.sh", err)
	}
	dir := filepath.Join(cache, string(KindKafka39))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	why := "no version of Apache Kafka for kafka-3.9 resolved from Maven Central (tried 3.9.2)"
	if err := os.WriteFile(filepath.Join(dir, "UNAVAILABLE"), []byte(why+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = StartApache(KindKafka39, []string{"127.0.0.1:1"}, "")
	if !errors.Is(err, ErrKafkaNotInstalled) || !strings.Contains(err.Error(), why) {
		t.Fatalf("unresolved version: %v, want ErrKafkaNotInstalled with the script's reason", err)
	}
	if _, _, err := ApacheInstalled("kafka-2"); err == nil || errors.Is(err, ErrKafkaNotInstalled) {
		t.Fatalf("unknown kind: %v, want an error naming the kinds", err)
	}
}

// TestStartApacheBadArguments: a 3.9 broker needs ZooKeeper, a KRaft node
// takes none; both are refused before anything starts.
func TestStartApacheBadArguments(t *testing.T) {
	for _, kind := range ApacheKinds {
		if _, _, err := ApacheInstalled(kind); err != nil {
			t.Skip(err)
		}
	}
	if _, err := StartApache(KindKafka39, nil, ""); err == nil || !strings.Contains(err.Error(), "ZooKeeper") {
		t.Errorf("3.9 without ZooKeeper: %v", err)
	}
	if _, err := StartApache(KindKafka4, []string{"127.0.0.1:1"}, ""); err == nil || !strings.Contains(err.Error(), "no ZooKeeper") {
		t.Errorf("4 with ZooKeeper: %v", err)
	}
	if _, err := StartApache(KindKafka39, []string{"127.0.0.1:1"}, "bad"); err == nil {
		t.Error("3.9 with a chroot without a leading slash: no error")
	}
}
