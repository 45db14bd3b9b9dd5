package proxyserver_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/harness/proxyserver"
	"github.com/faultline/faultline/harness/toxics"
)

func TestServer(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream")
	}))
	defer upstream.Close()

	srv, err := proxyserver.Start(t.Context(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if strings.HasSuffix(srv.Addr(), ":0") {
		t.Fatalf("Addr() = %s: want the port picked", srv.Addr())
	}

	client := toxiclient.NewClient(srv.Addr())
	proxy, err := client.CreateProxy("up", "127.0.0.1:0", strings.TrimPrefix(upstream.URL, "http://"))
	if err != nil {
		t.Fatalf("create proxy: %v", err)
	}
	if strings.HasSuffix(proxy.Listen, ":0") {
		t.Fatalf("proxy listens on %s: want the port picked", proxy.Listen)
	}
	for _, typ := range toxics.Types() {
		if _, err := proxy.AddToxic(typ, typ, "", 1, nil); err != nil {
			t.Errorf("add toxic of faultline's type %q: %v", typ, err)
		}
		proxy.RemoveToxic(typ)
	}
	if _, err := proxy.AddToxic("", "latency", "downstream", 1, toxiclient.Attributes{"latency": 200}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + proxy.Listen)
	if err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "upstream" || time.Since(began) < 200*time.Millisecond {
		t.Errorf("through a 200 ms latency proxy: %q in %s", body, time.Since(began))
	}

	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	for _, addr := range []string{srv.Addr(), proxy.Listen} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
}
