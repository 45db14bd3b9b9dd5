package report

import (
	"time"

	"github.com/faultline/faultline/harness/check"
)

// SchemaVersion is the version of report.json's schema; it changes when a field's
// meaning does.
const SchemaVersion = 1

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
	// Backend is the runtime it ran on: "local" or "docker".
	Backend string `json:"backend"`
	// Labels are its Ginkgo labels.
	Labels []string `json:"labels,omitempty"`
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
	// Checks are the checker results it asserted on.
	Checks check.Results `json:"checks"`
	// Recovery is the measured time to recover, when the scenario measured one.
	Recovery *time.Duration `json:"recovery_ns,omitempty"`
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
