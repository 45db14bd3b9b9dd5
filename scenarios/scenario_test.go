package scenarios_test

import (
	"log/slog"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/faultline/faultline/harness/experiment"
)

// scenario is one resilience experiment of the suite: a hypothesis, and a method that
// drives load, applies faults and adds the checks that must hold. A method adds its
// checks to the experiment and never asserts on them itself, so that the same method can
// also run against a system broken on purpose and be shown to go red (blind_test.go).
type scenario struct {
	hypothesis string
	labels     []string
	body       func(ctx SpecContext, e *env, x *experiment.Experiment)
	// localOnly runs it on the local backend alone: a property of the reference
	// system's own code, which the runtime does not change (the other scenarios prove
	// the runtimes), kept off docker for the suite's time.
	localOnly bool
}

// register adds the scenario, as an experiment on the env's running system, to the
// suite: the experiment verifies the steady state before (or injects nothing), heals
// every fault whatever happens, checks the steady state again after, fails the spec for
// each failed check and records itself into the report.
func (sc scenario) register(e *env) {
	if sc.localOnly && e.backend != "local" {
		return
	}
	It(sc.hypothesis, Label(sc.labels...), func(ctx SpecContext) {
		x := e.start(ctx, experiment.Config{Hypothesis: sc.hypothesis})
		sc.body(ctx, e, x)
	}, NodeTimeout(sc.timeout()))
}

// start begins an experiment on the env's system under the running spec, with the
// reference system's steady state, the spec's labels and its logs in GinkgoWriter.
func (e *env) start(ctx SpecContext, cfg experiment.Config) *experiment.Experiment {
	cfg.Steady = e.steady()
	cfg.Labels = CurrentSpecReport().Labels()
	cfg.Logger = slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	return experiment.Start(ctx, ginkgoT{GinkgoT()}, e.sys, cfg)
}

// ginkgoT is the running spec as an experiment's test, which also tells the report why
// the spec failed when it failed outside its checks (a Gomega assertion in the method).
type ginkgoT struct{ FullGinkgoTInterface }

// FailureMessage is the running spec's failure, as Ginkgo reports it.
func (ginkgoT) FailureMessage() string { return CurrentSpecReport().FailureMessage() }

// steadyOn is how a scenario waits for its load to be steady before a fault
// (Experiment.HoldSteady): two 250 ms windows in a row with traffic on routes, each with
// at least slo of it served. Short windows end the wait as soon as the system is
// ready instead of after a guessed sleep; a load not steady within 30 s aborts the
// experiment with nothing injected.
func steadyOn(slo float64, routes ...string) experiment.Windows {
	return experiment.Windows{Width: steadyWidth, N: 2, SLO: slo, Routes: routes, Within: 30 * time.Second}
}

// recoveredOn is how a scenario waits after a heal before it stops its load
// (Experiment.AwaitRecovery): routes served at slo through every 250 ms window of w in
// a row, w being the window its check.Recover judges, so that the history then holds
// at least one whole window of the check's after the recovery. A wait that runs out
// after 30 s judges nothing: the scenario's own check.Recover says how it went.
func recoveredOn(slo float64, w time.Duration, routes ...string) experiment.Windows {
	return experiment.Windows{Width: steadyWidth, N: max(2, int(w/steadyWidth)), SLO: slo, Routes: routes, Within: 30 * time.Second}
}

// steadyWidth is the width of the adaptive phases' windows.
const steadyWidth = 250 * time.Millisecond

// timeout bounds one run of the scenario: a soak labelled slow gets half an hour.
func (sc scenario) timeout() time.Duration {
	if slices.Contains(sc.labels, "slow") {
		return 30 * time.Minute
	}
	return 4 * time.Minute
}
