package security_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/reference-services/discovery"
)

// probe is a backend registered with the run's registry as service "probe": it counts
// the calls the gateway proxies to it, by the first element of their path, so a test
// can prove what was never proxied.
type probe struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

// startProbe starts a probe on loopback and registers it with r's registry.
func startProbe(t testing.TB, r *harness.Running) *probe {
	t.Helper()
	p := &probe{hits: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/healthz" {
			return
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		p.mu.Lock()
		p.hits[first]++
		p.mu.Unlock()
		if req.Header.Get("X-API-Key") != "" {
			http.Error(w, "the gateway forwarded the caller's API key", http.StatusTeapot)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(p.srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg := discovery.NewClient(reference.RegistryURL(r))
	inst := discovery.Instance{Service: "probe", ID: "probe-1", Address: p.srv.Listener.Addr().String()}
	if _, err := reg.Register(ctx, inst, 2*time.Minute); err != nil {
		t.Fatalf("register the probe: %v", err)
	}
	t.Cleanup(func() { _ = reg.Deregister(context.Background(), "probe", "probe-1") })
	return p
}

// hitsOn is how many calls reached the probe under /<first>/.
func (p *probe) hitsOn(first string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[first]
}

// caller is one kind of client of the flood: how it presents itself, and on which
// path, so that the probe can tell whose calls got through.
type caller struct {
	name   string
	path   string
	header http.Header
}

// badCallers present no valid key, each in its own way.
var badCallers = []caller{
	{"no key", "/api/probe/nokey", nil},
	{"empty key", "/api/probe/nokey", http.Header{"X-Api-Key": {""}}},
	{"wrong key", "/api/probe/wrongkey", http.Header{"X-Api-Key": {"not-a-key"}}},
	{"prefix of a key", "/api/probe/wrongkey", http.Header{"X-Api-Key": {okKey[:len(okKey)-1]}}},
	{"key with a suffix", "/api/probe/wrongkey", http.Header{"X-Api-Key": {okKey + "x"}}},
	{"key in the wrong case", "/api/probe/wrongkey", http.Header{"X-Api-Key": {strings.ToUpper(okKey)}}},
	{"key as a bearer token", "/api/probe/wrongkey", http.Header{"Authorization": {"Bearer " + okKey}}},
	{"huge key", "/api/probe/wrongkey", http.Header{"X-Api-Key": {strings.Repeat("k", 4096)}}},
	{"tier key with a colon", "/api/probe/wrongkey", http.Header{"X-Api-Key": {tierKey + ":20:20"}}},
}

// tally counts answers by status, and keeps the first few surprises.
type tally struct {
	mu        sync.Mutex
	status    map[int]int
	noRetry   int // 429 without a usable Retry-After
	transport int // no answer at all
	surprises []string
}

func newTally() *tally { return &tally{status: map[int]int{}} }

func (c *tally) add(who string, code int, header http.Header, err error, want ...int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.transport++
		if len(c.surprises) < 5 {
			c.surprises = append(c.surprises, fmt.Sprintf("%s: no answer: %v", who, err))
		}
		return
	}
	c.status[code]++
	if code == http.StatusTooManyRequests {
		if s, err := strconv.Atoi(header.Get("Retry-After")); err != nil || s < 1 {
			c.noRetry++
		}
	}
	if !slices.Contains(want, code) && len(c.surprises) < 5 {
		c.surprises = append(c.surprises, fmt.Sprintf("%s: got %d, want one of %v", who, code, want))
	}
}

func (c *tally) count(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status[code]
}

func (c *tally) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.transport
	for _, v := range c.status {
		n += v
	}
	return n
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("statuses %v, %d without an answer, %d 429s without Retry-After; first surprises: %q",
		c.status, c.transport, c.noRetry, c.surprises)
}

// send makes one call and returns what came back.
func send(ctx context.Context, client *http.Client, base string, c caller) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+c.path+"/x", nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header, nil
}

