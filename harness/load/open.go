package load

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

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

// Open is an open-model load: requests arrive at a fixed rate for a fixed time.
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

// Run is a load in flight.
type Run struct {
	done    chan struct{}
	stop    func()
	mu      sync.Mutex
	summary Summary
	err     error
}

// Summary counts what a load sent.
type Summary struct {
	// Sent is the number of operations recorded.
	Sent int
	// OK is the number answered 2xx.
	OK int
	// Elapsed is the load's wall time.
	Elapsed time.Duration
}

// Wait blocks until the load ends (its duration elapsed, Stop, or ctx ended) and returns
// its summary.
func (r *Run) Wait() (Summary, error) {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.summary, r.err
}

// Stop ends the load early; Wait still returns what was recorded.
func (r *Run) Stop() { r.stop() }

// Done is closed when the load has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// StartOpen starts an open-model load in the background, recording each operation in h.
func StartOpen(ctx context.Context, h *history.History, o Open) (*Run, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	interval := time.Second / time.Duration(o.Rate)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6c6f6164))
	var mu sync.Mutex
	total := 0
	for _, r := range o.Requests {
		total += max(r.Weight, 0)
		if r.Weight == 0 {
			total++
		}
	}
	var n uint64
	targeter := func(t *vegeta.Target) error {
		mu.Lock()
		pick := rng.IntN(total)
		draw := rng.Uint32()
		seq := n
		n++
		mu.Unlock()
		var req Request
		for _, r := range o.Requests {
			w := r.Weight
			if w == 0 {
				w = 1
			}
			if pick < w {
				req = r
				break
			}
			pick -= w
		}
		repl := replacer(seq, draw)
		t.Method = req.Method
		if t.Method == "" {
			t.Method = http.MethodGet
		}
		// The route travels in the URL's fragment, which never goes on the wire, so that
		// each result can be told apart without a header on the request.
		t.URL = strings.TrimRight(o.Base, "/") + repl.Replace(req.Path) + "#" + req.Route
		if req.Body != "" {
			t.Body = []byte(repl.Replace(req.Body))
		}
		t.Header = http.Header{}
		for k, v := range o.Header {
			t.Header[k] = v
		}
		for k, v := range req.Header {
			t.Header[k] = v
		}
		if len(t.Body) > 0 && t.Header.Get("Content-Type") == "" {
			t.Header.Set("Content-Type", "application/json")
		}
		return nil
	}
	atk := vegeta.NewAttacker(
		vegeta.Timeout(o.Timeout),
		vegeta.Workers(8),
		vegeta.MaxWorkers(MaxWorkers),
		vegeta.KeepAlive(true),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.MaxBody(64<<10),
	)
	run := &Run{done: make(chan struct{}), stop: func() { atk.Stop() }}
	began := time.Now()
	results := atk.Attack(vegeta.Targeter(targeter), vegeta.Rate{Freq: o.Rate, Per: time.Second}, o.Duration, o.Name)
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-run.done:
		}
	}()
	go func() {
		defer close(run.done)
		var sum Summary
		for res := range results {
			op := fromResult(h, res, began, interval)
			h.Add(op)
			sum.Sent++
			if op.Status >= 200 && op.Status < 300 {
				sum.OK++
			}
		}
		sum.Elapsed = time.Since(began)
		run.mu.Lock()
		run.summary = sum
		run.mu.Unlock()
	}()
	return run, nil
}

// RunOpen runs an open-model load to its end.
func RunOpen(ctx context.Context, h *history.History, o Open) (Summary, error) {
	run, err := StartOpen(ctx, h, o)
	if err != nil {
		return Summary{}, err
	}
	return run.Wait()
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

func fromResult(h *history.History, res *vegeta.Result, began time.Time, interval time.Duration) history.Op {
	route := ""
	if i := strings.LastIndexByte(res.URL, '#'); i >= 0 {
		route = res.URL[i+1:]
	}
	op := history.Op{
		Intended: h.Since(began.Add(time.Duration(res.Seq) * interval)),
		Start:    h.Since(res.Timestamp),
		End:      h.Since(res.Timestamp.Add(res.Latency)),
		Route:    route,
		Status:   int(res.Code),
	}
	if res.Code == 0 && res.Error != "" {
		op.Err = res.Error
	}
	if res.Headers != nil {
		op.ServedBy = res.Headers.Get("X-Served-By")
		op.Attempts, _ = strconv.Atoi(res.Headers.Get("X-Attempts"))
	}
	if res.Code >= 400 && len(res.Body) > 0 {
		op.Output = map[string]string{"body": string(bytes.TrimSpace(res.Body[:min(len(res.Body), 200)]))}
	}
	return op
}
