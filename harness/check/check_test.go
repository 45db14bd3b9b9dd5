package check_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
)

const ms = time.Millisecond

// op is a shorthand for hand-written histories: intended = start = at, end = at+took.
func op(at, took time.Duration, status int, servedBy string) history.Op {
	return history.Op{Intended: at, Start: at, End: at + took, Route: "accounts", Status: status, ServedBy: servedBy}
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
		{"transport errors", []history.Op{{Intended: 1, End: 2, Err: "dial tcp: connection refused"}}, 0.5, false, "refused×1"},
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

	det := check.Detect(h, sel)
	if v, _ := det.Figure("time_to_detect"); v != 5 {
		t.Fatalf("time to detect = %v ms, want 5: %s", v, det)
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
	never := hist(append(steady(0, time.Second, 200), steady(time.Second, 3*time.Second, 503)...)...)
	if r := check.Recover(never, sel, 0.99, 500*ms, 0); r.Pass || !strings.Contains(r.Message, "not recovered") {
		t.Fatalf("a system that never recovered passed: %s", r)
	}
	if r := check.Detect(hist(steady(0, 3*time.Second, 200)...), sel); !strings.Contains(r.Message, "not felt") {
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
	return history.Op{Start: start, Intended: start, End: end, Route: "kv", Status: status, Input: in, Output: out}
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
		{"unknown write may have happened", []history.Op{{Start: 0, End: 10, Input: w("x", "1"), Err: "timeout"}, kv(20, 30, rd("x"), val("1"), 200)}, true},
		{"unknown write may not have happened", []history.Op{{Start: 0, End: 10, Input: w("x", "1"), Status: 503}, kv(20, 30, rd("x"), val(""), 200)}, true},
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
	present := map[string]bool{"a": true, "b": true}
	if r := check.NoLoss([]string{"a", "b"}, func(id string) bool { return present[id] }); !r.Pass {
		t.Fatal(r)
	}
	r := check.NoLoss([]string{"a", "b", "c"}, func(id string) bool { return present[id] })
	if r.Pass || !strings.Contains(r.Message, "1 of 3 acknowledged writes are lost: c") {
		t.Fatalf("a lost write passed: %s", r)
	}
	if r := check.NoLoss(nil, func(string) bool { return true }); r.Pass {
		t.Fatal("nothing acknowledged passed")
	}
}
