package main

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// get sends a GET of path to base with the header h (Host in it sets the
// request's Host) and returns the answer, read.
func get(t *testing.T, client *http.Client, base, path string, h http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp
}

// TestServeSecurityHeaders: every answer, the page's, the API's, an
// error's, carries a Content-Security-Policy that fits the page, nosniff
// and a refusal to be framed (issue 20).
func TestServeSecurityHeaders(t *testing.T) {
	t.Parallel()
	cl, group := bigKafkaGroup(t, 4)
	_, base := startKafkaServe(t, cl, group, time.Second)
	for _, path := range []string{"", "app.js", "style.css", "api/groups", "api/groups/" + group, "api/groups/nosuch", "metrics"} {
		resp := get(t, http.DefaultClient, base, path, nil)
		for k, want := range map[string]string{
			"Content-Security-Policy": contentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("/%s: %s %q, want %q", path, k, got, want)
			}
		}
	}
	if !strings.Contains(contentSecurityPolicy, "frame-ancestors 'none'") || strings.Contains(contentSecurityPolicy, "unsafe") {
		t.Errorf("CSP %q", contentSecurityPolicy)
	}
	page, _ := webFiles.ReadFile("web/app.js")
	if regexp.MustCompile(`[{,]\s*"?style"?\s*:`).Match(page) || strings.Contains(string(page), "innerHTML") {
		t.Error("app.js sets an inline style attribute or HTML, which the policy forbids")
	}
}

// TestServeHostCheck: listening on loopback, serve answers only requests
// naming it (localhost, 127.0.0.1, [::1]), not those of a page whose name
// was made to resolve to 127.0.0.1 (DNS rebinding) (issue 20).
func TestServeHostCheck(t *testing.T) {
	t.Parallel()
	cl, group := bigKafkaGroup(t, 1)
	s, base := startKafkaServe(t, cl, group, time.Second)
	_, port, _ := net.SplitHostPort(s.addr.String())
	for host, want := range map[string]int{
		"127.0.0.1:" + port: http.StatusOK, "localhost:" + port: http.StatusOK, "LOCALHOST.:" + port: http.StatusOK,
		"[::1]:" + port: http.StatusOK, "localhost": http.StatusOK,
		"evil.example:" + port: http.StatusForbidden, "127.0.0.1.evil.example": http.StatusForbidden,
	} {
		if got := get(t, http.DefaultClient, base, "api/groups", http.Header{"Host": {host}}).StatusCode; got != want {
			t.Errorf("Host %q: %d, want %d", host, got, want)
		}
	}
	if hosts := loopbackHosts(&net.TCPAddr{IP: net.IPv4zero, Port: 1}, "0.0.0.0:1"); hosts != nil {
		t.Errorf("not loopback: hosts %v, want any", hosts)
	}
}

// TestServeToken: with a token, a request without it, or with another, is
// refused; with it as a bearer token or as basic authentication's
// password, answered (issue 20).
func TestServeToken(t *testing.T) {
	t.Parallel()
	const token = "0123456789abcdef-token"
	cl, group := bigKafkaGroup(t, 1)
	_, base := startKafkaServeWith(t, cl, group, serveOpts{interval: time.Second, window: 5, history: time.Hour, token: token}, nil)
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer " + token + "x", http.StatusUnauthorized},
		{"Bearer " + token[:len(token)-1], http.StatusUnauthorized},
		{"Basic " + basic("u", "wrong"), http.StatusUnauthorized},
		{"Bearer " + token, http.StatusOK},
		{"bearer " + token, http.StatusOK},
		{"Basic " + basic("anyone", token), http.StatusOK},
	} {
		for _, path := range []string{"", "api/groups", "metrics"} {
			h := http.Header{}
			if tc.auth != "" {
				h.Set("Authorization", tc.auth)
			}
			resp := get(t, http.DefaultClient, base, path, h)
			if resp.StatusCode != tc.want {
				t.Errorf("/%s with %q: %d, want %d", path, tc.auth, resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && len(resp.Header.Values("WWW-Authenticate")) != 2 {
				t.Errorf("/%s: WWW-Authenticate %q", path, resp.Header.Values("WWW-Authenticate"))
			}
		}
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestServeTokenSources: --token-file, else $GROUPCTL_SERVE_TOKEN; a short
// token is refused.
func TestServeTokenSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("from-the-file-0123456789\n"), 0o600)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("short"), 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == envServeToken {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		file, env, want, err string
	}{
		{"", "", "", ""},
		{"", "from-the-environment-01", "from-the-environment-01", ""},
		{file, "from-the-environment-01", "from-the-file-0123456789", ""},
		{short, "", "", "at least 16 characters"},
		{"", "short", "", "at least 16 characters"},
		{filepath.Join(dir, "none"), "", "", "--token-file"},
	} {
		got, err := serveToken(tc.file, env(tc.env))
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("serveToken(%q, %q) = %q, %v; want %q, %q", tc.file, tc.env, got, err, tc.want, tc.err)
		}
	}
}

