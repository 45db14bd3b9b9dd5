package wait

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

// Strategy is a readiness strategy: how the harness knows an instance ready once its
// runtime has started it, in the spirit of testcontainers-go's wait package — one small
// type per way of waiting, combined with ForAll. Exactly one field is set. Every check
// goes through the instance's own ingress links, so that a ready instance is known to be
// reachable the way every caller reaches it (a command, ForExec, runs beside it). Build
// one with ForHTTP, ForTCP, ForLog, ForExec and ForAll, or write it in YAML (a
// service's ready:):
//
//	ready: {log: {pattern: "ready to accept connections"}}
//	ready: {all: [{tcp: {port: client}}, {http: {port: metrics, path: /health}}]}
type Strategy struct {
	// HTTP waits for an HTTP status on a path of a port.
	HTTP *HTTP `yaml:"http,omitempty"`
	// TCP waits for a port to accept connections.
	TCP *TCP `yaml:"tcp,omitempty"`
	// Log waits for a line of the instance's output to match a pattern.
	Log *Log `yaml:"log,omitempty"`
	// Exec waits for a command run beside the instance to exit 0.
	Exec *Exec `yaml:"exec,omitempty"`
	// All waits for every strategy listed, one after the other.
	All []Strategy `yaml:"all,omitempty"`
}

// ForHTTP waits until GET path on the port called port answers 200 ("" is the main port).
func ForHTTP(port, path string) Strategy { return Strategy{HTTP: &HTTP{Port: port, Path: path}} }

// ForTCP waits until the port called port accepts connections ("" is the main port).
func ForTCP(port string) Strategy { return Strategy{TCP: &TCP{Port: port}} }

// ForLog waits until a line of the instance's output matches the regular expression
// pattern (Postgres's "database system is ready to accept connections").
func ForLog(pattern string) Strategy { return Strategy{Log: &Log{Pattern: pattern}} }

// ForAll waits for every strategy of rs, in order.
func ForAll(rs ...Strategy) Strategy { return Strategy{All: rs} }

// Target is what a strategy waits on: an instance's port links, its output, and a way
// to run a command beside it (harness.Instance is one).
type Target interface {
	Name() string
	Port(name string) (*netfault.Link, error)
	Logs(ctx context.Context) ([]byte, error)
	Exec(ctx context.Context, cmd []string) (int, []byte, error)
}

// String says what the strategy waits for, for errors and logs.
func (r Strategy) String() string {
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

// Wait waits until t is ready, or ctx ends; the error says what the last try saw.
func (r Strategy) Wait(ctx context.Context, t Target) error {
	switch {
	case r.HTTP != nil:
		return r.HTTP.Wait(ctx, t)
	case r.TCP != nil:
		return r.TCP.Wait(ctx, t)
	case r.Log != nil:
		return r.Log.Wait(ctx, t)
	case r.Exec != nil:
		return r.Exec.Wait(ctx, t)
	default:
		for _, a := range r.All {
			if err := a.Wait(ctx, t); err != nil {
				return err
			}
		}
		return nil
	}
}

// WithDefaults fills in main (the instance's main port) where a strategy names no port,
// and each kind's own defaults.
func (r Strategy) WithDefaults(main string) Strategy {
	switch {
	case r.HTTP != nil:
		h := *r.HTTP
		h.Port = cmp.Or(h.Port, main)
		h.Status = cmp.Or(h.Status, http.StatusOK)
		return Strategy{HTTP: &h}
	case r.TCP != nil:
		c := *r.TCP
		c.Port = cmp.Or(c.Port, main)
		return Strategy{TCP: &c}
	case r.Log != nil:
		l := *r.Log
		l.Times = cmp.Or(l.Times, 1)
		return Strategy{Log: &l}
	case r.Exec != nil:
		e := Exec{Command: slices.Clone(r.Exec.Command)}
		return Strategy{Exec: &e}
	default:
		all := make([]Strategy, len(r.All))
		for i, a := range r.All {
			all[i] = a.WithDefaults(main)
		}
		return Strategy{All: all}
	}
}

// Check reports, through bad, what is wrong with the strategy at where ("ready",
// "ready.all[1]"), given the names of the instance's ports, each problem with the field
// and the fix.
func (r Strategy) Check(where string, ports []string, bad func(format string, args ...any)) {
	var set []string
	for name, on := range map[string]bool{"http": r.HTTP != nil, "tcp": r.TCP != nil, "log": r.Log != nil, "exec": r.Exec != nil, "all": r.All != nil} {
		if on {
			set = append(set, name)
		}
	}
	slices.Sort(set)
	port := func(field, name string) {
		if name != "" && !slices.Contains(ports, name) {
			bad("%s %q is not a port of the service: use one of %s", field, name, strings.Join(ports, ", "))
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
			a.Check(fmt.Sprintf("%s.all[%d]", where, i), ports, bad)
		}
	}
}

// Until calls try, every 10 ms at first and backing off to every 200 ms, until it
// returns nil or within passes (or ctx ends); the error then names what and says what
// the last try saw. It is the one way for a test or an experiment to wait for the system
// under test to come round.
func Until(ctx context.Context, within time.Duration, what string, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	return poll(ctx, what, try)
}

// poll calls try every 10 ms at first, backing off to every 200 ms, until it returns
// nil, or ctx ends; the error then says what the last try saw. A try that ctx's end cut
// short (a command killed half-way on a busy machine) saw only that: the last try that
// ended by itself says more, and is the one told when there was one.
func poll(ctx context.Context, what string, try func(context.Context) error) error {
	var last error
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		err := try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, context.Cause(ctx), last)
		case <-time.After(delay):
		}
	}
}
