package toxics

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// backend is an HTTP server that says which request it saw and counts connections.
type backend struct {
	*httptest.Server
	requests atomic.Int64
	conns    atomic.Int64
	mu       sync.Mutex
	paths    []string
}

func newBackend(t testing.TB) *backend {
	b := &backend{}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.requests.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.paths = append(b.paths, r.Method+" "+r.URL.Path)
		b.mu.Unlock()
		sum := sha256.Sum256(body)
		w.Header().Set("X-Body-Sha256", hex.EncodeToString(sum[:]))
		w.Header().Set("X-Seen", fmt.Sprint(n))
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

// proxy starts a toxiproxy server in-process with one proxy in front of upstream and
// the given toxics (JSON as the API takes it) installed before any traffic.
func proxy(t testing.TB, upstream string, toxicsJSON ...string) *toxiproxy.Proxy {
	t.Helper()
	Register()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "svc", "127.0.0.1:0", upstream)
	if err := srv.Collection.Add(p, true); err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(func() { _ = srv.Collection.Clear() })
	for _, js := range toxicsJSON {
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
			t.Fatalf("add toxic %s: %v", js, err)
		}
	}
	return p
}

var pairSeq atomic.Int64

// httpPair returns the two toxics of an http fault with rule attributes attrs (a JSON
// object's members, without braces).
func httpPair(attrs string) []string {
	pair := fmt.Sprintf("test-%d", pairSeq.Add(1))
	if attrs != "" {
		attrs = "," + attrs
	}
	return []string{
		fmt.Sprintf(`{"name":"resp","type":"http_response","stream":"downstream","attributes":{"pair":%q}}`, pair),
		fmt.Sprintf(`{"name":"http","type":"http","stream":"upstream","attributes":{"pair":%q%s}}`, pair, attrs),
	}
}

// oneConn is a keep-alive client that uses a single connection for sequential requests.
func oneConn(t testing.TB) *http.Client {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// seqConn sends requests one after the other on a single TCP connection: unlike
// http.Client, which may drop a connection it could reuse (when its writer reports
// later than a fast answer arrives), it never opens another.
type seqConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialSeq(t testing.TB, addr string) *seqConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &seqConn{c: c, br: bufio.NewReader(c)}
}

func (s *seqConn) do(t testing.TB, method, path, body string, hdr ...string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.c.RemoteAddr().String()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return s.send(t, req)
}

// send writes req on the connection and reads its answer.
func (s *seqConn) send(t testing.TB, req *http.Request) result {
	t.Helper()
	method, path := req.Method, req.URL.Path
	_ = s.c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(s.c); err != nil {
		t.Fatalf("%s %s: write: %v", method, path, err)
	}
	resp, err := http.ReadResponse(s.br, req)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return result{
		status: resp.StatusCode,
		fault:  resp.Header.Get(FaultHeader) == FaultHeaderValue,
		body:   string(b),
		sha:    resp.Header.Get("X-Body-Sha256"),
	}
}

// result is what a client saw of one request.
type result struct {
	status int
	fault  bool
	body   string
	sha    string
}

func do(t testing.TB, c *http.Client, method, url, body string, hdr ...string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return result{
		status: resp.StatusCode,
		fault:  resp.Header.Get(FaultHeader) == FaultHeaderValue,
		body:   string(b),
		sha:    resp.Header.Get("X-Body-Sha256"),
	}
}

// hitSet sends n GETs on one connection and returns the indexes that were failed.
func hitSet(t *testing.T, attrs string, n int) []int {
	t.Helper()
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(), httpPair(attrs)...)
	c := dialSeq(t, p.Listen)
	var hits []int
	for i := range n {
		r := c.do(t, "GET", fmt.Sprintf("/item/%d", i), "")
		switch {
		case r.fault && r.status == DefaultStatus && r.body == FaultBody:
			hits = append(hits, i)
		case r.status == http.StatusOK && r.body == fmt.Sprintf("GET /item/%d", i):
		default:
			t.Fatalf("request %d: unexpected answer %+v", i, r)
		}
	}
	if got := be.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1 (keep-alive)", got)
	}
	if got, want := be.requests.Load(), int64(n-len(hits)); got != want {
		t.Errorf("server saw %d requests, want %d: failed requests must never reach it", got, want)
	}
	return hits
}

