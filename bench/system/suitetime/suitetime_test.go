package suitetime_test

import (
	"testing"
	"time"

	"github.com/faultline/faultline/bench/system/suitetime"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/report"
)

func TestOf(t *testing.T) {
	s := time.Second
	rec := 2 * s
	run := report.Run{Scenarios: []report.Scenario{
		{ // two overlapping kills: 10..17 and 11..18 make 8 s active
			Verdict: report.Pass, Duration: 30 * s, Recovery: &rec, Window: check.Window{From: 4 * s, To: 34 * s},
			Faults: []report.Fault{{InjectedAt: 10 * s, HealedAt: 17 * s}, {InjectedAt: 11 * s, HealStartedAt: 17 * s, HealedAt: 18 * s}},
		},
		{ // disjoint faults, one never healed: counts to the window's end
			Verdict: report.Fail, Duration: 20 * s, Window: check.Window{From: 40 * s, To: 60 * s},
			Faults: []report.Fault{{InjectedAt: 40 * s, HealedAt: 42 * s}, {InjectedAt: 50 * s}},
		},
		{Verdict: report.Pass, Duration: 12 * s}, // no fault: an overload, say
		{Verdict: report.Skipped, Duration: time.Hour, Faults: []report.Fault{{InjectedAt: 0, HealedAt: time.Hour}}},
	}}
	got := suitetime.Of(run)
	want := suitetime.Split{Scenarios: 3, Failed: 1, Durations: 62 * s, Unfaulted: 12 * s, FaultActive: 8*s + 2*s + 10*s, Recovery: 2 * s,
		Lead: 6*s + 0, Trail: 16*s + 0}
	if got != want {
		t.Fatalf("Of = %+v, want %+v", got, want)
	}
	if got.Inherent() != 22*s {
		t.Errorf("Inherent = %s, want 22s", got.Inherent())
	}
}
