package micro

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/proxyserver"
	"github.com/faultline/faultline/harness/runtime"
)

// loopHost is a runtime.ProxyHost for a Toxiproxy server in this process: every proxy
// listens on a free loopback port and is reached where it listens.
type loopHost struct{ api string }

var _ runtime.ProxyHost = loopHost{}

func (h loopHost) APIAddr() string              { return h.api }
func (h loopHost) ListenAddr(int) string        { return "127.0.0.1:0" }
func (h loopHost) NetAddr(listen string) string { return listen }
func (h loopHost) HostAddr(_ context.Context, listen string) (string, error) {
	return listen, nil
}

// trivialServer starts a loopback HTTP server that answers every request with "ok", and
// stops it when the benchmark ends.
func trivialServer(b testing.TB) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(srv.Close)
	return srv
}

// proxied starts an in-process Toxiproxy server, a netfault Manager on it and a trivial
// server behind one link named name, the way the local runtime puts an instance behind
// its ingress proxy. Everything is stopped when the benchmark ends.
func proxied(b testing.TB, name string) *netfault.Link {
	b.Helper()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := proxyserver.Start(b.Context(), "127.0.0.1:0", quiet)
	if err != nil {
		b.Fatalf("start toxiproxy server: %v", err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	m := netfault.New(loopHost{srv.Addr()}, netfault.WithLogger(quiet), netfault.WithProbePath("/"))
	b.Cleanup(func() { _ = m.Close(context.Background()) })
	be := trivialServer(b)
	l, err := m.Create(b.Context(), name, be.Listener.Addr().String())
	if err != nil {
		b.Fatalf("create link %s: %v", name, err)
	}
	return l
}

// client is a keep-alive HTTP client with a per-request timeout, as a service's caller
// (or vegeta) would hold one; its idle connections are closed at the end.
func client(b testing.TB, timeout time.Duration) *http.Client {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: timeout, Transport: tr}
}

// fetch sends one GET to url and reads the whole answer. It returns the status (0 when
// no answer came) and the error.
func fetch(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// quantile is the q-quantile (0..1) of xs by the nearest-rank method; xs need not be
// sorted and is not changed. It is zero for no samples.
func quantile[T ~int64 | ~float64](xs []T, q float64) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// loadAverage is the machine's 1-minute load average as /proc/loadavg gives it, for
// notes on figures that a busy machine moves; "unknown" where there is none.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// msOf is d in milliseconds, for figures.
func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
