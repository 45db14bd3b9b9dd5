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

func TestBadParametersAreRefusedBeforeAnythingHappens(t *testing.T) {
	link := &netfault.Link{} // never reached: validation comes first
	inst := namedInstance("svc-1")
	peers := map[[2]string]*netfault.Link{{"a", "b"}: link, {"b", "a"}: link}
	cases := []struct {
		fault fault.Fault
		field string
	}{
		{fault.Latency(nil, 100*time.Millisecond), "link"},
		{fault.Latency(link, -5*time.Millisecond), "latency"},
		{fault.Latency(link, 100*time.Millisecond, fault.Jitter(200*time.Millisecond)), "Jitter"},
		{fault.Latency(link, 100*time.Millisecond, fault.Toxicity(1.5)), "Toxicity"},
		{fault.Latency(link, 100*time.Millisecond, fault.Toxicity(0)), "Toxicity"},
		{fault.Latency(link, 100*time.Millisecond, fault.Stream(netfault.Direction(9))), "Stream"},
		{fault.Bandwidth(link, 0), "kbPerSecond"},
		{fault.Bandwidth(link, 10, fault.Jitter(time.Millisecond)), "Jitter"},
		{fault.SlowClose(link, 0), "delay"},
		{fault.Timeout(link, 0), "after"},
		{fault.ResetPeer(link, -time.Second), "after"},
		{fault.Slicer(link, 0, 0, 0), "averageSize"},
		{fault.Slicer(link, 10, 10, 0), "sizeVariation"},
		{fault.LimitData(link, -1), "bytes"},
		{fault.Refuse(nil), "link"},
		{fault.BlackHole(nil), "link"},
		{fault.OneWayCut(link, netfault.Both), "dir"},
		{fault.HTTPError(link, 42), "status"},
		{fault.HTTPError(link, 503, fault.Fraction(1.5)), "Fraction"},
		{fault.HTTPError(link, 503, fault.Fraction(-0.1)), "Fraction"},
		{fault.HTTPError(link, 503, fault.FirstN(3), fault.Fraction(0.5)), "FirstN"},
		{fault.HTTPError(link, 503, fault.OnPath("api")), "OnPath"},
		{fault.HTTPDelay(link, 0), "delay"},
		{fault.Kill(nil), "instance"},
		{fault.Stop(inst, fault.Grace(-time.Second)), "Grace"},
		{fault.Kill(inst, fault.Grace(time.Second)), "Grace"},
		{fault.Pause(nil), "instance"},
		{fault.NetworkDisconnect(nil), "instance"},
		{fault.Restart(inst, fault.ProbeVia(link)), "ProbeVia"},
		{fault.Partition(nil, fault.IsolateOne("a")), "links"},
		{fault.Partition(peers, nil), "recipe"},
		{fault.Partition(peers, fault.IsolateOne("z")), "recipe"},
		{fault.Partition(peers, fault.Ring(1)), "recipe"},
	}
	for _, tc := range cases {
		t.Run(tc.fault.String(), func(t *testing.T) {
			h := history.New()
			sc := fault.NewScope(h, nil)
			a, err := sc.Apply(context.Background(), tc.fault)
			var pe *fault.ParamError
			if !errors.As(err, &pe) || !errors.Is(err, fault.ErrInvalid) {
				t.Fatalf("Apply error = %v, want a *ParamError", err)
			}
			if pe.Field != tc.field || pe.Fix == "" || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q: want it to name field %s and a fix", err, tc.field)
			}
			if a != nil || len(sc.Active()) != 0 {
				t.Error("a fault with bad parameters was applied")
			}
			for _, e := range h.Events() {
				if e.Kind == history.FaultInject {
					t.Error("FaultInject recorded for a fault that was refused")
				}
			}
			if err := tc.fault.Inject(context.Background()); !errors.Is(err, fault.ErrInvalid) {
				t.Errorf("Inject called directly = %v, want the same refusal", err)
			}
		})
	}
}

func TestApplyRefusesANilFault(t *testing.T) {
	if _, err := fault.NewScope(nil, nil).Apply(context.Background(), nil); err == nil {
		t.Fatal("Apply(nil) did not fail")
	}
}
