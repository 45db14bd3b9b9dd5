package netfault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	tpclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/toxics"
)

// The toxics netfault puts on every proxy it creates, before the proxy takes traffic,
// and keeps there: the two halves of faultline's http toxic (see harness/toxics). They
// pass everything untouched until an http toxic is added to the link, which sets a rule
// on them. Their names hold a '.', which netfault refuses in no other name it makes.
const (
	residentUp   = "faultline.http"
	residentDown = "faultline.http_response"
)

// listenAttempts bounds how often Create picks a new listen address after finding the
// one it was given taken.
const listenAttempts = 3

// Option customises a Manager.
type Option func(*Manager)

// WithLogger sets the logger (default slog.Default()); give it the run id as an
// attribute.
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) {
		if l != nil {
			m.log = l
		}
	}
}

// WithProbePath sets the path Link.Probe asks for (default "/healthz").
func WithProbePath(path string) Option {
	return func(m *Manager) {
		if path != "" {
			m.probePath = path
		}
	}
}

// WithAPITimeout bounds each call to the Toxiproxy API (default 10 s), within the
// caller's context.
func WithAPITimeout(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.api.timeout = d
		}
	}
}

// Manager creates the proxies of one run on its Toxiproxy server and removes them:
// every network path of the system under test goes through one of its Links.
type Manager struct {
	host      runtime.ProxyHost
	api       *api
	log       *slog.Logger
	probePath string

	relistenWait time.Duration // how long a link tries to take its port back

	createMu sync.Mutex // one Create at a time: slots are handed out in order
	mu       sync.Mutex
	links    map[string]*Link
	order    []*Link
	next     int // the next slot
	closed   bool
}

