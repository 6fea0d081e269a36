package zk

// Patched in (not upstream's; see README.md): ZooKeeper 3.6's multiRead,
// many reads in one request and one answer.

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ReadOp is one read of a MultiRead: the data (and Stat) of the node at
// Path, or with Children its children's names.
type ReadOp struct {
	Path     string
	Children bool
}

// ReadResult is what one ReadOp of a MultiRead gave: Data and Stat, or
// Children, or Error (ErrNoNode, ErrNoAuth...).
type ReadResult struct {
	Data     []byte
	Stat     *Stat
	Children []string
	Error    error
}

// MultiRead reads the nodes of ops in one request (opcode 22) and returns
// one result per op, in order. Unlike Multi it is not a transaction: each
// op succeeds or fails alone, and the error of one is in its result. The
// error returned is for the request as a whole (ErrConnectionClosed...).
//
// Only ZooKeeper 3.6 and later know the request: a server before 3.6
// answers ErrUnimplemented and closes the connection, so the caller must
// know the server's version before sending it.
func (c *Conn) MultiRead(ops ...ReadOp) ([]ReadResult, error) {
	for _, op := range ops {
		if err := validatePath(op.Path, false); err != nil {
			return nil, err
		}
	}
	req := &multiReadRequest{ops: ops}
	res := &multiReadResponse{}
	if _, err := c.request(opMultiRead, req, res, nil); err != nil {
		return nil, err
	}
	if len(res.Results) != len(ops) {
		return nil, fmt.Errorf("zk: multiRead of %d ops answered with %d results", len(ops), len(res.Results))
	}
	return res.Results, nil
}

// multiReadRequest is a multiRead: for each op a header (type getData or
// getChildren, done false, err -1) and its request (jute's GetDataRequest
// and GetChildrenRequest are both a path and a watch flag; a multiRead
// sets no watch), then a header with done set. Encoded by hand, as its
// answer is decoded.
type multiReadRequest struct {
	ops []ReadOp
}

func (r *multiReadRequest) Encode(buf []byte) (int, error) {
	n := 0
	header := func(typ int32, done bool) bool {
		if len(buf)-n < 9 {
			return false
		}
		binary.BigEndian.PutUint32(buf[n:], uint32(typ))
		buf[n+4] = 0
		if done {
			buf[n+4] = 1
		}
		binary.BigEndian.PutUint32(buf[n+5:], uint32(0xffffffff)) // err -1
		n += 9
		return true
	}
	for _, op := range r.ops {
		typ := int32(opGetData)
		if op.Children {
			typ = opGetChildren
		}
		if !header(typ, false) || len(buf)-n < 4+len(op.Path)+1 {
			return n, ErrShortBuffer
		}
		binary.BigEndian.PutUint32(buf[n:], uint32(len(op.Path)))
		n += 4 + copy(buf[n+4:], op.Path)
		buf[n] = 0 // watch
		n++
	}
	if !header(-1, true) {
		return n, ErrShortBuffer
	}
	return n, nil
}

// multiReadResponse is the answer to a multiRead: for each op a header
// (type getData, getChildren or error) and its response, then a header
// with done set.
type multiReadResponse struct {
	Results []ReadResult
}

// Decode reads the answer by hand rather than by reflection (decodePacket):
// at 10,000 partitions a group's answers are 20,000 results, and
// reflection took most of their decoding's time.
func (r *multiReadResponse) Decode(buf []byte) (int, error) {
	d := jreader{buf: buf}
	for {
		typ, done, _ := d.int32(), d.bool(), d.int32() // the header; an error's code follows it
		if d.err != nil {
			return d.n, d.err
		}
		if done {
			return d.n, nil
		}
		var res ReadResult
		switch typ {
		case opGetData:
			res.Data = d.buffer()
			res.Stat = d.stat()
		case opGetChildren:
			n := d.int32()
			for i := int32(0); i < n && d.err == nil; i++ {
				res.Children = append(res.Children, string(d.buffer()))
			}
		case opError:
			if res.Error = ErrCode(d.int32()).toError(); res.Error == nil { // an error result must carry an error
				res.Error = ErrAPIError
			}
		default:
			return d.n, fmt.Errorf("zk: multiRead answer with an op of type %d", typ)
		}
		if d.err != nil {
			return d.n, d.err
		}
		r.Results = append(r.Results, res)
	}
}

// jreader reads jute's encoding from buf, from n on: after a read past
// its end, err is ErrShortBuffer and every read gives zero.
type jreader struct {
	buf []byte
	n   int
	err error
}

func (d *jreader) take(k int) []byte {
	if d.err != nil || k < 0 || len(d.buf)-d.n < k {
		d.err = ErrShortBuffer
		return nil
	}
	b := d.buf[d.n : d.n+k]
	d.n += k
	return b
}

func (d *jreader) int32() int32 {
	if b := d.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (d *jreader) int64() int64 {
	if b := d.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (d *jreader) bool() bool {
	b := d.take(1)
	return b != nil && b[0] != 0
}

// buffer reads a buffer or string: its length (-1: none) and its bytes,
// copied (buf is the connection's, reused for the next answer).
func (d *jreader) buffer() []byte {
	n := d.int32()
	if n < 0 {
		return nil
	}
	return bytes.Clone(d.take(int(n)))
}

func (d *jreader) stat() *Stat {
	return &Stat{Czxid: d.int64(), Mzxid: d.int64(), Ctime: d.int64(), Mtime: d.int64(),
		Version: d.int32(), Cversion: d.int32(), Aversion: d.int32(), EphemeralOwner: d.int64(),
		DataLength: d.int32(), NumChildren: d.int32(), Pzxid: d.int64()}
}
