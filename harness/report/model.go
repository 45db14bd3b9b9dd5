package report

import (
	"slices"
	"time"

	"github.com/faultline/faultline/harness/check"
)

// SchemaVersion is the version of report.json's schema; it changes when a field's
// meaning does. Version 2: checks holds only checks (informative results moved to
// figures), and recovery_ns is measured from the start of the heal (recovery_from)
// rather than from its end.
const SchemaVersion = 2

// Where a scenario's recovery is measured from (Scenario.RecoveryFrom).
const (
	// RecoveryFromHealStart: from the start of the heal of the scenario's faults, so
	// that what the heal takes (a killed instance restarted and waited for) counts.
	RecoveryFromHealStart = "heal_start"
	// RecoveryFromInject: from the fault's injection, for a fault the system must
	// absorb without a heal (a kill left to the supervisor).
	RecoveryFromInject = "inject"
)

// Verdicts a scenario can end with.
const (
	Pass    = "pass"
	Fail    = "fail"
	Skipped = "skipped"
)

// Fault is one fault a scenario applied, on the run's clock.
type Fault struct {
	Name          string        `json:"name"`
	Target        string        `json:"target,omitempty"`
	InjectedAt    time.Duration `json:"injected_at_ns"`
	HealStartedAt time.Duration `json:"heal_started_at_ns,omitempty"`
	HealedAt      time.Duration `json:"healed_at_ns,omitempty"`
}

// Scenario is one spec's outcome.
type Scenario struct {
	// ID is unique in the run: "<backend>/<slug of the hypothesis>".
	ID string `json:"id"`
	// Hypothesis is the spec's name: what must hold.
	Hypothesis string `json:"hypothesis"`
	// Backend is the runtime it ran on: "local", "docker" or "kubernetes".
	Backend string `json:"backend"`
	// Labels are its Ginkgo labels.
	Labels []string `json:"labels,omitempty"`
	// Broken, when set, says what was broken on purpose: the scenario is then a proof
	// that its checks are not blind, which passed when one of them went red (its red
	// checks are what it shows, and the score counts none of its checks).
	Broken string `json:"broken,omitempty"`
	// Verdict is pass, fail or skipped.
	Verdict string `json:"verdict"`
	// Failure is the failure message, when it failed.
	Failure string `json:"failure,omitempty"`
	// Window is the scenario's span of its backend's history.
	Window check.Window `json:"window"`
	// History names the history file (JSON lines) the window is a span of.
	History string `json:"history"`
	// Faults are the faults it applied.
	Faults []Fault `json:"faults,omitempty"`
	// Checks are the checks it asserted on: each could have failed. Informative
	// results found here are shown and saved as Figures (see Normalize).
	Checks check.Results `json:"checks"`
	// Figures are the informative results it reported without judging them (a time to
	// detect, the time a heal took, a restarted instance's times): never counted as
	// checks.
	Figures check.Results `json:"figures,omitempty"`
	// Recovery is the measured time to serve again: from the moment RecoveryFrom names
	// to the start of the first window that meets the scenario's availability SLO, after
	// which every window does (check.Recover's time_to_recover); nil when the scenario
	// measured no recovery.
	Recovery *time.Duration `json:"recovery_ns,omitempty"`
	// RecoveryFrom names what Recovery is measured from: RecoveryFromHealStart or
	// RecoveryFromInject; empty in reports of schema 1, whose recovery ran from the
	// heal's end.
	RecoveryFrom string `json:"recovery_from,omitempty"`
	// Healing is the time the harness spent healing the faults the recovery follows:
	// from the start of the first heal to the end of the last, as the history's
	// fault.heal and fault.healed events record them (check.Healing); nil when the
	// recovery follows no heal.
	Healing *time.Duration `json:"healing_ns,omitempty"`
	// Seed is the run's seed; Replay the command that replays this scenario exactly.
	Seed   uint64 `json:"seed"`
	Replay string `json:"replay,omitempty"`
	// Duration is the spec's wall time.
	Duration time.Duration `json:"duration_ns"`
}

// Run is one run of the suites: what report.json holds.
type Run struct {
	SchemaVersion int               `json:"schema_version"`
	StartedAt     time.Time         `json:"started_at"`
	Duration      time.Duration     `json:"duration_ns"`
	Seed          uint64            `json:"seed"`
	Runtimes      []string          `json:"runtimes"`
	Versions      map[string]string `json:"versions,omitempty"`
	Scenarios     []Scenario        `json:"scenarios"`
}

// Normalize moves the informative results a scenario holds among its checks to its
// figures, so that every renderer counts and lists only checks as checks, whoever
// filled the scenario in.
func (s Scenario) Normalize() Scenario {
	if len(s.Checks.Informative()) == 0 {
		return s
	}
	s.Figures = append(slices.Clone(s.Figures), s.Checks.Informative()...)
	s.Checks = s.Checks.Checks()
	return s
}

// normalized is the run with every scenario normalized.
func normalized(run Run) Run {
	run.Scenarios = slices.Clone(run.Scenarios)
	for i := range run.Scenarios {
		run.Scenarios[i] = run.Scenarios[i].Normalize()
	}
	return run
}
