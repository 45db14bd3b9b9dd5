package supervise_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/supervise"
)

// fastPoll keeps the logic tests in milliseconds.
const fastPoll = 10 * time.Millisecond

func newSupervisor(t *testing.T) (*supervise.Supervisor, *history.History) {
	t.Helper()
	h := history.New()
	s := supervise.New(h, nil, supervise.WithPollInterval(fastPoll))
	t.Cleanup(s.Close)
	return s, h
}

// eventually polls cond every 10 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func kinds(h *history.History, target string) []history.EventKind {
	var out []history.EventKind
	for _, e := range h.Events() {
		if e.Target == target {
			out = append(out, e.Kind)
		}
	}
	return out
}

func count(h *history.History, kind history.EventKind) int {
	n := 0
	for _, e := range h.Events() {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func state(f *fakeInstance) runtime.State {
	st, _ := f.State(context.Background())
	return st
}

func TestRestartsAnExitedInstanceAfterBackoff(t *testing.T) {
	s, h := newSupervisor(t)
	inst := newFake("svc-1")
	s.Watch(inst, supervise.Policy{Backoff: 50 * time.Millisecond})
	inst.set(runtime.StateExited)

	eventually(t, "restart", func() bool { return len(s.Restarts()) == 1 })
	if got := state(inst); got != runtime.StateRunning {
		t.Fatalf("state after restart = %s, want running", got)
	}
	rec := s.Restarts()[0]
	if rec.Name != "svc-1" || rec.Attempts != 1 {
		t.Errorf("restart record = %+v, want svc-1 after 1 attempt", rec)
	}
	if rec.Downtime() < 50*time.Millisecond {
		t.Errorf("downtime %v is shorter than the 50ms backoff", rec.Downtime())
	}
	if got, want := kinds(h, "svc-1"), []history.EventKind{history.Exit, history.Restart}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestLeavesPausedAndRunningInstancesAlone(t *testing.T) {
	s, h := newSupervisor(t)
	inst := newFake("svc-1")
	s.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond})
	inst.set(runtime.StatePaused)
	time.Sleep(200 * time.Millisecond)
	if inst.Starts() != 0 || len(h.Events()) != 0 {
		t.Fatalf("a paused instance was treated as failed: %d starts, events %v", inst.Starts(), h.Events())
	}
}

func TestNeverOnlyRecordsTheExit(t *testing.T) {
	s, h := newSupervisor(t)
	inst := newFake("svc-1")
	s.Watch(inst, supervise.Policy{Restart: supervise.Never, Backoff: 10 * time.Millisecond})
	inst.set(runtime.StateExited)
	eventually(t, "exit event", func() bool { return count(h, history.Exit) == 1 })
	time.Sleep(150 * time.Millisecond)
	if inst.Starts() != 0 || count(h, history.Exit) != 1 {
		t.Fatalf("policy never: %d starts and %d exit events, want 0 and 1", inst.Starts(), count(h, history.Exit))
	}
}

func TestGivesUpAfterMaxRestarts(t *testing.T) {
	s, h := newSupervisor(t)
	inst := newFake("svc-1")
	inst.crashAfter = 20 * time.Millisecond
	s.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond, MaxRestarts: 2})
	inst.set(runtime.StateExited)

	eventually(t, "give-up event", func() bool { return count(h, history.GiveUp) == 1 })
	time.Sleep(150 * time.Millisecond)
	if inst.Starts() != 2 || count(h, history.Restart) != 2 || count(h, history.GiveUp) != 1 {
		t.Fatalf("starts=%d restarts=%d giveups=%d, want 2, 2, 1", inst.Starts(), count(h, history.Restart), count(h, history.GiveUp))
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	s, _ := newSupervisor(t)
	inst := newFake("svc-1")
	inst.crashAfter = 5 * time.Millisecond
	s.Watch(inst, supervise.Policy{Backoff: 40 * time.Millisecond, MaxBackoff: 160 * time.Millisecond, MaxRestarts: 5})
	inst.set(runtime.StateExited)

	eventually(t, "five restarts", func() bool { return len(s.Restarts()) == 5 })
	wants := []time.Duration{40, 80, 160, 160, 160}
	for i, rec := range s.Restarts() {
		want := wants[i] * time.Millisecond
		if rec.Downtime() < want {
			t.Errorf("restart %d: down %v, want at least the %v backoff", i+1, rec.Downtime(), want)
		}
		if rec.Downtime() > want+2*time.Second {
			t.Errorf("restart %d: down %v, far beyond the %v backoff", i+1, rec.Downtime(), want)
		}
	}
}

