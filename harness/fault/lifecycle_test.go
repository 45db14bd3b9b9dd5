package fault_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
)

// fakeFault records what the lifecycle asks of it, for the lifecycle's own tests.
type fakeFault struct {
	name      string
	log       *callLog // shared between faults, to see the order across them
	injectErr error
	verifyBad int // Verify fails this many times; -1 for ever
	healErr   error
	onInject  func()
	healDelay time.Duration
}

var (
	_ fault.Fault        = (*fakeFault)(nil)
	_ fault.Verifier     = (*fakeFault)(nil)
	_ fault.HealVerifier = (*fakeFault)(nil)
	_ fault.Targeter     = (*fakeFault)(nil)
)

type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	l.calls = append(l.calls, s)
	l.mu.Unlock()
}

func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func (l *callLog) count(s string) int {
	n := 0
	for _, c := range l.get() {
		if c == s {
			n++
		}
	}
	return n
}

func newFake(name string, log *callLog) *fakeFault { return &fakeFault{name: name, log: log} }

func (f *fakeFault) Inject(ctx context.Context) error {
	f.log.add(f.name + " inject")
	if f.onInject != nil {
		f.onInject()
	}
	return f.injectErr
}

func (f *fakeFault) Verify(ctx context.Context) error {
	f.log.add(f.name + " verify")
	if f.verifyBad != 0 {
		if f.verifyBad > 0 {
			f.verifyBad--
		}
		return errors.New("probe answered in 3ms")
	}
	return nil
}

func (f *fakeFault) Heal(ctx context.Context) error {
	time.Sleep(f.healDelay)
	f.log.add(f.name + " heal")
	return f.healErr
}

func (f *fakeFault) VerifyHealed(ctx context.Context) error {
	f.log.add(f.name + " verify-healed")
	return nil
}

func (f *fakeFault) Target() string { return f.name + "-target" }
func (f *fakeFault) String() string { return "fake " + f.name }

func kinds(h *history.History) []history.EventKind {
	var out []history.EventKind
	for _, e := range h.Events() {
		out = append(out, e.Kind)
	}
	return out
}

func newScope(t *testing.T) (*fault.Scope, *history.History) {
	h := history.New()
	return fault.ScopeFor(t, h, fault.WithSeed(7)), h
}

func TestApplyRunsAndRecordsTheLifecycleInOrder(t *testing.T) {
	sc, h := newScope(t)
	log := &callLog{}
	ctx := context.Background()

	a, err := sc.Apply(ctx, newFake("f", log))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := log.get(), []string{"f inject", "f verify", "f heal", "f verify-healed"}; !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	want := []history.EventKind{history.FaultInject, history.FaultVerified, history.FaultHeal, history.FaultHealed}
	if got := kinds(h); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	for _, e := range h.Events() {
		if e.Fault != "fake f" || e.Target != "f-target" {
			t.Errorf("event %+v: want fault %q on %q", e, "fake f", "f-target")
		}
	}
	healedAt, ok := a.HealedAt()
	if !ok || a.InjectedAt() <= 0 || healedAt < a.InjectedAt() {
		t.Errorf("injected at %v, healed at %v (%t): want 0 < injected <= healed", a.InjectedAt(), healedAt, ok)
	}
}

func TestHealRunsOnceWhoeverAsks(t *testing.T) {
	sc, h := newScope(t)
	log := &callLog{}
	f := newFake("f", log)
	f.healDelay = 20 * time.Millisecond
	a, err := sc.Apply(context.Background(), f, fault.WithMaxDuration(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _ = a.Heal(context.Background()) })
	}
	wg.Go(func() { _ = sc.HealAll(context.Background()) })
	wg.Wait()
	if n := log.count("f heal"); n != 1 {
		t.Errorf("heal ran %d times, want 1", n)
	}
	n := 0
	for _, e := range h.Events() {
		if e.Kind == history.FaultHeal {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d heal events, want 1", n)
	}
}

