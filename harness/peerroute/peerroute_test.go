package peerroute_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/faultline/faultline/harness/peerroute"
)

// server answers each connection's first line with its own name, so that a test sees
// which one a route reached.
func server(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					fmt.Fprintf(c, "%s\n", name)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func route(addr string) func() (string, error) { return func() (string, error) { return addr, nil } }

func TestARouterSendsEachPeerNameToItsOwnLinkAndRefusesTheRest(t *testing.T) {
	viaTwo, viaThree, direct := server(t, "link kv-1→kv-2"), server(t, "link kv-1→kv-3"), server(t, "loopback")
	r, err := peerroute.Start(t.Context(), "kv-1", peerroute.Table(map[string]func() (string, error){
		"kv-2:2380": route(viaTwo),
		"KV-3:2380": route(viaThree),
		"kv-4:2380": func() (string, error) { return "", fmt.Errorf("link not made yet") },
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	dialer, err := proxy.SOCKS5("tcp", r.Addr(), nil, &net.Dialer{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dial, want string // want "" for a refusal
	}{
		{"kv-2:2380", "link kv-1→kv-2"},
		{"kv-3:2380", "link kv-1→kv-3"}, // names are matched case-blind
		{direct, "loopback"},            // a loopback address passes through
		{"kv-2:2379", ""},               // a known name on a port without a route
		{"kv-9:2380", ""},               // an unknown name
		{"kv-4:2380", ""},               // a route whose link is not there
		{"192.0.2.7:2380", ""},          // never off loopback
	} {
		t.Run(tc.dial, func(t *testing.T) {
			c, err := dialer.Dial("tcp", tc.dial)
			if tc.want == "" {
				if err == nil {
					c.Close()
					t.Fatalf("dial %s through the router: connected, want a refusal", tc.dial)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial %s through the router: %v", tc.dial, err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			fmt.Fprintln(c, "who")
			got, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || strings.TrimSpace(got) != tc.want {
				t.Fatalf("dial %s: answered %q (%v), want %q", tc.dial, got, err, tc.want)
			}
		})
	}
}

// An HTTP client that honours HTTP_PROXY (as etcd's peer transport does) reaches a peer
// by its name through the router, and the request arrives at the route's server.
func TestAnHTTPClientReachesAPeerByNameThroughTheRouter(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "peer answered "+r.Host+r.URL.Path)
	}))
	t.Cleanup(peer.Close)
	r, err := peerroute.Start(t.Context(), "etcd-1", peerroute.Table(map[string]func() (string, error){
		"etcd-2:2380": route(peer.Listener.Addr().String()),
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	u, err := url.Parse(r.ProxyURL())
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
	resp, err := client.Get("http://etcd-2:2380/members")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "peer answered etcd-2:2380/members" {
		t.Fatalf("answer %q", body)
	}
}

// Close ends the connections a router carries, as a run's end must: a peer stream
// (etcd's are long-lived) does not outlive the run.
func TestCloseEndsTheConnectionsARouterCarries(t *testing.T) {
	r, err := peerroute.Start(context.Background(), "kv-1", peerroute.Table(map[string]func() (string, error){
		"kv-2:2380": route(server(t, "kv-2")),
	}))
	if err != nil {
		t.Fatal(err)
	}
	dialer, err := proxy.SOCKS5("tcp", r.Addr(), nil, &net.Dialer{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialer.Dial("tcp", "kv-2:2380")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintln(c, "who")
	if got, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatalf("after Close the connection still answered %q", got)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("after Close the connection hangs instead of ending: %v", err)
	}
	if _, err := net.DialTimeout("tcp", r.Addr(), time.Second); err == nil {
		t.Fatalf("the router still accepts after Close")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
