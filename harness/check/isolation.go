package check

import (
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Isolation checks that routes which do not depend on a faulted service keep their SLO
// during the fault: availability at least minAvail, and p99 no worse than factor times
// its value before the fault plus slack (a p99 of 2 ms that becomes 9 ms "barely moves"
// on a busy machine; one that becomes 900 ms does not).
func Isolation(h *history.History, routes []string, before, during Window, minAvail, factor float64, slack time.Duration) Result {
	avail := Availability(h, Selection{Window: during, Routes: routes}, minAvail)
	pb := LatencyOf(h, Selection{Window: before, Routes: routes})
	pd := LatencyOf(h, Selection{Window: during, Routes: routes})
	bound := time.Duration(float64(pb.P99)*factor) + slack
	a, _ := avail.Figure("availability")
	r := Result{
		Check: "isolation", Window: during,
		Bound: fmt.Sprintf("availability ≥ %s and p99 ≤ %.1f×before + %s", pct(minAvail), factor, ms(slack)),
		Figures: []Figure{
			{Name: "availability", Value: a, Unit: "ratio"},
			{Name: "p99_before", Value: msf(pb.P99), Unit: "ms"},
			{Name: "p99_during", Value: msf(pd.P99), Unit: "ms"},
			{Name: "p99_bound", Value: msf(bound), Unit: "ms"},
		},
	}
	switch {
	case pb.Count == 0 || pd.Count == 0:
		r.Message = fmt.Sprintf("isolation: no served operation on %v before (%d) or during (%d) the fault: nothing to compare", routes, pb.Count, pd.Count)
	default:
		r.Pass = avail.Pass && pd.P99 <= bound
		r.Message = fmt.Sprintf("isolation of %v during %s: availability %s (bound %s), p99 %s before → %s during (bound %s)",
			routes, during, pct(a), pct(minAvail), ms(pb.P99), ms(pd.P99), ms(bound))
	}
	return r
}
