package check

import (
	"strings"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Selection picks the operations a checker reads: those whose intended start falls in a
// window, on some routes.
type Selection struct {
	Window Window
	// Routes keeps only these routes; empty keeps every route.
	Routes []string
}

// Select returns the operations of h in sel.
func Select(h *history.History, sel Selection) []history.Op {
	var out []history.Op
	for _, op := range h.Ops() {
		if !sel.Window.Contains(op.Intended) {
			continue
		}
		if len(sel.Routes) > 0 && !matchRoute(op.Route, sel.Routes) {
			continue
		}
		out = append(out, op)
	}
	return out
}

// matchRoute matches a route exactly, or by prefix when the pattern ends in '*'.
func matchRoute(route string, patterns []string) bool {
	for _, p := range patterns {
		if p == route || (strings.HasSuffix(p, "*") && strings.HasPrefix(route, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

// OK tells whether an operation counts as served: its outcome is history.OK. What is
// served is the client's call (the HTTP load counts a 4xx as served and a 429 or 5xx as
// not; see load.HTTPOutcome); checkers read only the outcome.
func OK(op history.Op) bool { return op.Outcome == history.OK }

// Counted tells whether an operation counts for or against a system: every outcome but
// history.Cancelled, which the run's own stop cut short.
func Counted(op history.Op) bool { return op.Outcome != history.Cancelled }

// Failed tells whether an operation counts as a failure: counted and not served
// (failed or unknown).
func Failed(op history.Op) bool { return Counted(op) && !OK(op) }

// Class names an operation's outcome for error tables: "ok" when served, else the
// class its client gave ("5xx:503", "429", "timeout", "nack"), else what its error
// text says (history.ErrorClass), else its outcome ("unknown", "failed", "cancelled").
func Class(op history.Op) string {
	switch {
	case OK(op):
		return "ok"
	case op.Class != "":
		return op.Class
	case op.Err != "":
		return history.ErrorClass(op.Err)
	case op.Outcome == "":
		return "unknown"
	}
	return string(op.Outcome)
}

// latency is how long an operation took from its intended start: what its caller
// waited, including any time it sat behind earlier requests.
func latency(op history.Op) time.Duration { return op.End - op.Intended }
