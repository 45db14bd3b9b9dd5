package fault_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/netfault"
)

// oneParamError fails t unless err is one *fault.ParamError (one line, not several
// joined) that names field and says every fragment of want.
func oneParamError(t testing.TB, err error, field string, want ...string) {
	t.Helper()
	var pe *fault.ParamError
	if !errors.As(err, &pe) || !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("error = %v, want a *fault.ParamError", err)
	}
	msg := err.Error()
	if pe.Field != field || pe.Fix == "" {
		t.Errorf("error %q: names field %q with fix %q, want field %q and a fix", msg, pe.Field, pe.Fix, field)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("one problem came out as several errors:\n%s", msg)
	}
	for _, w := range append([]string{field}, want...) {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
}

// noInject fails t if h holds a FaultInject: a refused fault must not have begun.
func noInject(t testing.TB, h *history.History) {
	t.Helper()
	for _, e := range h.Events() {
		if e.Kind == history.FaultInject {
			t.Errorf("FaultInject recorded for a refused fault: %+v", e)
		}
	}
}

// TestBadFaultParametersGiveOneErrorWithTheFix: each bad parameter a user can write —
// a negative latency, a probability outside (0, 1], a zero or negative duration — is
// refused by Apply with one error that names the parameter and the fix, before
// anything is injected.
func TestBadFaultParametersGiveOneErrorWithTheFix(t *testing.T) {
	link := &netfault.Link{} // never reached: validation comes first
	inst := namedInstance("svc-1")
	cases := []struct {
		name  string
		fault fault.Fault
		opts  []fault.ApplyOption
		field string
		want  []string
	}{
		{"negative latency", fault.Latency(link, -5*time.Millisecond), nil, "latency", []string{"-5ms", "at least 1ms"}},
		{"zero latency", fault.Latency(link, 0), nil, "latency", []string{"at least 1ms"}},
		{"negative jitter", fault.Latency(link, time.Second, fault.Jitter(-time.Millisecond)), nil, "Jitter", []string{"between 0 and the latency"}},
		{"toxicity above 1", fault.Latency(link, time.Second, fault.Toxicity(1.5)), nil, "Toxicity", []string{"1.5", "(0, 1]"}},
		{"toxicity negative", fault.Bandwidth(link, 10, fault.Toxicity(-0.2)), nil, "Toxicity", []string{"-0.2", "(0, 1]"}},
		{"toxicity zero", fault.ResetPeer(link, 0, fault.Toxicity(0)), nil, "Toxicity", []string{"(0, 1]", "0 as never"}},
		{"fraction above 1", fault.HTTPError(link, 503, fault.Fraction(1.01)), nil, "Fraction", []string{"1.01", "(0, 1]"}},
		{"fraction negative", fault.HTTPError(link, 503, fault.Fraction(-1)), nil, "Fraction", []string{"(0, 1]"}},
		{"zero timeout", fault.Timeout(link, 0), nil, "after", []string{"0s"}},
		{"negative slow close", fault.SlowClose(link, -time.Second), nil, "delay", []string{"-1s"}},
		{"zero http delay", fault.HTTPDelay(link, 0), nil, "delay", []string{"at least 1ms"}},
		{"negative reset delay", fault.ResetPeer(link, -time.Millisecond), nil, "after", []string{"-1ms"}},
		{"negative grace", fault.Stop(inst, fault.Grace(-time.Second)), nil, "Grace", []string{">= 0"}},
		{"zero bandwidth", fault.Bandwidth(link, 0), nil, "kbPerSecond", nil},
		{"zero max duration", fault.Kill(inst), []fault.ApplyOption{fault.WithMaxDuration(0)}, "WithMaxDuration", []string{"> 0"}},
		{"negative max duration", fault.Kill(inst), []fault.ApplyOption{fault.WithMaxDuration(-time.Minute)}, "WithMaxDuration", []string{"-1m0s", "> 0"}},
		{"negative verify timeout", fault.Kill(inst), []fault.ApplyOption{fault.WithVerifyTimeout(-time.Second)}, "WithVerifyTimeout", []string{"> 0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := history.New()
			sc := fault.NewScope(h, nil)
			a, err := sc.Apply(context.Background(), tc.fault, tc.opts...)
			oneParamError(t, err, tc.field, tc.want...)
			if a != nil || len(sc.Active()) != 0 {
				t.Error("a refused fault is active")
			}
			noInject(t, h)
		})
	}
}

