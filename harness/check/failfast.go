package check

import (
	"fmt"
	"slices"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// FailFast checks that callers did not hang while a dependency was gone: every counted
// operation of sel got an answer (it has no Err: a status, not a timeout or a dropped
// connection), and the p99 of all of them, served or failed, from each one's intended
// start to its end, is at most within. A selection without operations fails: a fault
// nobody called through proves nothing.
func FailFast(h *history.History, sel Selection, within time.Duration) Result {
	var ops []history.Op
	for _, op := range Select(h, sel) {
		if Counted(op) { // not cut short by the load's own stop
			ops = append(ops, op)
		}
	}
	r := Result{Check: "fail fast", Window: sel.Window, Bound: "every op answered, p99 of all ops ≤ " + within.String()}
	var lat []time.Duration
	answered, failed := 0, 0
	for _, op := range ops {
		lat = append(lat, op.End-op.Intended)
		if op.Err == "" {
			answered++
		}
		if !OK(op) {
			failed++
		}
	}
	r.Figures = []Figure{{Name: "ops", Value: float64(len(ops))}, {Name: "answered", Value: float64(answered)}, {Name: "failed", Value: float64(failed)}}
	if len(ops) == 0 {
		r.Message = fmt.Sprintf("fail fast: no operation on %v in %s: nothing to measure", sel.Routes, sel.Window)
		return r
	}
	slices.Sort(lat)
	p99 := lat[(len(lat)*99+99)/100-1]
	p50 := lat[(len(lat)+1)/2-1]
	r.Figures = append(r.Figures,
		Figure{Name: "p50_all", Value: msf(p50), Unit: "ms"},
		Figure{Name: "p99_all", Value: msf(p99), Unit: "ms"},
		Figure{Name: "max_all", Value: msf(lat[len(lat)-1]), Unit: "ms"})
	r.Pass = answered == len(ops) && p99 <= within
	r.Message = fmt.Sprintf("fail fast on %v in %s: %d of %d ops answered (%d failed); p50 %s, p99 %s, max %s over all ops (bound p99 ≤ %s)",
		sel.Routes, sel.Window, answered, len(ops), failed, p50.Round(time.Millisecond), p99.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), within)
	return r
}
