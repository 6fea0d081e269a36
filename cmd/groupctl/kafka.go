package main

// --bootstrap-server: the commands on groups that Kafka's own group
// coordinator runs (JoinKafkaConsumerGroup's, the Java consumer's),
// instead of the groups in ZooKeeper.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// Kinds of group: where its coordination lives.
const (
	kindZooKeeper = "zookeeper"
	kindKafka     = "kafka"
)

// bootstrapFlag adds --bootstrap-server to a command that can work on
// Kafka's coordinator.
func bootstrapFlag(fs *flag.FlagSet, c *common) {
	fs.StringVar(&c.bootstrap, "bootstrap-server", "", "Kafka addresses, comma-separated: the groups of Kafka's own group coordinator instead of ZooKeeper's (with the --tls* and --sasl-* flags)")
}

// checkBootstrap checks the flags that go, or do not go, with
// --bootstrap-server; parse calls it. --zookeeper given on the command line
// as well is for list only (checkSources); --brokers, --chroot and
// --zookeeper-auth are ZooKeeper's.
func (c *common) checkBootstrap(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	c.zkGiven = given["zookeeper"]
	if c.bootstrap == "" {
		return nil
	}
	if len(splitAddrs(c.bootstrap)) == 0 {
		return fmt.Errorf("--bootstrap-server %q names no broker", c.bootstrap)
	}
	if given["brokers"] {
		return errors.New("--brokers is for groups in ZooKeeper: with --bootstrap-server, drop it")
	}
	if err := c.checkSources(); err != nil {
		return err
	}
	if !c.zkGiven {
		for _, f := range []string{"chroot", "zookeeper-auth"} {
			if given[f] {
				return fmt.Errorf("--%s is ZooKeeper's: it needs --zookeeper", f)
			}
		}
	}
	return nil
}

// onKafka reports whether the command works on Kafka's coordinator only.
func (c *common) onKafka() bool { return c.bootstrap != "" && !c.zkGiven }

// splitAddrs splits a comma-separated list of addresses.
func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// kafkaWhere names Kafka's coordinator for messages.
func (c *common) kafkaWhere() string { return "Kafka at " + c.bootstrap }

// bootstrapClient connects to --bootstrap-server: a client and its admin
// client; close the client. Brokers that accept no connection give
// errUnreachable.
func (c *common) bootstrapClient(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	return c.kafka(ctx, nil, opts...)
}

// kafkaGroupErr says what a Kafka error means for group.
func (c *common) kafkaGroupErr(group string, err error) error {
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return fmt.Errorf("%w: %q in %s", consumergroup.ErrUnknownGroup, group, c.kafkaWhere())
	case errors.Is(err, kerr.NonEmptyGroup), errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
		errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.StaleMemberEpoch):
		return fmt.Errorf("%w: group %q in %s (%v)", consumergroup.ErrGroupActive, group, c.kafkaWhere(), err)
	}
	return err
}

// sourceWhere names the source of groups the flags select.
func (c *common) sourceWhere() string {
	if c.onKafka() {
		return c.kafkaWhere()
	}
	return "ZooKeeper at " + c.zookeeper
}
