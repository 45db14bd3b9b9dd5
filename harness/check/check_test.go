package check_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
)

const ms = time.Millisecond

// op is a shorthand for hand-written histories: intended = start = at, end = at+took,
// with the outcome an HTTP load gives status (see outcome).
func op(at, took time.Duration, status int, servedBy string) history.Op {
	o := history.Op{Intended: at, Start: at, End: at + took, Route: "accounts", ServedBy: servedBy}
	o.Outcome, o.Class = outcome(status)
	return o
}

// outcome is how the HTTP load records a status in these tables: 429 failed (shed), a
// 5xx unknown, anything else served.
func outcome(status int) (history.Outcome, string) {
	switch {
	case status == 429:
		return history.Failed, "429"
	case status >= 500:
		return history.Unknown, "5xx:" + strconv.Itoa(status)
	case status >= 400:
		return history.OK, "4xx:" + strconv.Itoa(status)
	}
	return history.OK, ""
}

func hist(ops ...history.Op) *history.History {
	h := history.New()
	for _, o := range ops {
		h.Add(o)
	}
	return h
}

// steady returns one op every 10 ms from..to, all served by "a-1" or "a-2" alternately.
func steady(from, to time.Duration, status int) []history.Op {
	var out []history.Op
	for t, i := from, 0; t < to; t, i = t+10*ms, i+1 {
		by := "a-1"
		if i%2 == 1 {
			by = "a-2"
		}
		out = append(out, op(t, 5*ms, status, by))
	}
	return out
}

func TestAvailability(t *testing.T) {
	w := check.Window{Name: "w", From: 0, To: time.Second}
	cases := []struct {
		name     string
		ops      []history.Op
		min      float64
		pass     bool
		wantText string
	}{
		{"all ok", steady(0, time.Second, 200), 0.99, true, "100.00% meets"},
		{"a 4xx is served", steady(0, time.Second, 409), 0.99, true, "100.00%"},
		{"5xx fail", append(steady(0, 500*ms, 200), steady(500*ms, time.Second, 503)...), 0.99, false, "5xx:503×50"},
		{"429 is shed, not served", steady(0, time.Second, 429), 0.5, false, "429×100"},
		{"transport errors", []history.Op{{Intended: 1, End: 2, Outcome: history.Failed, Err: "dial tcp: connection refused"}}, 0.5, false, "refused×1"},
		{"a class says more than the outcome", []history.Op{{Intended: 1, End: 2, Outcome: history.Unknown, Class: "nack"}}, 0.5, false, "nack×1"},
		{"cancelled by the run's stop is not counted", append(steady(0, time.Second, 200), history.Op{Intended: 10, End: 20, Outcome: history.Cancelled, Err: "context canceled"}), 0.99, true, "1 cancelled by the run's stop, not counted"},
		{"only cancelled is nothing to measure", []history.Op{{Intended: 10, End: 20, Outcome: history.Cancelled}}, 0.5, false, "nothing to measure"},
		{"no traffic proves nothing", nil, 0.9, false, "nothing to measure"},
		{"outside the window is ignored", steady(time.Second, 2*time.Second, 503), 0.9, false, "nothing to measure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := check.Availability(hist(tc.ops...), check.Selection{Window: w}, tc.min)
			if r.Pass != tc.pass || !strings.Contains(r.Message, tc.wantText) {
				t.Fatalf("got pass=%t %q; want pass=%t and %q", r.Pass, r.Message, tc.pass, tc.wantText)
			}
		})
	}
}

