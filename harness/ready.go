package harness

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/netfault"
)

// WaitHTTP polls url with GET until it answers 200, or timeout (or ctx) ends; the error
// then says what the last attempt saw. It polls every 10 ms at first, backing off to
// every 100 ms, so that what is ready at once (an instance's health through its proxy,
// once the runtime has seen it ready) costs a bring-up no fixed pause. Readiness checks
// of Up and of readiness hooks such as reference.Ready share it.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s: %w", url, timeout, last)
		case <-time.After(delay):
		}
	}
}

// Ready is a readiness strategy: how Up knows an instance ready once its runtime has
// started it, in the spirit of testcontainers-go's wait package — one small type per
// way of waiting, combined with ForAll. Exactly one field is set. Every check goes
// through the instance's own ingress links, so that a ready instance is known to be
// reachable the way every caller reaches it (a command, ForExec, runs beside it). Build
// one with ForHTTP, ForTCP, ForLog, ForExec and ForAll, or write it in YAML:
//
//	ready: {log: {pattern: "ready to accept connections"}}
//	ready: {all: [{tcp: {port: client}}, {http: {port: metrics, path: /health}}]}
type Ready struct {
	// HTTP waits for an HTTP status on a path of a port.
	HTTP *HTTPReady `yaml:"http,omitempty"`
	// TCP waits for a port to accept connections.
	TCP *TCPReady `yaml:"tcp,omitempty"`
	// Log waits for a line of the instance's output to match a pattern.
	Log *LogReady `yaml:"log,omitempty"`
	// Exec waits for a command run beside the instance to exit 0.
	Exec *ExecReady `yaml:"exec,omitempty"`
	// All waits for every strategy listed, one after the other.
	All []Ready `yaml:"all,omitempty"`
}

// ForHTTP waits until GET path on the port called port answers 200 ("" is the main port).
func ForHTTP(port, path string) Ready { return Ready{HTTP: &HTTPReady{Port: port, Path: path}} }

// ForTCP waits until the port called port accepts connections ("" is the main port).
func ForTCP(port string) Ready { return Ready{TCP: &TCPReady{Port: port}} }

// ForLog waits until a line of the instance's output matches the regular expression
// pattern (Postgres's "database system is ready to accept connections").
func ForLog(pattern string) Ready { return Ready{Log: &LogReady{Pattern: pattern}} }

// ForAll waits for every strategy of rs, in order.
func ForAll(rs ...Ready) Ready { return Ready{All: rs} }

// readyTarget is what a strategy waits on: an instance's port links and its output.
type readyTarget interface {
	Name() string
	Port(name string) (*netfault.Link, error)
	Logs(ctx context.Context) ([]byte, error)
	Exec(ctx context.Context, cmd []string) (int, []byte, error)
}

// String says what the strategy waits for, for errors and logs.
func (r Ready) String() string {
	switch {
	case r.HTTP != nil:
		return r.HTTP.String()
	case r.TCP != nil:
		return r.TCP.String()
	case r.Log != nil:
		return r.Log.String()
	case r.Exec != nil:
		return r.Exec.String()
	default:
		parts := make([]string, len(r.All))
		for i, a := range r.All {
			parts[i] = a.String()
		}
		return "all of (" + strings.Join(parts, "; ") + ")"
	}
}

// wait waits until t is ready, or ctx ends.
func (r Ready) wait(ctx context.Context, t readyTarget) error {
	switch {
	case r.HTTP != nil:
		return r.HTTP.wait(ctx, t)
	case r.TCP != nil:
		return r.TCP.wait(ctx, t)
	case r.Log != nil:
		return r.Log.wait(ctx, t)
	case r.Exec != nil:
		return r.Exec.wait(ctx, t)
	default:
		for _, a := range r.All {
			if err := a.wait(ctx, t); err != nil {
				return err
			}
		}
		return nil
	}
}

