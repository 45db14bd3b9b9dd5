package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/history"
)

// Window is a span of the run's clock, named for people ("during kill accounts-1").
type Window struct {
	Name string        `json:"name"`
	From time.Duration `json:"from_ns"`
	To   time.Duration `json:"to_ns"`
}

// String reads "during kill accounts-1 [12.0s, 22.0s]".
func (w Window) String() string {
	return fmt.Sprintf("%s [%.1fs, %.1fs]", w.Name, w.From.Seconds(), w.To.Seconds())
}

// Contains tells whether t falls in [From, To).
func (w Window) Contains(t time.Duration) bool { return t >= w.From && t < w.To }

// Whole is the window of a whole history: from 0 to just past its last operation or event.
func Whole(h *history.History) Window {
	var end time.Duration
	for _, op := range h.Ops() {
		end = max(end, op.End)
	}
	for _, e := range h.Events() {
		end = max(end, e.At)
	}
	return Window{Name: "whole run", From: 0, To: end + 1}
}

// Figure is one measured number.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Result is what a checker found. It is either a check, which judges its figures
// against a bound and can go red, or an informative result (Informative set), which
// only reports figures: a time to detect nobody bounds, the time a heal took. Only
// checks count as checks: Results.Pass and Failed, the report's "N of M checks passed",
// its check tables and JUnit skip informative results and show them as figures.
type Result struct {
	// Check names the checker ("availability").
	Check string `json:"check"`
	// Window is where it looked.
	Window Window `json:"window"`
	// Pass tells whether the bound held. It is false for an informative result, which
	// has no bound to hold.
	Pass bool `json:"pass"`
	// Informative marks a result that reports figures and judges nothing: it cannot
	// fail, so it must never be counted or shown as a passed check.
	Informative bool `json:"informative,omitempty"`
	// Bound says what was required ("≥ 99%"); empty for an informative result.
	Bound string `json:"bound,omitempty"`
	// Figures are the measurements.
	Figures []Figure `json:"figures"`
	// Message says what was measured, against what, in which window.
	Message string `json:"message"`
	// Artifacts keep what makes a failed check debuggable, such as porcupine's
	// visualisation of a history that is not linearizable; the report saves and links
	// them next to the scenario.
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// Artifact is a file a check leaves for people to debug it with.
type Artifact struct {
	// Name says what it is ("porcupine visualisation").
	Name string `json:"name"`
	// File is its file name: before it is saved, the name it asks for
	// ("linearizability.html"); once saved, its path relative to the report's directory.
	File string `json:"file"`
	// Type is its media type ("text/html").
	Type string `json:"type,omitempty"`
	// Data is its content until the report saves it; it never goes into JSON.
	Data []byte `json:"-"`
}

// Figure returns the value of the named figure and whether it is there.
func (r Result) Figure(name string) (float64, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}

// Informative turns a checker's result into a figure that is only reported: whatever
// the checker judged is dropped (Pass false, no bound), so that a measurement nobody
// bounds is never shown or counted as a passed check.
func Informative(r Result) Result {
	r.Informative, r.Pass, r.Bound = true, false, ""
	return r
}

// String is the result's message with its verdict: PASS, FAIL, or INFO for an
// informative result.
func (r Result) String() string {
	verdict := "PASS"
	switch {
	case r.Informative:
		verdict = "INFO"
	case !r.Pass:
		verdict = "FAIL"
	}
	return verdict + " " + r.Message
}

// Results is the outcome of several checkers.
type Results []Result

// Pass tells whether every check passed; informative results do not count. A list
// without any check passes: callers that need one say so (faultline.Pass does).
func (rs Results) Pass() bool {
	for _, r := range rs {
		if !r.Informative && !r.Pass {
			return false
		}
	}
	return true
}

// Failed returns the checks that did not pass; informative results never fail.
func (rs Results) Failed() Results {
	var out Results
	for _, r := range rs {
		if !r.Informative && !r.Pass {
			out = append(out, r)
		}
	}
	return out
}

// Checks returns the results that are checks, in order, without the informative ones.
func (rs Results) Checks() Results {
	var out Results
	for _, r := range rs {
		if !r.Informative {
			out = append(out, r)
		}
	}
	return out
}

// Informative returns the informative results, in order: the figures that are only
// reported.
func (rs Results) Informative() Results {
	var out Results
	for _, r := range rs {
		if r.Informative {
			out = append(out, r)
		}
	}
	return out
}

// String lists every result on its own line.
func (rs Results) String() string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
}
