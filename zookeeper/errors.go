package zookeeper

import (
	"errors"
	"fmt"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Errors of the client. Compare with errors.Is: they come wrapped
// in a *PathError that names the operation and the znode, and that also
// wraps the cause (a go-zookeeper error such as zk.ErrNoAuth, or a parse
// error).
var (
	// ErrNoNode: the znode does not exist (no such group, offset, owner).
	ErrNoNode = errors.New("consumergroup: no such node")
	// ErrNodeExists: Create found the znode already there.
	ErrNodeExists = errors.New("consumergroup: node already exists")
	// ErrAlreadyClaimed: Claim found the partition owned by another member.
	ErrAlreadyClaimed = errors.New("consumergroup: partition already claimed")
	// ErrNotOwner: a fenced commit or a release named a partition that this
	// member does not own (any more) in its current session; nothing was
	// written.
	ErrNotOwner = errors.New("consumergroup: partition not owned by this consumer")
	// ErrNotRegistered: the member's registration under ids/ does not exist,
	// for instance because the session that created it expired.
	ErrNotRegistered = errors.New("consumergroup: consumer not registered")
	// ErrSessionExpired: the session ended: the server expired it, or the
	// client was cut off for longer than the session timeout, and with it
	// every ephemeral node it held (registrations and claims).
	ErrSessionExpired = errors.New("consumergroup: group session expired")
	// ErrConnectionLoss: the connection dropped while a request was in
	// flight; whether the server applied it is unknown.
	ErrConnectionLoss = errors.New("consumergroup: zookeeper connection lost")
	// ErrBadData: a znode holds data that does not follow Kafka's layout
	// (an offset "abc", truncated broker JSON, a negative port).
	ErrBadData = errors.New("consumergroup: bad data in zookeeper")
	// ErrInvalidArgument: a group, topic, id, chroot or path that cannot be
	// used, or a bad configuration value.
	ErrInvalidArgument = errors.New("consumergroup: invalid argument")
	// ErrNoBrokers: ZooKeeper lists no broker that can be dialed.
	ErrNoBrokers = errors.New("consumergroup: no brokers")
	// ErrRequestTooLarge: a request would be over Config.MaxRequestBytes
	// (ZooKeeper closes the connection on one over its jute.maxbuffer); it
	// was not sent. The error names the node whose data makes it so, and
	// the size.
	ErrRequestTooLarge = errors.New("consumergroup: zookeeper request too large")
	// ErrClosed: the Client was closed (the group re-exports it: a closed
	// group gives it too).
	ErrClosed = errors.New("consumergroup: closed")
)

// Errors of the admin operations (ResetOffsets, DeleteGroup, DeleteOffsets,
// CheckGroup).
var (
	// ErrGroupActive: an operation that needs a group without members
	// (offset resets, deletion) found members; nothing was changed.
	ErrGroupActive = errors.New("consumergroup: the group has members")
	// ErrUnknownGroup: the group does not exist in ZooKeeper.
	ErrUnknownGroup = errors.New("consumergroup: no such group")
)

// ErrAssignmentConflict is returned by PublishAssignment when the
// assignment node is no longer at the version the caller read: another
// member published first. Read it again (ReadAssignment) and decide anew.
var ErrAssignmentConflict = errors.New("consumergroup: assignment changed meanwhile")

// PathError records the znode and the operation that failed. Err is one of
// the package's sentinels (or nil), Cause what went wrong underneath; both
// are matched by errors.Is and errors.As.
type PathError struct {
	Op    string // what was being done, e.g. "claim", "read offset"
	Path  string // the absolute znode path, chroot included
	Err   error  // a sentinel such as ErrNoNode, or nil
	Cause error  // the go-zookeeper or parse error, or nil
}

func (e *PathError) Error() string {
	msg := "consumergroup: " + e.Op + " " + e.Path
	switch {
	case e.Err != nil && e.Cause != nil:
		return fmt.Sprintf("%s: %s: %v", msg, trimPrefix(e.Err), e.Cause)
	case e.Err != nil:
		return msg + ": " + trimPrefix(e.Err)
	case e.Cause != nil:
		return msg + ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *PathError) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

func trimPrefix(err error) string {
	const p = "consumergroup: "
	s := err.Error()
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// pathErr wraps err, a go-zookeeper, context or parse error, for op on path,
// mapping it to the package's sentinel.
func pathErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var pe *PathError
	if errors.As(err, &pe) {
		return err
	}
	sentinel := sentinelOf(err)
	if sentinel == err {
		return &PathError{Op: op, Path: path, Err: sentinel}
	}
	return &PathError{Op: op, Path: path, Err: sentinel, Cause: err}
}

func sentinelOf(err error) error {
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return ErrNoNode
	case errors.Is(err, zk.ErrNodeExists):
		return ErrNodeExists
	case errors.Is(err, zk.ErrSessionExpired), errors.Is(err, zk.ErrSessionMoved):
		return ErrSessionExpired
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrNoServer):
		return ErrConnectionLoss
	case errors.Is(err, zk.ErrShortBuffer): // over go-zookeeper's buffer: not sent
		return ErrRequestTooLarge
	case errors.Is(err, zk.ErrClosing), errors.Is(err, ErrClosed):
		return ErrClosed
	case errors.Is(err, layout.ErrBadData):
		return ErrBadData
	case errors.Is(err, layout.ErrInvalidName), errors.Is(err, layout.ErrInvalidChroot), errors.Is(err, zk.ErrInvalidPath):
		return ErrInvalidArgument
	}
	return nil
}
