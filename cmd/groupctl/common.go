package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/zookeeper"
)

// envZooKeeper is the environment variable that gives --zookeeper's default.
const envZooKeeper = "CONSUMERGROUP_ZOOKEEPER"

// errUnreachable: ZooKeeper (or Kafka) cannot be reached.
var errUnreachable = errors.New("unreachable")

// common holds the flags every command takes.
type common struct {
	zookeeper string
	chroot    string
	brokers   string
	output    string
	timeout   time.Duration
	zkAuth    string
	sec       security
	getenv    func(string) string

	bootstrap string // --bootstrap-server (kafka.go): Kafka's coordinator
	zkGiven   bool   // --zookeeper was on the command line
	both      bool   // the command takes --zookeeper and --bootstrap-server together
}

// newFlags returns a flag set with the common flags.
func newFlags(e *env, name, args string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet("groupctl "+name, flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	c := &common{}
	def := e.getenv(envZooKeeper)
	if def == "" {
		def = "127.0.0.1:2181"
	}
	fs.StringVar(&c.zookeeper, "zookeeper", def, "ZooKeeper addresses, comma-separated, optionally ending with the chroot; $"+envZooKeeper+" sets the default")
	fs.StringVar(&c.chroot, "chroot", "", "ZooKeeper chroot of Kafka's nodes, e.g. /kafka")
	fs.StringVar(&c.brokers, "brokers", "", "Kafka addresses, comma-separated (default: discovered in ZooKeeper)")
	fs.StringVar(&c.output, "output", "table", "output format: table or json")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for ZooKeeper and Kafka")
	fs.StringVar(&c.zkAuth, "zookeeper-auth", "", "ZooKeeper credentials, SCHEME:CREDENTIALS (e.g. digest:user:password)")
	c.sec.flags(fs)
	c.getenv = e.getenv
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: groupctl %s [flags] %s\n\nflags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs, c
}

// parse parses args, flags and positional arguments in any order (as in
// "describe GROUP --output json"), and returns the positional ones. A bad
// flag is a usageError carrying the usage text.
func parse(fs *flag.FlagSet, c *common, args []string) ([]string, error) {
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return nil, helpRequested{usage: usageText(fs)}
		}
		if err != nil {
			return nil, usageError{msg: err.Error(), usage: usageText(fs)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			// Parse consumed a "--": what follows are arguments.
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if c != nil {
		if c.output != "table" && c.output != "json" {
			return nil, usageError{msg: fmt.Sprintf("--output must be table or json, not %q", c.output), usage: usageText(fs)}
		}
		if c.timeout <= 0 {
			return nil, usageError{msg: fmt.Sprintf("--timeout must be positive, not %v", c.timeout), usage: usageText(fs)}
		}
		if strings.TrimSpace(c.zookeeper) == "" {
			return nil, usageError{msg: "--zookeeper is empty", usage: usageText(fs)}
		}
		if c.zkAuth != "" && !strings.Contains(c.zkAuth, ":") {
			return nil, usageError{msg: fmt.Sprintf("--zookeeper-auth %q is not SCHEME:CREDENTIALS", c.zkAuth), usage: usageText(fs)}
		}
		if err := c.sec.check(c.getenv); err != nil {
			return nil, usageError{msg: err.Error(), usage: usageText(fs)}
		}
		if err := c.checkBootstrap(fs); err != nil {
			return nil, usageError{msg: err.Error(), usage: usageText(fs)}
		}
	}
	return positional, nil
}

// bothSourcesMsg is the one refusal of --zookeeper given on the command
// line together with --bootstrap-server, by every command but list.
const bothSourcesMsg = "--zookeeper and --bootstrap-server select different groups: keep --zookeeper for a group in ZooKeeper, or --bootstrap-server for a group of Kafka's coordinator (only list takes both, to list both kinds)"

// checkSources is the one rule of --zookeeper on the command line together
// with --bootstrap-server: list (c.both) lists both kinds of group side by
// side; every other command works on one kind and refuses, in one wording
// that says what to drop. $CONSUMERGROUP_ZOOKEEPER is a default, not a
// choice: --bootstrap-server overrides it everywhere.
func (c *common) checkSources() error {
	if c.zkGiven && c.bootstrap != "" && !c.both {
		return errors.New(bothSourcesMsg)
	}
	return nil
}

func usageText(fs *flag.FlagSet) string {
	var b bytes.Buffer
	fs.SetOutput(&b)
	fs.Usage()
	return b.String()
}

// servers splits --zookeeper and --chroot into servers and a chroot.
func (c *common) servers() ([]string, string, error) {
	var servers []string
	for _, s := range strings.Split(c.zookeeper, ",") {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	if len(servers) == 0 {
		return nil, "", usageError{msg: fmt.Sprintf("--zookeeper %q names no server", c.zookeeper)}
	}
	chroot := c.chroot
	last := servers[len(servers)-1]
	if i := strings.IndexByte(last, '/'); i >= 0 {
		servers[len(servers)-1] = last[:i]
		if chroot != "" && chroot != last[i:] {
			return nil, "", usageError{msg: fmt.Sprintf("chroot %q in --zookeeper and --chroot %q differ", last[i:], chroot)}
		}
		chroot = last[i:]
	}
	return servers, chroot, nil
}

// dial connects to ZooKeeper within --timeout.
func (c *common) dial(ctx context.Context) (*zookeeper.Client, error) {
	return c.dialSession(ctx, 0)
}

// dialSession is dial with a session timeout (0: from --timeout).
func (c *common) dialSession(ctx context.Context, session time.Duration) (*zookeeper.Client, error) {
	servers, chroot, err := c.servers()
	if err != nil {
		return nil, err
	}
	cfg := c.zkConfig(servers, chroot)
	if session > 0 {
		cfg.SessionTimeout = session
	}
	if err := cfg.Validate(); err != nil {
		return nil, usageError{msg: err.Error()}
	}
	if err := c.probe(ctx, servers); err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	z, err := zookeeper.Dial(dctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: ZooKeeper at %s: %v", errUnreachable, strings.Join(servers, ","), err)
	}
	return z, nil
}

// zkConfig is the ZooKeeper configuration of the flags.
func (c *common) zkConfig(servers []string, chroot string) zookeeper.Config {
	cfg := zookeeper.Config{Servers: servers, Chroot: chroot, SessionTimeout: max(c.timeout, 2*time.Second)}
	if c.zkAuth != "" {
		scheme, cred, _ := strings.Cut(c.zkAuth, ":")
		cfg.Auth = []zookeeper.Auth{{Scheme: scheme, Credentials: cred}}
	}
	return cfg
}

// probeTimeout bounds the first TCP connection to each ZooKeeper server.
const probeTimeout = 3 * time.Second

// probe fails fast when no ZooKeeper server accepts a TCP connection: the
// ZooKeeper client itself would try again and again until --timeout, and
// then say only "deadline exceeded".
func (c *common) probe(ctx context.Context, servers []string) error {
	if err := reachAny(ctx, servers, min(c.timeout, probeTimeout)); err != nil {
		return fmt.Errorf("%w: ZooKeeper at %s: %v", errUnreachable, strings.Join(servers, ","), err)
	}
	return nil
}

// reachAny returns nil once one of addrs accepts a TCP connection, or an
// error naming each address and why not ("connection refused").
func reachAny(ctx context.Context, addrs []string, timeout time.Duration) error {
	var errs []string
	for _, a := range addrs {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			conn.Close()
			return nil
		}
		msg := err.Error()
		if errors.Is(err, syscall.ECONNREFUSED) {
			msg = "connection refused"
		}
		errs = append(errs, a+": "+msg)
	}
	return errors.New(strings.Join(errs, "; "))
}

// brokerList returns --brokers, or the brokers registered in ZooKeeper.
func (c *common) brokerList(ctx context.Context, z *zookeeper.Client) ([]string, error) {
	if c.bootstrap != "" {
		return splitAddrs(c.bootstrap), nil
	}
	if c.brokers != "" {
		var out []string
		for _, b := range strings.Split(c.brokers, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
		return out, nil
	}
	brokers, err := z.Brokers(ctx)
	if len(brokers) == 0 {
		return nil, fmt.Errorf("no Kafka brokers in ZooKeeper (give --brokers): %w", err)
	}
	return brokers, nil
}

// kafka returns a Kafka client and its admin client; close the client.
func (c *common) kafka(ctx context.Context, z *zookeeper.Client, opts ...kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	brokers, err := c.brokerList(ctx, z)
	if err != nil {
		return nil, nil, err
	}
	if err := reachAny(ctx, brokers, min(c.timeout, probeTimeout)); err != nil {
		if c.bootstrap != "" { // the coordinator itself
			return nil, nil, fmt.Errorf("%w: Kafka at %s: %v", errUnreachable, strings.Join(brokers, ","), err)
		}
		return nil, nil, fmt.Errorf("unreachable: Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	sec, err := c.sec.opts(c.getenv)
	if err != nil {
		return nil, nil, usageError{msg: err.Error()}
	}
	base := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(min(c.timeout, probeTimeout)), kgo.RetryTimeout(c.timeout)}
	cl, err := kgo.NewClient(append(append(base, sec...), opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, kadm.NewClient(cl), nil
}

// kafkaAddrs names the Kafka brokers for messages: --brokers, or "the
// brokers registered in ZooKeeper".
func (c *common) kafkaAddrs() string {
	if c.bootstrap != "" {
		return c.bootstrap
	}
	if c.brokers != "" {
		return c.brokers
	}
	return "(brokers registered in ZooKeeper at " + c.zookeeper + ")"
}

// groupArg returns the single GROUP argument.
func groupArg(fs *flag.FlagSet, args []string) (string, error) {
	if len(args) != 1 {
		return "", usageError{msg: fmt.Sprintf("want exactly one GROUP argument, got %d", len(args)), usage: usageText(fs)}
	}
	return args[0], nil
}

// withTimeout bounds one command's work by --timeout.
func (c *common) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}