func TestLatencyAndIsolation(t *testing.T) {
	before := check.Window{Name: "before", From: 0, To: time.Second}
	during := check.Window{Name: "during", From: time.Second, To: 2 * time.Second}
	fast := steady(0, 2*time.Second, 200)
	var slow []history.Op
	slow = append(slow, steady(0, time.Second, 200)...)
	for t := time.Second; t < 2*time.Second; t += 10 * ms {
		slow = append(slow, op(t, 800*ms, 200, "a-1"))
	}
	r := check.Latency(hist(fast...), check.Selection{Window: before}, 50*ms)
	if !r.Pass {
		t.Fatalf("5 ms ops failed a 50 ms p99 bound: %s", r)
	}
	if p99, _ := r.Figure("p99"); p99 < 4.9 || p99 > 5.1 {
		t.Fatalf("p99 = %.2f ms, want 5", p99)
	}
	if r := check.Latency(hist(slow...), check.Selection{Window: during}, 50*ms); r.Pass || !strings.Contains(r.Message, "misses the bound") {
		t.Fatalf("800 ms ops passed a 50 ms bound: %s", r)
	}
	if r := check.Isolation(hist(fast...), []string{"accounts"}, before, during, 0.99, 3, 50*ms); !r.Pass {
		t.Fatalf("unchanged traffic failed isolation: %s", r)
	}
	if r := check.Isolation(hist(slow...), []string{"accounts"}, before, during, 0.99, 3, 50*ms); r.Pass {
		t.Fatalf("p99 5 ms → 800 ms passed isolation: %s", r)
	}
}

func TestTimings(t *testing.T) {
	// Fault at 1 s: 300 ms of 503s, victim a-1 served until 1.3 s, then a-2 alone.
	var ops []history.Op
	ops = append(ops, steady(0, time.Second, 200)...)
	for t := time.Second; t < 1300*ms; t += 10 * ms {
		ops = append(ops, op(t, 5*ms, 503, "a-1"))
	}
	for t := 1300 * ms; t < 3*time.Second; t += 10 * ms {
		ops = append(ops, op(t, 5*ms, 200, "a-2"))
	}
	h := hist(ops...)
	sel := check.Selection{Window: check.Window{Name: "kill a-1", From: time.Second, To: 3 * time.Second}}

	det := check.Detect(h, sel, 0)
	if v, _ := det.Figure("time_to_detect"); v != 5 || !det.Pass {
		t.Fatalf("time to detect = %v ms (pass %t), want 5: %s", v, det.Pass, det)
	}
	fo := check.Failover(h, sel, "a-1", time.Second)
	if v, _ := fo.Figure("time_to_failover"); !fo.Pass || v != 295 {
		t.Fatalf("failover = %v ms (pass %t), want 295: %s", v, fo.Pass, fo)
	}
	if fo := check.Failover(h, sel, "a-1", 100*ms); fo.Pass {
		t.Fatalf("failover of 295 ms passed a 100 ms bound: %s", fo)
	}
	rec := check.Recover(h, sel, 0.99, 500*ms, 2*time.Second)
	if v, _ := rec.Figure("time_to_recover"); !rec.Pass || v < 250 || v > 350 {
		t.Fatalf("time to recover = %v ms, want about 300: %s", v, rec)
	}
	if v, _ := rec.Figure("windows_below_slo"); v == 0 {
		t.Fatalf("300 ms of 503s left no window below the SLO: %s", rec)
	}
	calm := check.Recover(hist(steady(0, 3*time.Second, 200)...), sel, 0.99, 500*ms, time.Second)
	if v, _ := calm.Figure("windows_below_slo"); !calm.Pass || v != 0 || !strings.Contains(calm.Message, "recovered at once") {
		t.Fatalf("a system that never degraded: %s", calm)
	}
	never := hist(append(steady(0, time.Second, 200), steady(time.Second, 3*time.Second, 503)...)...)
	if r := check.Recover(never, sel, 0.99, 500*ms, 0); r.Pass || !strings.Contains(r.Message, "not recovered") {
		t.Fatalf("a system that never recovered passed: %s", r)
	}
	if r := check.Detect(hist(steady(0, 3*time.Second, 200)...), sel, 0); r.Pass || !strings.Contains(r.Message, "not felt") {
		t.Fatalf("no failure, but: %s", r)
	}
}