func TestHTTPFractionIsPerRequestAndSeeded(t *testing.T) {
	const n = 200
	attrs := `"action":"fail","fraction":0.5,"seed":42`
	first := hitSet(t, attrs, n)
	if len(first) < 70 || len(first) > 130 {
		t.Fatalf("fraction 0.5 hit %d of %d requests on one connection, want about half", len(first), n)
	}
	again := hitSet(t, attrs, n)
	if !slices.Equal(first, again) {
		t.Fatalf("same seed hit different requests:\n%v\n%v", first, again)
	}
	rule := HTTPRule{Fraction: 0.5, Seed: 42}
	var want []int
	for i := range n {
		if rule.hits(uint64(i)) {
			want = append(want, i)
		}
	}
	if !slices.Equal(first, want) {
		t.Fatalf("hits %v, want the draws of seed 42: %v", first, want)
	}
	other := hitSet(t, `"action":"fail","fraction":0.5,"seed":43`, n)
	if slices.Equal(first, other) {
		t.Fatal("seeds 42 and 43 hit the same requests")
	}
}

func TestHTTPFirstN(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(), httpPair(`"action":"fail","first_n":3,"status":500`)...)
	c := dialSeq(t, p.Listen)
	var got []int
	for i := range 10 {
		r := c.do(t, "GET", "/x", "")
		if r.fault {
			if r.status != 500 {
				t.Fatalf("request %d: status %d, want 500", i, r.status)
			}
			got = append(got, i)
		}
	}
	if !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("first_n 3 hit %v, want [0 1 2]", got)
	}
	if be.requests.Load() != 7 || be.conns.Load() != 1 {
		t.Fatalf("server saw %d requests on %d connections, want 7 on 1", be.requests.Load(), be.conns.Load())
	}
}

func TestHTTPMatching(t *testing.T) {
	type req struct {
		method, path, header string // header "Name: value" or empty
		fail                 bool
	}
	for _, tc := range []struct {
		name  string
		attrs string
		reqs  []req
	}{
		{"path prefix", `"action":"fail","path_prefix":"/api/accounts"`, []req{
			{"GET", "/api/accounts/1", "", true},
			{"GET", "/api/inventory/1", "", false},
			{"GET", "/api/accounts", "", true},
			{"GET", "/api/account", "", false},
			{"GET", "/healthz", "", false},
		}},
		{"header with value", `"action":"fail","header":"X-Tenant: blue"`, []req{
			{"GET", "/a", "X-Tenant: blue", true},
			{"GET", "/a", "X-Tenant: red", false},
			{"GET", "/a", "", false},
		}},
		{"header present", `"action":"fail","header":"X-Chaos"`, []req{
			{"GET", "/a", "X-Chaos: anything", true},
			{"GET", "/a", "X-Other: 1", false},
		}},
		{"method list", `"action":"fail","method":"POST,DELETE"`, []req{
			{"GET", "/a", "", false},
			{"POST", "/a", "", true},
			{"DELETE", "/a", "", true},
			{"PUT", "/a", "", false},
		}},
		{"all at once", `"action":"fail","method":"PUT","path_prefix":"/api/","header":"X-K: 1"`, []req{
			{"PUT", "/api/x", "X-K: 1", true},
			{"PUT", "/api/x", "X-K: 2", false},
			{"PUT", "/other", "X-K: 1", false},
			{"GET", "/api/x", "X-K: 1", false},
		}},
		{"no action", `"path_prefix":"/"`, []req{
			{"GET", "/a", "", false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t)
			p := proxy(t, be.Listener.Addr().String(), httpPair(tc.attrs)...)
			c := dialSeq(t, p.Listen)
			for round := range 2 { // twice, so each case also runs after the others on one connection
				for _, q := range tc.reqs {
					var hdr []string
					if q.header != "" {
						name, value := splitHeader(q.header)
						hdr = []string{name, value}
					}
					body := ""
					if q.method == "POST" || q.method == "PUT" {
						body = "payload"
					}
					r := c.do(t, q.method, q.path, body, hdr...)
					if r.fault != q.fail {
						t.Errorf("round %d: %s %s %q: failed=%v, want %v (%+v)", round, q.method, q.path, q.header, r.fault, q.fail, r)
					}
					if !q.fail && r.body != q.method+" "+q.path {
						t.Errorf("round %d: %s %s: body %q from the server", round, q.method, q.path, r.body)
					}
				}
			}
			if be.conns.Load() != 1 {
				t.Errorf("server saw %d connections, want 1", be.conns.Load())
			}
		})
	}
}

