package load_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
)

// TestOpenOpsPacesAFunction drives an operation that is no HTTP call at all, half of
// them slow, and finds the same pacing, intended starts and seeded mix as the HTTP load.
func TestOpenOpsPacesAFunction(t *testing.T) {
	var published atomic.Int64
	publish := func(ctx context.Context, n int, rng *rand.Rand) history.Op {
		published.Add(1)
		return history.Op{ServedBy: "broker-1", Input: map[string]string{"msg": "m"}}
	}
	slow := func(ctx context.Context, n int, rng *rand.Rand) history.Op {
		time.Sleep(300 * time.Millisecond)
		return history.Op{}
	}
	h := history.New()
	sum, err := load.RunOpenOps(context.Background(), h, load.OpenOps{
		Name: "broker", Rate: 100, Duration: time.Second, Seed: 1,
		Ops: []load.Operation{{Route: "publish", Do: publish}, {Route: "consume", Do: slow}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ops := h.Ops()
	if sum.Sent < 90 || sum.Sent > 110 || len(ops) != sum.Sent || sum.OK != sum.Sent {
		t.Fatalf("sent %d (ok %d, recorded %d), want about 100, all ok", sum.Sent, sum.OK, len(ops))
	}
	routes := map[string]int{}
	for _, op := range ops {
		routes[op.Route]++
		if op.Outcome != history.OK || op.End < op.Start || op.Start < op.Intended-50*time.Millisecond {
			t.Fatalf("op %+v: not ok, or times out of order", op)
		}
		if op.Route == "consume" && op.End-op.Intended < 300*time.Millisecond {
			t.Fatalf("a slow op took %s from its intended start", op.End-op.Intended)
		}
	}
	if routes["publish"] < 20 || routes["consume"] < 20 || int(published.Load()) != routes["publish"] {
		t.Fatalf("mix %v (published %d) is not drawn from both kinds", routes, published.Load())
	}
	if last := ops[len(ops)-1]; last.Intended < 800*time.Millisecond || last.Intended > 1200*time.Millisecond {
		t.Fatalf("last intended start %s, want about 1 s: slow ops held the pace back", last.Intended)
	}
}

// TestOutcomesAreSettled shows how a function's record ends up in the history: its
// own outcome and class kept, an error alone unknown, a timeout unknown of class
// "timeout", and the route filled in.
func TestOutcomesAreSettled(t *testing.T) {
	h := history.New()
	ops := []load.Operation{
		{Route: "ack", Do: func(context.Context, int, *rand.Rand) history.Op { return history.Op{} }},
		{Route: "nack", Do: func(context.Context, int, *rand.Rand) history.Op {
			return history.Op{Outcome: history.Failed, Class: "nack", Err: "broker said no"}
		}},
		{Route: "lost", Do: func(context.Context, int, *rand.Rand) history.Op { return history.Op{Err: "broken pipe"} }},
		{Route: "hang", Do: func(ctx context.Context, _ int, _ *rand.Rand) history.Op {
			<-ctx.Done()
			return history.Op{Err: ctx.Err().Error()}
		}},
	}
	sum, err := load.RunOpenOps(context.Background(), h, load.OpenOps{Name: "t", Rate: 40, Duration: 500 * time.Millisecond, Timeout: 50 * time.Millisecond, Seed: 2, Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		outcome history.Outcome
		class   string
	}{"ack": {history.OK, ""}, "nack": {history.Failed, "nack"}, "lost": {history.Unknown, "error"}, "hang": {history.Unknown, "timeout"}}
	seen := map[string]bool{}
	for _, op := range h.Ops() {
		w := want[op.Route]
		if op.Outcome != w.outcome || op.Class != w.class {
			t.Errorf("%s: outcome %s class %q, want %s %q", op.Route, op.Outcome, op.Class, w.outcome, w.class)
		}
		seen[op.Route] = true
	}
	if len(seen) != 4 || sum.Cancelled != 0 || sum.OK+sum.Failed+sum.Unknown != sum.Sent {
		t.Fatalf("routes %v, summary %+v", seen, sum)
	}
}

// TestStopIsNotAFailure stops loads while operations are in flight: what the stop cuts
// short is recorded as cancelled, never as failed or unknown, in both models and over
// HTTP; so is what a closed load's own end cuts short.
func TestStopIsNotAFailure(t *testing.T) {
	// Once stuck is set, every operation that starts hangs until the stop ends it.
	var stuck atomic.Bool
	var hanging atomic.Int64
	hang := func(ctx context.Context, _ int, _ *rand.Rand) history.Op {
		if stuck.Load() {
			hanging.Add(1)
			<-ctx.Done()
			return history.Op{Err: ctx.Err().Error()}
		}
		return history.Op{}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stuck.Load() {
			hanging.Add(1)
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	starts := map[string]func(context.Context, *history.History) (*load.Run, error){
		"closed": func(ctx context.Context, h *history.History) (*load.Run, error) {
			return load.StartClosed(ctx, h, load.Closed{Name: "c", Workers: 4, Duration: time.Minute, Think: 5 * time.Millisecond, Op: hang})
		},
		"open": func(ctx context.Context, h *history.History) (*load.Run, error) {
			return load.StartOpenOps(ctx, h, load.OpenOps{Name: "o", Rate: 200, Duration: time.Minute, Ops: []load.Operation{{Route: "r", Do: hang}}})
		},
		"http": func(ctx context.Context, h *history.History) (*load.Run, error) {
			return load.StartOpen(ctx, h, load.Open{Name: "h", Base: srv.URL, Rate: 100, Duration: time.Minute, Requests: []load.Request{{Route: "r", Path: "/"}}})
		},
	}
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			stuck.Store(false)
			hanging.Store(0)
			h := history.New()
			run, err := start(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); len(h.Ops()) == 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond) // until something was served
			}
			stuck.Store(true)
			for deadline := time.Now().Add(10 * time.Second); hanging.Load() == 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond) // until something is in flight
			}
			run.Stop()
			sum, err := run.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if sum.Cancelled == 0 || sum.Failed != 0 || sum.Unknown != 0 || sum.OK == 0 {
				t.Fatalf("summary %+v: want ok ops, cancelled ones, and no failure", sum)
			}
			for _, op := range h.Ops() {
				if op.Outcome != history.OK && op.Outcome != history.Cancelled {
					t.Fatalf("op %+v: the stop made a failure", op)
				}
			}
		})
	}
	t.Run("a closed load's own end", func(t *testing.T) {
		h := history.New()
		block := func(ctx context.Context, _ int, _ *rand.Rand) history.Op {
			<-ctx.Done()
			return history.Op{Err: ctx.Err().Error()}
		}
		sum, err := load.StartClosed(context.Background(), h, load.Closed{Name: "c", Workers: 3, Duration: 200 * time.Millisecond, Op: block})
		if err != nil {
			t.Fatal(err)
		}
		// Each worker that started before the end is in flight at it (on a busy machine
		// a worker may start too late to run anything).
		if s, _ := sum.Wait(); s.Sent == 0 || s.Cancelled != s.Sent || s.Sent > 3 {
			t.Fatalf("summary %+v, want what was in flight at the end cancelled", s)
		}
	})
}

