// Package experiment is faultline's one way to write a chaos experiment, in the shape
// Chaos Toolkit made standard: a hypothesis; steady-state probes that must hold before
// anything is injected (if they do not, nothing is, and the experiment aborts with the
// probes' own words); a method of loads and faults, every fault healed whatever
// happens; the probes again after; checks with figures; a verdict. It runs under plain
// `go test` and under Ginkgo alike (anything with testing.TB's methods: a *testing.T,
// or GinkgoT() inside an It), and records itself into the run's report with no code
// from the user beyond one hook per package (Main, or WriteReport from Ginkgo's
// ReportAfterSuite).
//
//	func TestMain(m *testing.M) { os.Exit(experiment.Main(m)) }
//
//	func TestTheCacheMayDie(t *testing.T) {
//		sys := … harness.Up …
//		e := experiment.Start(ctx, t, sys, experiment.Config{
//			Hypothesis: "reads stay available while the cache is down",
//			Steady:     check.Hypothesis{Name: "web answers", Probes: …},
//		})
//		run := … load.StartOpenOps(ctx, sys.History(), …) …
//		e.HoldSteady(ctx, experiment.Windows{Routes: []string{"read"}})  // inject once steady
//		down := e.Apply(ctx, fault.Kill(sys.Instance("cache-1")))
//		…
//		e.Check(check.Availability(sys.History(), faultline.During(h, down).Selection(), 0.99))
//	}
//
// The experiment ends when its test does: its cleanup heals every fault it applied,
// checks the steady state again (a check that can fail), fails the test for every check
// that failed, and adds the experiment to the report.
package experiment

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