func TestHTTPDelay(t *testing.T) {
	const delay = 500 * time.Millisecond
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(), httpPair(`"action":"delay","delay_ms":500,"path_prefix":"/slow"`)...)
	c := dialSeq(t, p.Listen)
	for i := range 3 {
		start := time.Now()
		r := c.do(t, "GET", "/slow", "")
		slow := time.Since(start)
		start = time.Now()
		r2 := c.do(t, "GET", "/fast", "")
		fast := time.Since(start)
		if r.status != 200 || r2.status != 200 || r.fault || r2.fault {
			t.Fatalf("round %d: delayed requests must reach the server: %+v %+v", i, r, r2)
		}
		if slow < delay-5*time.Millisecond {
			t.Errorf("round %d: /slow took %v, want >= %v", i, slow, delay)
		}
		if fast >= delay-100*time.Millisecond {
			t.Errorf("round %d: /fast took %v: it must not be held", i, fast)
		}
	}
	if be.conns.Load() != 1 {
		t.Errorf("server saw %d connections, want 1", be.conns.Load())
	}
}

func TestHTTPBodiesIntact(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(), httpPair(`"action":"fail","path_prefix":"/fail"`)...)
	c := dialSeq(t, p.Listen)
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB: many chunks through the proxy
	for i, body := range []string{"small", big, "", "x", big[:100000]} {
		sum := sha256.Sum256([]byte(body))
		want := hex.EncodeToString(sum[:])
		for _, chunked := range []bool{false, true} {
			post := func(path string) result {
				req, err := http.NewRequest("POST", "http://"+p.Listen+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if chunked { // a body of unknown length goes chunked
					req.Body, req.ContentLength = io.NopCloser(strings.NewReader(body)), -1
				}
				return c.send(t, req)
			}
			if r := post("/ok"); r.status != 200 || r.sha != want {
				t.Fatalf("body %d (%d bytes, chunked %v): %+v", i, len(body), chunked, r)
			}
			// A failed POST's body is swallowed whole: the next request still parses.
			if r := post("/fail"); !r.fault {
				t.Fatalf("body %d (chunked %v): /fail not failed: %+v", i, chunked, r)
			}
		}
	}
	if be.conns.Load() != 1 || be.requests.Load() != 10 {
		t.Errorf("server saw %d requests on %d connections, want 10 on 1", be.requests.Load(), be.conns.Load())
	}
}