func TestHTTPOutcome(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	cases := []struct {
		status  int
		err     error
		outcome history.Outcome
		class   string
	}{
		{200, nil, history.OK, ""},
		{201, nil, history.OK, ""},
		{409, nil, history.OK, "4xx:409"},
		{429, nil, history.Failed, "429"},
		{502, nil, history.Unknown, "5xx:502"},
		{0, context.DeadlineExceeded, history.Unknown, "timeout"},
		{0, refused, history.Failed, "refused"},
		{0, errors.New("read: connection reset by peer"), history.Unknown, "reset"},
		{0, errors.New("unexpected EOF"), history.Unknown, "eof"},
	}
	for _, tc := range cases {
		o, c := load.HTTPOutcome(tc.status, tc.err)
		if o != tc.outcome || c != tc.class {
			t.Errorf("HTTPOutcome(%d, %v) = %s %q, want %s %q", tc.status, tc.err, o, c, tc.outcome, tc.class)
		}
	}
	op := load.HTTPOp(503, http.Header{"X-Served-By": {"a-2"}, "X-Attempts": {"2"}}, []byte(" no instance \n"), nil)
	if op.ServedBy != "a-2" || op.Attempts != 2 || op.Output["body"] != "no instance" || op.Class != "5xx:503" {
		t.Fatalf("HTTPOp lost the answer's headers or body: %+v", op)
	}
	if op := load.HTTPOp(200, http.Header{}, nil, nil); op.ServedBy != "" {
		t.Fatalf("no header, yet served by %q", op.ServedBy)
	}
}

