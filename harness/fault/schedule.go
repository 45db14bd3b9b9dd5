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

// Validate checks a schedule before its first step runs: every step has a fault whose
// parameters are good, starts at or after the schedule's start and after the previous
// step has healed, and stays for a positive duration. A hand-written schedule with a
// bad step is refused whole, instead of failing minutes into a run.
func (s Schedule) Validate() error {
	var end time.Duration
	for i, st := range s {
		field := func(name string) string { return fmt.Sprintf("step %d: %s", i+1, name) }
		switch {
		case st.Fault == nil:
			return badParam("schedule", field("Fault"), nil, "give every step a fault, e.g. fault.Kill(inst)")
		case st.At < 0:
			return badParam("schedule", field("At"), st.At, "give a time >= 0 from the schedule's start")
		case st.For <= 0:
			return badParam("schedule", field("For"), st.For, "give a duration > 0: how long the fault stays before it is healed")
		case st.At < end:
			return badParam("schedule", field("At"), st.At, fmt.Sprintf("steps run one after another: start it at or after %v, when step %d has healed", end, i))
		}
		if v, ok := st.Fault.(Validator); ok {
			if err := v.Validate(); err != nil {
				return fmt.Errorf("schedule step %d: %w", i+1, err)
			}
		}
		end = st.At + st.For
	}
	return nil
}

// maxSteps bounds a drawn schedule: at least a second a step, that is over a day.
const maxSteps = 100_000

// Schedule draws n faults over window from seed: the same seed, catalog and targets
// give the same schedule, so a failing run replays. The window is cut into n equal
// slots; each step starts in the first quarter of its slot and is healed before the
// slot ends, so steps never overlap and the system gets time to recover between them.
func (c *Catalog) Schedule(seed int64, n int, window time.Duration, targets Targets) (Schedule, error) {
	if n <= 0 || n > maxSteps {
		return nil, badParam("schedule", "n", n, fmt.Sprintf("give a number of steps from 1 to %d", maxSteps))
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
// scope's lifecycle (so each step's events are in the history). A schedule that fails
// Validate is refused before its first step. A step the runtime
// cannot do (runtime.ErrUnsupported) is noted and skipped; any other failure is
// returned, joined, after the schedule has run. It stops early when ctx ends, healing
// what it applied.
func (s *Scope) Play(ctx context.Context, steps Schedule) error {
	if err := steps.Validate(); err != nil {
		return fmt.Errorf("play schedule: %w", err)
	}
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
