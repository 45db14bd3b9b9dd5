package micro

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/bench/figure"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/netfault"
)

// shot is one request of a probe stream: when it started and ended, and what it got.
type shot struct {
	start, end time.Time
	status     int
	err        error
}

// stream sends a GET to url every interval, each on its own goroutine (an open model:
// a slow answer does not hold back the next request), on a pool of keep-alive
// connections, until stop is called; stop waits for the requests in flight and returns
// every shot, ordered by start.
func stream(ctx context.Context, c *http.Client, url string, interval time.Duration) (stop func() []shot) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var shots []shot
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Go(func() {
				s := shot{start: time.Now()}
				s.status, s.err = fetch(context.WithoutCancel(ctx), c, url)
				s.end = time.Now()
				mu.Lock()
				shots = append(shots, s)
				mu.Unlock()
			})
		}
	})
	return func() []shot {
		cancel()
		wg.Wait()
		slices.SortFunc(shots, func(a, b shot) int { return a.start.Compare(b.start) })
		return shots
	}
}

// settled returns the start of the first shot from which on every shot that ran within
// [from, to) satisfies ok, and whether there is one. A shot that fails ok resets it. A
// shot still running at to is left out: the next state may have reached it.
func settled(shots []shot, from, to time.Time, ok func(shot) bool) (time.Time, bool) {
	var at time.Time
	found := false
	for _, s := range shots {
		if s.start.Before(from) || !s.end.Before(to) {
			continue
		}
		switch {
		case !ok(s):
			found = false
		case !found:
			at, found = s.start, true
		}
	}
	return at, found
}

// BenchmarkFaultPropagation measures how soon traffic sees a network fault once its
// Inject call has returned, and sees it gone once its Heal call has returned. A stream
// of requests goes through one link every 2 ms while each fault kind is injected and
// healed in rounds (the kinds' own Inject and Heal, without Scope.Apply's proof, which
// BenchmarkFaultLifecycle times). Inject → seen is from Inject's return to the start of
// the first request from which on every request sees the fault; heal → served likewise
// for answers served normally again, among the requests started after the call
// returned (those started during it are the call's own cost, which the note gives). A
// fault that acts by the time its call returns scores under one interval: the probe
// stream cannot resolve finer.
func BenchmarkFaultPropagation(b *testing.B) {
	const slow = 100 * time.Millisecond
	served := func(s shot) bool { return s.err == nil && s.status == 200 && s.end.Sub(s.start) < slow/2 }
	failed := func(s shot) bool { return s.err != nil }
	for _, tc := range []struct {
		name string
		make func(*netfault.Link) fault.Fault
		seen func(shot) bool
	}{
		{"refuse", func(l *netfault.Link) fault.Fault { return fault.Refuse(l) }, failed},
		{"reset peer", func(l *netfault.Link) fault.Fault { return fault.ResetPeer(l, 0) }, failed},
		{"latency 100ms", func(l *netfault.Link) fault.Fault { return fault.Latency(l, slow) },
			func(s shot) bool { return s.err == nil && s.end.Sub(s.start) >= slow*8/10 }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			benchPropagation(b, tc.name, func(l *netfault.Link) fault.Fault { return tc.make(l) }, tc.seen, served)
		})
	}
}

func benchPropagation(b *testing.B, kind string, make func(*netfault.Link) fault.Fault, seen, served func(shot) bool) {
	const (
		rounds   = 10
		interval = 2 * time.Millisecond
		hold     = 300 * time.Millisecond // each state lasts this long
	)
	link := proxied(b, "propagation")
	c := client(b, 2*time.Second)
	url := "http://" + link.Listen() + "/"
	for range 10 {
		if _, err := fetch(b.Context(), c, url); err != nil {
			b.Fatalf("warm-up request through %s: %v", link, err)
		}
	}
	type round struct{ injectCall, injected, healCall, healed, end time.Time }
	var rs []round
	var shots []shot
	for b.Loop() {
		stop := stream(b.Context(), c, url, interval)
		time.Sleep(hold)
		for range rounds {
			f := make(link)
			var r round
			r.injectCall = time.Now()
			err := f.Inject(b.Context())
			r.injected = time.Now()
			b.Cleanup(func() { _ = f.Heal(context.Background()) })
			if err != nil {
				stop()
				b.Fatalf("inject %s: %v", f, err)
			}
			time.Sleep(hold)
			r.healCall = time.Now()
			err = f.Heal(b.Context())
			r.healed = time.Now()
			if err != nil {
				stop()
				b.Fatalf("heal %s: %v", f, err)
			}
			time.Sleep(hold)
			r.end = time.Now()
			rs = append(rs, r)
		}
		shots = stop()
	}
	// A round whose requests never all agree within the hold (a request starved of CPU
	// long enough to look slow, or hit) gives no figure; the note counts such rounds.
	var toSeen, toServed, injectCall, healCall []float64
	missed, unseen, unserved := 0, 0, 0
	for _, r := range rs {
		if at, ok := settled(shots, r.injected, r.healCall, seen); ok {
			toSeen = append(toSeen, msOf(at.Sub(r.injected)))
		} else {
			unseen++
		}
		if at, ok := settled(shots, r.healed, r.end, served); ok {
			toServed = append(toServed, msOf(at.Sub(r.healed)))
		} else {
			unserved++
		}
		injectCall = append(injectCall, msOf(r.injected.Sub(r.injectCall)))
		healCall = append(healCall, msOf(r.healed.Sub(r.healCall)))
		for _, s := range shots { // ran after Inject returned and before Heal began, not hit
			if !s.start.Before(r.injected) && s.end.Before(r.healCall) && !seen(s) {
				missed++
			}
		}
	}
	var steady []float64
	for _, s := range shots[:min(len(shots), int(hold/interval))] {
		if served(s) {
			steady = append(steady, msOf(s.end.Sub(s.start)))
		}
	}
	if len(toSeen) == 0 || len(toServed) == 0 {
		b.Fatalf("%s: in none of %d rounds did every request after Inject see the fault (%d rounds) "+
			"or every request after Heal get served (%d rounds)", kind, rounds, unseen, unserved)
	}
	for _, fig := range []struct {
		name         string
		delays, call []float64
		extra        string
	}{
		{"Inject returned → every request sees it", toSeen, injectCall,
			fmt.Sprintf("; %d requests that ran after Inject returned missed the fault; %d rounds never settled", missed, unseen)},
		{"Heal returned → every request served", toServed, healCall, fmt.Sprintf("; %d rounds never settled", unserved)},
	} {
		figure.Report(b, figure.Figure{
			Group:        "network faults",
			Name:         fmt.Sprintf("%s: %s, median", kind, fig.name),
			Measured:     quantile(fig.delays, 0.5),
			Baseline:     msOf(interval),
			BaselineName: "the probe stream's request interval (its resolution)",
			Unit:         "ms",
			Note: fmt.Sprintf("median of %d rounds, worst %.2f ms (a busy machine's scheduling shows there); "+
				"the call itself took %.2f ms median; requests every %v on keep-alive connections through "+
				"an in-process Toxiproxy link, round trip %.2f ms median without a fault%s",
				len(fig.delays), quantile(fig.delays, 1), quantile(fig.call, 0.5), interval, quantile(steady, 0.5), fig.extra),
			Samples: len(fig.delays),
		})
	}
}

