package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// checkMigration refuses to join a group that was moved to Kafka's
// coordinator: z's migration marker (zookeeper.Client.Migration) turned
// into ErrGroupMigrated, which tells how to join it or to override.
func checkMigration(ctx context.Context, z *ZK, group string) error {
	m, err := z.Migration(ctx, group)
	switch {
	case errors.Is(err, ErrBadData):
		return fmt.Errorf("%w: group %q has a migration marker that cannot be read (%w): it was probably moved to Kafka's coordinator; "+
			"set ConsumerGroupConfig.IgnoreMigration to join through ZooKeeper anyway", ErrGroupMigrated, group, err)
	case err != nil:
		return err
	case m == nil:
		return nil
	}
	return fmt.Errorf("%w: group %q was moved to Kafka's group coordinator (%s, at %s, offsets written to %s; marker %s): "+
		"join it with JoinKafkaConsumerGroup; to join through ZooKeeper anyway set ConsumerGroupConfig.IgnoreMigration, "+
		"or roll the move back with groupctl migrate %s --to zookeeper",
		ErrGroupMigrated, group, orUnknown(m.By), m.At.UTC().Format(time.RFC3339), orUnknown(m.Bootstrap), m.Path, group)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
