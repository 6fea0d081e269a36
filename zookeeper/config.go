package zookeeper

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// DefaultSessionTimeout is the ZooKeeper session timeout used when none is
// set: Kafka's own default (zookeeper.session.timeout.ms).
const DefaultSessionTimeout = 6 * time.Second

// Config configures a ZooKeeper connection. The zero value of every field
// but Servers is usable.
type Config struct {
	// Servers are the ZooKeeper addresses, host:port. Required.
	Servers []string

	// Chroot is prefixed to every path, e.g. "/kafka" when Kafka was set up
	// with zookeeper.connect=host:2181/kafka. A trailing slash is removed;
	// "" is the root.
	Chroot string

	// SessionTimeout is the ZooKeeper session timeout: how long the server
	// keeps the session (and so this member's registration and claims)
	// after it last heard from the client, and so how long a crashed member
	// holds its partitions. The server bounds it between 2 and 20 of its
	// ticks. Default DefaultSessionTimeout (6 s). Too short a timeout
	// turns every network hiccup or GC pause into a rebalance.
	SessionTimeout time.Duration

	// Auth holds credentials added to the connection before any other
	// request, e.g. {Scheme: "digest", Credentials: "user:password"}.
	Auth []Auth

	// ACL is set on every node this Client creates. Default (nil): open to all
	// (zk.WorldACL(zk.PermAll)); an empty non-nil ACL is refused. With digest auth, a usual choice is
	// zk.DigestACL(zk.PermAll, user, password), optionally with
	// zk.WorldACL(zk.PermRead) so that monitoring tools can read.
	ACL []ACL

	// BrokerListener names the listener whose address Brokers returns.
	// Default: the PLAINTEXT listener.
	BrokerListener string

	// Logger receives connection events. Default: silent.
	Logger *slog.Logger

	// MaxRequestBytes bounds every request the Client sends, by the length
	// ZooKeeper checks against its jute.maxbuffer (1,048,575 bytes unless
	// the servers set it): a server closes the connection on a request
	// over it. Claims, releases, commits and offset-node creation of many
	// partitions are sent in multis (chunks) of at most this size; a
	// request that cannot fit (one node's data alone) fails, unsent, with
	// ErrRequestTooLarge. Default DefaultMaxRequestBytes (512 KiB: a
	// multi's transaction, logged and sent to followers, is a little
	// larger than the request); at least 4 KiB, at most 1,572,860
	// (go-zookeeper's buffer). Smaller means more round trips, and a
	// chunked commit or claim spread over more transactions; above the
	// servers' jute.maxbuffer, a large request makes the server close the
	// connection again and again.
	MaxRequestBytes int

	hooks *testHooks // the package's tests only (export_test.go)
}

// Auth is one credential for ZooKeeper's AddAuth.
type Auth struct {
	Scheme      string // "digest" for user:password
	Credentials string
}

// Validate checks the configuration; the error names the bad field.
func (c *Config) Validate() error {
	if len(c.Servers) == 0 {
		return fmt.Errorf("%w: Config.Servers: no ZooKeeper address", ErrInvalidArgument)
	}
	for _, s := range c.Servers {
		if err := layout.CheckAddr(s); err != nil {
			return fmt.Errorf("%w: Config.Servers: %v", ErrInvalidArgument, err)
		}
	}
	if _, err := layout.NormalizeChroot(c.Chroot); err != nil {
		return fmt.Errorf("%w: Config.Chroot: %v", ErrInvalidArgument, err)
	}
	if c.SessionTimeout < 0 {
		return fmt.Errorf("%w: Config.SessionTimeout: %v is negative", ErrInvalidArgument, c.SessionTimeout)
	}
	if c.SessionTimeout > 0 && c.SessionTimeout < time.Millisecond {
		return fmt.Errorf("%w: Config.SessionTimeout: %v is below a millisecond", ErrInvalidArgument, c.SessionTimeout)
	}
	for i, a := range c.Auth {
		if a.Scheme == "" {
			return fmt.Errorf("%w: Config.Auth[%d]: empty scheme", ErrInvalidArgument, i)
		}
	}
	if c.MaxRequestBytes != 0 && (c.MaxRequestBytes < minRequestBytes || c.MaxRequestBytes > maxRequestBytes) {
		return fmt.Errorf("%w: Config.MaxRequestBytes: %d is outside [%d, %d] (0: the default, %d)", ErrInvalidArgument, c.MaxRequestBytes, minRequestBytes, maxRequestBytes, DefaultMaxRequestBytes)
	}
	if err := CheckACL(c.ACL); err != nil {
		return fmt.Errorf("%w: Config.ACL: %v", ErrInvalidArgument, err)
	}
	return nil
}

// CheckACL checks an ACL to set on created nodes (Config.ACL): ZooKeeper
// refuses an empty one, or an entry without a scheme, at every create
// (InvalidACL), so that nothing could ever be registered. nil is valid: the
// default, open to all.
func CheckACL(acl []ACL) error {
	if acl != nil && len(acl) == 0 {
		return errors.New("empty: ZooKeeper refuses to create nodes with no ACL entry (nil means the default, open to all)")
	}
	for i, a := range acl {
		if a.Scheme == "" {
			return fmt.Errorf("entry %d has an empty scheme", i)
		}
	}
	return nil
}