// waitRouted waits until the gateway routes the valid key to the probe.
func waitRouted(t testing.TB, client *http.Client, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok := caller{"valid key", "/api/probe/warmup", http.Header{"X-Api-Key": {okKey}}}
	for {
		code, _, err := send(ctx, client, base, ok)
		if err == nil && code == http.StatusOK {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the gateway does not route to the probe: last answer %d, %v", code, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// flood sends, for d, one call every interval from who(i) — open model: a call is sent
// on time whatever the earlier ones do, up to inflight at once — and waits for them all.
func flood(ctx context.Context, d, interval time.Duration, inflight int, call func(ctx context.Context, i int)) {
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	tick := time.NewTicker(interval)
	defer tick.Stop()
	end := time.After(d)
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-end:
			wg.Wait()
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			call(ctx, i)
		}()
	}
}

// checkAccessPolicyUnderLoad drives about 300 calls a second through the gateway of r for
// four seconds, on loopback: callers without a valid key, a tier key far past its limit,
// and a valid key well within its own. Every call without a valid key must get exactly
// 401 and never reach the probe; every call of the tier key 200 or 429 (with
// Retry-After), and only its 200s reach the probe; the valid key's calls all succeed;
// nothing ever gets a 5xx or no answer.
func checkAccessPolicyUnderLoad(t *testing.T, r *harness.Running) {
	p := startProbe(t, r)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: 10 * time.Second,
	}}
	t.Cleanup(client.CloseIdleConnections)
	base := reference.GatewayURL(r)
	waitRouted(t, client, base)

	const (
		duration  = 4 * time.Second
		badEvery  = 5 * time.Millisecond  // 200/s without a valid key
		tierEvery = 12 * time.Millisecond // ~83/s on a 20/s tier
		okEvery   = 50 * time.Millisecond // 20/s on a 200/s limit
	)
	bad, tier, ok := newTally(), newTally(), newTally()
	tierCaller := caller{"tier key", "/api/probe/tier", http.Header{"X-Api-Key": {tierKey}}}
	okCaller := caller{"valid key", "/api/probe/ok", http.Header{"X-Api-Key": {okKey}}}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	var sent atomic.Int64
	run := func(every time.Duration, inflight int, who func(i int) caller, into *tally, want ...int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flood(ctx, duration, every, inflight, func(ctx context.Context, i int) {
				c := who(i)
				sent.Add(1)
				code, h, err := send(ctx, client, base, c)
				into.add(c.name, code, h, err, want...)
			})
		}()
	}
	run(badEvery, 64, func(i int) caller { return badCallers[i%len(badCallers)] }, bad, http.StatusUnauthorized)
	run(tierEvery, 32, func(int) caller { return tierCaller }, tier, http.StatusOK, http.StatusTooManyRequests)
	run(okEvery, 16, func(int) caller { return okCaller }, ok, http.StatusOK)
	wg.Wait()
	took := time.Since(start)
	t.Logf("sent %d calls in %v (%.0f/s): without a valid key %v; tier key %v; valid key %v",
		sent.Load(), took.Round(time.Millisecond), float64(sent.Load())/took.Seconds(), bad, tier, ok)

	// Without a valid key: exactly 401, every time, and never proxied.
	if n := bad.count(http.StatusUnauthorized); n != bad.total() || n < 400 {
		t.Errorf("calls without a valid key: %d of %d got 401 (want all, and at least 400 sent): %v", n, bad.total(), bad)
	}
	for _, path := range []string{"nokey", "wrongkey"} {
		if n := p.hitsOn(path); n != 0 {
			t.Errorf("%d calls without a valid key (/%s) reached the backend: the gateway proxied them", n, path)
		}
	}

	// Past the tier's limit: 429 with Retry-After, never a 5xx; only the 200s proxied.
	got200, got429 := tier.count(http.StatusOK), tier.count(http.StatusTooManyRequests)
	if got200+got429 != tier.total() {
		t.Errorf("tier key past its limit: want only 200 and 429: %v", tier)
	}
	if tier.noRetry != 0 {
		t.Errorf("%d answers 429 without a Retry-After of at least 1 s", tier.noRetry)
	}
	// The bucket allows its burst plus the rate over the window, give or take a token.
	if limit := tierRate + int(float64(tierRate)*took.Seconds()) + 2; got429 == 0 || got200 > limit {
		t.Errorf("tier key (%d/s, burst %d): %d passed and %d got 429 in %v; want at most %d to pass and the rest refused",
			tierRate, tierRate, got200, got429, took.Round(time.Millisecond), limit)
	}
	if n := p.hitsOn("tier"); n != got200 {
		t.Errorf("the backend saw %d calls of the tier key, but %d were answered 200: refused calls were proxied", n, got200)
	}

	// The valid key, within its limit, is not hurt by the flood around it.
	if n := ok.count(http.StatusOK); n != ok.total() || n < 40 {
		t.Errorf("valid key within its limit: %d of %d got 200 (want all, and at least 40 sent): %v", n, ok.total(), ok)
	}
	if n := p.hitsOn("ok"); n != ok.count(http.StatusOK) {
		t.Errorf("the backend saw %d calls of the valid key, %d were answered 200", n, ok.count(http.StatusOK))
	}
	for status := range 600 {
		if status >= 500 && bad.count(status)+tier.count(status)+ok.count(status) > 0 {
			t.Errorf("some calls got %d: never a 5xx from the access policy", status)
		}
	}
}
