package experiment

import (
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// TestWindowsHoldOnlyWhenEachHasTrafficAndMeetsTheSLO reads synthetic histories: ten
// operations per 100 ms window, some failed.
func TestWindowsHoldOnlyWhenEachHasTrafficAndMeetsTheSLO(t *testing.T) {
	const ms = time.Millisecond
	w := Windows{Width: 100 * ms, N: 3, SLO: 0.9}.withDefaults()
	for _, tc := range []struct {
		name   string
		failed func(at time.Duration) bool // which operations fail
		silent func(at time.Duration) bool // where there is no traffic
		from   time.Duration
		end    time.Duration
		holds  bool
	}{
		{name: "all ok", end: 600 * ms, holds: true},
		{name: "one failure in ten is the SLO", failed: func(at time.Duration) bool { return at%(100*ms) == 0 }, end: 600 * ms, holds: true},
		{name: "two in ten is below it", failed: func(at time.Duration) bool { return at%(100*ms) < 20*ms }, end: 600 * ms},
		{name: "failures before the windows do not count", failed: func(at time.Duration) bool { return at < 300*ms }, end: 600 * ms, holds: true},
		{name: "a failing window among them", failed: func(at time.Duration) bool { return at >= 400*ms && at < 500*ms }, end: 600 * ms},
		{name: "a window without traffic", silent: func(at time.Duration) bool { return at >= 400*ms && at < 500*ms }, end: 600 * ms},
		{name: "windows may not start before from", from: 400 * ms, end: 600 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := history.New()
			for at := time.Duration(0); at < 700*ms; at += 10 * ms {
				if tc.silent != nil && tc.silent(at) {
					continue
				}
				out := history.OK
				if tc.failed != nil && tc.failed(at) {
					out = history.Failed
				}
				h.Add(history.Op{Intended: at, Start: at, End: at + ms, Route: "get", Outcome: out})
			}
			if got := w.held(h, tc.from, tc.end); got != tc.holds {
				t.Fatalf("held = %t, want %t", got, tc.holds)
			}
		})
	}
}
