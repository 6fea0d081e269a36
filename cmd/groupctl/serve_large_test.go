package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// stallingWriter is a ResponseWriter whose Write blocks until released:
// a client that stopped reading, inside the process.
type stallingWriter struct {
	header  http.Header
	writing chan struct{} // closed at the first Write
	release chan struct{} // closing it lets Write return
	once    sync.Once
}

func (w *stallingWriter) Header() http.Header { return w.header }
func (w *stallingWriter) WriteHeader(int)     {}
func (w *stallingWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.writing) })
	<-w.release
	return len(b), nil
}

// getWithin gets url, failing the test when it takes longer than limit.
func getWithin(t *testing.T, client *http.Client, url string, limit time.Duration) []byte {
	t.Helper()
	c := *client
	c.Timeout = limit
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v: %.200s", url, resp.Status, err, b)
	}
	return b
}

func polls(t *testing.T, client *http.Client, base string) int64 {
	t.Helper()
	var list struct {
		Poll pollInfo `json:"poll"`
	}
	if err := json.Unmarshal(getWithin(t, client, base+"api/groups", 10*time.Second), &list); err != nil {
		t.Fatal(err)
	}
	return list.Poll.Polls
}

// TestServeLargeGroup: a group of 10,000 partitions (Issue 19). While a
// client of /metrics does not read, other requests are answered and the
// poller polls; that client's connection is cut at the write timeout; the
// detail comes a page at a time, per topic; 200 concurrent requests are
// all answered.
func TestServeLargeGroup(t *testing.T) {
	t.Parallel()
	cl, group := bigKafkaGroup(t, 10000)
	closed := make(chan net.Addr, 100) // remote addresses of the connections the server closed
	s, base := startKafkaServeWith(t, cl, group, serveOpts{interval: 50 * time.Millisecond, window: 5, history: time.Hour,
		timeouts: serveTimeouts{write: 500 * time.Millisecond}}, func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			select {
			case closed <- c.RemoteAddr():
			default:
			}
		}
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("StalledReaderDelaysNothing", func(t *testing.T) {
		// In the process: the handler blocks in Write, as on a
		// connection whose client stopped reading.
		w := &stallingWriter{header: http.Header{}, writing: make(chan struct{}), release: make(chan struct{})}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.handler(s.addr).ServeHTTP(w, httptest.NewRequest("GET", base+"metrics", nil))
		}()
		defer func() { close(w.release); <-done }()
		select {
		case <-w.writing:
		case <-time.After(waitTimeout):
			t.Fatal("/metrics wrote nothing")
		}
		before := polls(t, client, base)
		getWithin(t, client, base+"metrics", 10*time.Second)
		getWithin(t, client, base+"api/groups/"+group+"?limit=10", 10*time.Second)
		waitFor(t, waitTimeout, "polls while a client does not read", func() error {
			if n := polls(t, client, base); n < before+2 {
				return fmt.Errorf("%d polls, %d before", n, before)
			}
			return nil
		})
	})

	t.Run("WriteTimeout", func(t *testing.T) {
		// On the network: a client with a small receive window that
		// never reads /metrics (megabytes) is cut at the write timeout.
		conn, closeConn := stalledConn(t, base, "/metrics")
		defer closeConn()
		getWithin(t, client, base+"api/groups", 10*time.Second)
		deadline := time.After(waitTimeout)
		for {
			select {
			case a := <-closed:
				if a.String() == conn.LocalAddr().String() {
					return
				}
			case <-deadline:
				t.Fatalf("the connection of a client that does not read is still open after %v (write timeout 500ms)", waitTimeout)
			}
		}
	})

	t.Run("Pages", func(t *testing.T) {
		var d groupDetail
		if err := json.Unmarshal(getWithin(t, client, base+"api/groups/"+group+"?offset=9950&limit=100", 10*time.Second), &d); err != nil {
			t.Fatal(err)
		}
		if d.Page == nil || d.Page.Total != 10000 || d.Page.Offset != 9950 || d.Page.Limit != 50 || len(d.Partitions) != 50 ||
			d.Partitions[0].Partition != 9950 || len(d.Description.Partitions) != 50 || len(d.LagStatus.Partitions) != 50 {
			t.Fatalf("page: %+v, %d partitions", d.Page, len(d.Partitions))
		}
		if len(d.Topics) != 1 || d.Topics[0].Partitions != 10000 || d.Owned == nil || len(d.History) != 0 || len(d.TopicHistory) != 1 {
			t.Fatalf("topics %+v, history %d lines, topic history %d", d.Topics, len(d.History), len(d.TopicHistory))
		}
		if err := getJSON(t, base+"api/groups/"+group+"?topic=big&offset=20&limit=5", &d); err != nil || d.Page.Topic != "big" || d.Partitions[0].Partition != 20 {
			t.Fatalf("topic page: %v %+v", err, d.Page)
		}
		for _, bad := range []string{"?topic=nosuch", "?limit=x", "?offset=-1"} {
			if err := getJSON(t, base+"api/groups/"+group+bad, &d); err == nil {
				t.Errorf("%s: no error", bad)
			}
		}
	})

	t.Run("Concurrent200", func(t *testing.T) {
		// With the default timeouts (at 500 ms, a loaded machine's
		// answers of megabytes would be cut).
		_, base := startKafkaServe(t, cl, group, time.Second)
		seq, conc := measureServe(&http.Client{Timeout: 20 * time.Second, Transport: client.Transport}, client, base,
			[]string{"metrics", "api/groups", "api/groups/" + group}, 1, 200)
		for p, l := range seq {
			if l.failed > 0 {
				t.Errorf("/%s: %v", p, l)
			}
		}
		if conc.failed > 0 {
			t.Fatalf("200 concurrent: %v", conc)
		}
		t.Logf("200 concurrent: %v", conc)
	})
}