func TestRetriesAFailedStart(t *testing.T) {
	s, h := newSupervisor(t)
	inst := newFake("svc-1")
	inst.failStarts = 2
	s.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond})
	inst.set(runtime.StateExited)

	eventually(t, "restart", func() bool { return len(s.Restarts()) == 1 })
	if rec := s.Restarts()[0]; rec.Attempts != 3 {
		t.Errorf("attempts = %d, want 3 (two failed starts, then one that worked)", rec.Attempts)
	}
	failed := 0
	for _, e := range h.Events() {
		if e.Kind == history.Exit && e.Err != "" {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("failed-start events = %d, want 2", failed)
	}
}

func TestHoldKeepsAnInstanceDownUntilRelease(t *testing.T) {
	s, h := newSupervisor(t)
	inst := newFake("svc-1")
	s.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond})
	s.Hold("svc-1")
	inst.set(runtime.StateExited)
	time.Sleep(200 * time.Millisecond)
	if inst.Starts() != 0 {
		t.Fatalf("a held instance was restarted")
	}
	ev := h.Events()
	if len(ev) != 1 || ev[0].Kind != history.Exit || !strings.Contains(ev[0].Detail, "held") {
		t.Fatalf("events while held = %+v, want one exit saying it is held", ev)
	}
	s.Release("svc-1")
	eventually(t, "restart after release", func() bool { return state(inst) == runtime.StateRunning })
}

func TestHoldWaitsForARestartUnderWay(t *testing.T) {
	s, _ := newSupervisor(t)
	inst := newFake("svc-1")
	inst.startDelay = 200 * time.Millisecond
	inst.entered = make(chan struct{}, 1)
	s.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond})
	inst.set(runtime.StateExited)
	<-inst.entered
	s.Hold("svc-1")
	if got := state(inst); got != runtime.StateRunning {
		t.Fatalf("Hold returned while a restart was under way: state %s", got)
	}
	s.Release("svc-1")
}

func TestNoRestartAfterClose(t *testing.T) {
	s, h := newSupervisor(t)
	inst := newFake("svc-1")
	s.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond})
	s.Close()
	inst.set(runtime.StateExited)
	s.Watch(inst, supervise.Policy{})
	time.Sleep(150 * time.Millisecond)
	if inst.Starts() != 0 || len(h.Events()) != 0 {
		t.Fatalf("after Close: %d starts, events %v", inst.Starts(), h.Events())
	}
}

// A platform that replaces what dies makes the restarts: the supervisor records each
// exit and return as a restart with its downtime, and never starts the instance itself,
// whatever the policy; a return after a hold is the holder's start, not a restart.
func TestRecordsThePlatformsRestartsAndStartsNothing(t *testing.T) {
	for _, policy := range []supervise.RestartPolicy{supervise.OnFailure, supervise.Never} {
		t.Run(policy.String(), func(t *testing.T) {
			s, h := newSupervisor(t)
			inst := selfHealingFake{newFake("svc-1")}
			s.Watch(inst, supervise.Policy{Restart: policy, Backoff: time.Millisecond})
			inst.set(runtime.StateExited)
			eventually(t, "exit event", func() bool { return count(h, history.Exit) == 1 })
			time.Sleep(100 * time.Millisecond) // many backoffs: the supervisor must still not start it
			if inst.Starts() != 0 {
				t.Fatalf("the supervisor started a self-healing instance %d times", inst.Starts())
			}
			inst.set(runtime.StateRunning) // the platform's replacement is ready
			eventually(t, "restart event", func() bool { return count(h, history.Restart) == 1 })
			rs := s.Restarts()
			if len(rs) != 1 || rs[0].Downtime() < 100*time.Millisecond {
				t.Fatalf("restarts = %+v, want one with the downtime (over 100ms)", rs)
			}
			if e := h.Events()[len(h.Events())-1]; !strings.Contains(e.Detail, "brought back by the platform") {
				t.Errorf("restart event detail %q does not say the platform made it", e.Detail)
			}

			s.Hold("svc-1")
			inst.set(runtime.StateExited)
			eventually(t, "second exit", func() bool { return count(h, history.Exit) == 2 })
			inst.set(runtime.StateRunning) // the holder's own start
			time.Sleep(100 * time.Millisecond)
			s.Release("svc-1")
			if n := count(h, history.Restart); n != 1 {
				t.Fatalf("%d restart events after a held exit and the holder's start, want still 1", n)
			}
		})
	}
}
