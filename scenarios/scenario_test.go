package scenarios_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

// scenario is one resilience experiment: a hypothesis, and a body that drives load,
// applies faults and collects the checks that must hold. Bodies collect, never assert on
// checks themselves, so that the same body can also run against a system broken on
// purpose and be shown to fail (blind_test.go).
type scenario struct {
	hypothesis string
	labels     []string
	body       func(ctx SpecContext, e *env, s *spec)
}

// spec is what one run of a scenario collected.
type spec struct {
	checks       check.Results
	faults       []*fault.Active
	recovery     *time.Duration
	recoveryFrom string
	healing      *time.Duration
	from         time.Duration
}

// check adds a checker result: a check, which must pass, or an informative result
// (check.Informative), which the report shows as a figure and nothing judges.
func (s *spec) check(r ...check.Result) { s.checks = append(s.checks, r...) }

// applied notes a fault for the report.
func (s *spec) applied(a *fault.Active) { s.faults = append(s.faults, a) }

// recovered notes the scenario's measured recovery, from a check.Recover result rec
// (a check, bounded by the scenario), with what it is measured from. With heals, rec's
// window must start at the earliest of their heal starts (faultline.SinceHeal), and the
// time the harness spent healing them, read from the history's heal events, is noted
// beside it as a figure. Without, rec's window starts at the injection of a fault the
// system absorbs with no heal.
func (s *spec) recovered(h *history.History, rec check.Result, heals ...*fault.Active) {
	s.recoveryFrom = report.RecoveryFromInject
	if len(heals) > 0 {
		s.recoveryFrom = report.RecoveryFromHealStart
		names := make([]string, 0, len(heals))
		injected := heals[0].InjectedAt()
		for _, a := range heals {
			names = append(names, a.String())
			injected = min(injected, a.InjectedAt())
		}
		healing := check.Healing(h, injected, names...)
		if v, ok := healing.Figure("heal_time"); ok {
			d := time.Duration(v * float64(time.Millisecond))
			s.healing = &d
		}
		s.check(healing)
	}
	if v, ok := rec.Figure("time_to_recover"); ok {
		d := time.Duration(v * float64(time.Millisecond))
		s.recovery = &d
	}
	s.check(rec)
}

// register adds the scenario's spec to the env's backend.
func (sc scenario) register(e *env) {
	It(sc.hypothesis, Label(sc.labels...), func(ctx SpecContext) {
		s := &spec{from: e.sys.History().Now()}
		started := time.Now()
		DeferCleanup(func() { e.record(sc, s, time.Since(started)) })
		e.mustBeSteady(ctx, "before")
		sc.body(ctx, e, s)
		// A check, not a precondition: it can fail, and Pass below judges it.
		s.check(e.steadyAgain(ctx, "after"))
		Expect(s.checks).To(faultline.Pass())
	}, NodeTimeout(sc.timeout()))
}

// timeout bounds one run of the scenario: a soak labelled slow gets half an hour.
func (sc scenario) timeout() time.Duration {
	if slices.Contains(sc.labels, "slow") {
		return 30 * time.Minute
	}
	return 4 * time.Minute
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// record hands a finished spec to the report collector.
func (e *env) record(sc scenario, s *spec, took time.Duration) {
	rep := CurrentSpecReport()
	verdict := report.Pass
	switch {
	case rep.State.Is(types.SpecStateSkipped):
		verdict = report.Skipped
	case rep.Failed():
		verdict = report.Fail
	}
	slug := strings.Trim(slugRE.ReplaceAllString(strings.ToLower(sc.hypothesis), "-"), "-")
	out := report.Scenario{
		ID: e.backend + "/" + slug, Hypothesis: sc.hypothesis, Backend: e.backend,
		Labels: rep.Labels(), Verdict: verdict, Failure: rep.FailureMessage(),
		Window:  check.Window{Name: sc.hypothesis, From: s.from, To: e.sys.History().Now()},
		History: report.HistoryFile(e.backend), Checks: s.checks.Checks(), Figures: s.checks.Informative(),
		Recovery: s.recovery, RecoveryFrom: s.recoveryFrom, Healing: s.healing,
		Seed: runSeed(), Duration: took,
		Replay: fmt.Sprintf("FAULTLINE_SEED=%d FAULTLINE_RUNTIME=%s go test ./scenarios/ -count=1 -timeout 20m -ginkgo.focus=%q", runSeed(), e.backend, sc.hypothesis),
	}
	for _, a := range s.faults {
		f := report.Fault{Name: a.String(), InjectedAt: a.InjectedAt()}
		if t, ok := a.Fault().(fault.Targeter); ok {
			f.Target = t.Target()
		}
		f.HealStartedAt, _ = a.HealStartedAt()
		f.HealedAt, _ = a.HealedAt()
		out.Faults = append(out.Faults, f)
	}
	if verdict == report.Fail {
		GinkgoWriter.Printf("replay this scenario exactly: %s\n", out.Replay)
	}
	collector.Add(out)
}