func TestOpenOpsRejectsBadInput(t *testing.T) {
	noop := func(context.Context, int, *rand.Rand) history.Op { return history.Op{} }
	cases := []struct {
		o    load.OpenOps
		want string
	}{
		{load.OpenOps{Name: "t", Rate: 10, Duration: time.Second}, "ops is empty"},
		{load.OpenOps{Name: "t", Rate: 10, Duration: time.Second, Ops: []load.Operation{{Route: "r"}}}, "ops[0].do is nil"},
		{load.OpenOps{Name: "t", Rate: 10, Duration: time.Second, Ops: []load.Operation{{Do: noop, Weight: -1}}}, "negative"},
		{load.OpenOps{Name: "t", Rate: 0, Duration: time.Second, Ops: []load.Operation{{Do: noop}}}, "rate 0"},
	}
	for _, tc := range cases {
		if _, err := load.StartOpenOps(context.Background(), history.New(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
	if _, err := load.StartClosed(context.Background(), history.New(), load.Closed{Name: "c", Workers: 1, Duration: time.Second, Op: noop, Ops: []load.Operation{{Do: noop}}}); err == nil || !strings.Contains(err.Error(), "both op and ops") {
		t.Errorf("closed with op and ops: %v", err)
	}
}

// TestClosedDrawsItsMixFromTheSeed: a closed load of several operations draws each
// worker's kinds by weight from its seeded rand, the same for the same seed.
func TestClosedDrawsItsMixFromTheSeed(t *testing.T) {
	mix := func(seed uint64) (string, map[string]int) {
		h := history.New()
		noop := func(context.Context, int, *rand.Rand) history.Op { return history.Op{} }
		run, err := load.StartClosed(context.Background(), h, load.Closed{Name: "c", Workers: 1, Duration: time.Minute, MaxOps: 200, Seed: seed,
			Ops: []load.Operation{{Route: "r", Do: noop}, {Route: "w", Do: noop, Weight: 3}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := run.Wait(); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		count := map[string]int{}
		for _, op := range h.Ops() {
			b.WriteString(op.Route)
			count[op.Route]++
		}
		return b.String(), count
	}
	a, count := mix(5)
	if b, _ := mix(5); a != b {
		t.Fatalf("same seed, different mix:\n%s\n%s", a, b)
	}
	if c, _ := mix(6); a == c {
		t.Fatalf("seeds 5 and 6 drew the same mix")
	}
	if count["w"] < 120 || count["w"] > 180 || count["r"]+count["w"] != 200 {
		t.Fatalf("mix %v: want about 150 of weight 3 to 50 of weight 1", count)
	}
}

// TestAPanickingOperationIsAFailureNotACrash runs a load whose function panics on every
// third call, in both models: the process lives on, each panic is one failed operation
// of class "panic", and Wait names it.
func TestAPanickingOperationIsAFailureNotACrash(t *testing.T) {
	var calls atomic.Int64
	flaky := func(ctx context.Context, n int, rng *rand.Rand) history.Op {
		if calls.Add(1)%3 == 0 {
			panic("a bug in the user's client")
		}
		return history.Op{}
	}
	ops := []load.Operation{{Route: "publish", Do: flaky}}
	cases := []struct {
		name string
		run  func(h *history.History) (load.Summary, error)
	}{
		{"open", func(h *history.History) (load.Summary, error) {
			return load.RunOpenOps(context.Background(), h, load.OpenOps{Name: "broker", Rate: 100, Duration: 300 * time.Millisecond, Seed: 1, Ops: ops})
		}},
		{"closed", func(h *history.History) (load.Summary, error) {
			run, err := load.StartClosed(context.Background(), h, load.Closed{Name: "broker", Workers: 2, MaxOps: 30, Duration: 5 * time.Second, Seed: 1, Ops: ops})
			if err != nil {
				return load.Summary{}, err
			}
			return run.Wait()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls.Store(0)
			h := history.New()
			sum, err := c.run(h)
			if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "a bug in the user's client") {
				t.Fatalf("Wait's error = %v, want one naming the panic", err)
			}
			panics := 0
			for _, op := range h.Ops() {
				if op.Class == "panic" {
					panics++
					if op.Outcome != history.Failed || op.Route != "publish" || !strings.Contains(op.Err, "a bug") {
						t.Fatalf("a panicked op is recorded as %+v, want failed, route publish, the panic's text", op)
					}
				}
			}
			if panics == 0 || sum.Failed != panics || sum.OK == 0 {
				t.Fatalf("%d panics recorded, summary %+v: want every panic one failed op beside served ones", panics, sum)
			}
		})
	}
}
