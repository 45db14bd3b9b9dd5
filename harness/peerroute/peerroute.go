// Package peerroute lets the members of a cluster name each other the same way on every
// node while each node's path to a peer stays its own, so that a partition of one
// node's links cuts what it should and nothing else.
//
// Some systems need every member to be given the same address for a peer: etcd derives
// its member and cluster IDs from the peer URLs of --initial-cluster, and members given
// different URLs for the same peer refuse each other. Per-pair links (one proxy for
// each ordered pair of peers) give each member a different address. A Router is a
// SOCKS5 proxy of one instance's own: the instance dials a peer by its name and port
// ("etcd-2:2380", the same string on every node) through it, and the Router sends the
// connection to that instance's own link to the peer. Programs reach it through the
// standard proxy environment (HTTP_PROXY=socks5://…), which every Go net/http client
// honours for names that are not loopback (http.ProxyFromEnvironment).
//
// A Router sends only what its routes name, to loopback; a connection to a loopback
// address is passed through as it is (a program that sends even those through its
// proxy still reaches them), and anything else is refused.
package peerroute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	socks5 "github.com/armon/go-socks5"
)

// Lookup returns the address ("127.0.0.1:40123") that a connection to host:port is sent
// to, or false when the router has no route for it.
type Lookup func(host string, port int) (addr string, ok bool)

// Router is one instance's SOCKS5 proxy. Close it when the run ends.
type Router struct {
	name   string
	listen string
	lookup Lookup
	log    *slog.Logger
	ln     net.Listener
	srv    *socks5.Server

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // accepted and dialled, closed by Close
	closed bool
	done   chan struct{}
}

// Option customises Start.
type Option func(*Router)

// WithLogger logs each refused connection (at info) and each route taken (at debug).
func WithLogger(l *slog.Logger) Option { return func(r *Router) { r.log = l } }

// WithListen listens on addr instead of a free loopback port ("0.0.0.0:0" in a
// container, where the instances are elsewhere on the network).
func WithListen(addr string) Option { return func(r *Router) { r.listen = addr } }

// Start starts the router of the instance called name, on a free loopback port unless
// WithListen says otherwise.
func Start(ctx context.Context, name string, lookup Lookup, opts ...Option) (*Router, error) {
	if lookup == nil {
		return nil, fmt.Errorf("peer router of %s: lookup is nil: give the routes' lookup", name)
	}
	r := &Router{name: name, listen: "127.0.0.1:0", lookup: lookup, log: slog.New(slog.DiscardHandler), conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", r.listen)
	if err != nil {
		return nil, fmt.Errorf("peer router of %s: %w", name, err)
	}
	r.ln = ln
	srv, err := socks5.New(&socks5.Config{
		Resolver: resolver{r},
		Rewriter: rewriter{r},
		Rules:    rules{r},
		Logger:   slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
		Dial:     r.dial,
	})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("peer router of %s: %w", name, err)
	}
	r.srv = srv
	go r.serve()
	return r, nil
}

// Addr is host:port the router listens on.
func (r *Router) Addr() string { return r.ln.Addr().String() }

// ProxyURL is the router as a proxy URL, for HTTP_PROXY: "socks5://127.0.0.1:40123".
func (r *Router) ProxyURL() string { return "socks5://" + r.Addr() }

// Close stops the router and closes every connection it carries. It is safe to call
// more than once.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	conns := make([]net.Conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	err := r.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	<-r.done
	return err
}

func (r *Router) serve() {
	defer close(r.done)
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			_ = c.Close()
			return
		}
		go func() {
			defer r.untrack(c)
			_ = r.srv.ServeConn(c)
		}()
	}
}

// track adds c to what Close closes; false once the router is closed.
func (r *Router) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Router) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// dial connects to a route's link; the connection is closed when the client's is, or
// by Close.
func (r *Router) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if !r.track(c) {
		_ = c.Close()
		return nil, errors.New("peer router closed")
	}
	return &trackedConn{Conn: c, r: r}, nil
}

