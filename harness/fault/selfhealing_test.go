package fault_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/runtime"
)

// platformInstance plays a pod under its controller: Kill ends it and, unless HoldDown
// came first, it is running again at once; Start brings a held one back.
type platformInstance struct {
	runtime.Instance // nil: only the methods below are called
	mu               sync.Mutex
	state            runtime.State
	held, heldAsked  bool
}

func (p *platformInstance) Name() string        { return "svc-1" }
func (p *platformInstance) Spec() runtime.Spec  { return runtime.Spec{Name: "svc-1"} }
func (p *platformInstance) HostAddr() string    { return "127.0.0.1:1" }
func (p *platformInstance) set(s runtime.State) { p.mu.Lock(); p.state = s; p.mu.Unlock() }
func (p *platformInstance) State(context.Context) (runtime.State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state, nil
}
func (p *platformInstance) Kill(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = runtime.StateExited
	if !p.held {
		p.state = runtime.StateRunning // the controller's replacement
	}
	return nil
}
func (p *platformInstance) Start(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held, p.state = false, runtime.StateRunning
	return nil
}
func (p *platformInstance) Incarnation(context.Context) (string, error) { return "uid", nil }
func (p *platformInstance) HoldDown(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held, p.heldAsked = true, true
	return nil
}

// wrapped is an instance that wraps another, as the harness's does.
type wrapped struct{ runtime.Instance }

func (w wrapped) Unwrap() runtime.Instance { return w.Instance }

type holder struct{ held []string }

func (h *holder) Hold(name string)    { h.held = append(h.held, name) }
func (h *holder) Release(name string) {}

// A held kill on a platform that brings instances back by itself asks the platform to
// keep it down too, through whatever wraps the instance; the heal brings it back.
func TestHeldKillHoldsASelfHealingInstanceDownThroughItsWrapper(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := &platformInstance{state: runtime.StateRunning}
	h := &holder{}
	f := fault.Kill(wrapped{p}, fault.HoldDown(h))
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if !p.heldAsked || len(h.held) != 1 {
		t.Fatalf("HoldDown asked: %v, supervisor holds: %v; want both", p.heldAsked, h.held)
	}
	if st, _ := p.State(ctx); st != runtime.StateExited {
		t.Fatalf("held and killed, the instance is %s: the platform brought it back", st)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.State(ctx); st != runtime.StateRunning {
		t.Fatalf("after the heal the instance is %s", st)
	}

	// Without HoldDown the platform's replacement is left to it.
	q := &platformInstance{state: runtime.StateRunning}
	if err := fault.Kill(wrapped{q}).Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if q.heldAsked {
		t.Fatal("a kill without HoldDown asked the platform to hold the instance down")
	}
}