func TestTheHealIsRegisteredBeforeInjectReturns(t *testing.T) {
	sc, h := newScope(t)
	log := &callLog{}
	f := newFake("f", log)
	f.onInject = func() {
		if n := len(sc.Active()); n != 1 {
			t.Errorf("during Inject the scope holds %d active faults, want 1", n)
		}
	}
	f.injectErr = errors.New("proxy API: 500")

	a, err := sc.Apply(context.Background(), f)
	if err == nil || !strings.Contains(err.Error(), "inject fake f") || !strings.Contains(err.Error(), "proxy API: 500") {
		t.Fatalf("Apply error = %v, want it to name the fault and keep the cause", err)
	}
	if a == nil {
		t.Fatal("Apply returned no handle for a half-done inject")
	}
	select {
	case <-a.Healed():
	default:
		t.Fatal("a failed inject was not healed before Apply returned")
	}
	if got, want := log.get(), []string{"f inject", "f heal", "f verify-healed"}; !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	want := []history.EventKind{history.FaultInject, history.FaultError, history.FaultHeal, history.FaultHealed}
	if got := kinds(h); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestAFaultNotSeenActingFailsLoudlyAndIsHealed(t *testing.T) {
	sc, h := newScope(t)
	log := &callLog{}
	f := newFake("f", log)
	f.verifyBad = -1

	start := time.Now()
	_, err := sc.Apply(context.Background(), f, fault.WithVerifyTimeout(300*time.Millisecond))
	if !errors.Is(err, fault.ErrNotEffective) {
		t.Fatalf("Apply error = %v, want ErrNotEffective", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "fake f") || !strings.Contains(msg, "probe answered in 3ms") {
		t.Errorf("error %q should name the fault and what was seen", msg)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("Apply gave up after %v, want about the 300ms verify timeout", took)
	}
	if log.count("f verify") < 2 {
		t.Errorf("Verify ran %d times, want retries", log.count("f verify"))
	}
	if log.count("f heal") != 1 {
		t.Errorf("an unseen fault was not healed")
	}
	want := []history.EventKind{history.FaultInject, history.FaultError, history.FaultHeal, history.FaultHealed}
	if got := kinds(h); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestVerifyIsRetriedBriefly(t *testing.T) {
	sc, h := newScope(t)
	f := newFake("f", &callLog{})
	f.verifyBad = 2
	if _, err := sc.Apply(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	ev := h.Events()
	if len(ev) != 2 || ev[1].Kind != history.FaultVerified || !strings.Contains(ev[1].Detail, "3 check") {
		t.Errorf("events = %+v, want verified after 3 checks", ev)
	}
}

func TestAFaultHealsItselfAtItsMaximumDuration(t *testing.T) {
	sc, h := newScope(t)
	a, err := sc.Apply(context.Background(), newFake("f", &callLog{}), fault.WithMaxDuration(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Healed():
	case <-time.After(5 * time.Second):
		t.Fatal("not healed 5s after a 50ms maximum duration")
	}
	if !a.Expired() {
		t.Error("Expired() = false after the timer healed it")
	}
	want := []history.EventKind{history.FaultInject, history.FaultVerified, history.FaultExpired, history.FaultHeal, history.FaultHealed}
	if got := kinds(h); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if healedAt, _ := a.HealedAt(); healedAt-a.InjectedAt() < 50*time.Millisecond {
		t.Errorf("healed %v after inject, before its 50ms maximum", healedAt-a.InjectedAt())
	}
}

func TestHealAllHealsWhatIsLeftNewestFirst(t *testing.T) {
	sc, _ := newScope(t)
	log := &callLog{}
	ctx := context.Background()
	var actives []*fault.Active
	for _, name := range []string{"a", "b", "c"} {
		a, err := sc.Apply(ctx, newFake(name, log))
		if err != nil {
			t.Fatal(err)
		}
		actives = append(actives, a)
	}
	if err := actives[1].Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sc.HealAll(ctx); err != nil {
		t.Fatal(err)
	}
	var heals []string
	for _, c := range log.get() {
		if strings.HasSuffix(c, " heal") {
			heals = append(heals, c)
		}
	}
	if want := []string{"b heal", "c heal", "a heal"}; !slices.Equal(heals, want) {
		t.Errorf("heals = %v, want %v", heals, want)
	}
	if n := len(sc.Active()); n != 0 {
		t.Errorf("%d faults still active after HealAll", n)
	}
}

func TestHealAllReportsAFailedHeal(t *testing.T) {
	sc, h := newScope(t)
	f := newFake("f", &callLog{})
	f.healErr = errors.New("proxy API: connection refused")
	if _, err := sc.Apply(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	err := sc.HealAll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "heal fake f") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("HealAll error = %v, want the heal's failure with its cause", err)
	}
	if k := kinds(h); k[len(k)-1] != history.FaultError {
		t.Errorf("events = %v, want a fault error last", k)
	}
}

func TestApplyHealsEvenWhenTheScenarioContextIsCancelled(t *testing.T) {
	sc, _ := newScope(t)
	log := &callLog{}
	a, err := sc.Apply(context.Background(), newFake("f", log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if log.count("f heal") != 1 {
		t.Error("a cancelled context stopped the heal")
	}
}

func TestPlayAppliesAndHealsEachStepOnTime(t *testing.T) {
	sc, h := newScope(t)
	log := &callLog{}
	steps := fault.Schedule{
		{At: 0, For: 100 * time.Millisecond, Kind: "fake", Fault: newFake("a", log)},
		{At: 200 * time.Millisecond, For: 100 * time.Millisecond, Kind: "fake", Fault: newFake("b", log)},
	}
	start := time.Now()
	if err := sc.Play(context.Background(), steps); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("played in %v, before the last step's end at 300ms", took)
	}
	want := []string{"a inject", "a verify", "a heal", "a verify-healed", "b inject", "b verify", "b heal", "b verify-healed"}
	if got := log.get(); !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	var injected []time.Duration
	for _, e := range h.Events() {
		if e.Kind == history.FaultInject {
			injected = append(injected, e.At)
		}
	}
	if len(injected) != 2 || injected[1]-injected[0] < 190*time.Millisecond {
		t.Errorf("injections at %v, want them 200ms apart", injected)
	}
}

func TestPlayStopsWhenItsContextEndsAndHealsWhatItApplied(t *testing.T) {
	sc, _ := newScope(t)
	log := &callLog{}
	steps := fault.Schedule{
		{At: 0, For: time.Hour, Kind: "fake", Fault: newFake("a", log)},
		{At: 2 * time.Hour, For: time.Hour, Kind: "fake", Fault: newFake("b", log)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := sc.Play(ctx, steps)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Play = %v, want the context's end", err)
	}
	if log.count("a heal") != 1 || log.count("b inject") != 0 {
		t.Errorf("calls = %v, want a healed and b never injected", log.get())
	}
}