type trackedConn struct {
	net.Conn
	r    *Router
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.r.untrack(c.Conn) })
	return c.Conn.Close()
}

// CloseWrite half-closes, as the SOCKS server's copy does when one side is done.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// route is where a connection to host:port goes: a route's address, or a loopback
// address as it is; false for anything else.
func (r *Router) route(host string, port int) (string, bool) {
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return net.JoinHostPort(host, strconv.Itoa(port)), true
		}
		return "", false
	}
	return r.lookup(strings.ToLower(host), port)
}

// resolver answers every name the router has a route for on some port (the SOCKS
// server resolves before it rewrites); any other name is unreachable.
type resolver struct{ r *Router }

func (x resolver) Resolve(ctx context.Context, name string) (context.Context, net.IP, error) {
	if _, ok := x.r.lookupAnyPort(name); ok {
		return ctx, net.IPv4(127, 0, 0, 1), nil
	}
	x.r.log.Info("peer router refused a name it has no route for", "instance", x.r.name, "name", name)
	return ctx, nil, fmt.Errorf("%s has no route to %q", x.r.name, name)
}

// lookupAnyPort reports whether name has a route on a port the lookup knows; the SOCKS
// request's port is checked again by the rules.
func (r *Router) lookupAnyPort(name string) (string, bool) {
	return r.lookup(strings.ToLower(name), AnyPort)
}

// AnyPort is the port a Lookup is asked for when the router only wants to know whether
// a name has a route at all: answer true if it has one on any port.
const AnyPort = -1

type rewriter struct{ r *Router }

func (x rewriter) Rewrite(ctx context.Context, req *socks5.Request) (context.Context, *socks5.AddrSpec) {
	host := req.DestAddr.FQDN
	if host == "" {
		host = req.DestAddr.IP.String()
	}
	addr, ok := x.r.route(host, req.DestAddr.Port)
	if !ok {
		return ctx, req.DestAddr // the rules refuse it
	}
	h, p, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		return ctx, req.DestAddr
	}
	x.r.log.Debug("peer route", "instance", x.r.name, "to", net.JoinHostPort(host, strconv.Itoa(req.DestAddr.Port)), "via", addr)
	return ctx, &socks5.AddrSpec{IP: net.ParseIP(h), Port: port}
}

// rules allow a connect to what has a route, and nothing else (no bind, no UDP).
type rules struct{ r *Router }

func (x rules) Allow(ctx context.Context, req *socks5.Request) (context.Context, bool) {
	host := req.DestAddr.FQDN
	if host == "" {
		host = req.DestAddr.IP.String()
	}
	if req.Command != socks5.ConnectCommand {
		x.r.log.Info("peer router refused a command other than connect", "instance", x.r.name, "command", req.Command)
		return ctx, false
	}
	if _, ok := x.r.route(host, req.DestAddr.Port); !ok {
		x.r.log.Info("peer router refused a destination it has no route for", "instance", x.r.name,
			"to", net.JoinHostPort(host, strconv.Itoa(req.DestAddr.Port)))
		return ctx, false
	}
	return ctx, true
}

// Table is a Lookup over a fixed set of routes, "host:port" → a function that returns
// the address to send it to (called at each connection, so that it sees a link's
// address once the link is made; an error or "" refuses the connection).
func Table(routes map[string]func() (string, error)) Lookup {
	byKey := map[string]func() (string, error){}
	hosts := map[string]bool{}
	for k, f := range routes {
		if h, p, err := net.SplitHostPort(k); err == nil {
			h = strings.ToLower(h)
			hosts[h] = true
			byKey[net.JoinHostPort(h, p)] = f
		}
	}
	return func(host string, port int) (string, bool) {
		if port == AnyPort {
			return "", hosts[host]
		}
		f, ok := byKey[net.JoinHostPort(host, strconv.Itoa(port))]
		if !ok {
			return "", false
		}
		addr, err := f()
		if err != nil || addr == "" {
			return "", false
		}
		return addr, true
	}
}