func TestSteadyState(t *testing.T) {
	ok := check.Probe{Name: "ok", Run: func(context.Context) error { return nil }}
	bad := check.Probe{Name: "gateway ready", Run: func(context.Context) error { return errors.New("503") }}
	if r := (check.Hypothesis{Name: "h", Probes: []check.Probe{ok}}).Verify(context.Background(), "before"); !r.Pass {
		t.Fatal(r)
	}
	r := (check.Hypothesis{Name: "h", Probes: []check.Probe{ok, bad}}).Verify(context.Background(), "before")
	if r.Pass || !strings.Contains(r.Message, "gateway ready: 503") {
		t.Fatalf("a failing probe passed: %s", r)
	}
	if r := (check.Hypothesis{Name: "h"}).Verify(context.Background(), "after"); r.Pass {
		t.Fatal("no probes passed")
	}
}

func kv(start, end time.Duration, in map[string]string, out map[string]string, status int) history.Op {
	o := history.Op{Start: start, Intended: start, End: end, Route: "kv", Input: in, Output: out}
	o.Outcome, o.Class = outcome(status)
	return o
}

func TestLinearizable(t *testing.T) {
	w := func(k, v string) map[string]string { return map[string]string{"op": "write", "key": k, "value": v} }
	rd := func(k string) map[string]string { return map[string]string{"op": "read", "key": k} }
	cas := func(k, from, to string) map[string]string {
		return map[string]string{"op": "cas", "key": k, "from": from, "to": to}
	}
	val := func(v string) map[string]string { return map[string]string{"value": v} }
	okv := func(b string) map[string]string { return map[string]string{"ok": b} }
	cases := []struct {
		name string
		ops  []history.Op
		pass bool
	}{
		{"sequential", []history.Op{kv(0, 10, w("x", "1"), nil, 200), kv(20, 30, rd("x"), val("1"), 200)}, true},
		{"stale read", []history.Op{kv(0, 10, w("x", "1"), nil, 200), kv(20, 30, w("x", "2"), nil, 200), kv(40, 50, rd("x"), val("1"), 200)}, false},
		{"a value once seen cannot vanish", []history.Op{kv(0, 100, w("x", "1"), nil, 200), kv(10, 20, rd("x"), val("1"), 200), kv(30, 40, rd("x"), val(""), 200)}, false},
		{"unknown write may have happened", []history.Op{{Start: 0, End: 10, Input: w("x", "1"), Outcome: history.Unknown, Err: "timeout"}, kv(20, 30, rd("x"), val("1"), 200)}, true},
		{"unknown write may not have happened", []history.Op{kv(0, 10, w("x", "1"), nil, 503), kv(20, 30, rd("x"), val(""), 200)}, true},
		{"a write cancelled by the run's stop may have happened", []history.Op{{Start: 0, End: 10, Input: w("x", "1"), Outcome: history.Cancelled}, kv(20, 30, rd("x"), val("1"), 200)}, true},
		{"a failed write did not happen", []history.Op{{Start: 0, End: 10, Input: w("x", "1"), Outcome: history.Failed}, kv(20, 30, rd("x"), val("1"), 200)}, false},
		{"cas", []history.Op{kv(0, 10, w("x", "1"), nil, 200), kv(20, 30, cas("x", "1", "2"), okv("true"), 200), kv(40, 50, cas("x", "1", "3"), okv("false"), 409), kv(60, 70, rd("x"), val("2"), 200)}, true},
		{"two cas from the same value cannot both win", []history.Op{kv(0, 10, w("x", "1"), nil, 200), kv(20, 30, cas("x", "1", "2"), okv("true"), 200), kv(20, 30, cas("x", "1", "3"), okv("true"), 200)}, false},
		{"keys are independent", []history.Op{kv(0, 10, w("x", "1"), nil, 200), kv(0, 10, w("y", "2"), nil, 200), kv(20, 30, rd("y"), val("2"), 200), kv(20, 30, rd("x"), val("1"), 200)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := check.Linearizable(hist(tc.ops...), check.Selection{Window: check.Window{Name: "w", To: time.Hour}}, 10*time.Second)
			if r.Pass != tc.pass {
				t.Fatalf("pass = %t, want %t: %s", r.Pass, tc.pass, r)
			}
		})
	}
}

