package experiment_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/report"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/local"
)

// fakeT is a TB whose Fatalf ends only the experiment's body (the runner recovers it)
// and whose cleanups run when the body is over, so that a test can watch an experiment
// fail without failing itself.
type fakeT struct {
	mu       sync.Mutex
	name     string
	cleanups []func()
	errors   []string
	fatal    string
	logs     []string
	// ginkgoLike makes Errorf stop the function it is called in, as GinkgoT()'s does.
	ginkgoLike bool
}

type fatalStop struct{}

func (f *fakeT) Helper()           {}
func (f *fakeT) Name() string      { return f.name }
func (f *fakeT) Cleanup(fn func()) { f.mu.Lock(); f.cleanups = append(f.cleanups, fn); f.mu.Unlock() }
func (f *fakeT) Skipped() bool     { return false }
func (f *fakeT) Logf(format string, args ...any) {
	f.mu.Lock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}
func (f *fakeT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal != "" || len(f.errors) > 0
}
func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	if f.ginkgoLike {
		panic(fatalStop{})
	}
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	panic(fatalStop{})
}

// run runs body as a test would, then its cleanups, last registered first.
func (f *fakeT) run(body func()) {
	stopped := func(fn func()) {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(fatalStop); !ok {
					panic(p)
				}
			}
		}()
		fn()
	}
	stopped(body)
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		stopped(f.cleanups[i])
	}
}

