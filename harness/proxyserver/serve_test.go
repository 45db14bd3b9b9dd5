package proxyserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/proxyserver"
)

// api calls the server's API and decodes the answer into out when given.
func api(t *testing.T, srv *proxyserver.Server, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+srv.Addr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func TestStartServeClose(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := proxyserver.Start(t.Context(), "127.0.0.1:0", logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if _, port, _ := net.SplitHostPort(srv.Addr()); port == "0" || port == "" {
		t.Fatalf("Addr %q: want the real port", srv.Addr())
	}
	var version struct{ Version string }
	if code := api(t, srv, "GET", "/version", "", &version); code != 200 || version.Version == "" {
		t.Fatalf("GET /version: %d %+v", code, version)
	}

	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer be.Close()
	var p struct{ Listen string }
	if code := api(t, srv, "POST", "/proxies", `{"name":"svc","listen":"127.0.0.1:0","upstream":"`+be.Listener.Addr().String()+`"}`, &p); code != 201 {
		t.Fatalf("create proxy: %d", code)
	}
	// faultline's toxics are registered next to Toxiproxy's own.
	for _, body := range []string{
		`{"name":"resp","type":"http_response","stream":"downstream","attributes":{"pair":"k"}}`,
		`{"name":"http","type":"http","stream":"upstream","attributes":{"pair":"k","action":"fail","status":502}}`,
	} {
		if code := api(t, srv, "POST", "/proxies/svc/toxics", body, nil); code != 200 {
			t.Fatalf("add toxic %s: %d", body, code)
		}
	}
	resp, err := http.Get("http://" + p.Listen + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 || resp.Header.Get("X-Faultline-Fault") != "http" {
		t.Fatalf("through the http toxic: %d %v", resp.StatusCode, resp.Header)
	}
	if code := api(t, srv, "POST", "/proxies/svc/toxics", `{"type":"http","attributes":{"action":"explode"}}`, nil); code != 400 {
		t.Fatalf("bad http attributes: %d, want 400", code)
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, addr := range []string{srv.Addr(), p.Listen} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("%s still accepts after Close", addr)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"toxiproxy server started"`) ||
		!strings.Contains(logs.String(), `"msg":"toxiproxy: Started proxy"`) {
		t.Fatalf("logs do not carry Toxiproxy's records:\n%s", logs.String())
	}
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := proxyserver.Start(context.Background(), ln.Addr().String(), slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Start on a busy address: %v", err)
	}
}

// Toxiproxy listens again to change a proxy's upstream, and there is no race-free way
// to change it in place (its accept loop reads Proxy.Upstream without a lock). netfault
// counts on what a failed listen leaves behind: the proxy stopped, its new upstream
// kept, its address unchanged, so that enabling it again once the port is free takes
// the same address. This pins that behaviour of the embedded server.
func TestUpstreamChangeOnATakenPortKeepsTheProxyAndItsAddress(t *testing.T) {
	srv, err := proxyserver.Start(t.Context(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	backend := func(name string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) }))
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	a, b := backend("a"), backend("b")
	type proxy struct {
		Listen, Upstream string
		Enabled          bool
	}
	var p proxy
	if code := api(t, srv, "POST", "/proxies", `{"name":"svc","listen":"127.0.0.1:0","upstream":"`+a+`"}`, &p); code != 201 {
		t.Fatalf("create proxy: %d", code)
	}
	listen := p.Listen
	if code := api(t, srv, "PATCH", "/proxies/svc", `{"enabled":false}`, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	taken, err := net.Listen("tcp", listen) // what another process does between stop and start
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var failure struct{ Error string }
	if code := api(t, srv, "PATCH", "/proxies/svc", `{"upstream":"`+b+`","enabled":true}`, &failure); code != 500 ||
		!strings.Contains(failure.Error, "address already in use") {
		t.Fatalf("new upstream on a taken port: %d %q, want 500 and address already in use", code, failure.Error)
	}
	if api(t, srv, "GET", "/proxies/svc", "", &p); p != (proxy{Listen: listen, Upstream: b}) {
		t.Fatalf("after the failed listen: %+v, want stopped on %s with upstream %s", p, listen, b)
	}
	taken.Close()
	if code := api(t, srv, "PATCH", "/proxies/svc", `{"enabled":true}`, &p); code != 200 || p != (proxy{listen, b, true}) {
		t.Fatalf("enable once the port is free: %d %+v", code, p)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + listen + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "b" {
		t.Fatalf("through the proxy: %q, want the new upstream's b", body)
	}
}
