package fault

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/runtime"
)

// RestartFault kills an instance and starts it again at once: the crash-and-recover
// that must lose nothing acknowledged. Its heal has nothing left to do.
type RestartFault struct {
	onInstance
}

var _ Fault = (*RestartFault)(nil)

// Restart kills inst and starts it again; HoldDown(sup) keeps a supervisor out of the
// way meanwhile.
func Restart(inst runtime.Instance, opts ...ProcessOption) *RestartFault {
	return &RestartFault{onInstance: newOnInstance("restart", inst, opts)}
}

// Validate checks the parameters.
func (f *RestartFault) Validate() error { return f.validate(true, false, false) }

// Inject kills the instance, then starts it and waits until it is ready.
func (f *RestartFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := f.hold(ctx); err != nil {
		return err
	}
	if err := f.inst.Kill(ctx); err != nil {
		if h := f.opts.holder; h != nil {
			h.Release(f.inst.Name())
		}
		return fmt.Errorf("kill %s: %w", f.inst.Name(), err)
	}
	return f.startIfDown(ctx)
}

// Verify sees the instance running and answering again.
func (f *RestartFault) Verify(ctx context.Context) error { return f.wantUp(ctx) }

// Heal starts the instance if a failed Inject left it down.
func (f *RestartFault) Heal(ctx context.Context) error {
	st, err := f.inst.State(ctx)
	if err != nil {
		return fmt.Errorf("state of %s: %w", f.inst.Name(), err)
	}
	if st != runtime.StateExited {
		return nil
	}
	f.opts.holder = nil // Inject released any hold
	return f.startIfDown(ctx)
}

// String reads "restart accounts-1 (SIGKILL, then start)".
func (f *RestartFault) String() string {
	return fmt.Sprintf("restart %s (SIGKILL, then start)", f.Target())
}