// system brings up one instance of the test service on the local runtime, with a
// closed load of GETs on it recorded in its history.
func system(t *testing.T) (*harness.Running, func() *load.Run) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a process: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	rt, err := local.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	sys, err := harness.Up(t.Context(), harness.System{Name: "exp", Services: []harness.Service{{
		Name: "svc", Source: harness.Source{Binary: art.Binary}, Env: map[string]string{"DATA_DIR": "{{datadir}}"},
	}}}, harness.WithRuntime(rt), harness.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	url, err := sys.Instance("svc-1").URL(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: time.Second}
	drive := func() *load.Run {
		run, err := load.StartClosed(t.Context(), sys.History(), load.Closed{Name: "get", Workers: 2, Duration: 20 * time.Second, Think: 10 * time.Millisecond,
			Ops: []load.Operation{{Route: "get", Do: func(ctx context.Context, _ int, _ *rand.Rand) history.Op {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
				resp, err := client.Do(req)
				if err != nil {
					return history.Op{Err: err.Error()}
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return history.Op{Outcome: history.Failed, Class: resp.Status}
				}
				return history.Op{}
			}}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(run.Stop)
		return run
	}
	return sys, drive
}

var (
	holds  = check.Probe{Name: "holds", Run: func(context.Context) error { return nil }}
	breaks = check.Probe{Name: "breaks", Run: func(context.Context) error { return errors.New("the door is shut") }}
)

// TestAnExperimentGoesRedForEachWayItCanFail runs experiments on a real instance and
// reads their verdicts: a steady state that never holds aborts with nothing injected; a
// failed check, a steady state broken after the method, and an experiment with no
// check fail it; one whose checks hold passes. Each lands in the report with its
// verdict.
func TestAnExperimentGoesRedForEachWayItCanFail(t *testing.T) {
	sys, drive := system(t)
	run := drive()
	ctx := t.Context()
	h := sys.History()
	var brokenAfter bool
	after := check.Probe{Name: "holds until the method breaks it", Run: func(context.Context) error {
		if brokenAfter {
			return errors.New("broken by the method")
		}
		return nil
	}}
	cases := []struct {
		name      string
		steady    []check.Probe
		method    func(e *experiment.Experiment)
		verdict   string
		fatal     string   // in the fake test's Fatalf, or "" for none
		errs      []string // each in one of its Errorf
		injection bool     // whether a fault was injected
		broken    string   // Config.Broken
		faults    int      // the faults the report lists
		ginkgo    bool     // a test whose Errorf stops the cleanup, as under Ginkgo
	}{
		{name: "steady state does not hold", steady: []check.Probe{holds, breaks},
			method: func(e *experiment.Experiment) {
				e.Apply(ctx, fault.Latency(sys.Instance("svc-1").Ingress, 50*time.Millisecond))
			},
			verdict: report.Fail, fatal: "steady state does not hold before the method; nothing was injected: " + `steady state "svc" does not hold before the fault: breaks: the door is shut`},
		{name: "a check fails", steady: []check.Probe{holds},
			method: func(e *experiment.Experiment) {
				a := e.Apply(ctx, fault.Refuse(sys.Instance("svc-1").Ingress))
				time.Sleep(500 * time.Millisecond)
				e.Heal(ctx, a)
				e.Check(check.Availability(h, check.Selection{Window: check.Window{Name: "during", From: a.InjectedAt(), To: h.Now()}}, 0.99))
			},
			verdict: report.Fail, errs: []string{"check availability"}, injection: true, faults: 1},
		{name: "a check fails under Ginkgo", steady: []check.Probe{holds}, ginkgo: true,
			method: func(e *experiment.Experiment) {
				e.Check(check.Availability(h, check.Selection{Window: check.Window{Name: "nothing", From: h.Now(), To: h.Now()}}, 0.99),
					check.Availability(h, check.Selection{Window: check.Whole(h)}, 1.01))
			},
			verdict: report.Fail, errs: []string{"check availability"}},
		{name: "steady state broken by the method", steady: []check.Probe{after},
			method: func(e *experiment.Experiment) {
				brokenAfter = true
				e.Check(check.Availability(h, check.Selection{Window: check.Whole(h)}, 0.5))
			},
			verdict: report.Fail, errs: []string{"steady state after", "broken by the method"}},
		{name: "no check", steady: nil, // the steady state after would be a check
			method: func(e *experiment.Experiment) {
				e.Figure(check.Availability(h, check.Selection{Window: check.Whole(h)}, 0.5))
			},
			verdict: report.Fail, errs: []string{"no check"}},
		{name: "checks hold", steady: []check.Probe{holds},
			method: func(e *experiment.Experiment) {
				e.HoldSteady(ctx, experiment.Windows{Width: 300 * time.Millisecond, N: 2, Within: 10 * time.Second})
				a := e.Apply(ctx, fault.Latency(sys.Instance("svc-1").Ingress, 20*time.Millisecond))
				time.Sleep(300 * time.Millisecond)
				e.Heal(ctx, a)
				e.Check(check.Availability(h, check.Selection{Window: check.Window{Name: "during", From: a.InjectedAt(), To: h.Now()}}, 0.9))
			},
			verdict: report.Pass, injection: true, faults: 1},
		{name: "a schedule's steps are listed", steady: []check.Probe{holds},
			method: func(e *experiment.Experiment) {
				lat := fault.Latency(sys.Instance("svc-1").Ingress, 10*time.Millisecond)
				if err := e.Play(ctx, fault.Schedule{{At: 0, For: 200 * time.Millisecond, Kind: "latency", Fault: lat}, {At: 300 * time.Millisecond, For: 200 * time.Millisecond, Kind: "latency", Fault: lat}}); err != nil {
					t.Errorf("play: %v", err)
				}
				e.Check(check.Availability(h, check.Selection{Window: check.Window{Name: "played", From: e.Began(), To: h.Now()}}, 0.9))
			},
			verdict: report.Pass, injection: true, faults: 2},
		{name: "a paced schedule's next step waits for steady windows after the heal", steady: []check.Probe{holds},
			method: func(e *experiment.Experiment) {
				lat := fault.Latency(sys.Instance("svc-1").Ingress, 10*time.Millisecond)
				w := experiment.Windows{Width: 200 * time.Millisecond, N: 2, SLO: 0.9, Within: 10 * time.Second}
				// At is the clock's; paced, the second step ignores it.
				gaps, err := e.PlayPaced(ctx, fault.Schedule{{At: 0, For: 200 * time.Millisecond, Kind: "latency", Fault: lat}, {At: time.Hour, For: 200 * time.Millisecond, Kind: "latency", Fault: lat}}, w)
				if err != nil {
					t.Errorf("play paced: %v", err)
				}
				applied := e.Scope().Applied()
				if len(gaps) != 1 || len(applied) != 2 {
					t.Fatalf("%d gaps and %d steps applied, want 1 and 2", len(gaps), len(applied))
				}
				healStart, _ := applied[0].HealStartedAt()
				if next := applied[1].InjectedAt(); next < healStart+2*w.Width {
					t.Errorf("the second step began %v after the first's heal started, before two %v windows could hold", next-healStart, w.Width)
				}
				e.Check(check.Availability(h, check.Selection{Window: check.Window{Name: "played", From: e.Began(), To: h.Now()}}, 0.9))
			},
			verdict: report.Pass, injection: true, faults: 2},
		{name: "broken on purpose and red", steady: []check.Probe{after}, broken: "the door",
			method: func(e *experiment.Experiment) {
				brokenAfter = true // not checked after: the proof is its checks' red alone
				a := e.Apply(ctx, fault.Refuse(sys.Instance("svc-1").Ingress))
				time.Sleep(500 * time.Millisecond)
				e.Heal(ctx, a)
				e.Check(check.Availability(h, check.Selection{Window: check.Window{Name: "during", From: a.InjectedAt(), To: h.Now()}}, 0.99))
			},
			verdict: report.Pass, injection: true, faults: 1},
		{name: "broken on purpose and still green", steady: []check.Probe{holds}, broken: "the door",
			method: func(e *experiment.Experiment) {
				e.Check(check.Availability(h, check.Selection{Window: check.Whole(h)}, 0.01))
			},
			verdict: report.Fail, errs: []string{"with the door broken on purpose, every check still passed: they are blind to it"}},
	}
	before := experiment.Recorded()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			brokenAfter = false
			ft := &fakeT{name: "TestCase/" + tc.name, ginkgoLike: tc.ginkgo}
			faultsBefore := len(faultEvents(h))
			ft.run(func() {
				e := experiment.Start(ctx, ft, sys, experiment.Config{
					Hypothesis: "case " + tc.name, Steady: check.Hypothesis{Name: "svc", Probes: tc.steady},
					SteadyWithin: time.Second, Logger: slog.New(slog.DiscardHandler), Broken: tc.broken,
				})
				tc.method(e)
			})
			if ft.fatal != tc.fatal {
				t.Errorf("Fatalf %q, want %q", ft.fatal, tc.fatal)
			}
			for _, want := range tc.errs {
				if !strings.Contains(strings.Join(ft.errors, "\n"), want) {
					t.Errorf("errors %q lack %q", ft.errors, want)
				}
			}
			if tc.verdict == report.Pass && len(ft.errors) > 0 {
				t.Errorf("a passing experiment reported errors: %q", ft.errors)
			}
			// A failed experiment shows what the instances said; a passing one keeps quiet.
			tails := strings.Contains(strings.Join(ft.logs, "\n"), "lines of svc-1's log:")
			if wantTails := tc.verdict == report.Fail; tails != wantTails {
				t.Errorf("svc-1's log tail in the test's log: %t, want %t; logs %q", tails, wantTails, ft.logs)
			}
			if got := len(faultEvents(h)) > faultsBefore; got != tc.injection {
				t.Errorf("a fault was injected: %t, want %t", got, tc.injection)
			}
			if n := experiment.Recorded(); n != before+i+1 {
				t.Fatalf("%d experiments recorded, want %d", n, before+i+1)
			}
		})
	}
	run.Stop()

	dir, err := experiment.WriteReport(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]report.Scenario{}
	histories := map[string]bool{}
	for _, s := range got.Scenarios {
		byName[s.Hypothesis] = s
		histories[s.History] = true
	}
	for _, tc := range cases {
		s := byName["case "+tc.name]
		if s.Verdict != tc.verdict {
			t.Errorf("the report says %q of %q, want %q", s.Verdict, tc.name, tc.verdict)
		}
		if len(s.Faults) != tc.faults {
			t.Errorf("the report lists %d faults of %q, want %d", len(s.Faults), tc.name, tc.faults)
		}
		if s.Broken != tc.broken {
			t.Errorf("the report says %q was broken in %q, want %q", s.Broken, tc.name, tc.broken)
		}
	}
	// One system, one history: saved once, and every experiment's window is a span of it.
	if len(histories) != 1 {
		t.Errorf("the experiments of one system name %d history files, want 1: %v", len(histories), histories)
	}
	if sc := report.ScoreOf(got); sc.Checks == 0 || sc.Failed != 6 {
		t.Errorf("score %+v: want the 6 failed cases and the checks of the others counted", sc)
	}
	for _, f := range []string{report.HTMLFile, report.MarkdownFile, report.JSONFile, report.JUnitFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the report lacks %s: %v", f, err)
		}
	}
}

