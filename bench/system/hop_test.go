package system_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline/faultline/bench/figure"
	"github.com/faultline/faultline/bench/system/bare"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/harness/runtime/local"
)

// Load shape of the hop benchmark: latency from one client in sequence (no queueing),
// throughput from a few concurrent ones; both in rounds that alternate the two paths.
const (
	hopRounds     = 3
	hopRequests   = 400 // per path and round, for latency
	hopWorkers    = 8
	hopWindow     = 2 * time.Second // per path and round, for throughput
	hopMaxErrRate = 0.01
)

// path is one way to reach the same data: a URL and the header it needs.
type path struct {
	url    string
	header http.Header
	client *http.Client
}

func newPath(url string, header http.Header) *path {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: hopWorkers * 2}
	return &path{url: url, header: header, client: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// get sends one request and says whether it was answered 200.
func (p *path) get(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return false
	}
	req.Header = p.header
	resp, err := p.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// tally is what one path measured over every round.
type tally struct {
	hist      *hdrhistogram.Histogram // latency, µs
	ok, fail  int64
	served    int64 // in the throughput windows
	windowSum time.Duration
}

func newTally() *tally { return &tally{hist: hdrhistogram.New(1, 10_000_000, 3)} }

// latency sends n requests in sequence and records each one's latency.
func (t *tally) latency(ctx context.Context, p *path, n int) {
	for range n {
		began := time.Now()
		ok := p.get(ctx)
		_ = t.hist.RecordValue(time.Since(began).Microseconds())
		if ok {
			t.ok++
		} else {
			t.fail++
		}
	}
}

// throughput runs workers concurrent clients for window and counts answers served.
func (t *tally) throughput(ctx context.Context, p *path, workers int, window time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var served, failed atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if p.get(ctx) {
					served.Add(1)
				} else if ctx.Err() == nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.windowSum += time.Since(began)
	t.served += served.Load()
	t.fail += failed.Load()
	t.ok += served.Load()
}

func (t *tally) errRate() float64 {
	if t.ok+t.fail == 0 {
		return 1
	}
	return float64(t.fail) / float64(t.ok+t.fail)
}

func (t *tally) rate() float64 { return float64(t.served) / t.windowSum.Seconds() }

func ms(us int64) float64 { return float64(us) / 1000 }

// compare measures measured against baseline in alternating rounds and reports p50, p99
// and throughput as three figures named after what.
func compare(b *testing.B, ctx context.Context, what, baselineName, note string, measured, baseline *path) {
	m, base := newTally(), newTally()
	for range hopRounds {
		m.latency(ctx, measured, hopRequests)
		base.latency(ctx, baseline, hopRequests)
		m.throughput(ctx, measured, hopWorkers, hopWindow)
		base.throughput(ctx, baseline, hopWorkers, hopWindow)
	}
	for name, t := range map[string]*tally{"through the proxies": m, "baseline": base} {
		if r := t.errRate(); r > hopMaxErrRate {
			b.Fatalf("%s, %s: %.1f%% of requests not answered 200 (%d of %d): the figures would measure failures",
				what, name, 100*r, t.fail, t.ok+t.fail)
		}
	}
	samples := hopRounds * hopRequests
	for _, q := range []float64{50, 99} {
		figure.Report(b, figure.Figure{
			Group: "toxiproxy hop", Name: fmt.Sprintf("%s, p%g latency", what, q),
			Measured: ms(m.hist.ValueAtQuantile(q)), Baseline: ms(base.hist.ValueAtQuantile(q)),
			BaselineName: baselineName, Unit: "ms", Samples: samples, Note: note,
		})
	}
	figure.Report(b, figure.Figure{
		Group: "toxiproxy hop", Name: fmt.Sprintf("%s, throughput with %d concurrent clients", what, hopWorkers),
		Measured: m.rate(), Baseline: base.rate(), BaselineName: baselineName, Unit: "req/s",
		Samples: hopRounds, Note: fmt.Sprintf("%s; %d windows of %s each", note, hopRounds, hopWindow),
	})
}

// BenchmarkToxiproxyHop measures what the proxies in the path cost a request, on local
// processes: a read through the gateway of the reference system under the harness
// (client → gateway, gateway → accounts, accounts → etcd: three Toxiproxy links) against
// the same read through the same processes started bare (no proxy anywhere); and one
// hop alone, accounts-1 read through its ingress link against its own address.
func BenchmarkToxiproxyHop(b *testing.B) {
	ctx := bounded(b, 5*time.Minute)
	// The gateway's default rate limit (200 req/s per key) would shed the throughput
	// runs: lift it on both systems alike.
	sys := reference.System(reference.WithEnv("gateway", "GATEWAY_RATE", "1000000"),
		reference.WithEnv("gateway", "GATEWAY_BURST", "1000000"))
	plan, err := bare.NewPlan(sys)
	if err != nil {
		b.Fatal(err)
	}
	rt, err := local.New(local.WithLogger(quiet()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close(context.Background()) })
	hs, err := harness.Up(ctx, sys, harness.WithRuntime(rt), harness.WithReadiness(reference.Ready), harness.WithLogger(quiet()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = hs.Down(context.Background()) })
	bs, err := bare.StartLocal(ctx, plan, build.New())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bs.Close(context.Background()) })

	key := http.Header{"X-Api-Key": {reference.APIKey}, "Content-Type": {"application/json"}}
	for _, gw := range []string{reference.GatewayURL(hs), bs.GatewayURL()} {
		if err := seedAccount(ctx, gw, key); err != nil {
			b.Fatal(err)
		}
	}
	compare(b, ctx, "gateway read of an account", "the same processes started bare: no proxy on any link",
		"3 proxied links in the path (gateway ingress, accounts ingress, accounts' database)",
		newPath(reference.GatewayURL(hs)+"/api/accounts/v1/accounts/acct-0", key),
		newPath(bs.GatewayURL()+"/api/accounts/v1/accounts/acct-0", key))

	a1 := hs.Instance("accounts-1")
	via, err := a1.URL(ctx)
	if err != nil {
		b.Fatal(err)
	}
	compare(b, ctx, "one hop: accounts-1 read through its ingress link", "accounts-1 read at its own address (its database link still proxied on both)",
		"1 proxied link more than the baseline",
		newPath(via+"/v1/accounts/acct-0", nil),
		newPath("http://"+a1.HostAddr()+"/v1/accounts/acct-0", nil))
}

// seedAccount creates the account the reads ask for.
func seedAccount(ctx context.Context, gateway string, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/api/accounts/v1/accounts",
		strings.NewReader(`{"id":"acct-0","owner":"bench","balance":100}`))
	if err != nil {
		return err
	}
	req.Header = header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("seed acct-0 through %s: %w", gateway, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
		return fmt.Errorf("seed acct-0 through %s: answered %d: %s", gateway, resp.StatusCode, body)
	}
	return nil
}
