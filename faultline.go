// Package faultline is what a scenario's assertions read: Gomega matchers over a run's
// history and over checker results, written to read as prose —
//
//	Expect(faultline.During(h, kill)).To(faultline.BeAvailable(0.99))
//	Expect(rec).To(faultline.RecoverWithin(10 * time.Second))
//
// — and to print, on failure, what was measured, against which bound, in which window.
// The matchers call harness/check; they compute nothing of their own.
package faultline

import (
	"fmt"
	"strings"
	"time"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
)

// Spanner is anything with an inject and a heal time on the run's clock: a fault.Active.
type Spanner interface {
	InjectedAt() time.Duration
	HealStartedAt() (time.Duration, bool)
	HealedAt() (time.Duration, bool)
	String() string
}

var _ Spanner = (*fault.Active)(nil)

// Span is a window of a history, on some routes: what the matchers measure.
type Span struct {
	History *history.History
	Window  check.Window
	Routes  []string
}

// Selection is the span as a checker's selection.
func (s Span) Selection() check.Selection { return check.Selection{Window: s.Window, Routes: s.Routes} }

// On narrows the span to some routes ("accounts", or "accounts*" for a prefix).
func (s Span) On(routes ...string) Span { s.Routes = routes; return s }

// During is the span from a fault's injection to the start of its heal (or to now,
// while it acts).
func During(h *history.History, f Spanner) Span {
	to, healed := f.HealStartedAt()
	if !healed {
		to = h.Now()
	}
	return Span{History: h, Window: check.Window{Name: "during " + f.String(), From: f.InjectedAt(), To: to}}
}

// Before is the span from the start of the run to a fault's injection.
func Before(h *history.History, f Spanner) Span {
	return Span{History: h, Window: check.Window{Name: "before " + f.String(), From: 0, To: f.InjectedAt()}}
}

// After is the span from the end of a fault's heal to now.
func After(h *history.History, f Spanner) Span {
	from, healed := f.HealedAt()
	if !healed {
		from = h.Now()
	}
	return Span{History: h, Window: check.Window{Name: "after " + f.String(), From: from, To: h.Now() + 1}}
}

// SinceHeal is the span from the start of the earliest heal of faults to now: where a
// time to recover is measured from, so that what a heal takes (restarting a killed
// instance and waiting for it to answer) counts in it, rather than from the heal's end,
// when the harness has already waited for the system to be healthy. A fault whose heal
// has not begun starts the span now.
func SinceHeal(h *history.History, faults ...Spanner) Span {
	now := h.Now()
	from := time.Duration(-1)
	var names []string
	for _, f := range faults {
		names = append(names, f.String())
		if at, ok := f.HealStartedAt(); ok && (from < 0 || at < from) {
			from = at
		}
	}
	if from < 0 {
		from = now
	}
	return Span{History: h, Window: check.Window{Name: "the heal of " + strings.Join(names, ", "), From: from, To: max(now, from) + 1}}
}

// Between is the span of an explicit window.
func Between(h *history.History, name string, from, to time.Duration) Span {
	return Span{History: h, Window: check.Window{Name: name, From: from, To: to}}
}

// resultMatcher builds a matcher from a function that turns the actual value into a
// checker result; its failure message is the result's own. An informative result has no
// verdict to match (it only reports figures), so matching one is an error, not a pass.
func resultMatcher(measure func(actual any) (check.Result, error)) types.GomegaMatcher {
	var last check.Result
	return gcustom.MakeMatcher(func(actual any) (bool, error) {
		r, err := measure(actual)
		if err != nil {
			return false, err
		}
		if r.Informative {
			return false, fmt.Errorf("%s is an informative result (figures without a bound), not a check: there is nothing to pass or fail: %s", r.Check, r.Message)
		}
		last = r
		return r.Pass, nil
	}).WithTemplate("{{.Data.Verdict}}", &verdict{r: &last})
}

type verdict struct{ r *check.Result }

// Verdict is the message the failure template prints.
func (v *verdict) Verdict() string {
	if v.r.Pass {
		return "expected this check to fail, but it passed: " + v.r.Message
	}
	return "check failed: " + v.r.Message
}