func TestNoLoss(t *testing.T) {
	ack := func(ids ...string) []check.Write {
		var out []check.Write
		for _, id := range ids {
			out = append(out, check.Write{ID: id, Outcome: history.OK})
		}
		return out
	}
	store := map[string]int{"a": 1, "b": 1, "twice": 2, "maybe": 1}
	found := func(id string) int { return store[id] }
	cases := []struct {
		name   string
		writes []check.Write
		pass   bool
		want   string
	}{
		{"all present", ack("a", "b"), true, "all 2 acknowledged writes are present, each once"},
		{"lost", ack("a", "b", "c"), false, "1 of 3 acknowledged writes are lost: c"},
		{"duplicated", ack("a", "twice"), false, "1 writes are duplicated: twice"},
		{"unknown but present is allowed and counted", append(ack("a"), check.Write{ID: "maybe", Outcome: history.Unknown}, check.Write{ID: "gone", Outcome: history.Cancelled}), true, "1 of 2 writes with no definite outcome are present"},
		{"failed but present", append(ack("a"), check.Write{ID: "b", Outcome: history.Failed}), false, "1 writes reported failed are present: b"},
		{"nothing acknowledged proves nothing", []check.Write{{ID: "maybe", Outcome: history.Unknown}}, false, "no write was acknowledged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := check.NoLoss(tc.writes, found)
			if r.Pass != tc.pass || !strings.Contains(r.Message, tc.want) {
				t.Fatalf("got pass=%t %q; want pass=%t and %q", r.Pass, r.Message, tc.pass, tc.want)
			}
		})
	}
	ops := []history.Op{
		{Route: "put", Outcome: history.OK, Input: map[string]string{"key": "a"}},
		{Route: "get", Outcome: history.OK},
		{Route: "put", Outcome: history.Unknown, Input: map[string]string{"key": "maybe"}},
	}
	ws := check.WritesOf(ops, func(op history.Op) string { return op.Input["key"] })
	if r := check.NoLoss(ws, found); !r.Pass || len(ws) != 2 {
		t.Fatalf("writes read from the history %v: %s", ws, r)
	}
}

func TestFailoverSaysWhenServedByIsMissing(t *testing.T) {
	var ops []history.Op
	for at := time.Duration(0); at < 3*time.Second; at += 10 * ms {
		ops = append(ops, op(at, 5*ms, 200, "")) // a client that cannot tell who served it
	}
	sel := check.Selection{Window: check.Window{Name: "during kill a-1", From: time.Second, To: 3 * time.Second}}
	r := check.Failover(hist(ops...), sel, "a-1", time.Second)
	if r.Pass || !strings.Contains(r.Message, "says which instance served it (ServedBy is empty)") || strings.Contains(r.Message, "sibling(s)") {
		t.Fatalf("failover with no ServedBy: %s", r)
	}
	if v, _ := r.Figure("siblings"); v != 0 {
		t.Fatalf("siblings = %v: nobody was counted as a sibling", v)
	}
	h := hist(ops...)
	h.Record(history.Event{At: 1100 * ms, Kind: history.Restart, Target: "a-1"})
	if r := check.SelfHealing(h, "a-1", time.Second, 0); !strings.Contains(r.Message, "ServedBy is empty") {
		t.Fatalf("self-healing with no ServedBy: %s", r)
	}
}

// counter is a user's own porcupine model, as a test of a system that is no kv store
// would bring: adds to one counter and reads of it.
type counterIn struct {
	add  bool
	n    int
	read int
}

