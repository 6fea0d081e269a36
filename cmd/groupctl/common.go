package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
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
	fs.StringVar(&c.zookeeper, "zookeeper", def, "ZooKeeper addresses, comma-separated, optionally ending with the chroot (default from $"+envZooKeeper+")")
	fs.StringVar(&c.chroot, "chroot", "", "ZooKeeper chroot of Kafka's nodes, e.g. /kafka")
	fs.StringVar(&c.brokers, "brokers", "", "Kafka addresses, comma-separated (default: discovered in ZooKeeper)")
	fs.StringVar(&c.output, "output", "table", "output format: table or json")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for ZooKeeper and Kafka")
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
		out := fs.Output().(*bytes.Buffer)
		if errors.Is(err, flag.ErrHelp) {
			return nil, usageError{msg: "help requested", usage: out.String()}
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
	}
	return positional, nil
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
func (c *common) dial(ctx context.Context) (*consumergroup.ZK, error) {
	servers, chroot, err := c.servers()
	if err != nil {
		return nil, err
	}
	cfg := consumergroup.ZKConfig{Servers: servers, Chroot: chroot, SessionTimeout: max(c.timeout, 2*time.Second)}
	if err := cfg.Validate(); err != nil {
		return nil, usageError{msg: err.Error()}
	}
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	z, err := consumergroup.DialZK(dctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: ZooKeeper at %s: %v", errUnreachable, strings.Join(servers, ","), err)
	}
	return z, nil
}

// brokerList returns --brokers, or the brokers registered in ZooKeeper.
func (c *common) brokerList(ctx context.Context, z *consumergroup.ZK) ([]string, error) {
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
func (c *common) kafka(ctx context.Context, z *consumergroup.ZK, opts ...kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	brokers, err := c.brokerList(ctx, z)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(c.timeout)}, opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, kadm.NewClient(cl), nil
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
