// Package suitetime splits a scenario suite's saved outcomes (harness/report's
// scenarios.json) into the time its scenarios inherently need — each fault's active
// span, from injection to healed, and each measured recovery — and the time they spend
// around it, so that a suite's wall time can be set against what it could not do without.
//
// It reads report data only; it imports harness/report and nothing that runs anything.
package suitetime

import (
	"slices"
	"time"

	"github.com/faultline/faultline/harness/report"
)

// Split is where a suite's scenarios spent their time.
type Split struct {
	// Scenarios counts the scenarios that ran (skipped ones excluded); Failed those of
	// them that failed.
	Scenarios, Failed int
	// Durations is the sum of the scenarios' own wall times.
	Durations time.Duration
	// FaultActive is the sum, over scenarios, of the time at least one fault was active:
	// the union of each fault's span from injection to healed.
	FaultActive time.Duration
	// Recovery is the sum, over scenarios, of the part of each measured recovery that
	// lies after its faults were healed: a recovery runs from the heal's start (or the
	// injection, for a fault the system must absorb), so the part before the heal ended
	// is fault-active time already and is not counted twice.
	Recovery time.Duration
	// Lead is the sum, over scenarios with faults, of the time from the scenario's start
	// to its first injection (steady-state check, load settling); Trail of the time from
	// its last heal to its end (observing recovery, steady-state check after).
	Lead, Trail time.Duration
	// Unfaulted is the sum of the durations of scenarios that applied no fault (an
	// overload, a new instance joining): all of it is around, none inherent.
	Unfaulted time.Duration
}

// Inherent is the time the scenarios cannot do without: faults active plus recovery.
func (s Split) Inherent() time.Duration { return s.FaultActive + s.Recovery }

// Of splits a run's scenarios.
func Of(run report.Run) Split {
	var s Split
	for _, sc := range run.Scenarios {
		if sc.Verdict == report.Skipped {
			continue
		}
		s.Scenarios++
		if sc.Verdict == report.Fail {
			s.Failed++
		}
		s.Durations += sc.Duration
		s.FaultActive += active(sc)
		if first, last, ok := bounds(sc); ok {
			s.Lead += max(0, first-sc.Window.From)
			s.Trail += max(0, sc.Window.To-last)
		} else {
			s.Unfaulted += sc.Duration
		}
		s.Recovery += recoveryAfterHeal(sc)
	}
	return s
}

// active is the length of the union of a scenario's fault spans. A fault without a
// healed time counts until its heal started, else until the scenario's window ends.
func active(sc report.Scenario) time.Duration {
	type span struct{ from, to time.Duration }
	var spans []span
	for _, f := range sc.Faults {
		to := f.HealedAt
		if to == 0 {
			to = f.HealStartedAt
		}
		if to == 0 {
			to = sc.Window.To
		}
		if to > f.InjectedAt {
			spans = append(spans, span{f.InjectedAt, to})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return int(a.from - b.from) })
	var total, end time.Duration
	for i, sp := range spans {
		if i == 0 || sp.from > end {
			total += sp.to - sp.from
			end = sp.to
			continue
		}
		if sp.to > end {
			total += sp.to - end
			end = sp.to
		}
	}
	return total
}

// recoveryAfterHeal is the part of a scenario's measured recovery that ends after its
// last fault was healed. The recovery starts where sc.RecoveryFrom says: the last heal's
// start, the first injection, or (schema 1 reports) the last heal's end.
func recoveryAfterHeal(sc report.Scenario) time.Duration {
	if sc.Recovery == nil || *sc.Recovery <= 0 {
		return 0
	}
	first, last, ok := bounds(sc)
	if !ok {
		return *sc.Recovery
	}
	anchor := last
	switch sc.RecoveryFrom {
	case report.RecoveryFromInject:
		anchor = first
	case report.RecoveryFromHealStart:
		anchor = 0
		for _, f := range sc.Faults {
			anchor = max(anchor, f.HealStartedAt)
		}
		if anchor == 0 {
			anchor = last
		}
	}
	return max(0, anchor+*sc.Recovery-last)
}

// bounds is the first injection and the last heal of a scenario's faults.
func bounds(sc report.Scenario) (first, last time.Duration, ok bool) {
	for i, f := range sc.Faults {
		end := f.HealedAt
		if end == 0 {
			end = f.HealStartedAt
		}
		if end == 0 {
			end = sc.Window.To
		}
		if i == 0 || f.InjectedAt < first {
			first = f.InjectedAt
		}
		last = max(last, end)
	}
	return first, last, len(sc.Faults) > 0
}
