package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Where the ZooKeeper servers' jars come from.
const (
	// EnvZooKeeperJars chooses the ZooKeeper server the package starts:
	// JarsDebian, JarsMaven, or a directory holding a server's jars and
	// their dependencies. Unset (or "auto"): Debian's when installed, else
	// Maven Central's 3.8 when fetched. `make ... ZOOKEEPER=...` sets it.
	EnvZooKeeperJars = "CONSUMERGROUP_ZOOKEEPER_JARS"
	// EnvZooKeeperCache overrides where scripts/ensure-zookeeper-maven.sh
	// puts the jars it fetches from Maven Central.
	EnvZooKeeperCache = "CONSUMERGROUP_ZOOKEEPER_CACHE"
	// JarsDebian is Debian's zookeeper package (3.8), under /usr/share/java.
	JarsDebian = "debian"
	// JarsMaven is ZooKeeper 3.8 from Maven Central, in ZooKeeperCache().
	JarsMaven = "maven"
	// DefaultMavenLine is the line JarsMaven takes.
	DefaultMavenLine = "3.8"
)

// ZooKeeperLines are the release lines scripts/ensure-zookeeper-maven.sh
// fetches from Maven Central.
var ZooKeeperLines = []string{"3.5", "3.6", "3.7", "3.8", "3.9"}

// javaDir is where Debian's zookeeper package installs its jars and those
// it depends on.
const javaDir = "/usr/share/java"

// Jars of Debian's package on the server's class path, besides one slf4j
// binding.
var serverJars = []string{
	"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar",
	"netty-handler.jar", "netty-common.jar", "netty-buffer.jar",
	"netty-transport.jar", "netty-resolver.jar", "netty-codec.jar",
	"netty-transport-native-epoll.jar", "netty-transport-native-unix-common.jar",
	"metrics-core.jar",
}

// slf4jSimple is the slf4j binding on the server's class path: it prints
// to stderr, at the level a system property sets.
const slf4jSimple = "slf4j-simple.jar"

// ErrNotInstalled is returned (wrapped, naming what is missing) by
// Installed and by everything that starts a server when ZooKeeper's jars or
// java are missing.
var ErrNotInstalled = errors.New(`ZooKeeper is not installed: run "make test" or "make demo" (they install it: ` +
	`Debian's package with apt-get, or with ZOOKEEPER=maven ZooKeeper 3.8 from Maven Central), ` +
	`or "sudo apt-get install -y zookeeper", or "scripts/ensure-zookeeper-maven.sh 3.8" (Java and Maven)`)

// ZooKeeperCache returns the directory scripts/ensure-zookeeper-maven.sh
// fills: zookeeper-<line>/ with lib/ and VERSION, or UNAVAILABLE saying why
// not.
func ZooKeeperCache() string {
	if d := os.Getenv(EnvZooKeeperCache); d != "" {
		return d
	}
	return filepath.Join(cacheRoot(), "zookeeper")
}

// MavenZooKeeper returns the version and the lib directory of the
// ZooKeeper line (such as "3.5") fetched from Maven Central, or an error
// wrapping ErrNotInstalled that says why it is missing and what to run.
func MavenZooKeeper(line string) (version, lib string, err error) {
	dir := filepath.Join(ZooKeeperCache(), "zookeeper-"+line)
	if why, err := os.ReadFile(filepath.Join(dir, "UNAVAILABLE")); err == nil {
		return "", "", fmt.Errorf("%w: %s", ErrNotInstalled, strings.TrimSpace(string(why)))
	}
	v, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		return "", "", fmt.Errorf("%w: no ZooKeeper %s jars in %s: run scripts/ensure-zookeeper-maven.sh %s", ErrNotInstalled, line, dir, line)
	}
	lib = filepath.Join(dir, "lib")
	if _, err := os.Stat(lib); err != nil {
		return "", "", fmt.Errorf("%w: ZooKeeper %s: %v: run scripts/ensure-zookeeper-maven.sh %s again", ErrNotInstalled, line, err, line)
	}
	return strings.TrimSpace(string(v)), lib, nil
}

// WithJars makes the server run from lib, a directory holding a ZooKeeper
// server's jars and their dependencies (such as MavenZooKeeper's), instead
// of the one EnvZooKeeperJars chooses.
func WithJars(lib string) Option {
	return func(c *config) { c.jars = lib }
}

// Installed returns nil when the ZooKeeper server that EnvZooKeeperJars
// chooses can be started: its jars are there and java is on PATH.
// Otherwise its error wraps ErrNotInstalled, whose message names the fix.
func Installed() error {
	_, err := findJars("")
	return err
}

// jars is the class path of a ZooKeeper server, and where it comes from.
type jars struct {
	classPath string
	source    string // "Debian's package", "ZooKeeper 3.8.4 from Maven Central", "the jars in <dir>"
}

// findJars returns the server's jars: those in lib, or, when lib is "",
// those EnvZooKeeperJars chooses.
func findJars(lib string) (jars, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return jars{}, fmt.Errorf("%w (no java on PATH)", ErrNotInstalled)
	}
	if lib != "" {
		return libJars(lib)
	}
	switch choice := os.Getenv(EnvZooKeeperJars); choice {
	case JarsDebian:
		return debianJars()
	case JarsMaven:
		return mavenJars()
	case "", "auto":
		j, err := debianJars()
		if err == nil {
			return j, nil
		}
		if j, err2 := mavenJars(); err2 == nil {
			return j, nil
		}
		return jars{}, err
	default:
		return libJars(choice)
	}
}

// debianJars are Debian's package's.
func debianJars() (jars, error) {
	paths := append(serverJars[:len(serverJars):len(serverJars)], slf4jSimple)
	for i, jar := range paths {
		paths[i] = filepath.Join(javaDir, jar)
		if _, err := os.Stat(paths[i]); err != nil {
			return jars{}, fmt.Errorf("%w (missing %s)", ErrNotInstalled, paths[i])
		}
	}
	return jars{strings.Join(paths, string(os.PathListSeparator)), "Debian's package"}, nil
}

// mavenJars are DefaultMavenLine's from Maven Central.
func mavenJars() (jars, error) {
	version, lib, err := MavenZooKeeper(DefaultMavenLine)
	if err != nil {
		return jars{}, err
	}
	j, err := libJars(lib)
	j.source = "ZooKeeper " + version + " from Maven Central"
	return j, err
}

// libJars are every jar in lib, once lib is seen to hold a ZooKeeper
// server.
func libJars(lib string) (jars, error) {
	found, err := filepath.Glob(filepath.Join(lib, "zookeeper-*.jar"))
	if err != nil || len(found) == 0 {
		return jars{}, fmt.Errorf("%w (no zookeeper-*.jar in %s)", ErrNotInstalled, lib)
	}
	return jars{filepath.Join(lib, "*"), "the jars in " + lib}, nil
}
