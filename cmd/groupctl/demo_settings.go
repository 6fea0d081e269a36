package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/consumergroup/consumergroup"
)

// demoSettings are the group settings of the demo's members. Some differ
// from the library's defaults, to make the demo's changes quick: the
// summary's numbers depend on them, and the demo prints them.
type demoSettings struct {
	session, commit, handoff time.Duration
	metadata                 time.Duration // Kafka's coordinator: the partitions the demo adds are seen within it
	strategy                 string
}

// newDemoSettings returns the demo's settings, or with libraryDefaults
// (--library-defaults) the library's.
func newDemoSettings(libraryDefaults bool) demoSettings {
	if libraryDefaults {
		def := consumergroup.NewConsumerGroupConfig()
		return demoSettings{session: def.ZookeeperTimeout, commit: def.CommitInterval, handoff: def.HandoffTimeout,
			metadata: def.MetadataInterval, strategy: def.Strategy}
	}
	return demoSettings{session: 2 * time.Second, commit: 200 * time.Millisecond, handoff: time.Second,
		metadata: 10 * time.Second, strategy: consumergroup.StrategySticky}
}

// config is the members' configuration.
func (s demoSettings) config() *consumergroup.ConsumerGroupConfig {
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.ZookeeperTimeout = s.session
	cfg.CommitInterval = s.commit
	cfg.HandoffTimeout = s.handoff
	cfg.MetadataInterval = s.metadata
	cfg.Strategy = s.strategy
	return cfg
}

// demoSetting is one line of the settings: its value and the library's
// default.
type demoSetting struct {
	Name       string `json:"name"`
	Value      string `json:"value"`
	Default    string `json:"default"`
	NonDefault bool   `json:"non_default"`
}

func (s demoSettings) list(o demoOpts) []demoSetting {
	def := consumergroup.NewConsumerGroupConfig()
	one := func(name string, v, d any) demoSetting {
		vs, ds := fmt.Sprint(v), fmt.Sprint(d)
		return demoSetting{name, vs, ds, vs != ds}
	}
	return []demoSetting{
		one("ZookeeperTimeout (session)", s.session, def.ZookeeperTimeout),
		one("CommitInterval", s.commit, def.CommitInterval),
		one("HandoffTimeout", s.handoff, def.HandoffTimeout),
		one("MetadataInterval", s.metadata, def.MetadataInterval),
		one("Strategy", orDefault(s.strategy), orDefault(def.Strategy)),
		one("InitialOffset", "oldest", "oldest"),
		{Name: "members / partitions / messages", Value: fmt.Sprintf("%d / %d / %d", o.members, o.partitions, o.messages), Default: "-"},
		{Name: "work per message", Value: o.work.String(), Default: "-"},
	}
}

// orDefault names the empty strategy: the coordinator's default (range on
// ZooKeeper, cooperative-sticky on Kafka's coordinator).
func orDefault(strategy string) string {
	if strategy == "" {
		return "coordinator's default"
	}
	return strategy
}

// printSettings prints the settings, non-default ones marked with *.
func (s demoSettings) print(w io.Writer, o demoOpts) {
	fmt.Fprintln(w, "Settings of the demo's members (* differs from the library's default, given in brackets):")
	for _, st := range s.list(o) {
		mark := " "
		if st.NonDefault {
			mark = "*"
		}
		def := ""
		if st.Default != "-" {
			def = " [" + st.Default + "]"
		}
		fmt.Fprintf(w, "  %s %-32s %s%s\n", mark, st.Name, st.Value, def)
	}
	fmt.Fprintln(w)
}

