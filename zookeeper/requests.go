package zookeeper

import (
	"fmt"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// The size of requests. ZooKeeper reads a request's length first and, when
// it is over jute.maxbuffer (1,048,575 bytes unless the server sets it),
// logs "Len error" and closes the connection: the client sees a lost
// connection, not a refusal, and go-zookeeper sends the request again on
// the next connection, to the same end. (A request over go-zookeeper's own
// buffer, 1,572,864 bytes, fails before it is sent with zk.ErrShortBuffer.)
// So the Client sizes every request it writes before sending it, by the
// bytes the server counts, and never sends one over Config.MaxRequestBytes:
// a multi of many partitions is cut into chunks that fit (claims, releases,
// commits, offset-node creation, resets), and a request that cannot fit,
// one node's data alone being too large, fails before it is sent with
// ErrRequestTooLarge, naming the node and its size.
//
// The length the server checks is that of the request header (xid and
// opcode) and body, in jute's encoding (go-zookeeper's structs.go): an
// int32 or a version is 4 bytes, a string or a byte buffer 4 bytes of
// length and its bytes, a vector 4 bytes of count and its elements. A
// multi's body is, for each op, a header (type int32, done bool, err
// int32: 9 bytes) and the op, then a closing header. The server also
// checks each buffer field it reads, a node's data, against jute.maxbuffer
// plus 1,024 bytes (zookeeper.jute.maxbuffer.extrasize): a request within
// the length check is within that one too. The budget is half the
// server's limit by default: what a multi turns into on the server (its
// transaction in the log and, in an ensemble, the leader's proposal to
// the followers, each read back with the same limit) is a few bytes per op
// larger than the request.

const (
	// DefaultMaxRequestBytes is Config.MaxRequestBytes' default: half of
	// ZooKeeper's default jute.maxbuffer.
	DefaultMaxRequestBytes = 512 << 10

	// minRequestBytes and maxRequestBytes bound Config.MaxRequestBytes:
	// room for a few ops of the longest names, and go-zookeeper's send
	// buffer (1,572,864 bytes) less the length prefix.
	minRequestBytes = 4 << 10
	maxRequestBytes = 1536<<10 - 4

	requestHeaderBytes = 8 // xid, opcode
	multiHeaderBytes   = 9 // type, done, err: before every op of a multi and after the last
)

// jute's encoding of a string or a byte buffer, and of an ACL.
func stringBytes(s string) int { return 4 + len(s) }
func bufferBytes(b []byte) int { return 4 + len(b) }
func aclBytes(acl []zk.ACL) int {
	n := 4
	for _, a := range acl {
		n += 4 + stringBytes(a.Scheme) + stringBytes(a.ID)
	}
	return n
}

// opBytes returns the bytes op takes in a multi, its header included.
func opBytes(op any) int {
	switch op := op.(type) {
	case *zk.CheckVersionRequest:
		return multiHeaderBytes + stringBytes(op.Path) + 4
	case *zk.DeleteRequest:
		return multiHeaderBytes + stringBytes(op.Path) + 4
	case *zk.SetDataRequest:
		return multiHeaderBytes + stringBytes(op.Path) + bufferBytes(op.Data) + 4
	case *zk.CreateRequest:
		return multiHeaderBytes + stringBytes(op.Path) + bufferBytes(op.Data) + aclBytes(op.Acl) + 4
	}
	panic(fmt.Sprintf("zookeeper: no size for a multi op %T", op))
}

// multiBytes returns the length the server checks of a multi of ops.
func multiBytes(ops []any) int {
	n := requestHeaderBytes + multiHeaderBytes
	for _, op := range ops {
		n += opBytes(op)
	}
	return n
}

// The length the server checks of a create and of a setData.
func createBytes(p string, data []byte, acl []zk.ACL) int {
	return requestHeaderBytes + stringBytes(p) + bufferBytes(data) + aclBytes(acl) + 4
}
func setBytes(p string, data []byte) int {
	return requestHeaderBytes + stringBytes(p) + bufferBytes(data) + 4
}

// maxRequest returns the budget of a request: Config.MaxRequestBytes.
func (z *Client) maxRequest() int {
	if z.cfg.MaxRequestBytes > 0 {
		return z.cfg.MaxRequestBytes
	}
	return DefaultMaxRequestBytes
}

// tooLarge is the error of a request of size bytes, over the budget, that
// was not sent; p names the node that makes it so.
func (z *Client) tooLarge(op, p string, size int) error {
	return &PathError{Op: op, Path: p, Err: ErrRequestTooLarge, Cause: fmt.Errorf("%d bytes, over the %d-byte budget of a request (Config.MaxRequestBytes; ZooKeeper's jute.maxbuffer is 1,048,575 by default)", size, z.maxRequest())}
}

// checkWrite refuses a create (acl non-nil) or a setData (acl nil) of data at p
// that would be over the budget.
func (z *Client) checkWrite(op, p string, data []byte, acl []zk.ACL) error {
	size := setBytes(p, data)
	if acl != nil {
		size = createBytes(p, data, acl)
	}
	if size > z.maxRequest() {
		return z.tooLarge(op, p, size)
	}
	return nil
}

// fit returns how many of n items, in order, a chunk takes: the most whose
// multi stays within the budget, with fixed ops that every chunk carries
// (fixedBytes, opBytes of them) and size(i) the bytes of item i's ops; at
// least one. It fails, naming the node of item (path(i)), when an item does
// not fit in a chunk of its own.
func (z *Client) fit(op string, n, fixedBytes int, size func(i int) int, path func(i int) string) (int, error) {
	total := requestHeaderBytes + multiHeaderBytes + fixedBytes
	for i := range n {
		s := size(i)
		if total+s > z.maxRequest() {
			if i == 0 {
				return 0, z.tooLarge(op, path(i), total+s)
			}
			return i, nil
		}
		total += s
	}
	return n, nil
}

// chunkDone tells the tests that a chunk of a chunked request succeeded
// and the next is about to be sent.
func (z *Client) chunkDone(op string, chunk int) {
	if h := z.cfg.hooks; h != nil && h.chunkDone != nil {
		h.chunkDone(op, chunk)
	}
}

// testHooks let the package's tests watch the Client's requests and act
// between them; nil outside tests (set through export_test.go).
type testHooks struct {
	// chunkDone is called after chunk (0, 1, ...) of a chunked op
	// ("claim", "release", "commit offsets", "create offsets",
	// "reset offsets") succeeded, before the next is sent.
	chunkDone func(op string, chunk int)
	// sent is called with the length prefix of every request written to
	// the server: the length it checks against jute.maxbuffer.
	sent func(n int)
	// noMultiRead makes the Client read as a server without multiRead
	// would have it do.
	noMultiRead bool
}
