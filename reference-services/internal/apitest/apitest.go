// Package apitest is a small JSON client for the business services' tests: one call per
// line, the answer's status checked, its JSON decoded, its error text read.
//
// It is for tests only and imports the standard library; never the harness, the
// scenarios, the gateway, the registry server or a service package.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client calls one service at Base.
type Client struct {
	tb   testing.TB
	base string
	hc   *http.Client
}

// New returns a Client of the service at base (a URL) with a generous 20 s timeout.
func New(tb testing.TB, base string) *Client {
	return &Client{tb: tb, base: strings.TrimRight(base, "/"), hc: &http.Client{Timeout: 20 * time.Second}}
}

// Reply is one answer.
type Reply struct {
	Status int
	Body   []byte
	Header http.Header
}

// Decode reads the answer's JSON into v, failing the test if it cannot.
func (r Reply) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Error returns the answer's {"error"} text, failing the test if it has none.
func (r Reply) Error(tb testing.TB) string {
	tb.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.Decode(tb, &e)
	if e.Error == "" {
		tb.Fatalf("answer %d %s has no error text", r.Status, r.Body)
	}
	return e.Error
}

// Do sends body (JSON, or nothing when empty) with the Idempotency-Key key (none when
// empty). It fails the test only when no answer comes or the answer is not JSON.
func (c *Client) Do(method, path, key, body string) Reply {
	c.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		c.tb.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return Reply{Status: resp.StatusCode, Body: bytes.TrimSpace(b), Header: resp.Header}
}

// Must is Do that fails the test unless the answer has status.
func (c *Client) Must(status int, method, path, key, body string) Reply {
	c.tb.Helper()
	r := c.Do(method, path, key, body)
	if r.Status != status {
		c.tb.Fatalf("%s %s %s: %d %s, want %d", method, path, body, r.Status, r.Body, status)
	}
	return r
}
