package fault_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/supervise"
)

func count(h *history.History, kind history.EventKind) int {
	n := 0
	for _, e := range h.Events() {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func TestKillUnderASupervisorComesBackByItself(t *testing.T) {
	inst := startService(t, newRuntime(t), "svc-1")
	h := history.New()
	sup := supervise.New(h, nil)
	t.Cleanup(sup.Close)
	sup.Watch(inst, supervise.Policy{})
	sc := fault.ScopeFor(t, h)
	ctx := context.Background()

	a, err := sc.Apply(ctx, fault.Kill(inst))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the killed service answering again", func() bool { return answers(inst) })
	eventually(t, "the supervisor's restart recorded", func() bool { return count(h, history.Restart) == 1 })
	if err := a.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(sup.Restarts()); n != 1 {
		t.Errorf("%d restarts, want 1 (the heal found it running)", n)
	}
	if a.String() != "kill svc-1 (SIGKILL)" {
		t.Errorf("name = %q", a.String())
	}
}

func TestKillHeldDownStaysDownUntilItsHeal(t *testing.T) {
	inst := startService(t, newRuntime(t), "svc-1")
	h := history.New()
	sup := supervise.New(h, nil, supervise.WithPollInterval(20*time.Millisecond))
	t.Cleanup(sup.Close)
	sup.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond})
	sc := fault.ScopeFor(t, h)
	ctx := context.Background()

	a, err := sc.Apply(ctx, fault.Kill(inst, fault.HoldDown(sup)))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if answers(inst) || len(sup.Restarts()) != 0 {
		t.Fatal("a service killed and held down came back before its heal")
	}
	if err := a.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if !answers(inst) {
		t.Fatal("not answering after the heal")
	}
	if sup.Held(inst.Name()) || len(sup.Restarts()) != 0 {
		t.Errorf("after heal: held=%t, supervisor restarts %d; want released, 0 (the heal started it)", sup.Held(inst.Name()), len(sup.Restarts()))
	}
}

func TestPauseHangsRequestsUntilHealed(t *testing.T) {
	inst := startService(t, newRuntime(t), "svc-1")
	sc := fault.ScopeFor(t, nil)
	ctx := context.Background()

	a, err := sc.Apply(ctx, fault.Pause(inst))
	if err != nil {
		t.Fatal(err)
	}
	if o := get(inst.HostAddr(), "/healthz", 500*time.Millisecond); o.answered() || !isTimeout(o.err) {
		t.Fatalf("a paused service: %+v, want a request that times out", o)
	}
	if err := a.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if !answers(inst) {
		t.Fatal("not answering after resume")
	}
}

func TestStopAndRestart(t *testing.T) {
	inst := startService(t, newRuntime(t), "svc-1")
	ctx := context.Background()
	for _, f := range []fault.Fault{fault.Stop(inst, fault.Grace(2*time.Second)), fault.Restart(inst)} {
		t.Run(f.String(), func(t *testing.T) {
			h := history.New()
			sc := fault.ScopeFor(t, h)
			a, err := sc.Apply(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			if !answers(inst) {
				t.Fatal("not answering after the heal")
			}
			if count(h, history.FaultVerified) != 1 || count(h, history.FaultHealed) != 1 {
				t.Errorf("events = %+v, want verified and healed", h.Events())
			}
		})
	}
}

func TestNetworkDisconnectIsUnsupportedLocally(t *testing.T) {
	inst := startService(t, newRuntime(t), "svc-1")
	sc := fault.ScopeFor(t, nil)
	_, err := sc.Apply(context.Background(), fault.NetworkDisconnect(inst))
	if !errors.Is(err, runtime.ErrUnsupported) {
		t.Fatalf("error = %v, want runtime.ErrUnsupported", err)
	}
	if !strings.Contains(err.Error(), "fault.Refuse") {
		t.Errorf("error %q should point to the proxy faults", err)
	}
	if !answers(inst) {
		t.Error("the instance was harmed by an unsupported fault")
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
