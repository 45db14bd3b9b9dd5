package netfault_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/proxyserver"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/toxics"
)

// loopHost is a runtime.ProxyHost on loopback, as the local runtime's.
type loopHost struct{ api string }

var _ runtime.ProxyHost = loopHost{}

func (h loopHost) APIAddr() string         { return h.api }
func (h loopHost) ListenAddr(int) string   { return "127.0.0.1:0" }
func (h loopHost) NetAddr(l string) string { return l }
func (h loopHost) HostAddr(_ context.Context, l string) (string, error) {
	return l, nil
}

// manager starts an in-process Toxiproxy server and a Manager on it.
func manager(t testing.TB) (*netfault.Manager, *proxyserver.Server) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := proxyserver.Start(t.Context(), "127.0.0.1:0", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	m := netfault.New(loopHost{srv.Addr()}, netfault.WithLogger(quiet))
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m, srv
}

// backend is an HTTP server that counts requests and answers /big with n bytes.
type backend struct {
	*httptest.Server
	requests atomic.Int64
}

func newBackend(t testing.TB) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(32<<10))
			_, _ = io.WriteString(w, strings.Repeat("x", 32<<10))
		default:
			_, _ = io.WriteString(w, "ok "+r.URL.Path)
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func create(t testing.TB, m *netfault.Manager, name string, be *backend) *netfault.Link {
	t.Helper()
	l, err := m.Create(t.Context(), name, be.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// get fetches path through the link on a fresh connection and reports the body and time.
func get(t testing.TB, l *netfault.Link, path string) (string, time.Duration, error) {
	t.Helper()
	addr, err := l.HostAddr(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return "", time.Since(start), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), time.Since(start), err
}

func TestCreateReachAndList(t *testing.T) {
	m, _ := manager(t)
	be := newBackend(t)
	a := create(t, m, "accounts-1", be)
	b := create(t, m, "accounts-2", be)
	if _, port, _ := net.SplitHostPort(a.Listen()); port == "0" || port == "" {
		t.Fatalf("Listen %q: want the real port", a.Listen())
	}
	if a.NetAddr() != a.Listen() || a.Upstream() != be.Listener.Addr().String() || a.Name() != "accounts-1" {
		t.Fatalf("link fields: %s %s %s", a.Name(), a.NetAddr(), a.Upstream())
	}
	if body, _, err := get(t, a, "/hello"); err != nil || body != "ok /hello" {
		t.Fatalf("through the proxy: %q, %v", body, err)
	}
	if got, ok := m.Link("accounts-2"); !ok || got != b {
		t.Fatal("Link(accounts-2) not found")
	}
	if ls := m.Links(); len(ls) != 2 || ls[0] != a || ls[1] != b {
		t.Fatalf("Links: %v", ls)
	}
	if _, err := m.Create(t.Context(), "accounts-1", be.Listener.Addr().String()); !errors.Is(err, netfault.ErrExists) {
		t.Fatalf("second proxy of one name: %v, want ErrExists", err)
	}
	if ts, err := a.Toxics(t.Context()); err != nil || len(ts) != 0 {
		t.Fatalf("a new link lists toxics %v (%v): netfault's own must stay hidden", ts, err)
	}
	if r := a.Probe(t.Context(), time.Second); r.Outcome != netfault.Answered || r.Status != 200 {
		t.Fatalf("probe of a healthy link: %s", r)
	}
}

// rawExchange writes req on a fresh connection through l and reads until EOF or timeout.
func rawExchange(t testing.TB, l *netfault.Link, req string, timeout time.Duration) (got []byte, took time.Duration, err error) {
	t.Helper()
	conn, err := net.Dial("tcp", l.Listen())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_ = conn.SetDeadline(start.Add(timeout))
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, time.Since(start), err
	}
	got, err = io.ReadAll(conn)
	return got, time.Since(start), err
}

const getBig = "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

func TestToxicsSeenThroughTraffic(t *testing.T) {
	m, _ := manager(t)
	be := newBackend(t)
	for _, tc := range []struct {
		name  string
		toxic netfault.Toxic
		check func(t *testing.T, l *netfault.Link)
	}{
		{"latency", netfault.Toxic{Type: netfault.TypeLatency, Attributes: map[string]any{"latency": 200}},
			func(t *testing.T, l *netfault.Link) {
				_, took, err := get(t, l, "/x")
				if err != nil || took < 200*time.Millisecond {
					t.Fatalf("request took %v (%v), want >= the 200ms injected", took, err)
				}
				if r := l.Probe(t.Context(), 5*time.Second); r.Outcome != netfault.Answered || r.Elapsed < 200*time.Millisecond {
					t.Fatalf("probe: %s, want an answer after >= 200ms", r)
				}
			}},
		{"timeout 0 is a black hole", netfault.Toxic{Type: netfault.TypeTimeout, Stream: netfault.Both, Attributes: map[string]any{"timeout": 0}},
			func(t *testing.T, l *netfault.Link) {
				if r := l.Probe(t.Context(), 500*time.Millisecond); r.Outcome != netfault.TimedOut {
					t.Fatalf("probe: %s, want timed out (a hang, not refused)", r)
				}
			}},
		{"timeout closes", netfault.Toxic{Type: netfault.TypeTimeout, Attributes: map[string]any{"timeout": 300}},
			func(t *testing.T, l *netfault.Link) {
				r := l.Probe(t.Context(), 5*time.Second)
				if r.Outcome != netfault.Closed || r.Elapsed < 300*time.Millisecond {
					t.Fatalf("probe: %s, want closed after >= 300ms", r)
				}
			}},
		{"bandwidth 0 is a black hole", netfault.Toxic{Type: netfault.TypeBandwidth, Attributes: map[string]any{"rate": 0}},
			func(t *testing.T, l *netfault.Link) {
				if r := l.Probe(t.Context(), 500*time.Millisecond); r.Outcome != netfault.TimedOut {
					t.Fatalf("probe: %s, want timed out", r)
				}
			}},
		{"bandwidth limits", netfault.Toxic{Type: netfault.TypeBandwidth, Attributes: map[string]any{"rate": 64}},
			func(t *testing.T, l *netfault.Link) {
				got, took, err := rawExchange(t, l, getBig, 10*time.Second)
				if err != nil || !strings.HasSuffix(string(got), strings.Repeat("x", 32<<10)) {
					t.Fatalf("read %d bytes: %v", len(got), err)
				}
				if took < 300*time.Millisecond { // 32 KiB at 64 KB/s is about 0.5 s
					t.Fatalf("32 KiB at 64 KB/s took %v", took)
				}
			}},
		{"reset_peer", netfault.Toxic{Type: netfault.TypeResetPeer, Stream: netfault.Upstream, Attributes: map[string]any{"timeout": 0}},
			func(t *testing.T, l *netfault.Link) {
				r := l.Probe(t.Context(), 2*time.Second)
				if r.Outcome != netfault.Closed {
					t.Fatalf("probe: %s, want closed", r)
				}
				if be.requests.Load() != 0 {
					t.Fatalf("the server saw %d requests through a reset", be.requests.Load())
				}
			}},
		{"slicer", netfault.Toxic{Type: netfault.TypeSlicer, Attributes: map[string]any{"average_size": 512, "size_variation": 100, "delay": 5000}},
			func(t *testing.T, l *netfault.Link) {
				got, took, err := rawExchange(t, l, getBig, 10*time.Second)
				if err != nil || !strings.HasSuffix(string(got), strings.Repeat("x", 32<<10)) {
					t.Fatalf("read %d bytes: %v: the slices must add up to the whole", len(got), err)
				}
				if took < 150*time.Millisecond { // about 64 slices 5 ms apart
					t.Fatalf("sliced answer took %v, want the pauses between slices", took)
				}
			}},
		{"limit_data", netfault.Toxic{Type: netfault.TypeLimitData, Attributes: map[string]any{"bytes": 100}},
			func(t *testing.T, l *netfault.Link) {
				got, _, err := rawExchange(t, l, getBig, 5*time.Second)
				if err != nil || len(got) != 100 || !strings.HasPrefix(string(got), "HTTP/1.1 200") {
					t.Fatalf("read %d bytes (%v), want exactly the first 100", len(got), err)
				}
			}},
		{"slow_close", netfault.Toxic{Type: netfault.TypeSlowClose, Attributes: map[string]any{"delay": 500}},
			func(t *testing.T, l *netfault.Link) {
				got, took, err := rawExchange(t, l, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
				if err != nil || !strings.HasSuffix(string(got), "ok /x") {
					t.Fatalf("answer %q: %v", got, err)
				}
				if took < 500*time.Millisecond {
					t.Fatalf("the close came after %v, want >= 500ms", took)
				}
			}},
		{"http fail", netfault.Toxic{Type: netfault.TypeHTTP, Stream: netfault.Upstream, Attributes: map[string]any{
			"action": "fail", "status": 503, "path_prefix": "/api/", "fraction": 1.0, "seed": int64(7)}},
			func(t *testing.T, l *netfault.Link) {
				if body, _, _ := get(t, l, "/api/x"); body != toxics.FaultBody {
					t.Fatalf("/api/x: %q, want the synthetic answer", body)
				}
				if body, _, _ := get(t, l, "/other"); body != "ok /other" {
					t.Fatalf("/other: %q, want the server's answer", body)
				}
				if be.requests.Load() != 1 {
					t.Fatalf("server saw %d requests, want 1: the failed one must not reach it", be.requests.Load())
				}
			}},
		{"http delay", netfault.Toxic{Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "delay", "delay_ms": 250}},
			func(t *testing.T, l *netfault.Link) {
				if body, took, err := get(t, l, "/x"); err != nil || body != "ok /x" || took < 250*time.Millisecond {
					t.Fatalf("%q after %v (%v), want the answer after >= 250ms", body, took, err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be.requests.Store(0)
			l := create(t, m, "link-"+strings.ReplaceAll(tc.name, " ", "-"), be)
			name, err := l.AddToxic(t.Context(), tc.toxic)
			if err != nil {
				t.Fatal(err)
			}
			ts, err := l.Toxics(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, x := range ts {
				names = append(names, x.Name)
			}
			if tc.toxic.Stream == netfault.Both {
				if !slices.Equal(names, []string{name + "_upstream", name + "_downstream"}) {
					t.Fatalf("listed %v after adding %s both ways", names, name)
				}
			} else if len(ts) != 1 || ts[0].Name != name || ts[0].Type != tc.toxic.Type || ts[0].Toxicity != 1 {
				t.Fatalf("listed %+v, want the one toxic %s", ts, name)
			}
			tc.check(t, l)
			if err := l.RemoveToxic(t.Context(), name); err != nil {
				t.Fatal(err)
			}
			if ts, _ := l.Toxics(t.Context()); len(ts) != 0 {
				t.Fatalf("still listed after removal: %+v", ts)
			}
			if r := l.Probe(t.Context(), 2*time.Second); r.Outcome != netfault.Answered || r.Status != 200 {
				t.Fatalf("probe after removal: %s, want healed", r)
			}
			if err := l.RemoveToxic(t.Context(), name); !errors.Is(err, netfault.ErrNotFound) ||
				!strings.Contains(err.Error(), "not found") {
				t.Fatalf("second removal: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDisableRefusesEnableHeals(t *testing.T) {
	m, _ := manager(t)
	be := newBackend(t)
	l := create(t, m, "svc", be)
	listen := l.Listen()
	if err := l.Disable(t.Context()); err != nil {
		t.Fatal(err)
	}
	if on, err := l.Enabled(t.Context()); err != nil || on {
		t.Fatalf("Enabled after Disable: %v, %v", on, err)
	}
	if r := l.Probe(t.Context(), time.Second); r.Outcome != netfault.Refused {
		t.Fatalf("probe of a disabled link: %s, want refused", r)
	}
	if err := l.Enable(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := l.Probe(t.Context(), time.Second); r.Outcome != netfault.Answered || l.Listen() != listen {
		t.Fatalf("probe after Enable: %s (listen %s, was %s)", r, l.Listen(), listen)
	}
	// An upstream that is down: the proxy takes the connection, then closes it.
	dead := create(t, m, "dead", &backend{Server: &httptest.Server{Listener: deadListener(t)}})
	if r := dead.Probe(t.Context(), time.Second); r.Outcome != netfault.Closed {
		t.Fatalf("probe through a proxy to a dead upstream: %s, want closed", r)
	}
}

// deadListener returns a listener already closed: its address refuses connections.
func deadListener(t testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return ln
}

func TestOneWayCuts(t *testing.T) {
	m, _ := manager(t)
	be := newBackend(t)
	cut := func(dir netfault.Direction) *netfault.Link {
		l := create(t, m, "cut-"+dir.String(), be)
		if _, err := l.AddToxic(t.Context(), netfault.Toxic{
			Name: "cut", Type: netfault.TypeTimeout, Stream: dir, Attributes: map[string]any{"timeout": 0},
		}); err != nil {
			t.Fatal(err)
		}
		return l
	}
	be.requests.Store(0)
	up := cut(netfault.Upstream)
	if r := up.Probe(t.Context(), 500*time.Millisecond); r.Outcome != netfault.TimedOut {
		t.Fatalf("upstream cut: probe %s, want timed out", r)
	}
	if n := be.requests.Load(); n != 0 {
		t.Fatalf("upstream cut: the server saw %d requests, want none", n)
	}
	down := cut(netfault.Downstream)
	if r := down.Probe(t.Context(), 500*time.Millisecond); r.Outcome != netfault.TimedOut {
		t.Fatalf("downstream cut: probe %s, want timed out", r)
	}
	if n := be.requests.Load(); n != 1 {
		t.Fatalf("downstream cut: the server saw %d requests, want 1 (it acts, its answer is lost)", n)
	}
}

func TestHTTPRulesShareALink(t *testing.T) {
	m, _ := manager(t)
	be := newBackend(t)
	l := create(t, m, "svc", be)
	// A keep-alive connection opened before any fault: http faults reach it.
	conn, err := net.Dial("tcp", l.Listen())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	fetch := func(path string) string {
		t.Helper()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get(toxics.FaultHeader) != "" {
			return fmt.Sprint(resp.StatusCode)
		}
		return string(b)
	}
	if got := fetch("/a"); got != "ok /a" {
		t.Fatal(got)
	}
	add := func(name string, attrs map[string]any) {
		t.Helper()
		if _, err := l.AddToxic(t.Context(), netfault.Toxic{Name: name, Type: netfault.TypeHTTP, Stream: netfault.Upstream, Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	add("fail-a", map[string]any{"action": "fail", "path_prefix": "/a", "status": 502})
	add("fail-b", map[string]any{"action": "fail", "path_prefix": "/b", "first_n": 1})
	if _, err := l.AddToxic(t.Context(), netfault.Toxic{Name: "fail-a", Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "fail"}}); !errors.Is(err, netfault.ErrExists) {
		t.Fatalf("a second rule named fail-a: %v, want ErrExists", err)
	}
	got := []string{fetch("/a"), fetch("/b"), fetch("/b"), fetch("/c")}
	if want := []string{"502", "503", "ok /b", "ok /c"}; !slices.Equal(got, want) {
		t.Fatalf("on the connection opened before the faults: %v, want %v", got, want)
	}
	ts, err := l.Toxics(t.Context())
	if err != nil || len(ts) != 2 || ts[0].Name != "fail-a" || ts[1].Name != "fail-b" || ts[0].Attributes["status"] != float64(502) {
		t.Fatalf("listed %+v (%v)", ts, err)
	}
	if err := l.RemoveToxic(t.Context(), "fail-a"); err != nil {
		t.Fatal(err)
	}
	if got := fetch("/a"); got != "ok /a" {
		t.Fatalf("/a after its rule was removed: %s", got)
	}
	if ts, _ := l.Toxics(t.Context()); len(ts) != 1 || ts[0].Name != "fail-b" {
		t.Fatalf("after removing fail-a: %+v", ts)
	}
}

func TestResetHealsEverything(t *testing.T) {
	m, _ := manager(t)
	be := newBackend(t)
	a, b := create(t, m, "a", be), create(t, m, "b", be)
	for _, tc := range []struct {
		l *netfault.Link
		t netfault.Toxic
	}{
		{a, netfault.Toxic{Type: netfault.TypeLatency, Attributes: map[string]any{"latency": 3000}}},
		{a, netfault.Toxic{Name: "hole", Type: netfault.TypeTimeout, Stream: netfault.Both}},
		{a, netfault.Toxic{Name: "http-x", Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "fail"}}},
		{b, netfault.Toxic{Type: netfault.TypeBandwidth, Toxicity: 0.5, Attributes: map[string]any{"rate": 0}}},
	} {
		if _, err := tc.l.AddToxic(t.Context(), tc.t); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Disable(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Links() {
		if ts, err := l.Toxics(t.Context()); err != nil || len(ts) != 0 {
			t.Fatalf("%s after Reset: %+v (%v)", l.Name(), ts, err)
		}
		if on, err := l.Enabled(t.Context()); err != nil || !on {
			t.Fatalf("%s after Reset: enabled=%v (%v)", l.Name(), on, err)
		}
		if r := l.Probe(t.Context(), 5*time.Second); r.Outcome != netfault.Answered || r.Status != 200 || r.Elapsed > 2500*time.Millisecond {
			t.Fatalf("%s after Reset: probe %s", l.Name(), r)
		}
	}
}

// Toxiproxy's own reset drops netfault's http toxic with the rest: Reset puts it back.
func TestResetRestoresHTTPToxicAfterServerReset(t *testing.T) {
	m, srv := manager(t)
	be := newBackend(t)
	l := create(t, m, "svc", be)
	resp, err := http.Post("http://"+srv.Addr()+"/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := l.AddToxic(t.Context(), netfault.Toxic{Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "fail"}}); err == nil ||
		!strings.Contains(err.Error(), "no http toxic") {
		t.Fatalf("http fault with the http toxic gone: %v", err)
	}
	if err := l.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddToxic(t.Context(), netfault.Toxic{Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "fail"}}); err != nil {
		t.Fatal(err)
	}
	if body, _, _ := get(t, l, "/x"); body != toxics.FaultBody {
		t.Fatalf("after Reset put the http toxic back: %q", body)
	}
}

func TestCloseRemovesProxies(t *testing.T) {
	m, srv := manager(t)
	be := newBackend(t)
	a, b := create(t, m, "a", be), create(t, m, "b", be)
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + srv.Addr() + "/proxies")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var proxies map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&proxies); err != nil || len(proxies) != 0 {
		t.Fatalf("proxies after Close: %v (%v)", proxies, err)
	}
	for _, l := range []*netfault.Link{a, b} {
		if r := l.Probe(t.Context(), time.Second); r.Outcome != netfault.Refused {
			t.Fatalf("%s after Close: probe %s, want refused", l.Name(), r)
		}
	}
	if len(m.Links()) != 0 {
		t.Fatal("Links after Close")
	}
	if err := m.Close(t.Context()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.Create(t.Context(), "c", be.Listener.Addr().String()); err == nil {
		t.Fatal("Create after Close succeeded")
	}
	// Close works with a context already cancelled (a test's cleanup).
	m2, _ := manager(t)
	create(t, m2, "d", be)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m2.Close(ctx); err != nil {
		t.Fatalf("Close with a cancelled context: %v", err)
	}
}

func TestValidation(t *testing.T) {
	m, _ := manager(t)
	be := newBackend(t)
	l := create(t, m, "svc", be)
	for _, tc := range []struct {
		name  string
		toxic netfault.Toxic
		want  string // in the error
	}{
		{"unknown type", netfault.Toxic{Type: "lag"}, `toxic type "lag"`},
		{"negative latency", netfault.Toxic{Type: netfault.TypeLatency, Attributes: map[string]any{"latency": -5}}, "latency is -5"},
		{"toxicity above 1", netfault.Toxic{Type: netfault.TypeLatency, Toxicity: 1.5}, "Toxicity 1.5"},
		{"toxicity below 0", netfault.Toxic{Type: netfault.TypeLatency, Toxicity: -0.1}, "Toxicity -0.1"},
		{"toxicity NaN", netfault.Toxic{Type: netfault.TypeLatency, Toxicity: math.NaN()}, "Toxicity NaN"},
		{"bad stream", netfault.Toxic{Type: netfault.TypeLatency, Stream: 7}, "Stream"},
		{"unknown attribute", netfault.Toxic{Type: netfault.TypeLatency, Attributes: map[string]any{"latency_ms": 5}}, `unknown attribute "latency_ms"`},
		{"duration attribute", netfault.Toxic{Type: netfault.TypeLatency, Attributes: map[string]any{"latency": 5 * time.Millisecond}}, "time.Duration"},
		{"fractional ms", netfault.Toxic{Type: netfault.TypeLatency, Attributes: map[string]any{"latency": 1.5}}, "whole number"},
		{"string attribute", netfault.Toxic{Type: netfault.TypeTimeout, Attributes: map[string]any{"timeout": "5"}}, "whole number"},
		{"slicer without size", netfault.Toxic{Type: netfault.TypeSlicer}, "average_size is missing"},
		{"slicer size 0", netfault.Toxic{Type: netfault.TypeSlicer, Attributes: map[string]any{"average_size": 0}}, "average_size is 0"},
		{"slicer variation", netfault.Toxic{Type: netfault.TypeSlicer, Attributes: map[string]any{"average_size": 10, "size_variation": 10}}, "size_variation"},
		{"bad name", netfault.Toxic{Name: "a/b", Type: netfault.TypeLatency}, `toxic name "a/b"`},
		{"netfault's own name", netfault.Toxic{Name: "faultline.http", Type: netfault.TypeLatency}, "netfault's own"},
		{"http both ways", netfault.Toxic{Type: netfault.TypeHTTP, Stream: netfault.Both, Attributes: map[string]any{"action": "fail"}}, "Stream both"},
		{"http toxicity", netfault.Toxic{Type: netfault.TypeHTTP, Toxicity: 0.5, Attributes: map[string]any{"action": "fail"}}, "fraction"},
		{"http no action", netfault.Toxic{Type: netfault.TypeHTTP}, "action is missing"},
		{"http fraction", netfault.Toxic{Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "fail", "fraction": 2}}, "fraction 2"},
		{"http unknown attribute", netfault.Toxic{Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "fail", "path": "/x"}}, `unknown field "path"`},
		{"http status", netfault.Toxic{Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "fail", "status": 42}}, "status 42"},
		{"http pair", netfault.Toxic{Type: netfault.TypeHTTP, Attributes: map[string]any{"action": "fail", "pair": "x"}}, `"pair"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.AddToxic(t.Context(), tc.toxic)
			if !errors.Is(err, netfault.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalid naming %q", err, tc.want)
			}
		})
	}
	if ts, _ := l.Toxics(t.Context()); len(ts) != 0 {
		t.Fatalf("refused toxics were added: %+v", ts)
	}
	if err := l.RemoveToxic(t.Context(), "faultline.http"); !errors.Is(err, netfault.ErrInvalid) {
		t.Fatalf("removing netfault's own toxic: %v", err)
	}
	for _, tc := range []struct{ name, upstream, want string }{
		{"bad/name", be.Listener.Addr().String(), "name"},
		{"ok", "no-port", "upstream"},
	} {
		if _, err := m.Create(t.Context(), tc.name, tc.upstream); !errors.Is(err, netfault.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%q, %q): %v, want ErrInvalid naming %s", tc.name, tc.upstream, err, tc.want)
		}
	}
}

func TestProbeOutcomes(t *testing.T) {
	m, _ := manager(t)
	// A server that answers with bytes that are not HTTP still answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = bufio.NewReader(c).ReadString('\n')
			_, _ = io.WriteString(c, "hello\r\n\r\n")
			c.Close()
		}
	}()
	l, err := m.Create(t.Context(), "raw", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if r := l.Probe(t.Context(), time.Second); r.Outcome != netfault.Answered || r.Status != 0 || r.Err == nil {
		t.Fatalf("probe of a server that is not HTTP: %s", r)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if r := l.Probe(ctx, time.Second); r.Outcome != netfault.Failed {
		t.Fatalf("probe with a cancelled context: %s, want failed", r)
	}
}
