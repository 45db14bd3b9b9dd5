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

// OK tells whether an operation counts as served: an answer below 500 other than 429.
// A 4xx is the caller's problem (a 409 for insufficient funds is a correct answer); a
// 429 is load shed, a 5xx or no answer is the system failing.
func OK(op history.Op) bool {
	return op.Err == "" && op.Status > 0 && op.Status < 500 && op.Status != 429
}

// Class names an operation's outcome for error tables: "ok", "5xx:503", "429",
// "timeout", "refused", "reset", "eof" or "error".
func Class(op history.Op) string {
	if op.Err == "" && op.Status > 0 {
		switch {
		case op.Status == 429:
			return "429"
		case op.Status >= 500:
			return "5xx:" + itoa(op.Status)
		default:
			return "ok"
		}
	}
	e := strings.ToLower(op.Err)
	switch {
	case strings.Contains(e, "timeout") || strings.Contains(e, "deadline"):
		return "timeout"
	case strings.Contains(e, "refused"):
		return "refused"
	case strings.Contains(e, "reset"):
		return "reset"
	case strings.Contains(e, "eof"):
		return "eof"
	}
	return "error"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// latency is how long an operation took from its intended start: what its caller
// waited, including any time it sat behind earlier requests.
func latency(op history.Op) time.Duration { return op.End - op.Intended }
