package netfault

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	tpclient "github.com/Shopify/toxiproxy/v2/client"
)

// api calls a Toxiproxy server's HTTP API. It speaks the JSON of Toxiproxy's Go client
// (its Proxy, Toxic and ApiError types) but takes a context on every call, which that
// client does not: a harness must be able to give up on a server that hangs, and must
// not leave a call running that could still add a toxic after it gave up.
type api struct {
	base    string
	http    *http.Client
	timeout time.Duration
}

// apiError is a non-2xx answer from the API.
type apiError struct {
	method, path string
	status       int
	message      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("toxiproxy %s %s: HTTP %d: %s", e.method, e.path, e.status, e.message)
}

// Unwrap maps the answers callers branch on to ErrNotFound, ErrExists and ErrInvalid.
func (e *apiError) Unwrap() error {
	switch e.status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrExists
	case http.StatusBadRequest:
		return ErrInvalid
	}
	return nil
}

// call sends in (when not nil) as JSON and decodes the answer into out (when not nil).
func (a *api) call(ctx context.Context, method, path string, in, out any) error {
	if a.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("toxiproxy %s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "faultline-netfault")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e tpclient.ApiError
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = string(bytes.TrimSpace(data))
		}
		return &apiError{method: method, path: path, status: resp.StatusCode, message: e.Message}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("toxiproxy %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// proxyPath is the API path of a proxy, or of one of its toxics.
func proxyPath(proxy string, toxic ...string) string {
	p := "/proxies/" + url.PathEscape(proxy)
	if len(toxic) > 0 {
		p += "/toxics"
		if toxic[0] != "" {
			p += "/" + url.PathEscape(toxic[0])
		}
	}
	return p
}

// toxicBody is what the API takes to add a toxic.
type toxicBody struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	Stream     string  `json:"stream"`
	Toxicity   float64 `json:"toxicity"`
	Attributes any     `json:"attributes"`
}

func (a *api) proxy(ctx context.Context, name string) (*tpclient.Proxy, error) {
	var p tpclient.Proxy
	if err := a.call(ctx, http.MethodGet, proxyPath(name), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (a *api) setEnabled(ctx context.Context, name string, enabled bool) (*tpclient.Proxy, error) {
	var p tpclient.Proxy
	if err := a.call(ctx, http.MethodPatch, proxyPath(name), map[string]bool{"enabled": enabled}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (a *api) toxics(ctx context.Context, proxy string) (tpclient.Toxics, error) {
	var ts tpclient.Toxics
	if err := a.call(ctx, http.MethodGet, proxyPath(proxy, ""), nil, &ts); err != nil {
		return nil, err
	}
	return ts, nil
}

func (a *api) addToxic(ctx context.Context, proxy string, t toxicBody) error {
	return a.call(ctx, http.MethodPost, proxyPath(proxy, ""), t, nil)
}

func (a *api) removeToxic(ctx context.Context, proxy, toxic string) error {
	return a.call(ctx, http.MethodDelete, proxyPath(proxy, toxic), nil, nil)
}

func (a *api) setUpstream(ctx context.Context, name, upstream string) (*tpclient.Proxy, error) {
	var p tpclient.Proxy
	if err := a.call(ctx, http.MethodPatch, proxyPath(name), map[string]string{"upstream": upstream}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