// pipeline writes raw requests at once on one connection and reads the answers in order.
func pipeline(t *testing.T, addr string, reqs ...string) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, strings.Join(reqs, "")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var out []*http.Response
	for _, raw := range reqs {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("answer %d: %v", len(out), err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out
}

func TestHTTPPipelinedOrder(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(),
		httpPair(`"action":"fail","path_prefix":"/fail","status":502`)...)
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }
	resps := pipeline(t, p.Listen,
		get("/fail/0"), get("/a"), get("/fail/1"), get("/fail/2"),
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"HEAD /fail/3 HTTP/1.1\r\nHost: x\r\n\r\n", get("/c"))
	want := []string{"502", "GET /a", "502", "502", "POST /b", "502 head", "GET /c"}
	for i, r := range resps {
		b, _ := io.ReadAll(r.Body)
		got := string(b)
		if r.Header.Get(FaultHeader) != "" {
			got = fmt.Sprint(r.StatusCode)
			if r.Request.Method == "HEAD" {
				got += " head"
				if len(b) != 0 {
					t.Errorf("answer %d to HEAD carries a body %q", i, b)
				}
			}
		}
		if got != want[i] {
			t.Errorf("answer %d: %q, want %q", i, got, want[i])
		}
	}
}

func TestHTTPPipelinedBehindDelay(t *testing.T) {
	be := newBackend(t)
	// One rule per proxy: delay /slow on one, and check a failed request queued behind a
	// delayed one on another, through two chained proxies.
	inner := proxy(t, be.Listener.Addr().String(), httpPair(`"action":"fail","path_prefix":"/fail"`)...)
	outer := proxy(t, inner.Listen, httpPair(`"action":"delay","delay_ms":200,"path_prefix":"/slow"`)...)
	start := time.Now()
	resps := pipeline(t, outer.Listen,
		"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	if took := time.Since(start); took < 195*time.Millisecond {
		t.Errorf("pipeline took %v, want the /slow delay (200ms) first", took)
	}
	for i, want := range []string{"GET /slow", "fault", "GET /after"} {
		b, _ := io.ReadAll(resps[i].Body)
		got := string(b)
		if resps[i].Header.Get(FaultHeader) != "" {
			got = "fault"
		}
		if got != want {
			t.Errorf("answer %d: %q, want %q", i, got, want)
		}
	}
}

// rawServer accepts connections and runs handle on each.
func rawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestHTTPNonHTTPPassesThrough(t *testing.T) {
	echo := rawServer(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
	greeter := rawServer(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "220 hello from a server that speaks first\r\n")
		_, _ = io.Copy(c, c)
	})
	binary := []byte{0, 1, 2, 3, 0xff, 0xfe, '\r', '\n', '\r', '\n'}
	for _, tc := range []struct {
		name     string
		upstream string
		greeting string
		sends    [][]byte
	}{
		{"binary", echo, "", [][]byte{binary, bytes.Repeat(binary, 1000)}},
		{"text lines", echo, "", [][]byte{[]byte("hello world\n"), []byte("GET is not a request line here\n")}},
		{"looks like a method", echo, "", [][]byte{[]byte("PING"), []byte(" pong\r\n")}},
		{"server speaks first", greeter, "220 hello from a server that speaks first\r\n", [][]byte{[]byte("EHLO x\r\n")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := proxy(t, tc.upstream, httpPair(`"action":"fail"`)...)
			conn, err := net.Dial("tcp", p.Listen)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if tc.greeting != "" {
				got := make([]byte, len(tc.greeting))
				if _, err := io.ReadFull(conn, got); err != nil || string(got) != tc.greeting {
					t.Fatalf("greeting %q, %v", got, err)
				}
			}
			for _, b := range tc.sends {
				if _, err := conn.Write(b); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(b))
				if _, err := io.ReadFull(conn, got); err != nil {
					t.Fatalf("echo of %d bytes: %v", len(b), err)
				}
				if !bytes.Equal(got, b) {
					t.Fatalf("echo changed the bytes: %q, want %q", got, b)
				}
			}
		})
	}
}

