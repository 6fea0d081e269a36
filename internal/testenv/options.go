package testenv

import (
	"os"
	"time"
)

// Default settings of servers started by StartZooKeeper and StartEnsemble.
const (
	// DefaultTickTime is ZooKeeper's tick: sessions time out between 2 and
	// 20 ticks after their last heartbeat, so short ticks let tests expire
	// sessions in well under a second.
	DefaultTickTime = 200 * time.Millisecond

	// DefaultStartTimeout bounds how long starting or restarting a server
	// waits for it to serve requests.
	DefaultStartTimeout = 20 * time.Second

	// envServerLog, set to 1, turns on WithServerLog by default.
	envServerLog = "CONSUMERGROUP_ZK_LOG"
)

// Option changes how StartZooKeeper and StartEnsemble run ZooKeeper.
type Option func(*config)

// config is the result of applying Options to the defaults.
type config struct {
	tickTime         time.Duration
	serverLog        bool
	startTimeout     time.Duration
	unlimitedClients bool
	jars             string // WithJars: a lib directory, or "" for EnvZooKeeperJars' choice
	server           jars   // the server's class path, found by the start
}

func newConfig(opts []Option) config {
	cfg := config{
		tickTime:     DefaultTickTime,
		serverLog:    os.Getenv(envServerLog) == "1",
		startTimeout: DefaultStartTimeout,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return cfg
}

// WithTickTime sets ZooKeeper's tickTime, rounded down to whole
// milliseconds (default DefaultTickTime). The server accepts session
// timeouts from 2 ticks up to 60 s.
func WithTickTime(d time.Duration) Option {
	return func(c *config) { c.tickTime = d }
}

// WithServerLog makes the server print its log (level INFO) to stderr,
// each line prefixed with the server's address. The default is off unless
// the environment sets CONSUMERGROUP_ZK_LOG=1; even off, the server's
// warnings and errors are kept in memory for the error of a failed start.
func WithServerLog(enabled bool) Option {
	return func(c *config) { c.serverLog = enabled }
}

// WithStartTimeout bounds how long a start or restart waits for the server
// to serve requests (default DefaultStartTimeout). On timeout the error
// includes the tail of the server's output.
func WithStartTimeout(d time.Duration) Option {
	return func(c *config) { c.startTimeout = d }
}

// WithUnlimitedClients lifts ZooKeeper's limit of 60 connections from one
// address (maxClientCnxns=0): every client here connects from 127.0.0.1, and
// a benchmark of hundreds of members needs a session each.
func WithUnlimitedClients() Option {
	return func(c *config) { c.unlimitedClients = true }
}

func (c config) validate() error {
	if c.tickTime < time.Millisecond {
		return errorf("tick time %v is below 1ms", c.tickTime)
	}
	if c.startTimeout <= 0 {
		return errorf("start timeout %v is not positive", c.startTimeout)
	}
	return nil
}