// demoFlags is the demo's flag set: its own flags, --output, and
// --zookeeper/--chroot for an existing ZooKeeper (the flags of Kafka and of
// --timeout do not apply: the demo runs its own Kafka).
func demoFlags(o *demoOpts) *flag.FlagSet {
	fs := flag.NewFlagSet("groupctl demo", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	fs.IntVar(&o.messages, "messages", 20000, "messages to produce")
	fs.IntVar(&o.partitions, "partitions", 16, "partitions of the topic at the start")
	fs.IntVar(&o.members, "members", 3, "members at the start")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "give up after this long")
	fs.DurationVar(&o.work, "work", 100*time.Microsecond, "processing time of one message")
	fs.BoolVar(&o.plain, "plain", false, "plain lines instead of the live view (the default when stdout is not a terminal)")
	fs.BoolVar(&o.libraryDefaults, "library-defaults", false, "run the members with the library's default settings instead of the demo's quicker ones")
	fs.StringVar(&o.output, "output", "table", "table (live view or plain lines), or json: the summary as one JSON document on stdout, progress on stderr")
	fs.StringVar(&o.zookeeper, "zookeeper", "", "use this running ZooKeeper (host:port,...) instead of starting one; the demo works under --chroot and deletes it at the end")
	fs.StringVar(&o.kafka, "kafka", "kfake", "the Kafka to run on: kfake (in-process, 3 brokers) or apache (a real Apache Kafka 3.9 broker in ZooKeeper mode; make demo fetches it)")
	fs.BoolVar(&o.serveOn, "serve", false, "also run groupctl serve's web view of the demo and print its URL")
	fs.StringVar(&o.serve, "listen", "127.0.0.1:0", "the web view's address with --serve")
	fs.StringVar(&o.coordinator, "coordinator", coordZooKeeper, "the group's coordinator: zookeeper (Kafka's ZooKeeper layout) or kafka (Kafka's own group coordinator, JoinKafkaConsumerGroup)")
	fs.StringVar(&o.protocol, "group-protocol", consumergroup.GroupProtocolClassic, "with --coordinator kafka: classic or consumer (KIP-848)")
	fs.StringVar(&o.groupType, "group-type", groupTypeConsumer, "consumer (a consumer group: partitions owned by one member) or share (a share group, Kafka 4's queues: more members than partitions, poison messages rejected, slow ones renewed, a crash; on kfake, no ZooKeeper; 4 members on 2 partitions unless --members/--partitions say otherwise)")
	fs.StringVar(&o.chroot, "chroot", "", "ZooKeeper chroot of the demo's nodes (default with --zookeeper: /consumergroup-demo-<unix time>)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: groupctl demo [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// summaryJSON is the summary of --output json.
type summaryJSON struct {
	ZooKeeper   string          `json:"zookeeper"`
	Settings    []demoSetting   `json:"settings"`
	Produced    int             `json:"produced"`
	Processed   int             `json:"processed"`
	Lost        int             `json:"lost"`
	Duplicates  int             `json:"duplicates"`
	FromCrash   int             `json:"duplicates_from_crash"`
	CrashWindow int64           `json:"crash_uncommitted_window"`
	Unexplained int             `json:"duplicates_unexplained"`
	Rebalances  []rebalanceJSON `json:"rebalances"`
	ElapsedSecs float64         `json:"elapsed_seconds"`
	Result      string          `json:"result"`
}

// rebalanceJSON is one change of the group in --output json.
type rebalanceJSON struct {
	What       string  `json:"what"`
	Secs       float64 `json:"seconds"`
	Generation int     `json:"generation"`
	Moved      int     `json:"partitions_moved"`
}

func (d *demo) printSummaryJSON(s demoSummary) error {
	out := summaryJSON{ZooKeeper: d.zkAddr, Settings: d.settings.list(d.o), Produced: s.Produced, Processed: s.Processed, Lost: s.Lost,
		Duplicates: s.Duplicates, FromCrash: s.FromCrash, CrashWindow: s.CrashWindow, Unexplained: s.Unexplained,
		ElapsedSecs: s.Elapsed.Seconds(), Result: "nothing lost"}
	for _, r := range s.Rebalances {
		out.Rebalances = append(out.Rebalances, rebalanceJSON{r.what, r.took.Seconds(), r.generation, r.moved})
	}
	switch {
	case s.Interrupted:
		out.Result = "interrupted"
	case s.Lost > 0:
		out.Result = fmt.Sprintf("%d messages lost", s.Lost)
	}
	enc := json.NewEncoder(d.e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
