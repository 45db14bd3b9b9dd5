package load

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Request is one kind of request in a load's mix.
type Request struct {
	// Route names the request in the history and the report ("GET accounts").
	Route string
	// Method is the HTTP method (default GET).
	Method string
	// Path is appended to the load's base URL. "{n}" is replaced by the request's
	// sequence number, "{r}" by a number drawn from the run's seed, for unique keys, and
	// "{r%N}" by that number modulo N, to pick one of N records.
	Path string
	// Body is sent as is (with the same replacements as Path).
	Body string
	// Header is sent with every request of this kind.
	Header http.Header
	// Weight is the kind's share of the mix (default 1).
	Weight int
}

// Open is an open-model HTTP load: requests arrive at a fixed rate for a fixed time.
// It is one use of OpenOps: the same pacing, mix and recording, with each kind of
// request an operation.
type Open struct {
	// Name names the load in the history ("accounts").
	Name string
	// Base is the URL requests go to (the gateway's); it must be on loopback.
	Base string
	// Rate is the arrival rate in requests per second.
	Rate int
	// Duration is how long requests keep arriving.
	Duration time.Duration
	// Requests is the mix; each request draws its kind from the seeded rand by weight.
	Requests []Request
	// Header is sent with every request (e.g. X-API-Key).
	Header http.Header
	// Timeout bounds each request (default 5 s).
	Timeout time.Duration
	// Seed drives the mix (the run's seed).
	Seed uint64
}

func (o Open) validate() error {
	if o.Rate <= 0 || o.Rate > MaxRate {
		return fmt.Errorf("load %q: rate %d is out of range: give 1 to %d requests per second", o.Name, o.Rate, MaxRate)
	}
	if err := checkDuration(fmt.Sprintf("load %q: duration", o.Name), o.Duration); err != nil {
		return err
	}
	if err := checkTarget(fmt.Sprintf("load %q: base", o.Name), o.Base); err != nil {
		return err
	}
	if len(o.Requests) == 0 {
		return fmt.Errorf("load %q: requests is empty: give at least one Request", o.Name)
	}
	for i, r := range o.Requests {
		if r.Weight < 0 {
			return fmt.Errorf("load %q: requests[%d].weight %d is negative: use 0 or more", o.Name, i, r.Weight)
		}
		if !strings.HasPrefix(r.Path, "/") {
			return fmt.Errorf("load %q: requests[%d].path %q must start with /", o.Name, i, r.Path)
		}
	}
	return nil
}

// StartOpen starts an open-model HTTP load in the background, recording each request
// in h: it is StartOpenOps with one operation per kind of request, whose answers are
// mapped onto outcomes by HTTPOutcome.
func StartOpen(ctx context.Context, h *history.History, o Open) (*Run, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        MaxWorkers,
		MaxIdleConnsPerHost: MaxWorkers,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ops := make([]Operation, len(o.Requests))
	for i, req := range o.Requests {
		ops[i] = Operation{Route: req.Route, Weight: req.Weight, Do: o.do(client, req)}
	}
	m, err := newMix(o.Name, ops)
	if err != nil {
		return nil, err
	}
	return startOpen(ctx, h, OpenOps{Name: o.Name, Rate: o.Rate, Duration: o.Duration, Ops: ops, Timeout: o.Timeout, Seed: o.Seed}, m, tr.CloseIdleConnections), nil
}

// RunOpen runs an open-model load to its end.
func RunOpen(ctx context.Context, h *history.History, o Open) (Summary, error) {
	run, err := StartOpen(ctx, h, o)
	if err != nil {
		return Summary{}, err
	}
	return run.Wait()
}

// do is one kind of request as an operation: it fills in the placeholders from its
// sequence number and its seeded rand, sends it, and maps the answer.
func (o Open) do(client *http.Client, req Request) OpFunc {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	base := strings.TrimRight(o.Base, "/")
	return func(ctx context.Context, n int, rng *rand.Rand) history.Op {
		repl := replacer(uint64(n), rng.Uint32())
		var body io.Reader
		if req.Body != "" {
			body = strings.NewReader(repl.Replace(req.Body))
		}
		r, err := http.NewRequestWithContext(ctx, method, base+repl.Replace(req.Path), body)
		if err != nil {
			return history.Op{Outcome: history.Failed, Class: "error", Err: err.Error()}
		}
		for k, v := range o.Header {
			r.Header[k] = v
		}
		for k, v := range req.Header {
			r.Header[k] = v
		}
		if body != nil && r.Header.Get("Content-Type") == "" {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(r)
		if err != nil {
			return HTTPOp(0, nil, nil, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			return HTTPOp(0, nil, nil, err) // the answer broke off: it may have taken effect
		}
		return HTTPOp(resp.StatusCode, resp.Header, b, nil)
	}
}

var modRE = regexp.MustCompile(`\{r%([1-9][0-9]*)\}`)

// replacer fills in a request's placeholders: {n}, {r} and {r%N}.
func replacer(seq uint64, draw uint32) interface{ Replace(string) string } {
	plain := strings.NewReplacer("{n}", strconv.FormatUint(seq, 10), "{r}", strconv.FormatUint(uint64(draw), 10))
	return replaceFunc(func(s string) string {
		if !strings.Contains(s, "{") {
			return s // no placeholder: skip building a replacer for every request
		}
		s = modRE.ReplaceAllStringFunc(s, func(m string) string {
			n, _ := strconv.ParseUint(modRE.FindStringSubmatch(m)[1], 10, 32)
			return strconv.FormatUint(uint64(draw)%n, 10)
		})
		return plain.Replace(s)
	})
}

type replaceFunc func(string) string

func (f replaceFunc) Replace(s string) string { return f(s) }
