package proxyserver_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/faultline/faultline/harness/proxyserver"
)

// TestPeerRoutersAreMadeAndRemovedThroughTheAPI: a router made through the API routes a
// name to its address, a second POST of the same name replaces it, DELETE removes it,
// bad requests say what is missing, and the server's Close ends what is left.
func TestPeerRoutersAreMadeAndRemovedThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	srv, err := proxyserver.Start(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() {
		for {
			c, err := peer.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "kv-2 here")
			c.Close()
		}
	}()
	spec := proxyserver.PeerRouterSpec{Listen: "127.0.0.1:0", Routes: map[string]string{"kv-2:2380": peer.Addr().String()}}
	reach := func(router string) (string, error) {
		d, err := proxy.SOCKS5("tcp", router, nil, &net.Dialer{Timeout: time.Second})
		if err != nil {
			return "", err
		}
		c, err := d.Dial("tcp", "kv-2:2380")
		if err != nil {
			return "", err
		}
		defer c.Close()
		b := make([]byte, 64)
		n, _ := c.Read(b)
		return strings.TrimSpace(string(b[:n])), nil
	}
	first, err := proxyserver.StartPeerRouter(ctx, srv.Addr(), "kv-1", spec)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := reach(first); err != nil || got != "kv-2 here" {
		t.Fatalf("through the router: %q, %v", got, err)
	}
	second, err := proxyserver.StartPeerRouter(ctx, srv.Addr(), "kv-1", spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reach(first); err == nil && first != second {
		t.Errorf("the replaced router at %s still routes", first)
	}
	if err := proxyserver.StopPeerRouter(ctx, srv.Addr(), "kv-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := reach(second); err == nil {
		t.Errorf("the removed router at %s still routes", second)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"routes": {"kv-2:2380": "127.0.0.1:1"}}`, "listen and routes are required"},
		{`{"listen": "127.0.0.1:0"}`, "listen and routes are required"},
		{`not json`, "body:"},
	} {
		resp, err := http.Post("http://"+srv.Addr()+proxyserver.PeerRoutersPath+"kv-1", "application/json", bytes.NewBufferString(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b.String(), tc.want) {
			t.Errorf("POST %s: %d %q, want 400 saying %q", tc.body, resp.StatusCode, b.String(), tc.want)
		}
	}
	left, err := proxyserver.StartPeerRouter(ctx, srv.Addr(), "kv-3", spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := reach(left); err == nil {
		t.Errorf("a router outlived its server's Close")
	}
}