func faultEvents(h *history.History) []history.Event {
	var out []history.Event
	for _, e := range h.Events() {
		if e.Kind == history.FaultInject {
			out = append(out, e)
		}
	}
	return out
}

// TestAnExperimentNeedsItsHypothesisAndItsSystem: bad input is one error naming the
// field and the fix, and nothing runs.
func TestAnExperimentNeedsItsHypothesisAndItsSystem(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  experiment.Config
		want string
	}{
		{"no hypothesis", experiment.Config{}, "Config.Hypothesis is empty: say what must hold"},
		{"no system", experiment.Config{Hypothesis: "h"}, "sys is nil: give the *harness.Running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeT{name: tc.name}
			ft.run(func() { experiment.Start(t.Context(), ft, nil, tc.cfg) })
			if !strings.Contains(ft.fatal, tc.want) {
				t.Fatalf("Fatalf %q, want it to say %q", ft.fatal, tc.want)
			}
		})
	}
}

// TestSeedIsTheEnvironmentsOrOneForTheRun: FAULTLINE_SEED fixes the seed; a bad value
// is refused with the fix; without it one random seed serves the whole run.
func TestSeedIsTheEnvironmentsOrOneForTheRun(t *testing.T) {
	t.Setenv(experiment.SeedEnv, "42")
	if s := experiment.Seed(t); s != 42 {
		t.Fatalf("seed %d with %s=42", s, experiment.SeedEnv)
	}
	t.Setenv(experiment.SeedEnv, "forty-two")
	ft := &fakeT{}
	ft.run(func() { experiment.Seed(ft) })
	if !strings.Contains(ft.fatal, `FAULTLINE_SEED="forty-two" is not a whole number`) {
		t.Fatalf("a bad seed: %q", ft.fatal)
	}
	t.Setenv(experiment.SeedEnv, "")
	if a, b := experiment.Seed(t), experiment.Seed(t); a != b {
		t.Fatalf("two seeds in one run: %d and %d", a, b)
	}
}