var counter = check.Model{
	Name: "counter",
	Porcupine: porcupine.Model{
		Init: func() any { return 0 },
		Step: func(state, input, output any) (bool, any) {
			s, in := state.(int), input.(counterIn)
			if in.add {
				return true, s + in.n
			}
			return output == nil || output.(int) == s, s
		},
		DescribeOperation: func(input, output any) string {
			if in := input.(counterIn); in.add {
				return fmt.Sprintf("add(%d)", in.n)
			}
			return fmt.Sprintf("read() -> %v", output)
		},
	},
	Op: func(op history.Op) (any, any, bool) {
		switch op.Route {
		case "add":
			n, _ := strconv.Atoi(op.Input["n"])
			return counterIn{add: true, n: n}, nil, true
		case "read":
			if op.Outcome != history.OK {
				return counterIn{}, nil, true // any value
			}
			v, _ := strconv.Atoi(op.Output["value"])
			return counterIn{}, v, true
		}
		return nil, nil, false
	},
}

func counterOp(route string, start, end time.Duration, in, out string) history.Op {
	o := history.Op{Route: route, Start: start, Intended: start, End: end, Outcome: history.OK}
	if in != "" {
		o.Input = map[string]string{"n": in}
	}
	if out != "" {
		o.Output = map[string]string{"value": out}
	}
	return o
}

func TestLinearizableTakesTheUsersModel(t *testing.T) {
	all := check.Selection{Window: check.Window{Name: "w", To: time.Hour}}
	good := hist(counterOp("add", 0, 10, "2", ""), counterOp("add", 5, 15, "3", ""), counterOp("read", 20, 30, "", "5"))
	if r := check.LinearizableModel(good, all, counter, 10*time.Second); !r.Pass || !strings.Contains(r.Message, "3 counter operations") || len(r.Artifacts) != 0 {
		t.Fatalf("a linearizable counter: %s (%d artifacts)", r, len(r.Artifacts))
	}
	bad := hist(counterOp("add", 0, 10, "2", ""), counterOp("read", 20, 30, "", "7"), counterOp("ping", 20, 30, "", ""))
	bad.Record(history.Event{At: 12, Kind: history.FaultInject, Fault: "kill c-1"})
	r := check.LinearizableModel(bad, all, counter, 10*time.Second)
	if r.Pass || !strings.Contains(r.Message, "2 counter operations are NOT linearizable") {
		t.Fatalf("a read of 7 after adding 2: %s", r)
	}
	if len(r.Artifacts) != 1 || r.Artifacts[0].Type != "text/html" {
		t.Fatalf("artifacts %+v, want porcupine's visualisation", r.Artifacts)
	}
	page := string(r.Artifacts[0].Data)
	// The page carries its data as JSON, where > is \u003e.
	for _, want := range []string{"<html", `read() -\u003e 7`, "add(2)", "kill c-1"} {
		if !strings.Contains(page, want) {
			t.Errorf("the visualisation lacks %q", want)
		}
	}
}

