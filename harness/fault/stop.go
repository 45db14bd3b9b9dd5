package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/runtime"
)

// StopFault stops an instance gracefully (its stop signal, SIGTERM unless its Spec names
// another, then SIGKILL after a grace period):
// a rolling deploy's or a scale-down's exit, which should deregister and drain.
type StopFault struct {
	onInstance
}

var _ Fault = (*StopFault)(nil)

// Stop stops inst with its stop signal (Spec.StopSignal, default SIGTERM), killing it after Grace (default 10 s); HoldDown(sup)
// keeps it down until the heal.
func Stop(inst runtime.Instance, opts ...ProcessOption) *StopFault {
	return &StopFault{onInstance: newOnInstance("stop", inst, opts)}
}

// Validate checks the parameters.
func (f *StopFault) Validate() error { return f.validate(true, true, false) }

// Inject holds the instance if asked, then stops it and waits for it to exit.
func (f *StopFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := f.hold(ctx); err != nil {
		return err
	}
	if err := f.inst.Stop(ctx, f.opts.grace); err != nil {
		return fmt.Errorf("stop %s: %w", f.inst.Name(), err)
	}
	return nil
}

// Verify sees the instance exited and its health check unanswered.
func (f *StopFault) Verify(ctx context.Context) error { return f.wantDown(ctx) }

// Heal starts the instance again if it is still down, then releases the hold.
func (f *StopFault) Heal(ctx context.Context) error { return f.startIfDown(ctx) }

// VerifyHealed sees the instance running and answering.
func (f *StopFault) VerifyHealed(ctx context.Context) error { return f.wantUp(ctx) }

// String reads "stop accounts-1 (SIGTERM, 10s grace)", with the instance's own stop
// signal.
func (f *StopFault) String() string {
	sig := "SIGTERM"
	if f.inst != nil && f.inst.Spec().StopSignal != "" {
		sig = f.inst.Spec().StopSignal
	}
	return fmt.Sprintf("stop %s (%s, %v grace%s)", f.Target(), sig, f.opts.grace, f.held())
}
