package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrUnknownInstance is returned by Heartbeat when the registry does not know the
// instance (its lease lapsed, or the registry lost it): the caller should register again.
var ErrUnknownInstance = errors.New("registry does not know this instance")

// Client calls the registry's HTTP API.
type Client struct {
	base string
	http *http.Client
}

// ClientOption customises a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client used for every call (default: one with no overall
// timeout; each call is bounded by its context, and watches by their wait time).
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.http = hc } }

// NewClient returns a client for the registry at addr, given as host:port or as a URL.
func NewClient(addr string, opts ...ClientOption) *Client {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	c := &Client{base: strings.TrimRight(base, "/"), http: &http.Client{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Base returns the registry's base URL.
func (c *Client) Base() string { return c.base }

// Register registers inst and returns its lease. ttl zero takes the registry's default.
func (c *Client) Register(ctx context.Context, inst Instance, ttl time.Duration) (Lease, error) {
	var lease Lease
	req := RegisterRequest{Instance: inst, TTLMillis: ttl.Milliseconds()}
	if err := c.do(ctx, http.MethodPost, "/v1/register", req, &lease); err != nil {
		return Lease{}, fmt.Errorf("register %s/%s: %w", inst.Service, inst.ID, err)
	}
	return lease, nil
}

// Heartbeat renews the lease of one instance. It returns ErrUnknownInstance when the
// registry no longer knows it.
func (c *Client) Heartbeat(ctx context.Context, service, id string) (Lease, error) {
	var lease Lease
	p := "/v1/services/" + url.PathEscape(service) + "/" + url.PathEscape(id) + "/heartbeat"
	if err := c.do(ctx, http.MethodPut, p, nil, &lease); err != nil {
		return Lease{}, fmt.Errorf("heartbeat %s/%s: %w", service, id, err)
	}
	return lease, nil
}

// Deregister removes one instance at once (graceful shutdown).
func (c *Client) Deregister(ctx context.Context, service, id string) error {
	p := "/v1/services/" + url.PathEscape(service) + "/" + url.PathEscape(id)
	if err := c.do(ctx, http.MethodDelete, p, nil, nil); err != nil {
		return fmt.Errorf("deregister %s/%s: %w", service, id, err)
	}
	return nil
}

// Instances lists the live instances of service. With index > 0 and wait > 0 it is a
// blocking query: the registry answers as soon as the set's index passes index, or when
// wait elapses (with the same index).
func (c *Client) Instances(ctx context.Context, service string, index uint64, wait time.Duration) (Snapshot, error) {
	q := url.Values{}
	if index > 0 {
		q.Set("index", strconv.FormatUint(index, 10))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	p := "/v1/services/" + url.PathEscape(service)
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var snap Snapshot
	if err := c.do(ctx, http.MethodGet, p, nil, &snap); err != nil {
		return Snapshot{}, fmt.Errorf("list %s: %w", service, err)
	}
	if snap.Instances == nil {
		snap.Instances = []Instance{}
	}
	return snap, nil
}

// Services lists the names of services that have at least one live instance.
func (c *Client) Services(ctx context.Context) (ServiceList, error) {
	var list ServiceList
	if err := c.do(ctx, http.MethodGet, "/v1/services", nil, &list); err != nil {
		return ServiceList{}, fmt.Errorf("list services: %w", err)
	}
	return list, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound && method == http.MethodPut {
		return ErrUnknownInstance
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			return fmt.Errorf("registry answered %d: %s", resp.StatusCode, eb.Error)
		}
		return fmt.Errorf("registry answered %d", resp.StatusCode)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}