// TestServeExposureWarnings: listening beyond loopback without a token,
// or without TLS, is warned of; on loopback, nothing.
func TestServeExposureWarnings(t *testing.T) {
	any := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	for _, tc := range []struct {
		addr  net.Addr
		o     serveOpts
		warns []string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, serveOpts{}, nil},
		{any, serveOpts{}, []string{"no token", "plain HTTP"}},
		{any, serveOpts{token: "x"}, []string{"plain HTTP"}},
		{any, serveOpts{token: "x", tlsCert: "c", tlsKey: "k"}, nil},
	} {
		s := &server{o: tc.o, addr: tc.addr}
		got := s.exposure()
		if len(got) != len(tc.warns) {
			t.Errorf("%v %+v: %q, want %q", tc.addr, tc.o, got, tc.warns)
			continue
		}
		for i, w := range tc.warns {
			if !strings.Contains(got[i], w) {
				t.Errorf("%v %+v: %q, want %q", tc.addr, tc.o, got, tc.warns)
			}
		}
	}
}

// TestServeTLS: with --listen-tls-cert and --listen-tls-key, serve
// answers HTTPS only (issue 20).
func TestServeTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := servingCert(t)
	cl, group := bigKafkaGroup(t, 1)
	_, base := startKafkaServeWith(t, cl, group, serveOpts{interval: 100 * time.Millisecond, window: 5, history: time.Hour,
		tlsCert: certFile, tlsKey: keyFile}, nil)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("URL %s", base)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	if resp := get(t, client, base, "api/groups", nil); resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("HTTPS: %s", resp.Status)
	}
	if resp := get(t, http.DefaultClient, "http"+strings.TrimPrefix(base, "https"), "api/groups", nil); resp.StatusCode == http.StatusOK {
		t.Fatalf("plain HTTP answered: %s", resp.Status)
	}
}

// servingCert writes selfSigned's certificate and key, the files of
// --listen-tls-cert and --listen-tls-key, and returns them with a pool
// that trusts the certificate.
func servingCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certFile, pair := selfSigned(t)
	kder, err := x509.MarshalECPrivateKey(pair.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return certFile, keyFile, pool
}

// TestServeGzip: /metrics and the API are gzipped for a client that
// accepts it, and the same once decompressed; not for one that does not.
func TestServeGzip(t *testing.T) {
	t.Parallel()
	cl, group := bigKafkaGroup(t, 100)
	_, base := startKafkaServe(t, cl, group, time.Hour)
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer raw.CloseIdleConnections()
	for _, path := range []string{"metrics", "api/groups", "api/groups/" + group} {
		read := func(enc string) ([]byte, string) {
			req, _ := http.NewRequest("GET", base+path, nil)
			if enc != "" {
				req.Header.Set("Accept-Encoding", enc)
			}
			resp, err := raw.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("/%s: %s %v", path, resp.Status, err)
			}
			return b, resp.Header.Get("Content-Encoding")
		}
		plain, enc := read("")
		if enc != "" {
			t.Errorf("/%s without Accept-Encoding: Content-Encoding %q", path, enc)
		}
		if _, enc := read("gzip;q=0, identity"); enc != "" {
			t.Errorf("/%s refusing gzip: Content-Encoding %q", path, enc)
		}
		zipped, enc := read("deflate, gzip")
		if enc != "gzip" {
			t.Fatalf("/%s accepting gzip: Content-Encoding %q", path, enc)
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain) || len(zipped) >= len(plain) {
			t.Errorf("/%s: gzipped %d bytes, %d once decompressed (%v), plain %d", path, len(zipped), len(unzipped), err, len(plain))
		}
	}
}
