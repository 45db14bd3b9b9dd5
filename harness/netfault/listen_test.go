package netfault_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/proxyserver"
)

// pickingHost hands out the listen addresses it is given, one per call, as the local
// runtime's host hands out a fresh free port per call.
type pickingHost struct {
	loopHost
	mu    sync.Mutex
	picks []string
}

func (h *pickingHost) ListenAddr(int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.picks) == 0 {
		return "127.0.0.1:0"
	}
	p := h.picks[0]
	h.picks = h.picks[1:]
	return p
}

func TestCreatePicksAnotherPortWhenItsPortIsTaken(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	srv, err := proxyserver.Start(t.Context(), "127.0.0.1:0", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	taken, err := net.Listen("tcp", "127.0.0.1:0") // another process got there first
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	host := &pickingHost{loopHost: loopHost{srv.Addr()}, picks: []string{taken.Addr().String()}}
	m := netfault.New(host, netfault.WithLogger(quiet))
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	be := newBackend(t)

	l, err := m.Create(t.Context(), "svc-1", be.Listener.Addr().String())
	if err != nil {
		t.Fatalf("Create gave up on a taken port instead of picking another: %v", err)
	}
	addr, err := l.HostAddr(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if addr == taken.Addr().String() {
		t.Fatalf("the link claims the taken port %s", addr)
	}
	resp, err := http.Get("http://" + addr + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok /hello" {
		t.Errorf("through the link: %q", body)
	}
}

func TestCreateSaysSoWhenItsOnlyPortIsTaken(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	srv, err := proxyserver.Start(t.Context(), "127.0.0.1:0", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	// A host with fixed slots (docker's) hands out the same address again.
	host := &pickingHost{loopHost: loopHost{srv.Addr()}, picks: []string{taken.Addr().String(), taken.Addr().String(), taken.Addr().String()}}
	m := netfault.New(host, netfault.WithLogger(quiet))
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	_, err = m.Create(t.Context(), "svc-1", newBackend(t).Listener.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("want the taken port's error, got %v", err)
	}
	if len(host.picks) != 1 {
		t.Errorf("Create asked for %d addresses, want 2 (the second the same: no point in a third)", 3-len(host.picks))
	}
	if _, ok := m.Link("svc-1"); ok {
		t.Error("a half-made link was kept")
	}
}
