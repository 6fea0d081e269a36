package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serveTimeouts are the HTTP server's (http.Server's fields of the same
// names); a zero field takes its default (orDefault).
type serveTimeouts struct {
	// readHeader bounds the reading of a request's line and headers
	// (default 5 s): a client that sends them slowly is cut.
	readHeader time.Duration
	// read bounds the reading of a whole request (default 10 s); serve
	// reads no body.
	read time.Duration
	// write bounds the writing of an answer, from the end of the
	// request's headers (default 30 s): a client that stops reading holds
	// its connection (and one goroutine, never a lock) this long at most.
	// /metrics of a group of 10,000 partitions is about 3 MB.
	write time.Duration
	// idle bounds the wait for the next request on a kept-alive
	// connection (default 60 s: longer than the page's refresh, at most
	// 5 s, and Prometheus' usual scrape interval).
	idle time.Duration
}

func (t serveTimeouts) orDefault() serveTimeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.readHeader, 5*time.Second)
	def(&t.read, 10*time.Second)
	def(&t.write, 30*time.Second)
	def(&t.idle, 60*time.Second)
	return t
}

// serveMaxHeaderBytes bounds a request's headers.
const serveMaxHeaderBytes = 64 << 10

// contentSecurityPolicy fits the page: its script, style and API from the
// server itself, nothing inline, no frame.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// handler routes the page, its assets, the JSON API and /metrics, behind
// guard.
func (s *server) handler(addr net.Addr) http.Handler {
	mux := http.NewServeMux()
	web, _ := fs.Sub(webFiles, "web")
	files := http.FileServerFS(web)
	mux.Handle("GET /", files)
	mux.HandleFunc("GET /api/groups", s.apiGroups)
	mux.HandleFunc("GET /api/groups/{name}", s.apiGroup)
	mux.HandleFunc("GET /metrics", s.metrics)
	return s.guard(mux, addr)
}

// guard sets the security headers of every answer, refuses a Host that is
// not the server's when it listens on loopback (a page of another site
// whose name resolves to 127.0.0.1: DNS rebinding), and, with a token,
// the requests without it.
func (s *server) guard(next http.Handler, addr net.Addr) http.Handler {
	hosts := loopbackHosts(addr, s.o.listen)
	var token [sha256.Size]byte
	if s.o.token != "" {
		token = sha256.Sum256([]byte(s.o.token))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if hosts != nil && !hosts[requestHost(r)] {
			http.Error(w, fmt.Sprintf("groupctl serve: Host %q is not this server's name (open http://%s/)", r.Host, addr), http.StatusForbidden)
			return
		}
		if s.o.token != "" && !authorized(r, token) {
			h.Add("WWW-Authenticate", `Bearer realm="groupctl serve"`)
			h.Add("WWW-Authenticate", `Basic realm="groupctl serve", charset="UTF-8"`)
			http.Error(w, "groupctl serve: the token is missing or wrong (Authorization: Bearer TOKEN, or any user name with the token as password)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHosts are the Host names accepted when addr, the listener's, is
// a loopback address: localhost, 127.0.0.1, ::1, the address and the host
// of listen (--listen). nil when addr is not loopback: then any.
func loopbackHosts(addr net.Addr, listen string) map[string]bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return nil
	}
	hosts := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, tcp.IP.String(): true}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		hosts[strings.ToLower(h)] = true
	}
	return hosts
}

// requestHost is the request's Host without its port, brackets and final
// dot, in lower case.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// authorized reports whether r carries the token whose hash is want: as a
// bearer token, or as the password of basic authentication (what a
// browser prompts for). The comparison takes the same time whatever the
// token given.
func authorized(r *http.Request, want [sha256.Size]byte) bool {
	var given string
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		given = strings.TrimSpace(auth[7:])
	} else {
		return false
	}
	got := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (s *server) apiGroups(w http.ResponseWriter, r *http.Request) {
	snap := s.snap.Load()
	writeCached(w, r, jsonType, &snap.list, snap.renderList)
}

func (s *server) apiGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	snap := s.snap.Load()
	g := snap.groups[name]
	if g == nil || g.desc == nil {
		writeBody(w, http.StatusNotFound, jsonType, marshal(map[string]string{"error": fmt.Sprintf("no group %q (yet): groups are read every %v", name, s.o.interval)}))
		return
	}
	page, err := parsePage(r, g.groupSnap)
	switch {
	case err != nil:
		writeBody(w, http.StatusBadRequest, jsonType, marshal(map[string]string{"error": err.Error()}))
	case page != nil:
		writeBody(w, http.StatusOK, jsonType, snap.renderDetail(g, page))
	default:
		writeCached(w, r, jsonType, &g.detail, func() []byte { return snap.renderDetail(g, nil) })
	}
}

const jsonType = "application/json"

// writeCached writes c's answer, rendered by render the first time, and
// gzipped when r accepts it.
func writeCached(w http.ResponseWriter, r *http.Request, contentType string, c *cached, render func() []byte) {
	w.Header().Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		writeBody(w, http.StatusOK, contentType, c.gzipped(render))
		return
	}
	writeBody(w, http.StatusOK, contentType, c.get(render))
}

// acceptsGzip reports whether r's Accept-Encoding lists gzip (and not with
// q=0).
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(h, ",") {
			name, params, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(name), "gzip") {
				q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
				return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
			}
		}
	}
	return false
}

// writeBody writes an answer rendered beforehand: no lock is held.
func writeBody(w http.ResponseWriter, code int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}