func span(actual any, matcher string) (Span, error) {
	s, ok := actual.(Span)
	if !ok {
		return Span{}, fmt.Errorf("%s expects a faultline.Span (from During, Before, After or Between), got %T", matcher, actual)
	}
	return s, nil
}

// BeAvailable passes when at least min of the span's operations were served.
func BeAvailable(min float64) types.GomegaMatcher {
	return resultMatcher(func(actual any) (check.Result, error) {
		s, err := span(actual, "BeAvailable")
		if err != nil {
			return check.Result{}, err
		}
		return check.Availability(s.History, s.Selection(), min), nil
	})
}

// HaveP99Within passes when the p99 latency of the span's served operations is at most
// d; d must be above zero (check.Latency with no bound only reports figures).
func HaveP99Within(d time.Duration) types.GomegaMatcher {
	return resultMatcher(func(actual any) (check.Result, error) {
		s, err := span(actual, "HaveP99Within")
		if err != nil {
			return check.Result{}, err
		}
		return check.Latency(s.History, s.Selection(), d), nil
	})
}

// BeLinearizable passes when porcupine finds the span's kv operations linearizable.
func BeLinearizable() types.GomegaMatcher { return BeLinearizableAs(check.KV) }

// BeLinearizableAs passes when porcupine finds the span's operations linearizable
// against the user's own model m (see check.Model).
func BeLinearizableAs(m check.Model) types.GomegaMatcher {
	return resultMatcher(func(actual any) (check.Result, error) {
		s, err := span(actual, "BeLinearizable")
		if err != nil {
			return check.Result{}, err
		}
		return check.LinearizableModel(s.History, s.Selection(), m, time.Minute), nil
	})
}

// Pass passes when a checker result passed, or when every check of a list did; its
// failure message is the result's. Informative results in a list are left out (they
// judge nothing); a list with no check at all is an error, since nothing was judged.
func Pass() types.GomegaMatcher {
	return resultMatcher(func(actual any) (check.Result, error) {
		switch r := actual.(type) {
		case check.Result:
			return r, nil
		case check.Results:
			if len(r.Checks()) == 0 {
				return check.Result{}, fmt.Errorf("Pass: the %d results hold no check, only figures: nothing was judged:\n%s", len(r), r)
			}
			out := check.Result{Check: "all", Pass: r.Pass(), Message: r.String()}
			if f := r.Failed(); len(f) > 0 {
				out.Message = f.String()
			}
			return out, nil
		}
		return check.Result{}, fmt.Errorf("Pass expects a check.Result or check.Results, got %T", actual)
	})
}

// figureWithin builds a matcher over a result that carries a time figure: it passes
// when the result itself passed and the figure is at most d, so that a bound given here
// never turns a failed check green.
func figureWithin(name, figure string, d time.Duration) types.GomegaMatcher {
	return resultMatcher(func(actual any) (check.Result, error) {
		r, ok := actual.(check.Result)
		if !ok {
			return check.Result{}, fmt.Errorf("%s expects a check.Result, got %T", name, actual)
		}
		v, ok := r.Figure(figure)
		if !ok {
			r.Pass = false
			r.Message = fmt.Sprintf("%s: no %s was measured: %s", name, figure, r.Message)
			return r, nil
		}
		measured := time.Duration(v * float64(time.Millisecond))
		r.Pass = r.Pass && measured <= d
		r.Message = fmt.Sprintf("%s %s, bound %s: %s", figure, measured.Round(time.Millisecond), d, r.Message)
		return r, nil
	})
}

// RecoverWithin passes when a check.Recover result measured a time to recover of at
// most d.
func RecoverWithin(d time.Duration) types.GomegaMatcher {
	return figureWithin("RecoverWithin", "time_to_recover", d)
}

// FailOverWithin passes when a check.Failover result measured a time to fail over of at
// most d.
func FailOverWithin(d time.Duration) types.GomegaMatcher {
	return figureWithin("FailOverWithin", "time_to_failover", d)
}