func TestHTTPRuleChangesOnLiveConnection(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(), httpPair("")...)
	c := dialSeq(t, p.Listen)
	url := "/x"
	if r := c.do(t, "GET", url, ""); r.fault {
		t.Fatal("an idle rule failed a request")
	}
	if _, err := p.Toxics.UpdateToxicJson("http", strings.NewReader(`{"attributes":{"action":"fail","first_n":2}}`)); err != nil {
		t.Fatal(err)
	}
	var got []bool
	for range 4 {
		got = append(got, c.do(t, "GET", url, "").fault)
	}
	if !slices.Equal(got, []bool{true, true, false, false}) {
		t.Fatalf("after the update on a live connection: failed %v, want [true true false false]", got)
	}
	// Setting the rule again starts its count again.
	if _, err := p.Toxics.UpdateToxicJson("http", strings.NewReader(`{"attributes":{"action":"fail","first_n":1}}`)); err != nil {
		t.Fatal(err)
	}
	if !c.do(t, "GET", url, "").fault || c.do(t, "GET", url, "").fault {
		t.Fatal("an update did not restart the count of matching requests")
	}
	if _, err := p.Toxics.UpdateToxicJson("http", strings.NewReader(`{"attributes":{"action":"","first_n":0}}`)); err != nil {
		t.Fatal(err)
	}
	if c.do(t, "GET", url, "").fault {
		t.Fatal("a cleared rule still failed a request")
	}
	// Other toxics come and go around it without breaking the connection's framing.
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(`{"name":"lat","type":"latency","stream":"upstream","attributes":{"latency":10}}`)); err != nil {
		t.Fatal(err)
	}
	if r := c.do(t, "GET", url, ""); r.status != 200 {
		t.Fatalf("with latency added: %+v", r)
	}
	if err := p.Toxics.RemoveToxic(t.Context(), "lat"); err != nil {
		t.Fatal(err)
	}
	if r := c.do(t, "GET", url, ""); r.status != 200 {
		t.Fatalf("with latency removed: %+v", r)
	}
	if _, err := p.Toxics.UpdateToxicJson("http", strings.NewReader(`{"attributes":{"action":"fail"}}`)); err != nil {
		t.Fatal(err)
	}
	if !c.do(t, "GET", url, "").fault {
		t.Fatal("rule set after other toxics came and went did not fail the request")
	}
	if be.conns.Load() != 1 {
		t.Errorf("server saw %d connections, want 1", be.conns.Load())
	}
}

func TestHTTPCloseRequest(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(), httpPair(`"action":"fail","path_prefix":"/fail"`)...)
	resps := pipeline(t, p.Listen, "GET /fail HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !resps[0].Close || resps[0].Header.Get(FaultHeader) == "" {
		t.Fatalf("answer to a closing request: close=%v header=%v", resps[0].Close, resps[0].Header)
	}
	// The keep-alive client reconnects by itself and goes on.
	c := oneConn(t)
	if r := do(t, c, "GET", "http://"+p.Listen+"/fail", "", "Connection", "close"); !r.fault {
		t.Fatalf("%+v", r)
	}
	if r := do(t, c, "GET", "http://"+p.Listen+"/ok", ""); r.status != 200 {
		t.Fatalf("%+v", r)
	}
}

func TestHTTPWithoutResponderClosesFailedConnections(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(),
		`{"name":"http","type":"http","stream":"upstream","attributes":{"action":"fail","path_prefix":"/fail"}}`)
	c := oneConn(t)
	if r := do(t, c, "GET", "http://"+p.Listen+"/ok", ""); r.status != 200 {
		t.Fatalf("%+v", r)
	}
	req, _ := http.NewRequest("POST", "http://"+p.Listen+"/fail", strings.NewReader("x"))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a failed request without an http_response toxic got an answer: %d", resp.StatusCode)
	}
	if be.requests.Load() != 1 {
		t.Fatalf("server saw %d requests, want 1", be.requests.Load())
	}
}