// TB is what an experiment needs of its test: *testing.T and Ginkgo's GinkgoT() have it.
type TB interface {
	Helper()
	Name() string
	Cleanup(func())
	Failed() bool
	Skipped() bool
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// Config is an experiment's declaration. Hypothesis is required; the rest has defaults.
type Config struct {
	// Hypothesis says what must hold, as a sentence: the experiment's name in the
	// report ("reads stay available while the cache is down").
	Hypothesis string
	// Steady is the steady state: probes of the live system that must all hold before
	// the method (or nothing is injected) and are checked again after it. With no
	// probe, nothing is verified before and nothing is checked after.
	Steady check.Hypothesis
	// SteadyWithin is how long the probes get to hold, before and after (default 30 s).
	SteadyWithin time.Duration
	// Labels are shown in the report (Ginkgo's labels, or your own).
	Labels []string
	// Logger receives the faults' lifecycle (default: slog's default logger).
	Logger *slog.Logger
	// Broken, when set, says what was broken on purpose in the system under test
	// ("re-registration switched off"): the experiment is then a proof that its checks
	// are not blind, and it passes only when at least one of its checks fails (the
	// steady state is still required before, and not checked after). The report shows
	// it as such, with the checks that went red.
	Broken string
}

// Experiment is one running experiment. Start makes it; its test's end finishes it.
type Experiment struct {
	t       TB
	sys     *harness.Running
	cfg     Config
	h       *history.History
	scope   *fault.Scope
	from    time.Duration
	started time.Time

	mu           sync.Mutex
	checks       check.Results
	recovery     *time.Duration
	recoveryFrom string
	healing      *time.Duration
	aborted      string
}

// Start begins an experiment on sys, a system brought up by harness.Up, under t. It
// verifies the steady state first: when it does not hold within SteadyWithin, the
// experiment is recorded as failed with the probes' message, nothing is injected, and
// t stops (Fatalf). Bring sys down with a cleanup registered before Start (t.Cleanup,
// DeferCleanup), so that the experiment's own cleanup, which checks the steady state
// again, runs while sys still runs.
func Start(ctx context.Context, t TB, sys *harness.Running, cfg Config) *Experiment {
	t.Helper()
	switch {
	case strings.TrimSpace(cfg.Hypothesis) == "":
		t.Fatalf("experiment.Start: Config.Hypothesis is empty: say what must hold, as a sentence (\"reads stay available while the cache is down\")")
		return nil
	case sys == nil:
		t.Fatalf("experiment.Start %q: sys is nil: give the *harness.Running that harness.Up returned", cfg.Hypothesis)
		return nil
	}
	if cfg.SteadyWithin <= 0 {
		cfg.SteadyWithin = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := sys.History()
	e := &Experiment{t: t, sys: sys, cfg: cfg, h: h, from: h.Now(), started: time.Now(),
		scope: fault.NewScope(h, cfg.Logger, fault.WithSeed(int64(sys.Seed())))}
	t.Cleanup(e.finish)
	if len(cfg.Steady.Probes) > 0 {
		if r := e.steady(ctx, "before"); !r.Pass {
			e.mu.Lock()
			e.aborted = "steady state does not hold before the method; nothing was injected: " + r.Message
			e.mu.Unlock()
			t.Fatalf("%s", e.aborted)
		}
	}
	return e
}

// steady verifies the probes until they hold or SteadyWithin passes, and returns the
// last result.
func (e *Experiment) steady(ctx context.Context, phase string) check.Result {
	deadline := time.Now().Add(e.cfg.SteadyWithin)
	for {
		r := e.cfg.Steady.Verify(ctx, phase)
		if r.Pass || time.Now().After(deadline) || ctx.Err() != nil {
			return r
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// History is the run's history, which the experiment's window is a span of.
func (e *Experiment) History() *history.History { return e.h }

// Scope is the experiment's fault scope, seeded with the run's seed (for
// fault.Scope.Play and nemeses); every fault it applies is healed when the experiment
// ends.
func (e *Experiment) Scope() *fault.Scope { return e.scope }

// Apply injects f and notes it for the report; an error stops the test.
func (e *Experiment) Apply(ctx context.Context, f fault.Fault, opts ...fault.ApplyOption) *fault.Active {
	e.t.Helper()
	a, err := e.scope.Apply(ctx, f, opts...)
	if err != nil {
		e.t.Fatalf("apply %s: %v", f, err)
		return nil
	}
	return a
}

// Play plays a schedule of faults (a seeded nemesis, fault.Catalog.Schedule) on the
// experiment's scope, each step healed after its time, and returns what failed; every
// step is in the report's faults.
func (e *Experiment) Play(ctx context.Context, steps fault.Schedule) error {
	return e.scope.Play(ctx, steps)
}

// Began is when the experiment began, on its history's clock: the start of the window
// its checks may read from.
func (e *Experiment) Began() time.Duration { return e.from }

// Heal heals a fault the experiment applied, before its end; an error stops the test.
func (e *Experiment) Heal(ctx context.Context, a *fault.Active) {
	e.t.Helper()
	if err := a.Heal(ctx); err != nil {
		e.t.Fatalf("heal %s: %v", a, err)
	}
}

// Check adds checker results that must pass: each failed one fails the test when the
// experiment ends, and is shown red in the report. An informative result
// (check.Informative) is shown as a figure instead.
func (e *Experiment) Check(rs ...check.Result) {
	e.mu.Lock()
	e.checks = append(e.checks, rs...)
	e.mu.Unlock()
}

// Figure adds results that are only reported: measurements nobody bounds.
func (e *Experiment) Figure(rs ...check.Result) {
	for _, r := range rs {
		e.Check(check.Informative(r))
	}
}

// Recovered notes the experiment's measured recovery from rec, a check.Recover
// result (a check, bounded by the experiment). With heals, rec's window must start at
// the earliest of their heal starts (faultline.SinceHeal): the report's recovery is then
// measured from the heal's start, and the time the harness spent healing is a figure
// beside it (check.Healing). Without, rec's window starts at the injection of a fault
// the system absorbs with no heal.
func (e *Experiment) Recovered(rec check.Result, heals ...*fault.Active) {
	from := report.RecoveryFromInject
	var healing *time.Duration
	if len(heals) > 0 {
		from = report.RecoveryFromHealStart
		names := make([]string, 0, len(heals))
		injected := heals[0].InjectedAt()
		for _, a := range heals {
			names = append(names, a.String())
			injected = min(injected, a.InjectedAt())
		}
		hr := check.Healing(e.h, injected, names...)
		if v, ok := hr.Figure("heal_time"); ok {
			d := time.Duration(v * float64(time.Millisecond))
			healing = &d
		}
		e.Check(hr)
	}
	e.Check(rec)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recoveryFrom, e.healing = from, healing
	if v, ok := rec.Figure("time_to_recover"); ok {
		d := time.Duration(v * float64(time.Millisecond))
		e.recovery = &d
	}
}

// finish ends the experiment: heals what is still applied, checks the steady state
// again, judges the checks, records the experiment, and only then fails the test, once,
// with every reason: under Ginkgo the first failure stops the cleanup it is called in,
// and the report must not lose a failed experiment.
func (e *Experiment) finish() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var failed []string
	healErr := e.scope.HealAll(ctx)
	if healErr != nil {
		failed = append(failed, fmt.Sprintf("heal at its end: %v", healErr))
	}
	e.mu.Lock()
	aborted := e.aborted
	e.mu.Unlock()
	if aborted == "" && len(e.cfg.Steady.Probes) > 0 && e.cfg.Broken == "" {
		e.Check(e.steady(ctx, "after"))
	}
	e.mu.Lock()
	checks := e.checks
	e.mu.Unlock()
	if e.cfg.Broken != "" {
		failed = append(failed, e.judgeBroken(checks, aborted)...)
	} else {
		for _, r := range checks.Checks() {
			if !r.Pass {
				failed = append(failed, fmt.Sprintf("check %s: %s", r.Check, r.Message))
			}
		}
		if aborted == "" && len(checks.Checks()) == 0 && !e.t.Failed() {
			failed = append(failed, "no check: add what must hold with Check (a figure alone proves nothing)")
		}
	}
	e.record(checks, failed, aborted)
	if len(failed) > 0 || e.t.Failed() {
		e.logTails(ctx)
	}
	if len(failed) > 0 {
		e.t.Errorf("experiment %q:\n%s", e.cfg.Hypothesis, strings.Join(failed, "\n"))
	}
}

// tailLines is how many of its last log lines each instance shows for a failed experiment.
const tailLines = 15

// logTails writes the last lines of every instance's log to the test's log: a failed
// experiment then says what the system itself said about the fault, on every runtime.
func (e *Experiment) logTails(ctx context.Context) {
	for _, in := range e.sys.All() {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b, err := in.Logs(lctx)
		cancel()
		if err != nil {
			e.t.Logf("log of %s: %v", in.Name(), err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		lines = lines[max(0, len(lines)-tailLines):]
		e.t.Logf("last %d lines of %s's log:\n  %s", len(lines), in.Name(), strings.Join(lines, "\n  "))
	}
}

// judgeBroken judges a proof that the checks are not blind (Config.Broken): it fails
// when every check passed, and returns why.
func (e *Experiment) judgeBroken(checks check.Results, aborted string) []string {
	switch {
	case aborted != "":
		return nil
	case len(checks.Checks()) == 0:
		return []string{"no check: add what must hold with Check (a figure alone proves nothing)"}
	}
	if red := checks.Checks().Failed(); len(red) > 0 {
		e.t.Logf("experiment %q with %s broken on purpose: red as it must be:\n%s", e.cfg.Hypothesis, e.cfg.Broken, red)
		return nil
	}
	return []string{fmt.Sprintf("with %s broken on purpose, every check still passed: they are blind to it:\n%s", e.cfg.Broken, checks.Checks())}
}

// FailureMessager is what an experiment reads of its test, when the test has it, to say
// in the report why a test failed outside its checks (a Gomega assertion in the method,
// say). A Ginkgo suite can give it: CurrentSpecReport().FailureMessage().
type FailureMessager interface {
	FailureMessage() string
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// record adds the finished experiment to the package's report.
func (e *Experiment) record(checks check.Results, failed []string, aborted string) {
	backend := e.sys.Runtime().Name()
	verdict := report.Pass
	failure := strings.Join(failed, "\n")
	switch {
	case aborted != "":
		verdict, failure = report.Fail, aborted
	case e.t.Skipped():
		verdict = report.Skipped
	case e.t.Failed() || len(failed) > 0:
		verdict = report.Fail
		if fm, ok := e.t.(FailureMessager); ok && failure == "" {
			failure = fm.FailureMessage()
		}
		if failure == "" {
			failure = "the test failed (see its log)"
		}
	}
	slug := strings.Trim(slugRE.ReplaceAllString(strings.ToLower(e.cfg.Hypothesis), "-"), "-")
	histName := report.FileSlug(backend + "-" + e.t.Name())
	labels := e.cfg.Labels
	if e.cfg.Broken != "" && !slices.Contains(labels, "blind") {
		labels = append(slices.Clone(labels), "blind")
	}
	e.mu.Lock()
	s := report.Scenario{
		ID: backend + "/" + slug, Hypothesis: e.cfg.Hypothesis, Backend: backend, Labels: labels, Broken: e.cfg.Broken,
		Verdict: verdict, Failure: failure,
		Window:  check.Window{Name: e.cfg.Hypothesis, From: e.from, To: e.h.Now()},
		History: report.HistoryFile(histName), Checks: checks.Checks(), Figures: checks.Informative(),
		Recovery: e.recovery, RecoveryFrom: e.recoveryFrom, Healing: e.healing,
		Seed: e.sys.Seed(), Duration: time.Since(e.started), Replay: replay(e.t, e.cfg.Hypothesis, e.sys.Seed(), backend),
	}
	for _, a := range e.scope.Applied() {
		f := report.Fault{Name: a.String(), InjectedAt: a.InjectedAt()}
		if t, ok := a.Fault().(fault.Targeter); ok {
			f.Target = t.Target()
		}
		f.HealStartedAt, _ = a.HealStartedAt()
		f.HealedAt, _ = a.HealedAt()
		s.Faults = append(s.Faults, f)
	}
	e.mu.Unlock()
	if verdict == report.Fail {
		e.t.Logf("replay this experiment exactly: %s", s.Replay)
	}
	defaultReport.add(s, histName, e.h)
}

// replay is the command that runs the experiment again with the same seed: its test
// by name under plain go test, its spec by its text under Ginkgo.
func replay(t TB, hypothesis string, seed uint64, backend string) string {
	pkg := packageDir()
	if _, ok := t.(*testing.T); !ok {
		// Under Ginkgo, Name is the spec's full text, which -ginkgo.focus matches after the
		// suite's description and a space: anchored at its end, it picks this spec alone,
		// not another whose text holds the hypothesis.
		focus := regexp.QuoteMeta(hypothesis)
		if name := t.Name(); name != "" {
			focus = `(^|\s)` + regexp.QuoteMeta(name) + "$"
		}
		return fmt.Sprintf("FAULTLINE_SEED=%d FAULTLINE_RUNTIME=%s go test -count=1 %s -ginkgo.focus=%q", seed, backend, pkg, focus)
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return fmt.Sprintf("FAULTLINE_SEED=%d FAULTLINE_RUNTIME=%s go test -count=1 -run '%s' %s", seed, backend, strings.Join(parts, "/"), pkg)
}

// packageDir is the test's package as go test takes it from its module's root
// ("./scenarios/"), or "." when the module's root cannot be found: go test runs a test
// binary in its package's directory.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "."
	}
	rel, err := filepath.Rel(root, wd)
	if err != nil || rel == "." {
		return "."
	}
	return "./" + filepath.ToSlash(rel) + "/"
}

// SeedEnv is the variable that fixes a run's seed, to replay its draws exactly.
const SeedEnv = "FAULTLINE_SEED"

// Seed is the run's seed, the one seed type of faultline (harness.WithSeed, load's and
// faults' draws): $FAULTLINE_SEED when set, else a random one, logged so that a run can
// be replayed. A value that is not a whole number stops the test with the fix.
func Seed(t TB) uint64 {
	t.Helper()
	if v := os.Getenv(SeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q is not a whole number: set it to one (a report's replay line gives it), or unset it", SeedEnv, v)
			return 0
		}
		return n
	}
	seedOnce.Do(func() { runSeed = rand.Uint64() })
	t.Logf("seed %d (replay with %s=%d)", runSeed, SeedEnv, runSeed)
	return runSeed
}

var (
	seedOnce sync.Once
	runSeed  uint64
)
