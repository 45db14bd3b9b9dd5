package supervise_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/faultline/faultline/harness/runtime"
)

// fakeInstance is a runtime.Instance whose state the test sets, for the supervisor's
// logic alone (backoff, limits, holds) in milliseconds.
type fakeInstance struct {
	name string

	mu         sync.Mutex
	state      runtime.State
	starts     int
	failStarts int           // the next failStarts starts fail
	crashAfter time.Duration // > 0: every start exits again after this long
	startDelay time.Duration
	entered    chan struct{} // if set, receives once each Start begins
}

var _ runtime.Instance = (*fakeInstance)(nil)

func newFake(name string) *fakeInstance {
	return &fakeInstance{name: name, state: runtime.StateRunning}
}

func (f *fakeInstance) set(st runtime.State) {
	f.mu.Lock()
	f.state = st
	f.mu.Unlock()
}

func (f *fakeInstance) Starts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

func (f *fakeInstance) Name() string               { return f.name }
func (f *fakeInstance) Spec() runtime.Spec         { return runtime.Spec{Name: f.name} }
func (f *fakeInstance) HostAddr() string           { return "127.0.0.1:1" }
func (f *fakeInstance) NetAddr() string            { return "127.0.0.1:1" }
func (f *fakeInstance) Kill(context.Context) error { f.set(runtime.StateExited); return nil }
func (f *fakeInstance) Stop(context.Context, time.Duration) error {
	f.set(runtime.StateExited)
	return nil
}
func (f *fakeInstance) Pause(context.Context) error          { f.set(runtime.StatePaused); return nil }
func (f *fakeInstance) Resume(context.Context) error         { f.set(runtime.StateRunning); return nil }
func (f *fakeInstance) Disconnect(context.Context) error     { return runtime.ErrUnsupported }
func (f *fakeInstance) Reconnect(context.Context) error      { return runtime.ErrUnsupported }
func (f *fakeInstance) Logs(context.Context) ([]byte, error) { return nil, nil }
func (f *fakeInstance) State(context.Context) (runtime.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, nil
}

func (f *fakeInstance) Start(ctx context.Context) error {
	f.mu.Lock()
	delay, entered := f.startDelay, f.entered
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	if f.state != runtime.StateExited {
		return errors.New("fake: still running")
	}
	if f.failStarts > 0 {
		f.failStarts--
		return errors.New("fake: start failed")
	}
	f.state = runtime.StateRunning
	if f.crashAfter > 0 {
		time.AfterFunc(f.crashAfter, func() { f.set(runtime.StateExited) })
	}
	return nil
}

// selfHealingFake is a fakeInstance whose platform brings it back by itself
// (runtime.SelfHealing): the test plays the platform with set.
type selfHealingFake struct{ *fakeInstance }

var _ runtime.SelfHealing = selfHealingFake{}

func (f selfHealingFake) Incarnation(context.Context) (string, error) { return "fake", nil }
func (f selfHealingFake) HoldDown(context.Context) error              { return nil }
