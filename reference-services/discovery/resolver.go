package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Resolver caches the live instances of the services its callers ask for and keeps each
// list fresh with one long-poll watch per service. When the registry is unreachable it
// goes on answering with the last list it saw: that cache is what lets a gateway route
// through a registry outage.
type Resolver struct {
	client  *Client
	wait    time.Duration
	cache   bool
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	watches map[string]*watch
	wg      sync.WaitGroup
}

type watch struct {
	ready     chan struct{} // closed after the first successful answer
	snap      Snapshot
	lastOK    time.Time
	lastError error
	lastUsed  time.Time
}

// idleEmpty is how long a watch whose service has no instance lives without being asked
// for: names nobody runs (a client's typo, a probe) must not keep a watch each forever.
const idleEmpty = 2 * time.Minute

// ResolverOption customises a Resolver.
type ResolverOption func(*Resolver)

// WithWatchWait sets how long one blocking query may wait at the registry (default 20 s).
func WithWatchWait(d time.Duration) ResolverOption { return func(r *Resolver) { r.wait = d } }

// WithResolverLogger sets the logger (default slog.Default()).
func WithResolverLogger(l *slog.Logger) ResolverOption { return func(r *Resolver) { r.log = l } }

// WithCache turns the cache on or off (default on). Off, every lookup asks the registry
// and fails while it is down; this exists only so that the resilience suites can prove
// they notice a gateway without its cache.
func WithCache(on bool) ResolverOption { return func(r *Resolver) { r.cache = on } }

// NewResolver returns a Resolver over the registry client c. Close it when done.
func NewResolver(c *Client, opts ...ResolverOption) *Resolver {
	r := &Resolver{client: c, wait: 20 * time.Second, cache: true, log: slog.Default(), watches: map[string]*watch{}}
	for _, o := range opts {
		o(r)
	}
	if c.http.Timeout != 0 {
		// A blocking query must outlive the wait; use a client without a global timeout.
		c = NewClient(c.base, WithHTTPClient(&http.Client{Transport: c.http.Transport}))
		r.client = c
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// Instances returns the live instances of service. The first call for a service asks
// the registry (bounded by ctx) and starts its watch; later calls answer from the cache.
// It fails only when no list has ever been seen for the service.
func (r *Resolver) Instances(ctx context.Context, service string) ([]Instance, error) {
	if !r.cache {
		snap, err := r.client.Instances(ctx, service, 0, 0)
		if err != nil {
			return nil, err
		}
		return snap.Instances, nil
	}
	r.mu.Lock()
	w, ok := r.watches[service]
	if !ok {
		w = &watch{ready: make(chan struct{})}
		r.watches[service] = w
		r.wg.Add(1)
		go r.run(service, w)
	}
	w.lastUsed = time.Now()
	r.mu.Unlock()
	select {
	case <-w.ready:
	default:
		// Not seen yet: wait for the first answer (prefer the cache once it is there,
		// even when ctx ends at the same moment).
		select {
		case <-w.ready:
		case <-ctx.Done():
			r.mu.Lock()
			err := w.lastError
			r.mu.Unlock()
			if err == nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("resolve %s: no instance list yet: %w", service, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Instance, len(w.snap.Instances))
	copy(out, w.snap.Instances)
	return out, nil
}

// Status reports, per watched service, when the registry last answered and the last
// error since then (nil when the last call succeeded).
func (r *Resolver) Status() map[string]WatchStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]WatchStatus, len(r.watches))
	for name, w := range r.watches {
		st := WatchStatus{LastContact: w.lastOK, Instances: len(w.snap.Instances), Index: w.snap.Index}
		if w.lastError != nil {
			st.LastError = w.lastError.Error()
		}
		out[name] = st
	}
	return out
}

// WatchStatus is what Status reports of one watched service.
type WatchStatus struct {
	LastContact time.Time `json:"last_contact"`
	LastError   string    `json:"last_error,omitempty"`
	Instances   int       `json:"instances"`
	Index       uint64    `json:"index"`
}

// Close stops every watch.
func (r *Resolver) Close() {
	r.cancel()
	r.wg.Wait()
}

func (r *Resolver) run(service string, w *watch) {
	defer r.wg.Done()
	var index uint64
	backoff := 100 * time.Millisecond
	first := true
	for r.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(r.ctx, r.wait+5*time.Second)
		wait := r.wait
		if first {
			wait = 0
		}
		snap, err := r.client.Instances(ctx, service, index, wait)
		cancel()
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			w.lastError = err
			r.mu.Unlock()
			r.log.Debug("watch failed; keeping the cached list", "service", service, "err", err)
			select {
			case <-time.After(backoff):
			case <-r.ctx.Done():
				return
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if snap.Index < index {
			// The registry restarted with a lower index: start over from its view.
			index = 0
		} else {
			index = snap.Index
		}
		r.mu.Lock()
		w.snap, w.lastOK, w.lastError = snap, time.Now(), nil
		if !first && len(snap.Instances) == 0 && time.Since(w.lastUsed) > idleEmpty {
			delete(r.watches, service)
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		if first {
			close(w.ready)
			first = false
		}
		if snap.Index == 0 {
			// A registry that answers index 0 cannot block (the client sends no index
			// then): pace the loop instead of asking again at once.
			select {
			case <-time.After(time.Second):
			case <-r.ctx.Done():
			}
		}
	}
}
