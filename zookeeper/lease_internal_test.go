package zookeeper

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// frame is a ZooKeeper frame: a length, then body.
func frame(body ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	return append(b, body...)
}

// reply is a server's frame of xid (a response header and a little more).
func reply(xid int32) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(xid))
	return frame(append(b, make([]byte, 16)...)...)
}

// TestFrameScanner: frames split anyhow over the reads are found whole,
// with their first bytes.
func TestFrameScanner(t *testing.T) {
	stream := append(append(append(frame(), frame(1, 2, 3)...), reply(7)...), frame(make([]byte, 100)...)...)
	for _, chunk := range []int{1, 2, 3, 5, 7, len(stream)} {
		var s frameScanner
		var heads [][]byte
		for b := stream; len(b) > 0; {
			k := min(chunk, len(b))
			s.feed(b[:k], func(h []byte) { heads = append(heads, append([]byte(nil), h...)) })
			b = b[k:]
		}
		if len(heads) != 4 || len(heads[0]) != 0 || len(heads[1]) != 3 || len(heads[2]) != 16 || len(heads[3]) != 16 {
			t.Fatalf("chunks of %d: heads %v", chunk, heads)
		}
		if xid := int32(binary.BigEndian.Uint32(heads[2])); xid != 7 {
			t.Fatalf("chunks of %d: xid %d", chunk, xid)
		}
	}
}

// TestWireHeardIsSendingTime: an answer read long after its request was
// sent (a process frozen meanwhile) counts from the sending; a watch
// notification counts nothing; the handshake gives the negotiated timeout.
func TestWireHeardIsSendingTime(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	epoch := time.Now().Add(-time.Hour) // a client an hour old
	c := &connection{}
	w := &wire{Conn: client, c: c, epoch: epoch}
	go func() {
		buf := make([]byte, 1024)
		for {
			if _, err := server.Read(buf); err != nil {
				return
			}
		}
	}()
	write := func(b []byte) int64 {
		at := int64(time.Since(epoch))
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		return at
	}
	read := func(b []byte) {
		go server.Write(b)
		buf := make([]byte, len(b))
		for got := 0; got < len(b); {
			n, err := w.Read(buf[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	connectSent := write(frame(make([]byte, 44)...))
	hs := make([]byte, 36)
	binary.BigEndian.PutUint32(hs[4:8], 1500) // negotiated 1.5 s
	binary.BigEndian.PutUint64(hs[8:16], 42)  // session 42
	read(frame(hs...))
	if h := c.heard.Load(); h < connectSent || h > int64(time.Since(epoch)) {
		t.Fatalf("heard %d after the handshake, sent at %d", h, connectSent)
	}
	if n := time.Duration(c.negotiated.Load()); n != 1500*time.Millisecond {
		t.Fatalf("negotiated %v", n)
	}
	if s := c.safe(2 * time.Second); s != time.Second {
		t.Fatalf("safe %v, want 1s (2/3 of the negotiated 1.5 s)", s)
	}
	pingSent := write(frame(0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11)) // a ping
	afterPing := int64(time.Since(epoch))
	deadline := time.Now().Add(5 * time.Second)
	for int64(time.Since(epoch)) <= afterPing+int64(50*time.Millisecond) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // letting time pass: "the freeze"
	}
	read(reply(-1)) // a notification: not an answer
	if h := c.heard.Load(); h >= pingSent {
		t.Fatalf("a notification counted as heard: %d, the ping was sent at %d", h, pingSent)
	}
	read(reply(-2)) // the ping's answer, read late
	if h := c.heard.Load(); h < pingSent || h > afterPing {
		t.Fatalf("heard %d: want the ping's sending time (%d to %d), not the read's (%d)", h, pingSent, afterPing, time.Since(epoch))
	}
}
