package registrytest

import (
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/registry"
)

// Server is a registry served on loopback for one test.
type Server struct {
	// Registry is the registry being served.
	Registry *registry.Registry
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Addr is the host:port it listens on.
	Addr string
	// Path is the registry's bbolt file.
	Path string
	// Client is a discovery client for it.
	Client *discovery.Client

	srv      *httptest.Server
	stopOnce sync.Once
}

// Start opens the registry file at path and serves it on a free loopback port. The
// registry logs to the test's output (seen with -v or on failure) unless opts name a
// logger. Everything is stopped when the test ends.
func Start(t testing.TB, path string, opts ...registry.Option) *Server {
	t.Helper()
	return StartAt(t, "127.0.0.1:0", path, opts...)
}

// StartAt is Start on a given address: a test restarts a registry where its clients
// expect it by passing the Addr of the one it stopped.
func StartAt(t testing.TB, addr, path string, opts ...registry.Option) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("registrytest: listen on %s: %v", addr, err)
	}
	reg, err := registry.Open(path, append([]registry.Option{registry.WithLogger(Logger(t))}, opts...)...)
	if err != nil {
		ln.Close()
		t.Fatalf("registrytest: %v", err)
	}
	srv := httptest.NewUnstartedServer(reg.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	s := &Server{
		Registry: reg,
		URL:      srv.URL,
		Addr:     ln.Addr().String(),
		Path:     path,
		Client:   discovery.NewClient(srv.URL),
		srv:      srv,
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop takes the registry down at once, as a crash would look to its clients: it stops
// listening, drops every connection (blocked queries included) and closes the registry,
// which releases its file for the next Start. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.srv.Listener.Close()
		s.srv.CloseClientConnections()
		s.Registry.Drain()
		s.srv.Close()
		s.Registry.Close()
	})
}

// Logger returns a logger that writes to t's output, so that a passing test stays
// quiet and a failing one shows what the registry did.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}
