package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/runtime"
)

// PauseFault freezes an instance (SIGSTOP, docker pause): it holds its connections and
// its registrations but answers nothing, the stop-the-world GC or overloaded host that
// callers can only detect by timing out. A supervisor leaves it alone.
type PauseFault struct {
	onInstance
}

var _ Fault = (*PauseFault)(nil)

// Pause freezes inst until the heal resumes it.
func Pause(inst runtime.Instance) *PauseFault {
	return &PauseFault{onInstance: newOnInstance("pause", inst, nil)}
}

// Validate checks the parameters.
func (f *PauseFault) Validate() error { return f.validate(false, false, false) }

// Inject freezes the instance.
func (f *PauseFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := f.inst.Pause(ctx); err != nil {
		return fmt.Errorf("pause %s: %w", f.inst.Name(), err)
	}
	return nil
}

// Verify sees the instance paused.
func (f *PauseFault) Verify(ctx context.Context) error { return f.wantState(ctx, runtime.StatePaused) }

// Heal resumes the instance if it is still paused (one killed meanwhile stays as it is).
func (f *PauseFault) Heal(ctx context.Context) error {
	st, err := f.inst.State(ctx)
	if err != nil {
		return fmt.Errorf("state of %s: %w", f.inst.Name(), err)
	}
	if st != runtime.StatePaused {
		return nil
	}
	if err := f.inst.Resume(ctx); err != nil {
		return fmt.Errorf("resume %s: %w", f.inst.Name(), err)
	}
	return nil
}

// VerifyHealed sees the instance no longer paused.
func (f *PauseFault) VerifyHealed(ctx context.Context) error {
	st, err := f.inst.State(ctx)
	if err != nil {
		return fmt.Errorf("state of %s: %w", f.inst.Name(), err)
	}
	if st == runtime.StatePaused {
		return fmt.Errorf("%s is still paused", f.inst.Name())
	}
	return nil
}

// String reads "pause accounts-1 (frozen)".
func (f *PauseFault) String() string { return fmt.Sprintf("pause %s (frozen)", f.Target()) }
