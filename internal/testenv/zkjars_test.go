package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestZooKeeperJarsChoice: CONSUMERGROUP_ZOOKEEPER_JARS picks Maven
// Central's cache or a directory; what is missing is an error wrapping
// ErrNotInstalled that says what to run.
func TestZooKeeperJarsChoice(t *testing.T) {
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("no java on PATH")
	}
	cache := t.TempDir()
	t.Setenv(EnvZooKeeperCache, cache)
	t.Setenv(EnvZooKeeperJars, JarsMaven)
	err := Installed()
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "scripts/ensure-zookeeper-maven.sh 3.8") {
		t.Fatalf("maven, empty cache: %v, want ErrNotInstalled naming scripts/ensure-zookeeper-maven.sh 3.8", err)
	}

	dir := filepath.Join(cache, "zookeeper-3.8")
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o700); err != nil {
		t.Fatal(err)
	}
	why := "no version of ZooKeeper 3.8 resolved from Maven Central (tried 3.8.4)"
	if err := os.WriteFile(filepath.Join(dir, "UNAVAILABLE"), []byte(why+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Installed(); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), why) {
		t.Fatalf("maven, unresolved: %v, want ErrNotInstalled with the script's reason", err)
	}

	if err := os.Remove(filepath.Join(dir, "UNAVAILABLE")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("3.8.4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Installed(); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "no zookeeper-*.jar") {
		t.Fatalf("maven, lib without the server's jar: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "zookeeper-3.8.4.jar"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := findJars("")
	if err != nil || j.source != "ZooKeeper 3.8.4 from Maven Central" || j.classPath != filepath.Join(dir, "lib", "*") {
		t.Fatalf("maven: %+v, %v", j, err)
	}

	t.Setenv(EnvZooKeeperJars, filepath.Join(dir, "lib"))
	if j, err := findJars(""); err != nil || !strings.HasPrefix(j.source, "the jars in ") {
		t.Fatalf("a directory: %+v, %v", j, err)
	}
	t.Setenv(EnvZooKeeperJars, cache)
	if err := Installed(); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("a directory without ZooKeeper: %v, want ErrNotInstalled", err)
	}
}
