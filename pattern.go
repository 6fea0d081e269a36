package consumergroup

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/layout"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// Subscriptions by pattern (ConsumerGroupConfig.TopicPattern). A pattern
// matches whole topic names, as Kafka's clients match them (Java's
// Pattern.matches, the broker's RE2J for KIP-848): it is compiled
// anchored, ^(?:pattern)$. Internal topics are never matched.
//
// Who follows the topics: on ZooKeeper, only the leader lists (and
// watches) /brokers/topics, and only while some member subscribes by
// pattern; the other members learn the matching topics from the published
// assignment, which they read anyway (zkgroup_topics.go). On Kafka's
// coordinator, franz-go's regex consumption (consumeOptions).

// MaxTopicPatternBytes bounds ConsumerGroupConfig.TopicPattern: each
// member writes it in its ZooKeeper registration, whose server limit is
// about 1 MB (jute.maxbuffer); Validate refuses a longer one rather than
// the member failing to register again and again.
const MaxTopicPatternBytes = 100_000

// compilePattern compiles a TopicPattern into the regular expression that
// matches whole topic names. The pattern is checked alone first: wrapped
// unchecked, "a)|(b" would compile into something else.
func compilePattern(p string) (*regexp.Regexp, error) {
	if len(p) > MaxTopicPatternBytes {
		return nil, fmt.Errorf("%d bytes, over MaxTopicPatternBytes (%d): every member writes it in its ZooKeeper registration", len(p), MaxTopicPatternBytes)
	}
	if _, err := regexp.Compile(p); err != nil {
		return nil, fmt.Errorf("%q is not a regular expression (Go's RE2 syntax): %v", p, err)
	}
	return regexp.Compile(anchored(p))
}

// anchored returns the source of the expression that matches the whole
// names p matches: what franz-go receives (and, through it, a KIP-848
// broker, which matches whole names anyway).
func anchored(p string) string { return "^(?:" + p + ")$" }

// internalTopics are Kafka's internal topics: never consumed by a pattern,
// as Kafka's own clients exclude them.
var internalTopics = []string{"__consumer_offsets", "__transaction_state", "__share_group_state", "__cluster_metadata"}

// isInternalTopic reports whether t is one of Kafka's internal topics.
func isInternalTopic(t string) bool { return slices.Contains(internalTopics, t) }

// subscription is what a member consumes: the topics it lists, or the
// topics a pattern matches (Kafka's white_list), or does not match
// (black_list, which Kafka's consumer could register: read, never written).
type subscription struct {
	kind   string         // layout.PatternStatic, PatternWhiteList or PatternBlackList
	topics []string       // static: the topics, sorted
	regex  string         // a list pattern: the registration's expression
	re     *regexp.Regexp // the compiled expression (anchored)
}

// staticSubscription is the subscription of a list of topics.
func staticSubscription(topics []string) subscription {
	return subscription{kind: layout.PatternStatic, topics: topics}
}

// patternSubscription is the subscription of a TopicPattern (Validate
// compiled it).
func patternSubscription(p string) subscription {
	re, _ := compilePattern(p)
	return subscription{kind: layout.PatternWhiteList, regex: p, re: re}
}

// readSubscription is the subscription a member registered. A list pattern
// that Go's regexp cannot compile (Kafka's consumers wrote Java regexes) is
// an error naming the member and the expression.
func readSubscription(id string, r zookeeper.Registration) (subscription, error) {
	if r.Pattern == "" || r.Pattern == layout.PatternStatic {
		return staticSubscription(r.Topics), nil
	}
	if len(r.Topics) != 1 {
		return subscription{}, fmt.Errorf("%w: registration of %s: %s with %d expressions, want 1", ErrBadData, id, r.Pattern, len(r.Topics))
	}
	re, err := compilePattern(r.Topics[0])
	if err != nil {
		return subscription{}, fmt.Errorf("%w: registration of %s: %s: %v", ErrBadData, id, r.Pattern, err)
	}
	return subscription{kind: r.Pattern, regex: r.Topics[0], re: re}, nil
}

// byPattern reports whether the subscription follows the topics that
// exist (a list pattern) rather than naming them.
func (s subscription) byPattern() bool { return s.re != nil }

// matches reports whether topic t is subscribed.
func (s subscription) matches(t string) bool {
	switch s.kind {
	case layout.PatternWhiteList:
		return !isInternalTopic(t) && s.re.MatchString(t)
	case layout.PatternBlackList:
		return !isInternalTopic(t) && !s.re.MatchString(t)
	}
	_, ok := slices.BinarySearch(s.topics, t)
	return ok
}

// resolve returns the subscribed topics among all (sorted): the listed
// ones, whether they exist or not, or those a pattern matches.
func (s subscription) resolve(all []string) []string {
	if !s.byPattern() {
		return s.topics
	}
	var out []string
	for _, t := range all {
		if s.matches(t) {
			out = append(out, t)
		}
	}
	return out
}

