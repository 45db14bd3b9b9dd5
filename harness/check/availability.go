package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/harness/history"
)

// Availability measures the share of operations served (see OK) in sel and passes when
// it is at least min. Operations the run's own stop cancelled count neither way (the
// figure "cancelled" says how many there were). It fails, rather than passes, on an
// empty selection: no traffic proves nothing.
func Availability(h *history.History, sel Selection, min float64) Result {
	var ops []history.Op
	ok, cancelled := 0, 0
	classes := map[string]int{}
	for _, op := range Select(h, sel) {
		if !Counted(op) {
			cancelled++
			continue
		}
		ops = append(ops, op)
		if OK(op) {
			ok++
		} else {
			classes[Class(op)]++
		}
	}
	r := Result{Check: "availability", Window: sel.Window, Bound: "≥ " + pct(min)}
	r.Figures = []Figure{{Name: "ops", Value: float64(len(ops))}, {Name: "ok", Value: float64(ok)}}
	if cancelled > 0 {
		r.Figures = append(r.Figures, Figure{Name: "cancelled", Value: float64(cancelled)})
	}
	if len(ops) == 0 {
		r.Message = fmt.Sprintf("availability: no operation %s in %s: nothing to measure", routesText(sel), sel.Window)
		return r
	}
	ratio := float64(ok) / float64(len(ops))
	r.Figures = append(r.Figures, Figure{Name: "availability", Value: ratio, Unit: "ratio"})
	var keys []string
	for k := range classes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []string
	for _, k := range keys {
		r.Figures = append(r.Figures, Figure{Name: "errors." + k, Value: float64(classes[k])})
		errs = append(errs, fmt.Sprintf("%s×%d", k, classes[k]))
	}
	r.Pass = ratio >= min
	r.Message = fmt.Sprintf("availability %s %s (bound %s) over %d ops %s in %s", pct(ratio), cmpWord(r.Pass), r.Bound, len(ops), routesText(sel), sel.Window)
	if len(errs) > 0 {
		r.Message += "; errors: " + strings.Join(errs, ", ")
	}
	if cancelled > 0 {
		r.Message += fmt.Sprintf("; %d cancelled by the run's stop, not counted", cancelled)
	}
	return r
}

func cmpWord(pass bool) string {
	if pass {
		return "meets"
	}
	return "misses"
}

func routesText(sel Selection) string {
	if len(sel.Routes) == 0 {
		return "on every route"
	}
	return "on " + strings.Join(sel.Routes, ", ")
}
