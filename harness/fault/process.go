package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/runtime"
)

// Holder keeps an instance down on purpose: while it holds a name, the supervisor does
// not restart that instance, and Hold returns only once any restart under way is done.
// *supervise.Supervisor is one.
type Holder interface {
	Hold(name string)
	Release(name string)
}

// ProcessOption customises a process fault.
type ProcessOption func(*processOptions)

type processOptions struct {
	holder   Holder
	grace    time.Duration
	graceSet bool
	probe    *netfault.Link
}

// HoldDown keeps the instance down for the fault's whole window, even under a
// supervisor that would restart it: the fault holds it before it acts, and its heal
// starts it and then releases it. For Kill, Stop and Restart.
func HoldDown(h Holder) ProcessOption { return func(o *processOptions) { o.holder = h } }

// Grace is how long Stop waits for a graceful exit before it kills (default 10 s).
func Grace(d time.Duration) ProcessOption {
	return func(o *processOptions) { o.grace, o.graceSet = d, true }
}

// ProbeVia gives NetworkDisconnect a link that reaches the instance over the network it
// is cut from (its ingress proxy), so the fault can be seen to act.
func ProbeVia(link *netfault.Link) ProcessOption { return func(o *processOptions) { o.probe = link } }

// DefaultGrace is Stop's wait for a graceful exit.
const DefaultGrace = 10 * time.Second

// onInstance is what every process fault shares: the instance, the options, and the
// checks of its state.
type onInstance struct {
	kind string
	inst runtime.Instance
	opts processOptions
}

func newOnInstance(kind string, inst runtime.Instance, opts []ProcessOption) onInstance {
	if isNil(inst) {
		inst = nil // a lookup's nil pointer: refused by validate, never called
	}
	o := onInstance{kind: kind, inst: inst, opts: processOptions{grace: DefaultGrace}}
	for _, opt := range opts {
		opt(&o.opts)
	}
	return o
}

// validate checks the instance and that only options the kind reads were given.
func (o *onInstance) validate(holdOK, graceOK, probeOK bool) error {
	switch {
	case o.inst == nil:
		return badParam(o.kind, "instance", nil, "pass the runtime.Instance to act on (Runtime.Start's result); "+
			"a lookup such as Running.Instance answers nil when it has no such name: check the name against Running.All")
	case o.opts.holder != nil && !holdOK:
		return badParam(o.kind, "HoldDown", o.opts.holder, "HoldDown applies to Kill, Stop and Restart: drop the option")
	case o.opts.graceSet && !graceOK:
		return badParam(o.kind, "Grace", o.opts.grace, "Grace applies to Stop only: drop the option")
	case o.opts.graceSet && o.opts.grace < 0:
		return badParam(o.kind, "Grace", o.opts.grace, "give a duration >= 0")
	case o.opts.probe != nil && !probeOK:
		return badParam(o.kind, "ProbeVia", o.opts.probe.Name(), "ProbeVia applies to NetworkDisconnect only: drop the option")
	}
	return nil
}

// Target is the instance's name.
func (o *onInstance) Target() string {
	if o.inst == nil {
		return ""
	}
	return o.inst.Name()
}

// held says ", held down" when the fault holds the instance.
func (o *onInstance) held() string {
	if o.opts.holder != nil {
		return ", held down"
	}
	return ""
}

// wantState checks the instance's state.
func (o *onInstance) wantState(ctx context.Context, want runtime.State) error {
	st, err := o.inst.State(ctx)
	if err != nil {
		return fmt.Errorf("state of %s: %w", o.inst.Name(), err)
	}
	if st != want {
		return fmt.Errorf("%s is %s, want %s", o.inst.Name(), st, want)
	}
	return nil
}

// wantDown checks that the instance has exited and that its health check, called
// directly, gets no answer.
func (o *onInstance) wantDown(ctx context.Context) error {
	if err := o.wantState(ctx, runtime.StateExited); err != nil {
		return err
	}
	if o.healthy(ctx) {
		return fmt.Errorf("%s reports exited but its health check at %s still answers", o.inst.Name(), o.inst.HostAddr())
	}
	return nil
}

// wantUp checks that the instance runs and answers its health check.
func (o *onInstance) wantUp(ctx context.Context) error {
	if err := o.wantState(ctx, runtime.StateRunning); err != nil {
		return err
	}
	if o.inst.Spec().Health != "" && !o.healthy(ctx) {
		return fmt.Errorf("%s runs but its health check at %s does not answer 200", o.inst.Name(), o.inst.HostAddr())
	}
	return nil
}

// healthy reports whether the instance answers its health check (or "/") with 200.
func (o *onInstance) healthy(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+o.inst.HostAddr()+o.inst.Spec().Health, nil)
	if err != nil {
		return false
	}
	// A fresh connection every time: a pooled one may lead to the process just killed.
	resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// hold holds the instance when the fault has a holder: the supervisor leaves it down,
// and so does a platform that brings instances back by itself (runtime.SelfHealing).
func (o *onInstance) hold(ctx context.Context) error {
	h := o.opts.holder
	if h == nil {
		return nil
	}
	h.Hold(o.inst.Name())
	if sh, ok := runtime.AsSelfHealing(o.inst); ok {
		if err := sh.HoldDown(ctx); err != nil {
			h.Release(o.inst.Name())
			return fmt.Errorf("hold %s down: %w", o.inst.Name(), err)
		}
	}
	return nil
}

// startIfDown starts the instance unless it already runs (a supervisor may have been
// quicker), holding it meanwhile when the fault has a holder, and releases the hold.
func (o *onInstance) startIfDown(ctx context.Context) error {
	if h := o.opts.holder; h != nil {
		defer h.Release(o.inst.Name())
	}
	st, err := o.inst.State(ctx)
	if err != nil {
		return fmt.Errorf("state of %s: %w", o.inst.Name(), err)
	}
	if st != runtime.StateExited {
		return nil
	}
	if err := o.inst.Start(ctx); err != nil {
		if st, serr := o.inst.State(ctx); serr == nil && st == runtime.StateRunning {
			return nil // started by someone else meanwhile
		}
		return fmt.Errorf("start %s again: %w", o.inst.Name(), err)
	}
	return nil
}

// errUnsupported explains ErrUnsupported for a person and keeps it for errors.Is.
func errUnsupported(what string, err error) error {
	if errors.Is(err, runtime.ErrUnsupported) {
		return fmt.Errorf("%s: this runtime cannot (use fault.Refuse or fault.BlackHole on the instance's link instead): %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
