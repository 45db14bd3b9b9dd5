package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/runtime"
)

// KillFault kills an instance with SIGKILL: a crash, with no chance to flush or
// deregister. Under a supervisor the instance comes back by itself unless HoldDown
// keeps it down; the heal starts it if it is still down.
type KillFault struct {
	onInstance
}

var _ Fault = (*KillFault)(nil)

// Kill kills inst (SIGKILL); HoldDown(sup) keeps it down until the heal.
func Kill(inst runtime.Instance, opts ...ProcessOption) *KillFault {
	return &KillFault{onInstance: newOnInstance("kill", inst, opts)}
}

// Validate checks the parameters.
func (f *KillFault) Validate() error { return f.validate(true, false, false) }

// Inject holds the instance if asked, then kills it and waits for it to exit.
func (f *KillFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := f.hold(ctx); err != nil {
		return err
	}
	if err := f.inst.Kill(ctx); err != nil {
		return fmt.Errorf("kill %s: %w", f.inst.Name(), err)
	}
	return nil
}

// Verify sees the instance exited and its health check unanswered. It runs at once
// after the kill, well within a supervisor's first backoff.
func (f *KillFault) Verify(ctx context.Context) error { return f.wantDown(ctx) }

// Heal starts the instance again if it is still down, then releases the hold.
func (f *KillFault) Heal(ctx context.Context) error { return f.startIfDown(ctx) }

// VerifyHealed sees the instance running and answering.
func (f *KillFault) VerifyHealed(ctx context.Context) error { return f.wantUp(ctx) }

// String reads "kill accounts-1 (SIGKILL, held down)".
func (f *KillFault) String() string {
	return fmt.Sprintf("kill %s (SIGKILL%s)", f.Target(), f.held())
}
