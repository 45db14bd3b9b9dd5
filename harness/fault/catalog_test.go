package fault_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/runtime"
)

// namedInstance is a runtime.Instance that only has a name: enough to draw faults over.
type namedInstance string

var _ runtime.Instance = namedInstance("")

func (n namedInstance) Name() string                               { return string(n) }
func (namedInstance) Spec() runtime.Spec                           { return runtime.Spec{} }
func (namedInstance) HostAddr() string                             { return "" }
func (namedInstance) NetAddr() string                              { return "" }
func (namedInstance) Kill(context.Context) error                   { return nil }
func (namedInstance) Stop(context.Context, time.Duration) error    { return nil }
func (namedInstance) Pause(context.Context) error                  { return nil }
func (namedInstance) Resume(context.Context) error                 { return nil }
func (namedInstance) Start(context.Context) error                  { return nil }
func (namedInstance) Disconnect(context.Context) error             { return nil }
func (namedInstance) Reconnect(context.Context) error              { return nil }
func (namedInstance) State(context.Context) (runtime.State, error) { return runtime.StateRunning, nil }
func (namedInstance) Logs(context.Context) ([]byte, error)         { return nil, nil }

func instances(names ...string) []runtime.Instance {
	out := make([]runtime.Instance, len(names))
	for i, n := range names {
		out[i] = namedInstance(n)
	}
	return out
}

func TestScheduleIsReproducibleFromItsSeed(t *testing.T) {
	c := fault.NewCatalog()
	targets := fault.Targets{Instances: instances("b-1", "a-1", "c-1")}
	shuffledTargets := fault.Targets{Instances: instances("c-1", "b-1", "a-1")}

	first, err := c.Schedule(7, 8, time.Minute, targets)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Schedule(7, 8, time.Minute, shuffledTargets)
	if err != nil {
		t.Fatal(err)
	}
	if first.String() != again.String() {
		t.Errorf("same seed, different schedules:\n%s\nvs\n%s", first, again)
	}
	other, _ := c.Schedule(8, 8, time.Minute, targets)
	if first.String() == other.String() {
		t.Errorf("seeds 7 and 8 gave the same schedule:\n%s", first)
	}
	t.Logf("seed 7:\n%s", first)

	if len(first) != 8 || strings.Count(first.String(), "\n") != 8 {
		t.Fatalf("%d steps, want 8, one a line", len(first))
	}
	var end time.Duration
	for i, st := range first {
		if st.At < end {
			t.Errorf("step %d starts at %v, before the previous one ends at %v", i+1, st.At, end)
		}
		end = st.At + st.For
		if st.For <= 0 || end > time.Minute {
			t.Errorf("step %d: at %v for %v does not fit the 1m window", i+1, st.At, st.For)
		}
	}
}

func TestDrawUsesOnlyKindsThatFitTheTargets(t *testing.T) {
	c := fault.NewCatalog()
	rng := rand.New(rand.NewPCG(1, 2))
	process := map[string]bool{"kill": true, "stop": true, "pause": true, "restart": true}
	for range 50 {
		kind, f, err := c.Draw(rng, fault.Targets{Instances: instances("a-1")})
		if err != nil {
			t.Fatal(err)
		}
		if !process[kind] || f.(fault.Targeter).Target() != "a-1" {
			t.Fatalf("drew %s (%v) over one instance and no links", kind, f)
		}
	}
	if _, _, err := c.Draw(rng, fault.Targets{}); !errors.Is(err, fault.ErrNothingToDraw) {
		t.Errorf("draw over no targets: %v, want ErrNothingToDraw", err)
	}
}

func TestCatalogNamesAndSubsets(t *testing.T) {
	c := fault.NewCatalog()
	want := "latency bandwidth reset-peer refuse black-hole one-way-cut http-error kill stop pause restart partition"
	if got := strings.Join(c.Names(), " "); got != want {
		t.Errorf("names = %s, want %s", got, want)
	}
	gentle, err := c.Only("latency", "pause")
	if err != nil || strings.Join(gentle.Names(), " ") != "latency pause" {
		t.Errorf("Only = %v, %v", gentle.Names(), err)
	}
	if _, err := c.Only("meteor"); err == nil {
		t.Error("Only with an unknown kind did not fail")
	}
	if err := c.Register(fault.Entry{Name: "kill", Applies: func(fault.Targets) bool { return true },
		Draw: func(*rand.Rand, fault.Targets) fault.Fault { return nil }}); err == nil {
		t.Error("registering a second kill did not fail")
	}
}

func TestScheduleRejectsBadParameters(t *testing.T) {
	c := fault.NewCatalog()
	targets := fault.Targets{Instances: instances("a-1")}
	for _, tc := range []struct {
		n      int
		window time.Duration
		field  string
	}{
		{0, time.Minute, "n"},
		{10, 5 * time.Second, "window"},
	} {
		_, err := c.Schedule(1, tc.n, tc.window, targets)
		var pe *fault.ParamError
		if !errors.As(err, &pe) || pe.Field != tc.field {
			t.Errorf("Schedule(n=%d, window=%v) error = %v, want one about %s", tc.n, tc.window, err, tc.field)
		}
	}
}

func TestScheduleOverLinksInstancesAndPeersIsReproducible(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	host, err := rt.StartProxyHost(ctx, 16)
	if err != nil {
		t.Fatal(err)
	}
	m := netfault.New(host)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	mk := func(name string) *netfault.Link {
		l, err := m.Create(ctx, name, "127.0.0.1:9") // never dialled: only names matter here
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a1, a2, a3 := mk("a-1-ingress"), mk("a-2-ingress"), mk("a-1-registry")
	peers := map[[2]string]*netfault.Link{}
	for _, pair := range [][2]string{{"a-1", "a-2"}, {"a-2", "a-1"}, {"a-1", "a-3"}, {"a-3", "a-1"}, {"a-2", "a-3"}, {"a-3", "a-2"}} {
		peers[pair] = mk(pair[0] + "-to-" + pair[1])
	}
	targets := fault.Targets{
		Links: []*netfault.Link{a1, a2, a3}, HTTPLinks: []*netfault.Link{a1, a2},
		Instances: instances("a-1", "a-2", "a-3"), Peers: peers,
	}
	reordered := targets
	reordered.Links = []*netfault.Link{a3, a1, a2}
	reordered.Instances = instances("a-3", "a-2", "a-1")

	c := fault.NewCatalog()
	first, err := c.Schedule(42, 20, 10*time.Minute, targets)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Schedule(42, 20, 10*time.Minute, reordered)
	if err != nil {
		t.Fatal(err)
	}
	if first.String() != again.String() {
		t.Errorf("same seed, different schedules:\n%s\nvs\n%s", first, again)
	}
	kinds := map[string]bool{}
	for _, st := range first {
		kinds[st.Kind] = true
		if v, ok := st.Fault.(fault.Validator); ok {
			if err := v.Validate(); err != nil {
				t.Errorf("drawn fault %v has bad parameters: %v", st.Fault, err)
			}
		}
	}
	if len(kinds) < 6 {
		t.Errorf("20 steps drew only %d kinds: %v", len(kinds), kinds)
	}
	t.Logf("seed 42:\n%s", first)
}