func TestHTTPAttributeErrors(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String())
	for _, tc := range []struct{ attrs, want string }{
		{`{"action":"explode"}`, "action"},
		{`{"action":"fail","fraction":2}`, "fraction"},
		{`{"action":"fail","latency_ms":5}`, "latency_ms"},
		{`{"action":"fail","status":"503"}`, "status"},
	} {
		_, err := p.Toxics.AddToxicJson(strings.NewReader(`{"type":"http","stream":"upstream","attributes":` + tc.attrs + `}`))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("attributes %s: error %v, want one naming %q", tc.attrs, err, tc.want)
		}
	}
}

func TestHTTPManyConnectionsShareTheCount(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(), httpPair(`"action":"fail","first_n":5`)...)
	var wg sync.WaitGroup
	var faults atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := oneConn(t)
			for range 10 {
				req, _ := http.NewRequest("GET", "http://"+p.Listen+"/x", nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Header.Get(FaultHeader) != "" {
					faults.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if faults.Load() != 5 || be.requests.Load() != 35 {
		t.Fatalf("%d faults and %d requests served, want 5 and 35", faults.Load(), be.requests.Load())
	}
}

func TestHTTPNamedRules(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(), httpPair(
		`"rules":[{"name":"a","action":"fail","path_prefix":"/a","first_n":3},`+
			`{"name":"b","action":"fail","path_prefix":"/b","status":502}]`)...)
	c := dialSeq(t, p.Listen)
	get := func(path string) result { return c.do(t, "GET", path, "") }
	if r := get("/a"); !r.fault || r.status != DefaultStatus {
		t.Fatalf("/a: %+v", r)
	}
	if r := get("/b"); !r.fault || r.status != 502 {
		t.Fatalf("/b: %+v", r)
	}
	if r := get("/c"); r.fault {
		t.Fatalf("/c: %+v", r)
	}
	// Adding a rule leaves rule a's count where it was: one of its three is left.
	if _, err := p.Toxics.UpdateToxicJson("http", strings.NewReader(`{"attributes":{"rules":[`+
		`{"name":"a","action":"fail","path_prefix":"/a","first_n":3},`+
		`{"name":"b","action":"fail","path_prefix":"/b","status":502},`+
		`{"name":"c","action":"fail","path_prefix":"/c","status":500}]}}`)); err != nil {
		t.Fatal(err)
	}
	got := []bool{get("/a").fault, get("/a").fault, get("/a").fault}
	if !slices.Equal(got, []bool{true, true, false}) {
		t.Fatalf("rule a after another rule was added: %v, want [true true false]", got)
	}
	if r := get("/c"); r.status != 500 {
		t.Fatalf("/c after rule c was added: %+v", r)
	}
	// Removing every rule heals.
	if _, err := p.Toxics.UpdateToxicJson("http", strings.NewReader(`{"attributes":{"rules":[]}}`)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/a", "/b", "/c"} {
		if r := get(path); r.fault {
			t.Fatalf("%s after the rules were removed: %+v", path, r)
		}
	}
	if _, err := p.Toxics.UpdateToxicJson("http", strings.NewReader(`{"attributes":{"rules":[{"action":"fail"}]}}`)); err == nil ||
		!strings.Contains(err.Error(), "name") {
		t.Fatalf("an unnamed rule in rules: error %v, want one naming the name", err)
	}
}

func TestHTTPPairedHalfMissingClosesAfterWaiting(t *testing.T) {
	be := newBackend(t)
	p := proxy(t, be.Listener.Addr().String(),
		`{"name":"http","type":"http","stream":"upstream","attributes":{"pair":"nobody-answers","action":"fail"}}`)
	start := time.Now()
	_, err := http.Get("http://" + p.Listen + "/x")
	if err == nil {
		t.Fatal("a failed request with no http_response toxic to answer it got an answer")
	}
	if took := time.Since(start); took < pairWait-100*time.Millisecond {
		t.Fatalf("the connection closed after %v, before the %v wait for the downstream half", took, pairWait)
	}
	if be.requests.Load() != 0 {
		t.Fatalf("server saw %d requests", be.requests.Load())
	}
}