// TestEveryCheckCanGoRed holds, for every checker that returns a check, a small history
// on which it passes and one on which it fails: a check that no history turns red
// would be counted as passed while proving nothing.
func TestEveryCheckCanGoRed(t *testing.T) {
	w := check.Window{Name: "w", From: 0, To: 3 * time.Second}
	all := check.Selection{Window: w}
	before := check.Window{Name: "before", From: 0, To: time.Second}
	during := check.Window{Name: "during", From: time.Second, To: 3 * time.Second}
	kill := check.Selection{Window: during}
	ok := hist(steady(0, 3*time.Second, 200)...)
	// The fault at 1 s: 300 ms of 503s from a-1, then a-2 alone.
	var faulted []history.Op
	faulted = append(faulted, steady(0, time.Second, 200)...)
	for at := time.Second; at < 1300*ms; at += 10 * ms {
		faulted = append(faulted, op(at, 5*ms, 503, "a-1"))
	}
	for at := 1300 * ms; at < 3*time.Second; at += 10 * ms {
		faulted = append(faulted, op(at, 5*ms, 200, "a-2"))
	}
	hf := hist(faulted...)
	// A victim that keeps failing to the end: nobody takes over.
	down := hist(append(steady(0, time.Second, 200), steady(time.Second, 3*time.Second, 503)...)...)
	// Fast before the fault, slow during it.
	var slowOps []history.Op
	slowOps = append(slowOps, steady(0, time.Second, 200)...)
	for at := time.Second; at < 3*time.Second; at += 10 * ms {
		slowOps = append(slowOps, op(at, 800*ms, 200, "a-1"))
	}
	slow := hist(slowOps...)
	w1 := map[string]string{"op": "write", "key": "x", "value": "1"}
	w2 := map[string]string{"op": "write", "key": "x", "value": "2"}
	rd := map[string]string{"op": "read", "key": "x"}
	linear := hist(kv(0, 10, w1, nil, 200), kv(20, 30, rd, map[string]string{"value": "1"}, 200))
	stale := hist(kv(0, 10, w1, nil, 200), kv(20, 30, w2, nil, 200), kv(40, 50, rd, map[string]string{"value": "1"}, 200))
	found := func(id string) int {
		switch id {
		case "lost":
			return 0
		case "twice":
			return 2
		}
		return 1
	}
	acked := func(ids ...string) []check.Write {
		var out []check.Write
		for _, id := range ids {
			out = append(out, check.Write{ID: id, Outcome: history.OK})
		}
		return out
	}
	// A client that cannot tell who served it, through the same fault.
	var unnamedOps []history.Op
	for _, o := range faulted {
		o.ServedBy = ""
		unnamedOps = append(unnamedOps, o)
	}
	unnamed := hist(unnamedOps...)
	// A stop that cancels what is in flight is not the system failing.
	stopped := hist(append(steady(0, 3*time.Second, 200), history.Op{Intended: 2 * time.Second, End: 2 * time.Second, Outcome: history.Cancelled})...)
	counterAll := check.Selection{Window: check.Window{To: time.Hour}}
	counterOK := hist(counterOp("add", 0, 10, "2", ""), counterOp("read", 20, 30, "", "2"))
	counterBad := hist(counterOp("add", 0, 10, "2", ""), counterOp("read", 20, 30, "", "3"))
	holds := check.Probe{Name: "holds", Run: func(context.Context) error { return nil }}
	breaks := check.Probe{Name: "breaks", Run: func(context.Context) error { return errors.New("down") }}

	cases := []struct {
		check        string
		green, red   check.Result
		redSaysWhich string
	}{
		{"availability", check.Availability(ok, all, 0.99), check.Availability(down, all, 0.99), "misses"},
		{"latency", check.Latency(ok, all, 50*ms), check.Latency(slow, kill, 50*ms), "misses the bound"},
		{"fail fast", check.FailFast(ok, all, 50*ms), check.FailFast(slow, kill, 50*ms), "p99 800ms"},
		{"isolation", check.Isolation(ok, []string{"accounts"}, before, during, 0.99, 3, 50*ms),
			check.Isolation(slow, []string{"accounts"}, before, during, 0.99, 3, 50*ms), "isolation"},
		{"time to detect: felt", check.Detect(hf, kill, 0), check.Detect(ok, kill, 0), "not felt"},
		{"time to detect: bounded", check.Detect(hf, kill, 10*ms), check.Detect(hf, kill, 2*ms), "bound felt by clients, first failure ≤ 2ms"},
		{"failover", check.Failover(hf, kill, "a-1", time.Second), check.Failover(down, kill, "a-1", time.Second), "no operation was served by a sibling"},
		{"failover: bounded", check.Failover(hf, kill, "a-1", time.Second), check.Failover(hf, kill, "a-1", 100*ms), "bound ≤ 100ms"},
		{"failover: needs ServedBy", check.Failover(hf, kill, "a-1", time.Second), check.Failover(unnamed, kill, "a-1", time.Second), "ServedBy is empty"},
		{"availability: cancelled ops count neither way", check.Availability(stopped, all, 1), check.Availability(down, all, 0.99), "misses"},
		{"time to recover", check.Recover(hf, kill, 0.99, 500*ms, 0), check.Recover(down, kill, 0.99, 500*ms, 0), "not recovered"},
		{"time to recover: bounded", check.Recover(hf, kill, 0.99, 500*ms, time.Second), check.Recover(hf, kill, 0.99, 500*ms, 100*ms), "bound ≤ 100ms"},
		{"linearizability", check.Linearizable(linear, check.Selection{Window: check.Window{To: time.Hour}}, 10*time.Second),
			check.Linearizable(stale, check.Selection{Window: check.Window{To: time.Hour}}, 10*time.Second), "NOT linearizable"},
		{"linearizability: the user's model", check.LinearizableModel(counterOK, counterAll, counter, 10*time.Second),
			check.LinearizableModel(counterBad, counterAll, counter, 10*time.Second), "NOT linearizable"},
		{"no acknowledged write lost", check.NoLoss(acked("a", "b"), found), check.NoLoss(acked("a", "lost"), found), "1 of 2"},
		{"no write duplicated", check.NoLoss(acked("a", "b"), found), check.NoLoss(acked("a", "twice"), found), "duplicated: twice"},
		{"no failed write present", check.NoLoss(acked("a", "b"), found), check.NoLoss(append(acked("a"), check.Write{ID: "b", Outcome: history.Failed}), found), "reported failed are present: b"},
		{"steady state", check.Hypothesis{Name: "h", Probes: []check.Probe{holds}}.Verify(context.Background(), "after"),
			check.Hypothesis{Name: "h", Probes: []check.Probe{holds, breaks}}.Verify(context.Background(), "after"), "breaks: down"},
	}
	for _, tc := range cases {
		t.Run(tc.check, func(t *testing.T) {
			if tc.green.Informative || tc.red.Informative {
				t.Fatalf("a check came back informative: %s / %s", tc.green, tc.red)
			}
			if !tc.green.Pass {
				t.Errorf("green history failed: %s", tc.green)
			}
			if tc.red.Pass || !strings.Contains(tc.red.Message, tc.redSaysWhich) {
				t.Errorf("red history: got pass=%t %q; want a failure saying %q", tc.red.Pass, tc.red.Message, tc.redSaysWhich)
			}
			if got := (check.Results{tc.green, tc.red}).Failed(); len(got) != 1 || got[0].Message != tc.red.Message {
				t.Errorf("Failed() = %v, want the red result alone", got)
			}
		})
	}
}

