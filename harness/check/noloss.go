package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/harness/history"
)

// Write is one write whose fate NoLoss judges: its id, and how its client saw it end.
type Write struct {
	ID      string
	Outcome history.Outcome
}

// WritesOf reads the writes among ops: id names an operation's write, or returns ""
// for an operation that is not one.
func WritesOf(ops []history.Op, id func(history.Op) string) []Write {
	var out []Write
	for _, op := range ops {
		if w := id(op); w != "" {
			out = append(out, Write{ID: w, Outcome: op.Outcome})
		}
	}
	return out
}

// NoLoss checks that every acknowledged write is still there after the run, once:
// found says how many times a write is present now (0: absent). It counts the
// acknowledged writes (history.OK) that are lost, the writes present more than once
// (duplicated, whatever their outcome), the writes with no definite outcome (unknown,
// or cancelled by the run's stop) that are present anyway — allowed, they may have
// taken effect — and the failed writes that are present, which is as wrong as a loss:
// a client told a write definitely failed must not find it. It passes when at least
// one write was acknowledged and none is lost, duplicated or failed-but-present.
func NoLoss(writes []Write, found func(id string) int) Result {
	var lost, dup, failedPresent []string
	acked, unknown, unknownPresent := 0, 0, 0
	for _, w := range writes {
		n := found(w.ID)
		if n > 1 {
			dup = append(dup, w.ID)
		}
		switch w.Outcome {
		case history.OK:
			acked++
			if n == 0 {
				lost = append(lost, w.ID)
			}
		case history.Failed:
			if n > 0 {
				failedPresent = append(failedPresent, w.ID)
			}
		default:
			unknown++
			if n > 0 {
				unknownPresent++
			}
		}
	}
	for _, l := range [][]string{lost, dup, failedPresent} {
		slices.Sort(l)
	}
	r := Result{Check: "no acknowledged write lost", Bound: "0 lost, 0 duplicated, 0 failed but present", Window: Window{Name: "after the run"}, Figures: []Figure{
		{Name: "writes", Value: float64(len(writes))},
		{Name: "acknowledged", Value: float64(acked)}, {Name: "lost", Value: float64(len(lost))},
		{Name: "duplicated", Value: float64(len(dup))},
		{Name: "unknown", Value: float64(unknown)}, {Name: "unknown_present", Value: float64(unknownPresent)},
		{Name: "failed_present", Value: float64(len(failedPresent))},
	}}
	r.Pass = acked > 0 && len(lost) == 0 && len(dup) == 0 && len(failedPresent) == 0
	unknownText := ""
	if unknown > 0 {
		unknownText = fmt.Sprintf("; %d of %d writes with no definite outcome are present", unknownPresent, unknown)
	}
	switch {
	case acked == 0:
		r.Message = fmt.Sprintf("no write was acknowledged (%d written): nothing proves durability", len(writes))
	case r.Pass:
		r.Message = fmt.Sprintf("all %d acknowledged writes are present, each once%s", acked, unknownText)
	default:
		var bad []string
		if len(lost) > 0 {
			bad = append(bad, fmt.Sprintf("%d of %d acknowledged writes are lost: %s", len(lost), acked, shown(lost)))
		}
		if len(dup) > 0 {
			bad = append(bad, fmt.Sprintf("%d writes are duplicated: %s", len(dup), shown(dup)))
		}
		if len(failedPresent) > 0 {
			bad = append(bad, fmt.Sprintf("%d writes reported failed are present: %s", len(failedPresent), shown(failedPresent)))
		}
		r.Message = strings.Join(bad, "; ") + unknownText
	}
	return r
}

// shown lists up to ten ids.
func shown(ids []string) string {
	s := strings.Join(ids[:min(len(ids), 10)], ", ")
	if len(ids) > 10 {
		s += fmt.Sprintf(" and %d more", len(ids)-10)
	}
	return s
}
