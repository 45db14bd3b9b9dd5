package fault_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/runtime"
)

// netEnv is one testsvc instance behind proxies of a real, in-process Toxiproxy.
type netEnv struct {
	inst runtime.Instance
	m    *netfault.Manager
}

func newNetEnv(t *testing.T) netEnv {
	t.Helper()
	rt := newRuntime(t)
	inst := startService(t, rt, "svc-1")
	ctx := context.Background()
	host, err := rt.StartProxyHost(ctx, 32)
	if err != nil {
		t.Fatalf("proxy host: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := netfault.New(host, netfault.WithLogger(logger))
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return netEnv{inst: inst, m: m}
}

// link makes a proxy named name in front of the test service.
func (e netEnv) link(t *testing.T, name string) (*netfault.Link, string) {
	t.Helper()
	ctx := context.Background()
	l, err := e.m.Create(ctx, name, e.inst.NetAddr())
	if err != nil {
		t.Fatalf("create link %s: %v", name, err)
	}
	addr, err := l.HostAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return l, addr
}

// client timeout for every request of these tests: a hang is seen as a timeout.
const clientTimeout = 1500 * time.Millisecond

func wantAnswer(t *testing.T, o outcome, status int) {
	t.Helper()
	if !o.answered() || o.status != status {
		t.Fatalf("client saw %+v, want an answer %d", o, status)
	}
}

func wantTimeout(t *testing.T, o outcome) {
	t.Helper()
	if o.answered() || !isTimeout(o.err) {
		t.Fatalf("client saw %+v, want a timeout (a hang)", o)
	}
}

func wantError(t *testing.T, o outcome) {
	t.Helper()
	if o.answered() && o.status < 500 {
		t.Fatalf("client saw %+v, want an error", o)
	}
}

func TestNetworkFaultsAsAClientSeesThem(t *testing.T) {
	env := newNetEnv(t)
	link, addr := env.link(t, "svc-1-ingress")
	long := strings.Repeat("x", 1500)

	cases := []struct {
		name  string
		fault fault.Fault
		see   func(t *testing.T)
	}{
		{"latency downstream", fault.Latency(link, 300*time.Millisecond), func(t *testing.T) {
			o := get(addr, "/healthz", clientTimeout)
			wantAnswer(t, o, 200)
			if o.elapsed < 300*time.Millisecond {
				t.Fatalf("answered after %v, want at least the 300ms latency", o.elapsed)
			}
		}},
		{"latency both ways with jitter", fault.Latency(link, 200*time.Millisecond, fault.Jitter(20*time.Millisecond), fault.Stream(netfault.Both)), func(t *testing.T) {
			o := get(addr, "/healthz", clientTimeout)
			wantAnswer(t, o, 200)
			if o.elapsed < 2*180*time.Millisecond {
				t.Fatalf("answered after %v, want at least 2×180ms (latency each way, less jitter)", o.elapsed)
			}
		}},
		{"refuse", fault.Refuse(link), func(t *testing.T) {
			o := get(addr, "/healthz", clientTimeout)
			if !errors.Is(o.err, syscall.ECONNREFUSED) {
				t.Fatalf("client saw %+v, want connection refused", o)
			}
		}},
		{"black hole", fault.BlackHole(link), func(t *testing.T) { wantTimeout(t, get(addr, "/healthz", clientTimeout)) }},
		{"one-way cut upstream", fault.OneWayCut(link, netfault.Upstream), func(t *testing.T) {
			wantTimeout(t, get(addr, "/echo?msg=up-cut", clientTimeout))
			if logs, _ := env.inst.Logs(context.Background()); strings.Contains(string(logs), "echo up-cut") {
				t.Fatal("the request reached the service through an upstream cut")
			}
		}},
		{"one-way cut downstream", fault.OneWayCut(link, netfault.Downstream), func(t *testing.T) {
			// No answer: a hang, or a close when the server closes after answering.
			wantError(t, get(addr, "/echo?msg=down-cut", clientTimeout))
			eventually(t, "the request reaching the service", func() bool {
				logs, _ := env.inst.Logs(context.Background())
				return strings.Contains(string(logs), "echo down-cut")
			})
		}},
		{"timeout upstream", fault.Timeout(link, 200*time.Millisecond, fault.Stream(netfault.Upstream)), func(t *testing.T) {
			o := get(addr, "/healthz", clientTimeout)
			wantError(t, o)
			if isTimeout(o.err) || o.elapsed < 200*time.Millisecond {
				t.Fatalf("client saw %+v, want the connection closed after 200ms", o)
			}
		}},
		{"reset peer", fault.ResetPeer(link, 0), func(t *testing.T) { wantError(t, get(addr, "/healthz", clientTimeout)) }},
		{"limit data", fault.LimitData(link, 20), func(t *testing.T) { wantError(t, get(addr, "/echo?msg="+long, clientTimeout)) }},
		{"bandwidth", fault.Bandwidth(link, 1), func(t *testing.T) {
			o := get(addr, "/echo?msg="+long, 5*time.Second)
			wantAnswer(t, o, 200)
			if o.elapsed < time.Second {
				t.Fatalf("1.5KB at 1KB/s took %v, want over 1s", o.elapsed)
			}
		}},
		{"slicer", fault.Slicer(link, 10, 5, time.Millisecond), func(t *testing.T) {
			wantAnswer(t, get(addr, "/echo?msg="+long, clientTimeout), 200)
		}},
		{"slow close", fault.SlowClose(link, 200*time.Millisecond), func(t *testing.T) {
			wantAnswer(t, get(addr, "/healthz", clientTimeout), 200)
		}},
		{"http error on a path", fault.HTTPError(link, 503, fault.OnPath("/echo")), func(t *testing.T) {
			wantAnswer(t, get(addr, "/echo?msg=hi", clientTimeout), 503)
			wantAnswer(t, get(addr, "/healthz", clientTimeout), 200)
		}},
		{"http error on the first 2", fault.HTTPError(link, 502, fault.FirstN(2)), func(t *testing.T) {
			for i, want := range []int{502, 502, 200, 200} {
				if o := get(addr, "/healthz", clientTimeout); o.status != want {
					t.Fatalf("request %d: %+v, want %d", i+1, o, want)
				}
			}
		}},
		{"http delay", fault.HTTPDelay(link, 300*time.Millisecond, fault.OnMethod("GET")), func(t *testing.T) {
			o := get(addr, "/healthz", clientTimeout)
			wantAnswer(t, o, 200)
			if o.elapsed < 300*time.Millisecond {
				t.Fatalf("answered after %v, want at least the 300ms delay", o.elapsed)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := history.New()
			sc := fault.ScopeFor(t, h)
			ctx := context.Background()
			a, err := sc.Apply(ctx, tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			tc.see(t)
			if err := a.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			wantAnswer(t, get(addr, "/healthz", clientTimeout), 200)
			if ts, err := link.Toxics(ctx); err != nil || len(ts) != 0 {
				t.Fatalf("toxics left after heal: %v (%v)", ts, err)
			}
			if got := kinds(h); !slices.Equal(got, []history.EventKind{history.FaultInject, history.FaultVerified, history.FaultHeal, history.FaultHealed}) {
				t.Errorf("events = %v", got)
			}
			t.Logf("%s", a)
		})
	}
}

func TestHTTPFaultHitsTheSameRequestsForTheSameSeed(t *testing.T) {
	env := newNetEnv(t)
	link, addr := env.link(t, "svc-1-ingress")
	pattern := func(seed int64) string {
		sc := fault.ScopeFor(t, nil, fault.WithSeed(seed))
		a, err := sc.Apply(context.Background(), fault.HTTPError(link, 503, fault.Fraction(0.5)))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Heal(context.Background())
		var b strings.Builder
		for range 24 {
			if get(addr, "/healthz", clientTimeout).status == 503 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	first, again, other := pattern(7), pattern(7), pattern(8)
	t.Logf("seed 7: %s, again: %s, seed 8: %s", first, again, other)
	if first != again {
		t.Errorf("the same seed hit different requests: %s vs %s", first, again)
	}
	if n := strings.Count(first, "x"); n < 4 || n > 20 {
		t.Errorf("a 0.5 fraction hit %d of 24 requests", n)
	}
	if first == other {
		t.Errorf("seeds 7 and 8 hit the same requests: %s", first)
	}
}

func TestPartitionCutsExactlyTheRecipesLinks(t *testing.T) {
	env := newNetEnv(t)
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	peers := map[[2]string]*netfault.Link{}
	for _, from := range nodes {
		for _, to := range nodes {
			if from != to {
				l, _ := env.link(t, from+"-to-"+to)
				peers[[2]string{from, to}] = l
			}
		}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		recipe fault.Recipe
		opts   []fault.PartitionOption
		cut    netfault.Outcome
	}{
		{fault.IsolateOne("n3"), nil, netfault.TimedOut},
		{fault.MajorityMinority(1), []fault.PartitionOption{fault.Refusing()}, netfault.Refused},
		{fault.Bridge(2), nil, netfault.TimedOut},
		{fault.Ring(3), nil, netfault.TimedOut},
	} {
		t.Run(tc.recipe.String(), func(t *testing.T) {
			sc := fault.ScopeFor(t, nil)
			p := fault.Partition(peers, tc.recipe, tc.opts...)
			g, err := tc.recipe.Grudge(nodes)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Cuts(), g.Cuts()) {
				t.Fatalf("partition cuts %v, recipe says %v", p.Cuts(), g.Cuts())
			}
			a, err := sc.Apply(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(a)
			probeAll(t, peers, func(key [2]string) netfault.Outcome {
				if slices.Contains(p.Cuts(), key) {
					return tc.cut
				}
				return netfault.Answered
			})
			if err := a.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			probeAll(t, peers, func([2]string) netfault.Outcome { return netfault.Answered })
		})
	}
}

// probeAll probes every link at once and checks each outcome.
func probeAll(t *testing.T, links map[[2]string]*netfault.Link, want func([2]string) netfault.Outcome) {
	t.Helper()
	var wg sync.WaitGroup
	for key, l := range links {
		wg.Go(func() {
			if r := l.Probe(context.Background(), 500*time.Millisecond); r.Outcome != want(key) {
				t.Errorf("%s→%s: %s, want %s", key[0], key[1], r, want(key))
			}
		})
	}
	wg.Wait()
}

func TestPartitionFromDependencyTouchesOnlyThatLink(t *testing.T) {
	env := newNetEnv(t)
	ingress, _ := env.link(t, "svc-1-ingress")
	registry, _ := env.link(t, "svc-1-registry")
	sc := fault.ScopeFor(t, nil)
	ctx := context.Background()
	a, err := sc.Apply(ctx, fault.PartitionFromDependency(registry, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	if r := registry.Probe(ctx, 500*time.Millisecond); r.Outcome != netfault.TimedOut {
		t.Errorf("registry link: %s, want timed out", r)
	}
	if r := ingress.Probe(ctx, 500*time.Millisecond); r.Outcome != netfault.Answered {
		t.Errorf("ingress link: %s, want answered", r)
	}
	if want := "partition svc-1-registry from the registry (black hole)"; a.String() != want {
		t.Errorf("name = %q, want %q", a, want)
	}
}

func TestAFaultOnADeadUpstreamIsNotSeenAndFailsLoudly(t *testing.T) {
	env := newNetEnv(t)
	link, _ := env.link(t, "svc-1-ingress")
	ctx := context.Background()
	if err := env.inst.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	h := history.New()
	sc := fault.ScopeFor(t, h)
	// With nothing behind the proxy, no probe can see the latency: Apply must say so
	// rather than let the scenario believe it injected it.
	_, err := sc.Apply(ctx, fault.Latency(link, 200*time.Millisecond), fault.WithVerifyTimeout(time.Second))
	if !errors.Is(err, fault.ErrNotEffective) {
		t.Fatalf("Apply = %v, want ErrNotEffective", err)
	}
	t.Log(err)
	if ts, _ := link.Toxics(ctx); len(ts) != 0 {
		t.Errorf("the unseen fault was left on the proxy: %v", ts)
	}
	if count(h, history.FaultError) != 1 || count(h, history.FaultVerified) != 0 {
		t.Errorf("events = %+v", h.Events())
	}
}