// TestInformativeResultsAreFiguresNotChecks shows the results that only report figures
// for what they are: never passed, never failed, never counted among the checks.
func TestInformativeResultsAreFiguresNotChecks(t *testing.T) {
	w := check.Window{Name: "w", From: 0, To: time.Second}
	h := hist(steady(0, time.Second, 200)...)
	cases := []struct {
		name string
		r    check.Result
	}{
		{"latency with no bound", check.Latency(h, check.Selection{Window: w}, 0)},
		{"a check made informative", check.Informative(check.Availability(h, check.Selection{Window: w}, 0.99))},
		{"an unfelt detection reported, not judged", check.Informative(check.Detect(h, check.Selection{Window: w}, 0))},
		{"healing", check.Healing(h, 0, "kill a-1")},
		{"self-healing", check.SelfHealing(h, "a-1", 0, 0)},
	}
	failing := check.Availability(hist(steady(0, time.Second, 503)...), check.Selection{Window: w}, 0.99)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			if !r.Informative || r.Pass || r.Bound != "" || !strings.HasPrefix(r.String(), "INFO ") {
				t.Fatalf("want an informative result without verdict or bound, got %+v", r)
			}
			rs := check.Results{r}
			if !rs.Pass() || len(rs.Failed()) != 0 || len(rs.Checks()) != 0 || len(rs.Informative()) != 1 {
				t.Fatalf("an informative result counted as a check: pass %t, failed %v, checks %v", rs.Pass(), rs.Failed(), rs.Checks())
			}
			rs = append(rs, failing)
			if rs.Pass() || len(rs.Failed()) != 1 || len(rs.Checks()) != 1 {
				t.Fatalf("a failing check beside it was hidden: %v", rs)
			}
		})
	}
}