// withDefaults fills in the main port where a strategy names none, and each kind's own
// defaults.
func (r Ready) withDefaults(main string) Ready {
	switch {
	case r.HTTP != nil:
		h := *r.HTTP
		h.Port = cmp.Or(h.Port, main)
		h.Status = cmp.Or(h.Status, http.StatusOK)
		return Ready{HTTP: &h}
	case r.TCP != nil:
		c := *r.TCP
		c.Port = cmp.Or(c.Port, main)
		return Ready{TCP: &c}
	case r.Log != nil:
		l := *r.Log
		l.Times = cmp.Or(l.Times, 1)
		return Ready{Log: &l}
	case r.Exec != nil:
		e := ExecReady{Command: slices.Clone(r.Exec.Command)}
		return Ready{Exec: &e}
	default:
		all := make([]Ready, len(r.All))
		for i, a := range r.All {
			all[i] = a.withDefaults(main)
		}
		return Ready{All: all}
	}
}

// check reports, through bad, what is wrong with the strategy at where ("ready",
// "ready.all[1]"), given the service's ports.
func (r Ready) check(where string, svc Service, bad func(format string, args ...any)) {
	var set []string
	for name, on := range map[string]bool{"http": r.HTTP != nil, "tcp": r.TCP != nil, "log": r.Log != nil, "exec": r.Exec != nil, "all": r.All != nil} {
		if on {
			set = append(set, name)
		}
	}
	slices.Sort(set)
	port := func(field, name string) {
		if name != "" && !hasPort(svc, name) {
			bad("%s %q is not a port of the service: use one of %s", field, name, portNames(svc))
		}
	}
	switch {
	case len(set) == 0:
		bad("%s is empty: set one of http, tcp, log, exec or all", where)
	case len(set) > 1:
		bad("%s sets %s: set exactly one of them (all: [...] combines strategies)", where, strings.Join(set, " and "))
	case r.HTTP != nil:
		port(where+".http.port", r.HTTP.Port)
		if !strings.HasPrefix(r.HTTP.Path, "/") {
			bad("%s.http.path %q is not a path: write it like /healthz", where, r.HTTP.Path)
		}
		if r.HTTP.Status != 0 && (r.HTTP.Status < 100 || r.HTTP.Status > 599) {
			bad("%s.http.status %d is not an HTTP status: use 100 to 599, or leave it out for 200", where, r.HTTP.Status)
		}
	case r.TCP != nil:
		port(where+".tcp.port", r.TCP.Port)
	case r.Log != nil:
		if r.Log.Pattern == "" {
			bad("%s.log.pattern is empty: give the regular expression a line of the instance's output matches once it is ready", where)
		} else if _, err := regexp.Compile(r.Log.Pattern); err != nil {
			bad("%s.log.pattern %q is not a regular expression: %v: fix it (Go's regexp syntax)", where, r.Log.Pattern, err)
		}
		if r.Log.Times < 0 {
			bad("%s.log.times %d is negative: use 1 or more, or leave it out for 1", where, r.Log.Times)
		}
	case r.Exec != nil:
		if len(r.Exec.Command) == 0 || r.Exec.Command[0] == "" {
			bad("%s.exec.command is empty: give the program and its arguments, e.g. [pg_isready, -h, 127.0.0.1]", where)
		}
	default:
		if len(r.All) == 0 {
			bad("%s.all is empty: list the strategies to wait for", where)
		}
		for i, a := range r.All {
			a.check(fmt.Sprintf("%s.all[%d]", where, i), svc, bad)
		}
	}
}

// poll calls try every 10 ms at first, backing off to every 200 ms, until it returns
// nil, or ctx ends; the error then says what the last try saw.
func poll(ctx context.Context, what string, try func(context.Context) error) error {
	var last error
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		if last = try(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, context.Cause(ctx), last)
		case <-time.After(delay):
		}
	}
}

// waitReady waits, within timeout, until inst is ready by its planned strategy, so
// that Up returns a system whose every path is known to work.
func waitReady(ctx context.Context, inst *Instance, ready Ready, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := ready.wait(ctx, inst); err != nil {
		return fmt.Errorf("%s not ready within %s (waited for %s): %w", inst.Name(), timeout, ready, err)
	}
	return nil
}
