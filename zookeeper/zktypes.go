package zookeeper

import "github.com/consumergroup/consumergroup/internal/zk"

// The types of the ZooKeeper client underneath that this package's API
// shows: go-zookeeper v1.0.4's, built from a copy that fixes its data race
// on reconnect (internal/zk/README.md), so that every program built with
// this module gets the fix. Name them through this package.

// Event is what a watch's channel delivers, once: a node created, deleted
// or changed (Type, Path), or the end of the session (Err).
type Event = zk.Event

// EventType says what an Event is about.
type EventType = zk.EventType

// The types of Event.
const (
	EventNodeCreated         = zk.EventNodeCreated
	EventNodeDeleted         = zk.EventNodeDeleted
	EventNodeDataChanged     = zk.EventNodeDataChanged
	EventNodeChildrenChanged = zk.EventNodeChildrenChanged
	EventNotWatching         = zk.EventNotWatching
)

// ACL is one access control entry of the nodes the Client creates
// (Config.ACL): a scheme ("world", "auth", "digest"), an id and permissions.
type ACL = zk.ACL

// Permissions of an ACL entry.
const (
	PermRead   = zk.PermRead
	PermWrite  = zk.PermWrite
	PermCreate = zk.PermCreate
	PermDelete = zk.PermDelete
	PermAdmin  = zk.PermAdmin
	PermAll    = zk.PermAll
)

// WorldACL is an ACL that gives anyone perms (ZooKeeper's default,
// PermAll).
func WorldACL(perms int32) []ACL { return zk.WorldACL(perms) }

// AuthACL is an ACL that gives perms to the identities the connection
// authenticated as (Config.Auth).
func AuthACL(perms int32) []ACL { return zk.AuthACL(perms) }

// DigestACL is an ACL that gives perms to user authenticated with password
// (the "digest" scheme).
func DigestACL(perms int32, user, password string) []ACL { return zk.DigestACL(perms, user, password) }