// TestHealingIsFromTheHealsStartToItsEnd reads the heal events of a history.
func TestHealingIsFromTheHealsStartToItsEnd(t *testing.T) {
	h := history.New()
	ev := func(at time.Duration, kind history.EventKind, fault string) {
		h.Record(history.Event{At: at, Kind: kind, Fault: fault})
	}
	ev(1*time.Second, history.FaultInject, "kill i-1")
	ev(1*time.Second, history.FaultInject, "kill i-2")
	ev(7*time.Second, history.FaultHeal, "kill i-1")
	ev(8200*ms, history.FaultHealed, "kill i-1")
	ev(8200*ms, history.FaultHeal, "kill i-2")
	ev(9500*ms, history.FaultHealed, "kill i-2")
	ev(20*time.Second, history.FaultHeal, "kill other")
	ev(21*time.Second, history.FaultHealed, "kill other")

	r := check.Healing(h, 0, "kill i-1", "kill i-2")
	if v, _ := r.Figure("heal_time"); v != 2500 || r.Window.From != 7*time.Second || r.Window.To != 9500*ms {
		t.Fatalf("heal of both = %v ms over %s, want 2500 ms from 7s to 9.5s: %s", v, r.Window, r)
	}
	if v, _ := r.Figure("healed"); v != 2 {
		t.Fatalf("healed = %v, want 2", v)
	}
	if r := check.Healing(h, 10*time.Second, "kill i-1"); !strings.Contains(r.Message, "no heal of kill i-1") {
		t.Fatalf("a heal before from was counted: %s", r)
	}
	failed := history.New()
	failed.Record(history.Event{At: time.Second, Kind: history.FaultHeal, Fault: "kill i-1"})
	failed.Record(history.Event{At: 31 * time.Second, Kind: history.FaultError, Fault: "kill i-1", Err: "not seen healed"})
	if r := check.Healing(failed, 0, "kill i-1"); func() bool { v, _ := r.Figure("heal_time"); return v != 30000 }() {
		t.Fatalf("a failed heal's time = %s, want 30000 ms to its error", r)
	}
}

// TestSelfHealingTimesAreFromTheKill reads a kill's restart from the supervisor's
// events and its first served request from the operations.
func TestSelfHealingTimesAreFromTheKill(t *testing.T) {
	h := hist(
		op(500*ms, 5*ms, 200, "a-1"),   // before the kill
		op(1400*ms, 5*ms, 503, "a-1"),  // after the restart, not served
		op(1900*ms, 10*ms, 200, "a-2"), // a sibling
		op(2000*ms, 10*ms, 200, "a-1"), // the first it served again
		op(2500*ms, 10*ms, 200, "a-1"),
	)
	h.Record(history.Event{At: 1100 * ms, Kind: history.Exit, Target: "a-1"})
	h.Record(history.Event{At: 1300 * ms, Kind: history.Restart, Target: "a-1"})
	r := check.SelfHealing(h, "a-1", time.Second, 1800*ms)
	for name, want := range map[string]float64{"time_to_restart": 300, "time_to_register": 800, "time_to_serve": 1010} {
		if v, ok := r.Figure(name); !ok || v != want {
			t.Errorf("%s = %v (%t), want %v: %s", name, v, ok, want, r)
		}
	}
	if r := check.SelfHealing(h, "a-2", time.Second, 0); !strings.Contains(r.Message, "did not restart a-2") {
		t.Errorf("no restart, but: %s", r)
	}
	r = check.SelfHealing(h, "a-1", time.Second, 0)
	if _, ok := r.Figure("time_to_register"); ok || !strings.Contains(r.Message, "not seen registering") {
		t.Errorf("an unseen registration was given a time: %s", r)
	}
}
