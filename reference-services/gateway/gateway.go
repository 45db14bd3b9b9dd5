package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"

	"github.com/faultline/faultline/reference-services/discovery"
)

// Gateway routes /api/<service>/<rest> to live instances of <service> under the access
// policy and the resilience policies of its Config. It is safe for concurrent use.
type Gateway struct {
	cfg       Config
	resolver  *discovery.Resolver
	registry  *discovery.Client
	log       *slog.Logger
	transport http.RoundTripper
	owned     *http.Transport // the transport New made, closed by Close

	access   *access
	policies *policies
	balancer *balancer
	metrics  *metrics
	handler  http.Handler

	mu       sync.Mutex
	resolves map[string]bool // services the resolver has answered for at least once
}

// Option customises a Gateway.
type Option func(*Gateway)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(g *Gateway) { g.log = l } }

// WithRegistryClient gives /readyz a client to ask the registry directly when the
// resolver has not heard from it yet. Without it, readiness rests on the resolver alone.
func WithRegistryClient(c *discovery.Client) Option { return func(g *Gateway) { g.registry = c } }

// WithTransport sets the transport attempts go through (default: a dedicated
// http.Transport that ignores proxy settings of the environment).
func WithTransport(rt http.RoundTripper) Option { return func(g *Gateway) { g.transport = rt } }

// New returns a Gateway that finds instances through resolver. It fails when cfg does
// not validate. The caller keeps ownership of resolver and closes it after the Gateway.
func New(cfg Config, resolver *discovery.Resolver, opts ...Option) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if resolver == nil {
		return nil, errors.New("gateway: resolver is nil: pass a *discovery.Resolver from discovery.NewResolver")
	}
	g := &Gateway{
		cfg:      cfg,
		resolver: resolver,
		log:      slog.Default(),
		access:   newAccess(cfg.APIKeys, cfg.Rate, cfg.Burst),
		policies: newPolicies(cfg),
		metrics:  newMetrics(),
		resolves: map[string]bool{},
	}
	for _, o := range opts {
		o(g)
	}
	if g.transport == nil {
		g.owned = newTransport()
		g.transport = g.owned
	}
	g.balancer = newBalancer(g.newBreaker, g.forgetInstance)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", g.serveHealth)
	mux.HandleFunc("GET /readyz", g.serveReady)
	mux.Handle("GET /metrics", g.metrics.handler())
	mux.HandleFunc(apiPrefix, g.serveAPI)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errorBody{Error: "no route: call /api/<service>/<path>"})
	})
	g.handler = mux
	return g, nil
}

// Handler returns the gateway's HTTP handler: /api/, /healthz, /readyz and /metrics.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close releases the idle connections to instances. It does not close the resolver.
func (g *Gateway) Close() {
	if g.owned != nil {
		g.owned.CloseIdleConnections()
	}
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // instances are reached directly, whatever HTTP_PROXY says
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // the attempt timeout bounds the whole attempt
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
}

// newBreaker makes the breaker of one instance, reporting its state in the metrics and
// the log.
func (g *Gateway) newBreaker(service, id string) circuitbreaker.CircuitBreaker[*answer] {
	b := g.policies.newBreaker(func(e circuitbreaker.StateChangedEvent) {
		g.metrics.breaker.WithLabelValues(service, id).Set(breakerValue(e.NewState))
		g.log.Info("circuit breaker changed state", "target", service, "instance", id, "from", e.OldState.String(), "to", e.NewState.String())
	})
	if b != nil {
		g.metrics.breaker.WithLabelValues(service, id).Set(breakerClosedValue)
	}
	return b
}

// forgetInstance drops the series of an instance that left the registry's list.
func (g *Gateway) forgetInstance(service, id string) {
	g.metrics.breaker.DeleteLabelValues(service, id)
}

func (g *Gateway) resolved(service string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.resolves[service]
}

func (g *Gateway) markResolved(service string) {
	g.mu.Lock()
	g.resolves[service] = true
	g.mu.Unlock()
}

func (g *Gateway) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the body of /readyz.
type readiness struct {
	Ready bool `json:"ready"`
	// Registry says how readiness was decided: "watch" (a watched service has answered),
	// "reachable" (the registry answered /v1/services), or the error met asking it.
	Registry string                           `json:"registry"`
	Services map[string]discovery.WatchStatus `json:"services"`
}

// serveReady answers 200 once the gateway has a view of the registry: some watched
// service has answered at least once, or the registry answers now.
func (g *Gateway) serveReady(w http.ResponseWriter, r *http.Request) {
	rd := readiness{Services: g.resolver.Status()}
	for _, st := range rd.Services {
		if !st.LastContact.IsZero() {
			rd.Ready, rd.Registry = true, "watch"
			break
		}
	}
	if !rd.Ready {
		rd.Registry = "no registry client to ask"
		if g.registry != nil {
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			_, err := g.registry.Services(ctx)
			cancel()
			if err != nil {
				rd.Registry = fmt.Sprintf("unreachable: %v", err)
			} else {
				rd.Ready, rd.Registry = true, "reachable"
			}
		}
	}
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rd)
}

// errorBody is the JSON body of every answer the gateway makes up itself.
type errorBody struct {
	Error    string `json:"error"`
	Service  string `json:"service,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	// Instance is the last instance tried, when the call failed after an attempt.
	Instance string `json:"instance,omitempty"`
}

func writeError(w http.ResponseWriter, code int, body errorBody) int {
	return writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
	return code
}