// BenchmarkFaultLifecycle times Scope.Apply (validate, record, inject, then retry Verify
// until the fault is seen acting through a probe) and Active.Heal (heal, then retry
// VerifyHealed), against what they cannot do without, measured in the same run: the
// kind's bare Inject call followed by one probe through the faulted link (a slow link
// is proven by a slow answer, a black hole by a probe that waits out its timeout), and
// the bare Heal call. A ratio near 1 says the proof adds no waiting of its own (a
// failed first check would add the lifecycle's 100 ms retry interval).
func BenchmarkFaultLifecycle(b *testing.B) {
	for _, tc := range []struct {
		name string
		make func(*netfault.Link) fault.Fault
	}{
		{"refuse", func(l *netfault.Link) fault.Fault { return fault.Refuse(l) }},
		{"latency 100ms", func(l *netfault.Link) fault.Fault { return fault.Latency(l, 100*time.Millisecond) }},
		{"black hole", func(l *netfault.Link) fault.Fault { return fault.BlackHole(l) }},
	} {
		b.Run(tc.name, func(b *testing.B) { benchLifecycle(b, tc.name, tc.make) })
	}
}

func benchLifecycle(b *testing.B, kind string, make func(*netfault.Link) fault.Fault) {
	const (
		rounds = 6
		// proofProbe is how long harness/fault's probes wait for an answer (its
		// probeTimeout): a black hole is proven by a probe that waits this long.
		proofProbe = 750 * time.Millisecond
	)
	link := proxied(b, "lifecycle")
	sc := fault.NewScope(history.New(), nil)
	b.Cleanup(func() { _ = sc.HealAll(context.Background()) })
	var bareInject, bareHeal, apply, heal []float64
	timed := func(f func(context.Context) error) float64 {
		start := time.Now()
		if err := f(b.Context()); err != nil {
			b.Fatalf("%s: %v", kind, err)
		}
		return msOf(time.Since(start))
	}
	for b.Loop() {
		for range rounds {
			f := make(link)
			b.Cleanup(func() { _ = f.Heal(context.Background()) })
			inject := timed(f.Inject)
			start := time.Now()
			link.Probe(b.Context(), proofProbe)
			bareInject = append(bareInject, inject+msOf(time.Since(start)))
			bareHeal = append(bareHeal, timed(f.Heal))
			var a *fault.Active
			apply = append(apply, timed(func(ctx context.Context) (err error) {
				a, err = sc.Apply(ctx, make(link))
				return err
			}))
			heal = append(heal, timed(a.Heal))
		}
	}
	for _, fig := range []struct {
		step     string
		measured []float64
		bare     []float64
		bareName string
	}{
		{"Scope.Apply (inject + proof)", apply, bareInject,
			"the kind's bare Inject call plus one probe through the faulted link: the least a proof by traffic takes"},
		{"Active.Heal (heal + proof)", heal, bareHeal, "the kind's bare Heal call"},
	} {
		figure.Report(b, figure.Figure{
			Group:        "network faults",
			Name:         fmt.Sprintf("%s: %s, median", kind, fig.step),
			Measured:     quantile(fig.measured, 0.5),
			Baseline:     quantile(fig.bare, 0.5),
			BaselineName: fig.bareName,
			Unit:         "ms",
			Note:         fmt.Sprintf("worst %.1f ms against %.1f ms bare; an in-process Toxiproxy link", quantile(fig.measured, 1), quantile(fig.bare, 1)),
			Samples:      len(fig.measured),
		})
	}
}