// equal reports whether two subscriptions name the same topics.
func (s subscription) equal(o subscription) bool {
	return s.kind == o.kind && s.regex == o.regex && slices.Equal(s.topics, o.topics)
}

// String describes the subscription for errors: the topics, or the pattern.
func (s subscription) String() string {
	switch s.kind {
	case layout.PatternWhiteList:
		return fmt.Sprintf("pattern %q", s.regex)
	case layout.PatternBlackList:
		return fmt.Sprintf("every topic but pattern %q", s.regex)
	}
	return "topics " + strings.Join(s.topics, ",")
}

// subscriptionArgs checks what a constructor is given to consume: a list
// of topics, or ConsumerGroupConfig.TopicPattern, not both, not neither.
func subscriptionArgs(topics []string, cfg *ConsumerGroupConfig) error {
	switch {
	case cfg.TopicPattern != "" && len(topics) > 0:
		return fmt.Errorf("%w: both topics %q and ConsumerGroupConfig.TopicPattern %q: give one (nil topics with a pattern)", ErrInvalidArgument, topics, cfg.TopicPattern)
	case cfg.TopicPattern == "" && len(topics) == 0:
		return fmt.Errorf("%w: no topic to consume (give topics, or set ConsumerGroupConfig.TopicPattern)", ErrInvalidArgument)
	}
	for _, t := range topics {
		if err := layout.CheckName("topic", t); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
	}
	return nil
}

// topicArg is a seed constructor's one topic as a list: none when it is ""
// (a subscription by pattern).
func topicArg(topic string) []string {
	if topic == "" {
		return nil
	}
	return []string{topic}
}

// missingTopicDeleted is how long a topic a pattern matched may be missing
// from Kafka's metadata before franz-go takes it as deleted and gives it
// up: two metadata refreshes (franz-go's default is 15 s).
func missingTopicDeleted(cfg *ConsumerGroupConfig) time.Duration {
	return 2 * cfg.MetadataInterval
}

// consumeOptions are the options that choose what a client coordinated by
// Kafka consumes: topics, or the pattern (franz-go's regex consumption,
// anchored). A share group's client takes the same.
//
// The pattern is always resolved by the client, against its metadata, and
// the member subscribes to the names it matched, KIP-848 included: franz-go
// would otherwise send it to the broker as SubscribedTopicRegex, and a
// Kafka 4.4 broker resolves that against internal topics too (a member
// subscribed to ".*" was assigned __consumer_offsets) and at most every
// 10 s (its REGEX_BATCH_REFRESH_MIN_INTERVAL_MS; a new topic took 9.5 s).
// Excluding the internal topics (kgo.ConsumeExcludeTopics) keeps them out
// and makes franz-go resolve locally (it has no exclusion to send): Go's
// syntax on every coordinator, new topics within MetadataInterval.
func consumeOptions(topics []string, cfg *ConsumerGroupConfig) []kgo.Opt {
	if cfg.TopicPattern == "" {
		return []kgo.Opt{kgo.ConsumeTopics(topics...)}
	}
	return []kgo.Opt{
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(anchored(cfg.TopicPattern)),
		kgo.ConsumeExcludeTopics(internalTopicsRegex),
		kgo.ConsiderMissingTopicDeletedAfter(missingTopicDeleted(cfg)),
	}
}

// internalTopicsRegex matches the names of internalTopics.
var internalTopicsRegex = "^(?:" + strings.Join(internalTopics, "|") + ")$"

// errPatternFirstTopic is the error of a seed method about "the group's
// first topic" on a group subscribed by pattern, which has none.
func errPatternFirstTopic(method, instead string) error {
	return fmt.Errorf("%w: %s: the group subscribes by pattern (ConsumerGroupConfig.TopicPattern) and has no first topic: use %s", ErrInvalidArgument, method, instead)
}

// topicsFollower announces TOPICS_CHANGED for a member whose franz-go
// client consumes by pattern (Kafka's coordinator; a share group's client
// the same way): it compares the topics the client consumes with those of
// the last look. Its owner's goroutine calls follow, every CommitInterval.
type topicsFollower struct {
	last []string // the topics at the last look, sorted
}

// follow notifies TOPICS_CHANGED when the topics cl consumes changed.
func (f *topicsFollower) follow(g *ConsumerGroup, cl *kgo.Client, generation int) {
	if !g.sub.byPattern() {
		return
	}
	now := slices.Sorted(slices.Values(cl.GetConsumeTopics()))
	added, removed := diffTopics(f.last, now)
	if len(added)+len(removed) == 0 {
		return
	}
	f.last = now
	g.log.Info("topics matching the pattern changed", "added", added, "removed", removed)
	g.notify(&Notification{Type: TOPICS_CHANGED, Generation: generation, TopicsAdded: added, TopicsRemoved: removed})
}
