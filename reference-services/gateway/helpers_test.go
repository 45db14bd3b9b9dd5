package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/httpjson"
	"github.com/faultline/faultline/reference-services/registry"
)

// testKey is the API key every test gateway knows.
const testKey = "demo-key"

// testConfig is DefaultConfig with delays short enough for tests.
func testConfig() Config {
	c := DefaultConfig()
	c.AttemptTimeout = 200 * time.Millisecond
	c.BreakerDelay = 200 * time.Millisecond
	c.ResolveTimeout = time.Second
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Backend behaviours.
const (
	modeOK      int32 = iota // answer 200 with what was received
	modeUnavail              // answer 503
	modeSlow                 // answer only after the caller gave up
	modeDrop                 // close the connection without answering
	modeDepDown              // answer 503 blaming a dependency (httpjson.DependencyHeader)
)

// received is what a backend saw of one call, echoed back as its JSON answer.
type received struct {
	ID     string      `json:"id"`
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query"`
	Body   string      `json:"body"`
	Header http.Header `json:"header"`
}

// backend is one fake instance of a service, on a real loopback server.
type backend struct {
	id   string
	srv  *httptest.Server
	mode atomic.Int32
	hits atomic.Int64
}

func startBackend(t testing.TB, id string) *backend {
	t.Helper()
	b := &backend{id: id}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	body, _ := io.ReadAll(r.Body)
	switch b.mode.Load() {
	case modeUnavail:
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
		return
	case modeDepDown:
		w.Header().Set(httpjson.DependencyHeader, "inventory")
		w.Header().Set("X-Backend", b.id)
		http.Error(w, `{"error":"inventory unavailable"}`, http.StatusServiceUnavailable)
		return
	case modeSlow:
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	case modeDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Backend", b.id)
	_ = json.NewEncoder(w).Encode(received{ID: b.id, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: string(body), Header: r.Header})
}

func (b *backend) addr() string { return b.srv.Listener.Addr().String() }

// testRegistry is the real registry on a loopback server.
type testRegistry struct {
	reg    *registry.Registry
	srv    *httptest.Server
	client *discovery.Client
	once   sync.Once
}

func startRegistry(t testing.TB) *testRegistry {
	t.Helper()
	reg, err := registry.Open(filepath.Join(t.TempDir(), "registry.db"), registry.WithTTL(time.Minute), registry.WithLogger(testLogger(t)))
	if reg != nil {
		t.Cleanup(func() { _ = reg.Close() })
	}
	if err != nil {
		t.Fatalf("open registry: %v", err)
	}
	r := &testRegistry{reg: reg, srv: httptest.NewServer(reg.Handler())}
	t.Cleanup(r.stop)
	r.client = discovery.NewClient(r.srv.URL)
	return r
}

// register puts backends into the registry as instances of service.
func (r *testRegistry) register(t testing.TB, service string, bs ...*backend) {
	t.Helper()
	for _, b := range bs {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := r.client.Register(ctx, discovery.Instance{Service: service, ID: b.id, Address: b.addr()}, 0)
		cancel()
		if err != nil {
			t.Fatalf("register %s: %v", b.id, err)
		}
	}
}

// stop takes the registry down: its port refuses connections from then on.
func (r *testRegistry) stop() {
	r.once.Do(func() {
		_ = r.reg.Close() // releases blocked watches first
		r.srv.Close()
	})
}

// testGateway is a Gateway behind a loopback server, with a resolver on reg.
type testGateway struct {
	gw  *Gateway
	srv *httptest.Server
	hc  *http.Client
}

func startGateway(t testing.TB, reg *testRegistry, cfg Config) *testGateway {
	t.Helper()
	log := testLogger(t)
	client := discovery.NewClient(reg.srv.URL)
	ropts := append(cfg.ResolverOptions(), discovery.WithWatchWait(300*time.Millisecond), discovery.WithResolverLogger(log))
	res := discovery.NewResolver(client, ropts...)
	t.Cleanup(res.Close)
	gw, err := New(cfg, res, WithRegistryClient(client), WithLogger(log))
	if err != nil {
		t.Fatalf("new gateway: %v", err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return &testGateway{gw: gw, srv: srv, hc: &http.Client{Timeout: 10 * time.Second}}
}

// reply is what a client of the gateway saw.
type reply struct {
	code     int
	header   http.Header
	body     string
	took     time.Duration
	servedBy string
	attempts int
}

// decode reads the body as a backend's echo.
func (r reply) echo(t testing.TB) received {
	t.Helper()
	var rc received
	if err := json.Unmarshal([]byte(r.body), &rc); err != nil {
		t.Fatalf("answer is not a backend's echo: %v: %s", err, r.body)
	}
	return rc
}

// errorText reads the body as the gateway's JSON error.
func (r reply) errorText(t testing.TB) string {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal([]byte(r.body), &eb); err != nil || eb.Error == "" {
		t.Fatalf("answer %d is not a JSON error: %v: %q", r.code, err, r.body)
	}
	return eb.Error
}

// call sends one request with the test key unless header sets X-API-Key (to "" to omit it).
func (g *testGateway) call(t testing.TB, method, path, body string, header map[string]string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, g.srv.URL+path, rd)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	req.Header.Set(APIKeyHeader, testKey)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := g.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer of %s %s: %v", method, path, err)
	}
	n, _ := strconv.Atoi(resp.Header.Get(AttemptsHeader))
	return reply{code: resp.StatusCode, header: resp.Header, body: string(b), took: time.Since(start),
		servedBy: resp.Header.Get(ServedByHeader), attempts: n}
}

func (g *testGateway) get(t testing.TB, path string) reply {
	return g.call(t, http.MethodGet, path, "", nil)
}

// metric returns the text exposition lines of /metrics that contain all of parts.
func (g *testGateway) metric(t testing.TB, parts ...string) []string {
	t.Helper()
	resp, err := g.hc.Get(g.srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("get /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
next:
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// eventually polls cond every 20 ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