// New returns a Manager for the proxies of host's Toxiproxy server. It makes no call.
func New(host runtime.ProxyHost, opts ...Option) *Manager {
	base := ""
	if host != nil {
		base = "http://" + host.APIAddr()
	}
	m := &Manager{
		host:      host,
		api:       &api{base: base, http: &http.Client{}, timeout: 10 * time.Second},
		log:       slog.Default(),
		probePath: "/healthz",
		links:     map[string]*Link{},

		relistenWait: defaultRelistenWait,
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Create makes an enabled proxy named name in front of upstream (host:port as the
// proxy host reaches it: an instance's NetAddr) on the next free slot of the proxy
// host, and returns its Link once the proxy listens.
func (m *Manager) Create(ctx context.Context, name, upstream string) (*Link, error) {
	if m.host == nil {
		return nil, fmt.Errorf("create proxy %q: %w", name, invalid("netfault.New was given no proxy host: pass the runtime's ProxyHost"))
	}
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("create proxy %q: %w", name,
			invalid("name: use 1 to 128 letters, digits, '_', '-' or '.'"))
	}
	if _, port, err := net.SplitHostPort(upstream); err != nil || port == "" {
		return nil, fmt.Errorf("create proxy %s: %w", name, invalid("upstream %q: want host:port", upstream))
	}
	m.createMu.Lock()
	defer m.createMu.Unlock()
	m.mu.Lock()
	closed, exists, slot := m.closed, m.links[name] != nil, m.next
	m.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("create proxy %s: the manager is closed", name)
	case exists:
		return nil, fmt.Errorf("create proxy %s: %w", name, ErrExists)
	}
	l := &Link{m: m, name: name, upstream: upstream, pair: name + "." + randomHex(8)}
	var p *tpclient.Proxy
	for attempt, tried := 1, ""; ; attempt++ {
		listen := m.host.ListenAddr(slot)
		if listen == "" {
			return nil, fmt.Errorf("create proxy %s: the proxy host has no slot %d: start it with more slots", name, slot)
		}
		err := m.api.call(ctx, http.MethodPost, "/proxies", tpclient.Proxy{
			Name: name, Listen: listen, Upstream: upstream, Enabled: false,
		}, nil)
		if err != nil {
			return nil, fmt.Errorf("create proxy %s (listen %s, upstream %s): %w", name, listen, upstream, err)
		}
		if p, err = l.install(ctx); err == nil {
			break
		}
		if derr := m.api.call(context.WithoutCancel(ctx), http.MethodDelete, proxyPath(name), nil, nil); derr != nil {
			err = errors.Join(err, fmt.Errorf("remove the half-made proxy: %w", derr))
		}
		// A port the host picked can be taken by another process between its pick and
		// the proxy's listen: pick again, where the host hands out a different one.
		if !portTaken(err) || attempt == listenAttempts || listen == tried {
			return nil, fmt.Errorf("create proxy %s (listen %s, upstream %s): %w", name, listen, upstream, err)
		}
		tried = listen
		m.log.Debug("proxy port taken, picking another", "link", name, "listen", listen)
	}
	l.listen = p.Listen
	m.mu.Lock()
	m.links[name] = l
	m.order = append(m.order, l)
	m.next++
	m.mu.Unlock()
	m.log.Debug("proxy created", "link", name, "listen", l.listen, "upstream", upstream, "slot", slot)
	return l, nil
}

// install puts the resident toxics on a new, disabled proxy, then enables it.
func (l *Link) install(ctx context.Context) (*tpclient.Proxy, error) {
	if err := l.addResidents(ctx, true, true); err != nil {
		return nil, err
	}
	p, err := l.m.api.setEnabled(ctx, l.name, true)
	if err != nil {
		return nil, fmt.Errorf("enable: %w", err)
	}
	return p, nil
}

// addResidents adds the http toxic's halves, the downstream one first.
func (l *Link) addResidents(ctx context.Context, down, up bool) error {
	attrs := map[string]string{"pair": l.pair}
	if down {
		if err := l.m.api.addToxic(ctx, l.name, toxicBody{
			Name: residentDown, Type: toxics.TypeHTTPResponse, Stream: "downstream", Toxicity: 1, Attributes: attrs,
		}); err != nil {
			return fmt.Errorf("add the http toxic's downstream half: %w", err)
		}
	}
	if up {
		if err := l.m.api.addToxic(ctx, l.name, toxicBody{
			Name: residentUp, Type: toxics.TypeHTTP, Stream: "upstream", Toxicity: 1, Attributes: attrs,
		}); err != nil {
			return fmt.Errorf("add the http toxic's upstream half: %w", err)
		}
	}
	return nil
}

// Host is the proxy host the manager's links live on.
func (m *Manager) Host() runtime.ProxyHost { return m.host }

// Link returns the link named name, if Create made it.
func (m *Manager) Link(name string) (*Link, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[name]
	return l, ok
}

// Links returns every link, in the order they were created.
func (m *Manager) Links() []*Link {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.order)
}

// Reset heals every link: it removes every toxic (and every http rule) and enables
// every proxy. It goes on past a link that fails and reports every failure.
func (m *Manager) Reset(ctx context.Context) error {
	var errs []error
	for _, l := range m.Links() {
		if err := l.Reset(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset proxies: %w", err)
	}
	return nil
}

// Close deletes every proxy Create made, closing their listeners and connections. It
// does its work even when ctx is already cancelled (cleanups run after a test's
// context ends), each API call bounded by the API timeout. It is safe to call more than
// once; Create fails after it.
func (m *Manager) Close(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	m.createMu.Lock()
	defer m.createMu.Unlock()
	m.mu.Lock()
	m.closed = true
	links := m.order
	m.order, m.links = nil, map[string]*Link{}
	m.mu.Unlock()
	var errs []error
	for _, l := range slices.Backward(links) {
		err := m.api.call(ctx, http.MethodDelete, proxyPath(l.name), nil, nil)
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("delete proxy %s: %w", l.name, err))
		}
	}
	m.log.Debug("proxies deleted", "links", len(links), "failed", len(errs))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close proxies: %w", err)
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
