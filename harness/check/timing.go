package check

import (
	"fmt"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Detect checks that clients felt the fault: it measures the time to detect, from the
// fault at sel.Window.From to the end of the first operation in sel that was not
// served, and passes when there is such an operation and, when within is above zero, it
// ended at most within after the fault began. A fault nobody noticed proves nothing
// about how it is handled, so an unfelt fault fails. Where clients are not expected to
// notice (a failover the gateway's retries hide), report the figure without judging
// it: Informative(Detect(h, sel, 0)).
func Detect(h *history.History, sel Selection, within time.Duration) Result {
	r := Result{Check: "time to detect", Window: sel.Window, Bound: "felt by clients"}
	if within > 0 {
		r.Bound += ", first failure ≤ " + ms(within)
	}
	for _, op := range Select(h, sel) {
		if Failed(op) {
			d := op.End - sel.Window.From
			r.Figures = []Figure{{Name: "detected", Value: 1}, {Name: "time_to_detect", Value: msf(d), Unit: "ms"}}
			r.Pass = within == 0 || d <= within
			r.Message = fmt.Sprintf("first failure %s after %s began (%s; bound %s)", ms(d), sel.Window.Name, Class(op), r.Bound)
			return r
		}
	}
	r.Figures = []Figure{{Name: "detected", Value: 0}}
	r.Message = fmt.Sprintf("no failed operation %s in %s: the fault was not felt by clients", routesText(sel), sel.Window)
	return r
}

// Failover measures the time to fail over from the lost instance victim: from
// sel.Window.From until the end of the last operation in sel that failed or was served
// by the victim. It passes when, after that moment, traffic flowed and only siblings
// served it, and the time is at most within (zero: no bound). It needs to know who
// served what (history.Op.ServedBy): when no served operation in sel says, it fails
// and says so, rather than take the silence for a sibling.
func Failover(h *history.History, sel Selection, victim string, within time.Duration) Result {
	ops := Select(h, sel)
	var last time.Duration = -1
	served, known := 0, 0
	for _, op := range ops {
		if Failed(op) || op.ServedBy == victim {
			last = max(last, op.End)
		}
		if OK(op) {
			served++
			if op.ServedBy != "" {
				known++
			}
		}
	}
	after, unnamed, siblings := 0, 0, map[string]bool{}
	for _, op := range ops {
		if op.Intended > last && OK(op) {
			after++
			if op.ServedBy == "" {
				unnamed++
				continue
			}
			siblings[op.ServedBy] = true
		}
	}
	d := max(last-sel.Window.From, 0)
	r := Result{Check: "failover", Window: sel.Window, Figures: []Figure{
		{Name: "time_to_failover", Value: msf(d), Unit: "ms"},
		{Name: "ops_after", Value: float64(after)},
		{Name: "siblings", Value: float64(len(siblings))},
	}}
	if within > 0 {
		r.Bound = "≤ " + ms(within)
	}
	switch {
	case served > 0 && known == 0:
		r.Message = fmt.Sprintf("failover from %s: none of the %d served operations in %s says which instance served it (ServedBy is empty): failover cannot be told apart from the victim answering; record ServedBy in the load", victim, served, sel.Window)
	case after > 0 && len(siblings) == 0:
		r.Message = fmt.Sprintf("failover from %s: none of the %d operations served after the last failure in %s says which instance served it (ServedBy is empty)", victim, after, sel.Window)
	case after == 0:
		r.Message = fmt.Sprintf("failover from %s: no operation was served by a sibling after the last failure in %s", victim, sel.Window)
	default:
		r.Pass = within == 0 || d <= within
		r.Message = fmt.Sprintf("failover from %s took %s (bound %s); then %d ops served by %d sibling(s) in %s", victim, ms(d), orNone(r.Bound), after, len(siblings), sel.Window)
		if unnamed > 0 {
			r.Message += fmt.Sprintf(", %d of them not saying by which instance", unnamed)
		}
	}
	return r
}

// Recover measures the time to recover: from sel.Window.From until the start of the
// first sliding window of width w (stepped by w/10) after which every window with
// traffic meets availability slo. Start the selection where the system has to come
// back from: the start of a heal (faultline.SinceHeal), so that what the heal itself
// takes (restarting a killed instance, waiting for it to answer) counts; or the kill,
// for a fault the system must absorb with no heal (faultline.During). A system that
// never dropped below the SLO recovers at once (0 ms, windows_below_slo 0). It passes when the
// selection ends recovered and the time is at most within (zero: no bound), and fails
// on a selection without traffic.
func Recover(h *history.History, sel Selection, slo float64, w, within time.Duration) Result {
	ops := Select(h, sel)
	r := Result{Check: "time to recover", Window: sel.Window}
	if within > 0 {
		r.Bound = "≤ " + ms(within)
	}
	if len(ops) == 0 {
		r.Message = fmt.Sprintf("recovery: no operation %s in %s: nothing to measure", routesText(sel), sel.Window)
		return r
	}
	if w <= 0 {
		w = time.Second
	}
	step := w / 10
	end := ops[len(ops)-1].Intended
	for _, op := range ops {
		end = max(end, op.Intended)
	}
	recovered, below := time.Duration(-1), 0
	for t := sel.Window.From; t+w <= end+step; t += step {
		total, ok := 0, 0
		for _, op := range ops {
			if op.Intended >= t && op.Intended < t+w && Counted(op) {
				total++
				if OK(op) {
					ok++
				}
			}
		}
		meets := total > 0 && float64(ok)/float64(total) >= slo
		switch {
		case !meets && total > 0:
			recovered = -1
			below++
		case meets && recovered < 0:
			recovered = t
		}
	}
	if recovered < 0 {
		r.Figures = []Figure{{Name: "recovered", Value: 0}}
		r.Message = fmt.Sprintf("not recovered: no %s window after %s began meets availability %s through to its end", ms(w), sel.Window.Name, pct(slo))
		return r
	}
	d := recovered - sel.Window.From
	r.Figures = []Figure{{Name: "recovered", Value: 1}, {Name: "time_to_recover", Value: msf(d), Unit: "ms"}, {Name: "windows_below_slo", Value: float64(below)}}
	r.Pass = within == 0 || d <= within
	if below == 0 {
		r.Message = fmt.Sprintf("no %s window after %s began missed availability %s: recovered at once (0ms; bound %s)", ms(w), sel.Window.Name, pct(slo), orNone(r.Bound))
		return r
	}
	r.Message = fmt.Sprintf("recovered %s after %s (every %s window from then on meets availability %s; bound %s)", ms(d), sel.Window.Name, ms(w), pct(slo), orNone(r.Bound))
	return r
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