// TestBadScheduleGivesOneErrorWithTheFix: a drawn schedule with an impossible size or
// window, an unknown kind asked of the catalog, and a hand-written schedule with a bad
// step are each refused with one error, before any step runs.
func TestBadScheduleGivesOneErrorWithTheFix(t *testing.T) {
	c := fault.NewCatalog()
	targets := fault.Targets{Instances: instances("a-1", "a-2")}
	draws := []struct {
		name   string
		n      int
		window time.Duration
		field  string
		want   []string
	}{
		{"no steps", 0, time.Minute, "n", []string{"from 1 to"}},
		{"negative steps", -3, time.Minute, "n", []string{"-3", "from 1 to"}},
		{"absurd steps", 1 << 40, 1 << 62, "n", []string{"from 1 to"}},
		{"zero window", 2, 0, "window", []string{"at least 1s per step"}},
		{"negative window", 2, -time.Minute, "window", []string{"-1m0s", "at least 1s per step"}},
	}
	for _, tc := range draws {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Schedule(1, tc.n, tc.window, targets)
			oneParamError(t, err, tc.field, tc.want...)
		})
	}

	t.Run("unknown kind in the catalog", func(t *testing.T) {
		_, err := c.Only("latency", "meteor")
		oneParamError(t, err, "kind", `"meteor"`, "use one of latency, bandwidth", "Register it first")
	})

	kill := fault.Kill(namedInstance("a-1"))
	plays := []struct {
		name  string
		steps fault.Schedule
		field string
		want  []string
	}{
		{"zero duration", fault.Schedule{{At: 0, For: 0, Kind: "kill", Fault: kill}}, "step 1: For", []string{"> 0"}},
		{"negative duration", fault.Schedule{{At: 0, For: time.Second, Kind: "kill", Fault: kill}, {At: 2 * time.Second, For: -time.Second, Kind: "kill", Fault: kill}}, "step 2: For", []string{"-1s", "> 0"}},
		{"negative start", fault.Schedule{{At: -time.Second, For: time.Second, Kind: "kill", Fault: kill}}, "step 1: At", []string{">= 0"}},
		{"overlapping steps", fault.Schedule{{At: 0, For: 2 * time.Second, Kind: "kill", Fault: kill}, {At: time.Second, For: time.Second, Kind: "kill", Fault: kill}}, "step 2: At", []string{"at or after 2s"}},
		{"no fault", fault.Schedule{{At: 0, For: time.Second, Kind: "kill"}}, "step 1: Fault", []string{"give every step a fault"}},
		{"bad fault in a later step", fault.Schedule{{At: 0, For: time.Second, Kind: "kill", Fault: kill}, {At: 2 * time.Second, For: time.Second, Kind: "latency", Fault: fault.Latency(&netfault.Link{}, -time.Second)}}, "latency", []string{"schedule step 2", "at least 1ms"}},
	}
	for _, tc := range plays {
		t.Run("play: "+tc.name, func(t *testing.T) {
			h := history.New()
			start := time.Now()
			err := fault.NewScope(h, nil).Play(context.Background(), tc.steps)
			oneParamError(t, err, tc.field, tc.want...)
			if time.Since(start) > time.Second {
				t.Errorf("Play took %v to refuse the schedule: it ran steps first", time.Since(start))
			}
			noInject(t, h)
		})
	}
}

// TestFaultOnATypedNilInstanceIsRefused: a nil pointer in the runtime.Instance interface
// (what a lookup returns for an unknown name) is refused like a nil, never called.
func TestFaultOnATypedNilInstanceIsRefused(t *testing.T) {
	var missing *nilInstance
	for _, f := range []fault.Fault{fault.Kill(missing), fault.Stop(missing), fault.Pause(missing), fault.Restart(missing), fault.NetworkDisconnect(missing)} {
		_, err := fault.NewScope(nil, nil).Apply(context.Background(), f)
		oneParamError(t, err, "instance", "no such name", "check the name")
	}
}

// nilInstance is a runtime.Instance only ever used as a nil pointer: any call panics.
type nilInstance struct{ namedInstance }
