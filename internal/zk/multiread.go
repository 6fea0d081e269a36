package zk

// Patched in (not upstream's; see README.md): ZooKeeper 3.6's multiRead,
// many reads in one request and one answer.

import (
	"fmt"
	"reflect"
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
	req := &multiRequest{
		Ops:        make([]multiRequestOp, 0, len(ops)),
		DoneHeader: multiHeader{Type: -1, Done: true, Err: -1},
	}
	for _, op := range ops {
		if err := validatePath(op.Path, false); err != nil {
			return nil, err
		}
		// jute's GetDataRequest and GetChildrenRequest are both a path and a
		// watch flag; a multiRead sets no watch.
		code := int32(opGetData)
		if op.Children {
			code = opGetChildren
		}
		req.Ops = append(req.Ops, multiRequestOp{multiHeader{code, false, -1}, &pathWatchRequest{Path: op.Path}})
	}
	res := &multiReadResponse{}
	if _, err := c.request(opMultiRead, req, res, nil); err != nil {
		return nil, err
	}
	if len(res.Results) != len(ops) {
		return nil, fmt.Errorf("zk: multiRead of %d ops answered with %d results", len(ops), len(res.Results))
	}
	return res.Results, nil
}

// multiReadResponse is the answer to a multiRead: for each op a header
// (type getData, getChildren or error) and its response, then a header
// with done set.
type multiReadResponse struct {
	Results []ReadResult
}

func (r *multiReadResponse) Decode(buf []byte) (int, error) {
	total := 0
	for {
		var h multiHeader
		n, err := decodePacketValue(buf[total:], reflect.ValueOf(&h))
		if err != nil {
			return total, err
		}
		total += n
		if h.Done {
			return total, nil
		}
		var res ReadResult
		switch h.Type {
		case opGetData:
			var d getDataResponse
			n, err = decodePacketValue(buf[total:], reflect.ValueOf(&d))
			res.Data, res.Stat = d.Data, &d.Stat
		case opGetChildren:
			var ch getChildrenResponse
			n, err = decodePacketValue(buf[total:], reflect.ValueOf(&ch))
			res.Children = ch.Children
		case opError:
			var code ErrCode
			n, err = decodePacketValue(buf[total:], reflect.ValueOf(&code))
			res.Error = code.toError()
			if res.Error == nil { // an error result must carry an error
				res.Error = ErrAPIError
			}
		default:
			return total, fmt.Errorf("zk: multiRead answer with an op of type %d", h.Type)
		}
		if err != nil {
			return total, err
		}
		total += n
		r.Results = append(r.Results, res)
	}
}
