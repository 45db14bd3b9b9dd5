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
	fromHeal := 3500 * time.Millisecond
	run := report.Run{Scenarios: []report.Scenario{
		{ // two overlapping kills: 10..17 and 11..18 make 8 s active
			Verdict: report.Pass, Duration: 30 * s, Recovery: &rec, Window: check.Window{From: 4 * s, To: 34 * s},
			Faults: []report.Fault{{InjectedAt: 10 * s, HealedAt: 17 * s}, {InjectedAt: 11 * s, HealStartedAt: 17 * s, HealedAt: 18 * s}},
		},
		{ // disjoint faults, one never healed: counts to the window's end
			Verdict: report.Fail, Duration: 20 * s, Window: check.Window{From: 40 * s, To: 60 * s},
			Faults: []report.Fault{{InjectedAt: 40 * s, HealedAt: 42 * s}, {InjectedAt: 50 * s}},
		},
		{ // recovery from the heal's start (17 s): 2.5 s of it lies after the heal ended at 18 s
			Verdict: report.Pass, Duration: 10 * s, Recovery: &fromHeal, RecoveryFrom: report.RecoveryFromHealStart,
			Window: check.Window{From: 70 * s, To: 80 * s},
			Faults: []report.Fault{{InjectedAt: 71 * s, HealStartedAt: 77 * s, HealedAt: 78 * s}},
		},
		{ // recovery from the injection, within the fault's span: nothing after the heal
			Verdict: report.Pass, Duration: 10 * s, Recovery: &rec, RecoveryFrom: report.RecoveryFromInject,
			Window: check.Window{From: 90 * s, To: 100 * s},
			Faults: []report.Fault{{InjectedAt: 91 * s, HealedAt: 95 * s}},
		},
		{Verdict: report.Pass, Duration: 12 * s}, // no fault: an overload, say
		{Verdict: report.Skipped, Duration: time.Hour, Faults: []report.Fault{{InjectedAt: 0, HealedAt: time.Hour}}},
	}}
	got := suitetime.Of(run)
	want := suitetime.Split{Scenarios: 5, Failed: 1, Durations: 82 * s, Unfaulted: 12 * s,
		FaultActive: 8*s + 2*s + 10*s + 7*s + 4*s, Recovery: 2*s + 2500*time.Millisecond,
		Lead: 6*s + 0 + s + s, Trail: 16*s + 0 + 2*s + 5*s}
	if got != want {
		t.Fatalf("Of = %+v, want %+v", got, want)
	}
	if got.Inherent() != 35500*time.Millisecond {
		t.Errorf("Inherent = %s, want 35.5s", got.Inherent())
	}
}
