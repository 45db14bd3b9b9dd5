package fault

import (
	"context"
	"fmt"
	"sync"

	"github.com/faultline/faultline/harness/runtime"
)

// NetworkDisconnectFault cuts a container off the run's network (docker network
// disconnect): the instance runs, but nothing reaches it and it reaches nothing, by any
// path. The local runtime has no such network: Apply returns runtime.ErrUnsupported, for
// the scenario to skip; use Refuse or BlackHole on its links there.
type NetworkDisconnectFault struct {
	onInstance
	mu           sync.Mutex
	disconnected bool
}

var _ Fault = (*NetworkDisconnectFault)(nil)

// NetworkDisconnect cuts inst off the run's network; ProbeVia(link) lets it be seen.
func NetworkDisconnect(inst runtime.Instance, opts ...ProcessOption) *NetworkDisconnectFault {
	return &NetworkDisconnectFault{onInstance: newOnInstance("network disconnect", inst, opts)}
}

// Validate checks the parameters.
func (f *NetworkDisconnectFault) Validate() error { return f.validate(false, false, true) }

// Inject disconnects the instance.
func (f *NetworkDisconnectFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := f.inst.Disconnect(ctx); err != nil {
		return errUnsupported("disconnect "+f.inst.Name(), err)
	}
	f.mu.Lock()
	f.disconnected = true
	f.mu.Unlock()
	return nil
}

// Verify sees a probe through the ProbeVia link get no answer. Without ProbeVia nothing
// outside the network can tell, and the Docker API's success is the only proof.
func (f *NetworkDisconnectFault) Verify(ctx context.Context) error {
	if f.opts.probe == nil {
		return nil
	}
	return expectNoAnswer(ctx, f.opts.probe)
}

// Heal reconnects the instance, with its aliases, if it was disconnected.
func (f *NetworkDisconnectFault) Heal(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.disconnected {
		return nil
	}
	if err := f.inst.Reconnect(ctx); err != nil {
		return errUnsupported("reconnect "+f.inst.Name(), err)
	}
	f.disconnected = false
	return nil
}

// String reads "network disconnect of accounts-1".
func (f *NetworkDisconnectFault) String() string {
	return fmt.Sprintf("network disconnect of %s", f.Target())
}
