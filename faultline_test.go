package faultline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
)

type fakeFault struct{ in, out time.Duration }

func (f fakeFault) InjectedAt() time.Duration            { return f.in }
func (f fakeFault) HealStartedAt() (time.Duration, bool) { return f.out, true }
func (f fakeFault) HealedAt() (time.Duration, bool)      { return f.out + time.Millisecond, true }
func (f fakeFault) String() string                       { return "kill accounts-1" }

// httpOp is op answered with an HTTP status, as the HTTP load records it.
func httpOp(op history.Op, status int) history.Op {
	op.Outcome, op.Class = load.HTTPOutcome(status, nil)
	return op
}

func TestMatchersPrintTheFigureTheBoundAndTheWindow(t *testing.T) {
	h := history.New()
	for at := time.Duration(0); at < 3*time.Second; at += 10 * time.Millisecond {
		status := 200
		if at >= time.Second && at < 1200*time.Millisecond {
			status = 503
		}
		h.Add(httpOp(history.Op{Intended: at, Start: at, End: at + 5*time.Millisecond, Route: "accounts"}, status))
	}
	kill := fakeFault{in: time.Second, out: 2 * time.Second}
	g := gomega.NewWithT(t)
	g.Expect(faultline.Before(h, kill)).To(faultline.BeAvailable(0.99))
	g.Expect(faultline.During(h, kill).On("accounts")).To(faultline.BeAvailable(0.75))
	g.Expect(faultline.During(h, kill)).To(faultline.HaveP99Within(50 * time.Millisecond))

	m := faultline.BeAvailable(0.99)
	ok, err := m.Match(faultline.During(h, kill))
	if err != nil || ok {
		t.Fatalf("80%% available passed 99%%: %v %v", ok, err)
	}
	msg := m.FailureMessage(faultline.During(h, kill))
	for _, want := range []string{"80.00%", "≥ 99.00%", "during kill accounts-1 [1.0s, 2.0s]", "5xx:503×20"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message %q lacks %q", msg, want)
		}
	}

	rec := check.Recover(h, faultline.During(h, kill).Selection(), 0.99, 200*time.Millisecond, 0)
	g.Expect(rec).To(faultline.RecoverWithin(time.Second))
	m = faultline.RecoverWithin(100 * time.Millisecond)
	if ok, _ := m.Match(rec); ok {
		t.Fatal("a 200 ms recovery passed a 100 ms bound")
	}
	if msg := m.FailureMessage(rec); !strings.Contains(msg, "time_to_recover 200ms, bound 100ms") {
		t.Fatalf("failure message %q", msg)
	}
	if _, err := faultline.BeAvailable(0.9).Match(42); err == nil || !strings.Contains(err.Error(), "faultline.Span") {
		t.Fatalf("a wrong actual gave %v", err)
	}
	g.Expect(check.Results{rec}).To(faultline.Pass())
}

// TestMatchersNeverPassWhatJudgesNothing: a bound given to a matcher never turns a
// failed check green, an informative result has no verdict to match, and a list with
// no check is not a pass.
func TestMatchersNeverPassWhatJudgesNothing(t *testing.T) {
	h := history.New()
	for at := time.Duration(0); at < 3*time.Second; at += 10 * time.Millisecond {
		status, by := 200, "accounts-2"
		if at >= time.Second {
			status, by = 503, "accounts-1" // the victim fails to the end: nobody took over
		}
		h.Add(httpOp(history.Op{Intended: at, Start: at, End: at + 5*time.Millisecond, Route: "accounts", ServedBy: by}, status))
	}
	kill := fakeFault{in: time.Second, out: 3 * time.Second}
	fo := check.Failover(h, faultline.During(h, kill).Selection(), "accounts-1", 0)
	if fo.Pass {
		t.Fatalf("setup: failover passed: %s", fo)
	}
	if ok, err := faultline.FailOverWithin(time.Hour).Match(fo); ok || err != nil {
		t.Fatalf("FailOverWithin(1h) passed a failed failover: %t %v", ok, err)
	}
	lat := check.Latency(h, faultline.During(h, kill).Selection(), 0)
	if _, err := faultline.Pass().Match(lat); err == nil || !strings.Contains(err.Error(), "informative") {
		t.Fatalf("an informative result matched: %v", err)
	}
	if _, err := faultline.HaveP99Within(0).Match(faultline.During(h, kill)); err == nil {
		t.Fatal("HaveP99Within(0) judged a p99 against no bound")
	}
	if _, err := faultline.Pass().Match(check.Results{lat}); err == nil || !strings.Contains(err.Error(), "no check") {
		t.Fatalf("a list of figures passed: %v", err)
	}
	ok, err := faultline.Pass().Match(check.Results{lat, fo})
	if ok || err != nil {
		t.Fatalf("a failed check beside a figure passed: %t %v", ok, err)
	}
}

// TestSinceHealStartsAtTheHealsStart: a time to recover is measured from the start of
// the earliest heal, not from its end.
func TestSinceHealStartsAtTheHealsStart(t *testing.T) {
	h := history.New()
	a, b := fakeFault{in: time.Second, out: 5 * time.Second}, fakeFault{in: time.Second, out: 4 * time.Second}
	s := faultline.SinceHeal(h, a, b)
	if s.Window.From != 4*time.Second || s.Window.To <= h.Now() || s.Window.Name != "the heal of kill accounts-1, kill accounts-1" {
		t.Fatalf("SinceHeal = %s, want from 4s to now", s.Window)
	}
}

// TestBeLinearizableAsTakesAModel: the matcher checks the span against the model it is
// given, and fails with porcupine's verdict on a stale read.
func TestBeLinearizableAsTakesAModel(t *testing.T) {
	h := history.New()
	add := func(at time.Duration, in, out map[string]string) {
		h.Add(history.Op{Intended: at, Start: at, End: at + 5*time.Millisecond, Route: "kv", Outcome: history.OK, Input: in, Output: out})
	}
	add(0, map[string]string{"op": check.KVWrite, "key": "x", "value": "1"}, nil)
	add(10*time.Millisecond, map[string]string{"op": check.KVWrite, "key": "x", "value": "2"}, nil)
	add(20*time.Millisecond, map[string]string{"op": check.KVRead, "key": "x"}, map[string]string{"value": "2"})
	span := faultline.Between(h, "all", 0, time.Second)
	if ok, err := faultline.BeLinearizableAs(check.KV).Match(span); !ok || err != nil {
		t.Fatalf("a linearizable history failed: %t %v", ok, err)
	}
	add(30*time.Millisecond, map[string]string{"op": check.KVRead, "key": "x"}, map[string]string{"value": "1"})
	m := faultline.BeLinearizableAs(check.KV)
	if ok, _ := m.Match(span); ok || !strings.Contains(m.FailureMessage(span), "NOT linearizable") {
		t.Fatalf("a stale read passed: %s", m.FailureMessage(span))
	}
}
