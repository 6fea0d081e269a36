package consumergroup

import (
	"context"
	"time"

	"github.com/consumergroup/consumergroup/zookeeper"
)

// The ZooKeeper client lives in package zookeeper (the client of Kafka's
// ZooKeeper layout); the group keeps the seed's names, and those its users
// have, as aliases: a *ZK is a *zookeeper.Client.

// ZK is a ZooKeeper connection that speaks Kafka's layout: zookeeper.Client.
type ZK = zookeeper.Client

// ZKConfig configures a ZooKeeper connection: zookeeper.Config.
type ZKConfig = zookeeper.Config

// ZKAuth is one credential for ZooKeeper's AddAuth: zookeeper.Auth.
type ZKAuth = zookeeper.Auth

// Session is one ZooKeeper session: zookeeper.Session.
type Session = zookeeper.Session

// Registration is what a member writes at /consumers/<group>/ids/<id>:
// zookeeper.Registration.
type Registration = zookeeper.Registration

// Migration is what a group's migration marker tells: zookeeper.Migration.
// JoinConsumerGroup refuses a migrated group (ErrGroupMigrated) unless
// ConsumerGroupConfig.IgnoreMigration.
type Migration = zookeeper.Migration

// PathError records the znode and the operation that failed:
// zookeeper.PathError.
type PathError = zookeeper.PathError

// DefaultZookeeperTimeout is the ZooKeeper session timeout used when none is
// set: Kafka's own default (zookeeper.session.timeout.ms),
// zookeeper.DefaultSessionTimeout.
const DefaultZookeeperTimeout = zookeeper.DefaultSessionTimeout

// NewZK connects to ZooKeeper, as the seed's NewZK: servers, a chroot and
// the session timeout (zookeeper.New).
func NewZK(servers []string, chroot string, recvTimeout time.Duration) (*ZK, error) {
	return zookeeper.New(servers, chroot, recvTimeout)
}

// DialZK connects to ZooKeeper and waits until a session is established
// (zookeeper.Dial).
func DialZK(ctx context.Context, cfg ZKConfig) (*ZK, error) { return zookeeper.Dial(ctx, cfg) }

// NewConsumerID returns a new consumer id in Kafka's format
// (zookeeper.NewConsumerID).
func NewConsumerID(group string) (string, error) { return zookeeper.NewConsumerID(group) }
