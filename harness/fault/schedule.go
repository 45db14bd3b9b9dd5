package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/runtime"
)

// Step is one fault of a schedule: what, and when in the window.
type Step struct {
	// At is when the fault is applied, from the schedule's start.
	At time.Duration
	// For is how long it stays before it is healed.
	For time.Duration
	// Kind is the catalog's name for it.
	Kind string
	// Fault is the fault itself.
	Fault Fault
}

// String reads "t+12.3s for 4.1s: latency 200ms±20ms on accounts-1 (downstream)".
func (s Step) String() string {
	return fmt.Sprintf("t+%v for %v: %v", s.At.Round(100*time.Millisecond), s.For.Round(100*time.Millisecond), s.Fault)
}

// Schedule is a list of steps in time order; printed, one step a line.
type Schedule []Step

// String is one step a line.
func (s Schedule) String() string {
	var b strings.Builder
	for _, st := range s {
		b.WriteString(st.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Schedule draws n faults over window from seed: the same seed, catalog and targets
// give the same schedule, so a failing run replays. The window is cut into n equal
// slots; each step starts in the first quarter of its slot and is healed before the
// slot ends, so steps never overlap and the system gets time to recover between them.
func (c *Catalog) Schedule(seed int64, n int, window time.Duration, targets Targets) (Schedule, error) {
	if n <= 0 {
		return nil, badParam("schedule", "n", n, "give a number of steps > 0")
	}
	if window < time.Duration(n)*time.Second {
		return nil, badParam("schedule", "window", window, fmt.Sprintf("give at least 1s per step (%v for %d steps)", time.Duration(n)*time.Second, n))
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5eed))
	slot := window / time.Duration(n)
	steps := make(Schedule, 0, n)
	for i := range n {
		kind, f, err := c.Draw(rng, targets)
		if err != nil {
			return nil, fmt.Errorf("schedule step %d: %w", i+1, err)
		}
		start := time.Duration(i)*slot + between(rng, 0, slot/4)
		steps = append(steps, Step{At: start, For: slot/4 + between(rng, 0, slot/2), Kind: kind, Fault: f})
	}
	return steps, nil
}

// Play applies each step at its time from now and heals it after its For, through the
// scope's lifecycle (so each step's events are in the history). A step the runtime
// cannot do (runtime.ErrUnsupported) is noted and skipped; any other failure is
// returned, joined, after the schedule has run. It stops early when ctx ends, healing
// what it applied.
func (s *Scope) Play(ctx context.Context, steps Schedule) error {
	start := time.Now()
	var errs []error
	for i, st := range steps {
		if err := sleepUntil(ctx, start.Add(st.At)); err != nil {
			return errors.Join(append(errs, fmt.Errorf("schedule stopped before step %d: %w", i+1, err))...)
		}
		a, err := s.Apply(ctx, st.Fault, WithMaxDuration(st.For+time.Minute))
		if errors.Is(err, runtime.ErrUnsupported) {
			s.log.WarnContext(ctx, "schedule step skipped: not supported here", "step", i+1, "fault", st.Fault.String())
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("step %d (%s): %w", i+1, st, err))
			continue
		}
		waitErr := sleepUntil(ctx, start.Add(st.At+st.For))
		if err := a.Heal(ctx); err != nil {
			errs = append(errs, fmt.Errorf("step %d (%s): %w", i+1, st, err))
		}
		if waitErr != nil {
			return errors.Join(append(errs, fmt.Errorf("schedule stopped during step %d: %w", i+1, waitErr))...)
		}
	}
	return errors.Join(errs...)
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
