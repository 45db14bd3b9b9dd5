package micro

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faultline/faultline/bench/figure"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/history"
)

// BenchmarkInjectedLatency measures how closely a latency fault (fault.Latency on a
// netfault link: Toxiproxy's latency toxic, downstream) adds the delay it was asked
// for. Requests go through the link on one keep-alive connection, in rounds that
// alternate without and with the fault, so that drift in the machine's load hits both.
// The excess of a request is its latency with the fault, minus the median latency of
// the same request without it, minus the injected latency.
func BenchmarkInjectedLatency(b *testing.B) {
	for _, tc := range []struct {
		latency time.Duration
		samples int // with the fault, and as many without
	}{
		{50 * time.Millisecond, 160},
		{200 * time.Millisecond, 60},
	} {
		b.Run(tc.latency.String(), func(b *testing.B) { benchInjectedLatency(b, tc.latency, tc.samples) })
	}
}

func benchInjectedLatency(b *testing.B, injected time.Duration, samples int) {
	const rounds = 4
	link := proxied(b, "latency")
	c := client(b, 10*time.Second)
	url := "http://" + link.Listen() + "/"
	sc := fault.NewScope(history.New(), nil)
	b.Cleanup(func() { _ = sc.HealAll(context.Background()) })
	timed := func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		status, err := fetch(ctx, c, url)
		took := time.Since(start)
		if err == nil && status != 200 {
			err = fmt.Errorf("status %d", status)
		}
		return took, err
	}
	for range 20 { // warm the connection, the server and the proxy
		if _, err := timed(b.Context()); err != nil {
			b.Fatalf("warm-up request through %s: %v", link, err)
		}
	}
	var without, with []time.Duration
	for b.Loop() {
		for range rounds {
			for range samples / rounds {
				d, err := timed(b.Context())
				if err != nil {
					b.Fatalf("request without the fault: %v", err)
				}
				without = append(without, d)
			}
			a, err := sc.Apply(b.Context(), fault.Latency(link, injected))
			if err != nil {
				b.Fatalf("apply latency %v: %v", injected, err)
			}
			for range samples / rounds {
				d, err := timed(b.Context())
				if err != nil {
					b.Fatalf("request with latency %v: %v", injected, err)
				}
				with = append(with, d)
			}
			if err := a.Heal(b.Context()); err != nil {
				b.Fatalf("heal latency %v: %v", injected, err)
			}
		}
	}
	base := quantile(without, 0.5)
	excess := make([]float64, len(with))
	for i, d := range with {
		excess[i] = msOf(d - base - injected)
	}
	note := fmt.Sprintf("excess = latency with the toxic − median without (%.2f ms) − injected; "+
		"one keep-alive connection through an in-process Toxiproxy link; %d rounds alternating without and with; "+
		"a p99 counts the stalls of a process starved of CPU (load average %s)",
		msOf(base), rounds, loadAverage())
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}} {
		figure.Report(b, figure.Figure{
			Group:        "network faults",
			Name:         fmt.Sprintf("latency %v injected: excess over it, %s", injected, q.name),
			Measured:     quantile(excess, q.q),
			Baseline:     msOf(injected),
			BaselineName: "the injected latency (the ratio is the relative error)",
			Unit:         "ms",
			Note:         note,
			Samples:      len(with),
		})
	}
}
