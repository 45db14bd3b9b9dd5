package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/config"
)

func TestRoutesToTheServiceAndPath(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	accounts, inventory := startBackend(t, "accounts-1"), startBackend(t, "inventory-1")
	reg.register(t, "accounts", accounts)
	reg.register(t, "inventory", inventory)
	gw := startGateway(t, reg, testConfig())

	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		wantID, wantPath         string
		wantQuery                string
	}{
		{name: "get with query", method: "GET", path: "/api/accounts/accounts/7?full=1&x=a%20b",
			wantID: "accounts-1", wantPath: "/accounts/7", wantQuery: "full=1&x=a%20b"},
		{name: "other service", method: "GET", path: "/api/inventory/items",
			wantID: "inventory-1", wantPath: "/items"},
		{name: "service root", method: "GET", path: "/api/inventory",
			wantID: "inventory-1", wantPath: "/"},
		{name: "escaped path kept", method: "GET", path: "/api/accounts/a%2Fb/c",
			wantID: "accounts-1", wantPath: "/a%2Fb/c"},
		{name: "post with body", method: "POST", path: "/api/accounts/accounts", body: `{"owner":"ann"}`,
			header: map[string]string{"Content-Type": "application/json"},
			wantID: "accounts-1", wantPath: "/accounts"},
		{name: "put", method: "PUT", path: "/api/inventory/items/3", body: "qty=4",
			wantID: "inventory-1", wantPath: "/items/3"},
		{name: "delete", method: "DELETE", path: "/api/inventory/items/3",
			wantID: "inventory-1", wantPath: "/items/3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := gw.call(t, tc.method, tc.path, tc.body, tc.header)
			if r.code != http.StatusOK {
				t.Fatalf("%s %s: got %d %s, want 200", tc.method, tc.path, r.code, r.body)
			}
			got := r.echo(t)
			if got.ID != tc.wantID || got.Method != tc.method || got.Path != tc.wantPath || got.Query != tc.wantQuery || got.Body != tc.body {
				t.Errorf("%s %s reached %s %s %s?%s body %q; want %s %s %s?%s body %q",
					tc.method, tc.path, got.ID, got.Method, got.Path, got.Query, got.Body,
					tc.wantID, tc.method, tc.wantPath, tc.wantQuery, tc.body)
			}
			if r.servedBy != tc.wantID || r.attempts != 1 {
				t.Errorf("X-Served-By %q X-Attempts %d, want %q and 1", r.servedBy, r.attempts, tc.wantID)
			}
			if r.header.Get("X-Backend") != tc.wantID {
				t.Errorf("the instance's own header X-Backend = %q, want %q", r.header.Get("X-Backend"), tc.wantID)
			}
		})
	}
}

func TestForwardsHeaders(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	b := startBackend(t, "accounts-1")
	reg.register(t, "accounts", b)
	gw := startGateway(t, reg, testConfig())

	r := gw.call(t, "GET", "/api/accounts/x", "", map[string]string{
		"X-Request-Id":    "r-1",
		"X-Forwarded-For": "203.0.113.9",
		"Connection":      "X-Hop",
		"X-Hop":           "secret",
	})
	if r.code != http.StatusOK {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	h := r.echo(t).Header
	if h.Get("X-Request-Id") != "r-1" {
		t.Errorf("X-Request-Id not forwarded: %v", h)
	}
	if got := h.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the client's chain plus 127.0.0.1", got)
	}
	for _, name := range []string{APIKeyHeader, "X-Hop"} {
		if v := h.Get(name); v != "" {
			t.Errorf("%s reached the instance (%q); it must not", name, v)
		}
	}
}

func TestRoundRobinAcrossInstances(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	bs := []*backend{startBackend(t, "inv-1"), startBackend(t, "inv-2"), startBackend(t, "inv-3")}
	reg.register(t, "inventory", bs...)
	gw := startGateway(t, reg, testConfig())

	served := map[string]int{}
	for range 9 {
		r := gw.get(t, "/api/inventory/items")
		if r.code != http.StatusOK {
			t.Fatalf("got %d %s", r.code, r.body)
		}
		served[r.servedBy]++
	}
	for _, b := range bs {
		if served[b.id] != 3 {
			t.Errorf("9 calls over 3 instances served %v, want 3 each", served)
			break
		}
	}
}

func TestRetriesOnAnotherInstance(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		method string
		header map[string]string
		mode   int32
		retry  bool
	}{
		{"GET after 503", "GET", nil, modeUnavail, true},
		{"GET after timeout", "GET", nil, modeSlow, true},
		{"GET after dropped connection", "GET", nil, modeDrop, true},
		{"PUT after 503", "PUT", nil, modeUnavail, true},
		{"DELETE after timeout", "DELETE", nil, modeSlow, true},
		{"POST with Idempotency-Key after 503", "POST", map[string]string{"Idempotency-Key": "k-1"}, modeUnavail, true},
		{"PATCH with Idempotency-Key after dropped connection", "PATCH", map[string]string{"Idempotency-Key": "k-2"}, modeDrop, true},
		{"POST without key after 503", "POST", nil, modeUnavail, false},
		{"POST without key after timeout", "POST", nil, modeSlow, false},
		{"PATCH without key after dropped connection", "PATCH", nil, modeDrop, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := startRegistry(t)
			bad, good := startBackend(t, "svc-1"), startBackend(t, "svc-2")
			bad.mode.Store(tc.mode)
			reg.register(t, "svc", bad, good)
			cfg := testConfig()
			cfg.Breaker = false // this test is about retries alone
			gw := startGateway(t, reg, cfg)

			failedFirst := 0
			for i := range 4 {
				r := gw.call(t, tc.method, "/api/svc/things/1", fmt.Sprintf(`{"n":%d}`, i), tc.header)
				if r.code == http.StatusOK && r.attempts == 1 {
					if r.servedBy != good.id {
						t.Fatalf("200 in one attempt served by %q, want %q", r.servedBy, good.id)
					}
					if got := r.echo(t).Body; got != fmt.Sprintf(`{"n":%d}`, i) {
						t.Fatalf("body reached the instance as %q", got)
					}
					continue
				}
				failedFirst++
				if tc.retry {
					if r.code != http.StatusOK || r.attempts != 2 || r.servedBy != good.id {
						t.Fatalf("idempotent call that met a failure: got %d, X-Attempts %d, X-Served-By %q; want 200, 2, %q (%s)",
							r.code, r.attempts, r.servedBy, good.id, r.body)
					}
					if got := r.echo(t).Body; got != fmt.Sprintf(`{"n":%d}`, i) {
						t.Fatalf("body replayed to the second instance as %q", got)
					}
				} else {
					if r.code == http.StatusOK || r.attempts != 1 {
						t.Fatalf("non-idempotent call that met a failure: got %d with X-Attempts %d; want the failure and 1 attempt (%s)",
							r.code, r.attempts, r.body)
					}
				}
			}
			if failedFirst == 0 {
				t.Fatalf("no call out of 4 went to the failing instance first; round robin is broken")
			}
		})
	}
}

func TestRetryLandsOnAnotherInstanceUnderConcurrency(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	bad, good := startBackend(t, "svc-1"), startBackend(t, "svc-2")
	bad.mode.Store(modeUnavail)
	reg.register(t, "svc", bad, good)
	cfg := testConfig()
	cfg.Breaker = false // keep the failing instance in rotation
	gw := startGateway(t, reg, cfg)

	// Concurrent calls move the round robin cursor between a call's attempts, so only
	// a retry that avoids the instance it already tried is sure to reach the good one.
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 8 {
		wg.Go(func() {
			for range 10 {
				r := gw.get(t, "/api/svc/x")
				if r.code != http.StatusOK || r.servedBy != good.id || r.attempts > 2 {
					errs <- fmt.Sprintf("got %d from %q after %d attempts", r.code, r.servedBy, r.attempts)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("want 200 from %s in at most 2 attempts: %s", good.id, e)
	}
}

func TestFailureStatusWhenEveryAttemptFails(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		mode     int32
		retries  int
		wantCode int
		wantBy   bool
	}{
		{"timeouts give 504", modeSlow, 2, http.StatusGatewayTimeout, false},
		{"dropped connections give 502", modeDrop, 2, http.StatusBadGateway, false},
		{"the instance's own 503 passes through", modeUnavail, 2, http.StatusServiceUnavailable, true},
		{"no retries: one attempt, its error reaches the client", modeUnavail, 0, http.StatusServiceUnavailable, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := startRegistry(t)
			bad := startBackend(t, "only-1")
			bad.mode.Store(tc.mode)
			reg.register(t, "svc", bad)
			cfg := testConfig()
			cfg.Breaker = false
			cfg.Retries = tc.retries
			gw := startGateway(t, reg, cfg)

			r := gw.get(t, "/api/svc/x")
			if r.code != tc.wantCode || r.attempts != tc.retries+1 {
				t.Fatalf("got %d with X-Attempts %d (%s); want %d with %d", r.code, r.attempts, r.body, tc.wantCode, tc.retries+1)
			}
			if tc.wantBy != (r.servedBy == bad.id) {
				t.Errorf("X-Served-By = %q (instance's own answer: %t)", r.servedBy, tc.wantBy)
			}
			if !tc.wantBy {
				if msg := r.errorText(t); !strings.Contains(msg, "svc") {
					t.Errorf("error %q does not name the service", msg)
				}
			}
		})
	}
}

func TestBreakerStopsCallsToAFailingInstanceAndRecovers(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	bad, good := startBackend(t, "acc-1"), startBackend(t, "acc-2")
	bad.mode.Store(modeUnavail)
	reg.register(t, "accounts", bad, good)
	cfg := testConfig()
	gw := startGateway(t, reg, cfg)

	for i := range 20 {
		if r := gw.get(t, "/api/accounts/x"); r.code != http.StatusOK || r.servedBy != good.id {
			t.Fatalf("call %d: got %d from %q, want 200 from %s after a retry", i, r.code, r.servedBy, good.id)
		}
	}
	if n := bad.hits.Load(); n != int64(cfg.BreakerFailures) {
		t.Fatalf("failing instance got %d calls out of 20; its breaker should have opened after %d", n, cfg.BreakerFailures)
	}
	if got := gw.metric(t, "gateway_breaker_state", `instance="acc-1"`); len(got) != 1 || !strings.HasSuffix(got[0], " 2") {
		t.Errorf("breaker state metric of acc-1 = %v, want 2 (open)", got)
	}

	// Healed: after the delay a trial call reaches it, and enough successes close the breaker.
	bad.mode.Store(modeOK)
	eventually(t, 20*cfg.BreakerDelay, "healed instance serves again", func() bool {
		return gw.get(t, "/api/accounts/x").servedBy == bad.id
	})
	eventually(t, 20*cfg.BreakerDelay, "breaker closes", func() bool {
		gw.get(t, "/api/accounts/x")
		got := gw.metric(t, "gateway_breaker_state", `instance="acc-1"`)
		return len(got) == 1 && strings.HasSuffix(got[0], " 0")
	})
	served := map[string]int{}
	for range 6 {
		served[gw.get(t, "/api/accounts/x").servedBy]++
	}
	if served[bad.id] != 3 || served[good.id] != 3 {
		t.Errorf("after the breaker closed, 6 calls were served %v; want 3 each", served)
	}
}

func TestADependencysFailureNeitherOpensTheBreakerNorIsRetried(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	a, b := startBackend(t, "ord-1"), startBackend(t, "ord-2")
	a.mode.Store(modeDepDown)
	b.mode.Store(modeDepDown)
	reg.register(t, "orders", a, b)
	cfg := testConfig()
	gw := startGateway(t, reg, cfg)

	calls := 4 * cfg.BreakerWindow
	for i := range calls {
		r := gw.get(t, "/api/orders/x")
		if r.code != http.StatusServiceUnavailable || r.servedBy == "" {
			t.Fatalf("call %d: got %d from %q, want the instance's own 503", i, r.code, r.servedBy)
		}
		if r.attempts != 1 {
			t.Fatalf("call %d: %d attempts, want 1: another instance shares the dependency", i, r.attempts)
		}
	}
	if got := a.hits.Load() + b.hits.Load(); got != int64(calls) {
		t.Errorf("the instances got %d calls, want %d (one each)", got, calls)
	}
	for _, id := range []string{"ord-1", "ord-2"} {
		if got := gw.metric(t, "gateway_breaker_state", `instance="`+id+`"`); len(got) == 1 && !strings.HasSuffix(got[0], " 0") {
			t.Errorf("breaker state of %s = %v, want 0 (closed): a dependency's failure is not the instance's", id, got)
		}
	}
	// The dependency is back: the very next calls are served, with no breaker delay to sit out.
	a.mode.Store(modeOK)
	b.mode.Store(modeOK)
	for i := range 4 {
		if r := gw.get(t, "/api/orders/x"); r.code != http.StatusOK {
			t.Fatalf("call %d after the dependency came back: got %d, want 200", i, r.code)
		}
	}
}

func TestBreakerHalfOpenTrialFailureReopens(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	bad, good := startBackend(t, "acc-1"), startBackend(t, "acc-2")
	bad.mode.Store(modeUnavail)
	reg.register(t, "accounts", bad, good)
	cfg := testConfig()
	gw := startGateway(t, reg, cfg)

	for range 12 {
		gw.get(t, "/api/accounts/x")
	}
	opened := bad.hits.Load()
	time.Sleep(cfg.BreakerDelay + 100*time.Millisecond)
	for range 4 {
		if r := gw.get(t, "/api/accounts/x"); r.code != http.StatusOK {
			t.Fatalf("got %d, want 200 from the healthy instance", r.code)
		}
	}
	// One failed trial opens the breaker again; a busy machine may let at most one more
	// delay pass within these four calls.
	if trials := bad.hits.Load() - opened; trials < 1 || trials > 2 {
		t.Errorf("still-failing instance got %d trial calls after the delay, want 1 (or 2 on a slow machine)", trials)
	}
}

func TestSwitchesTurnPropertiesOff(t *testing.T) {
	t.Parallel()
	fast := map[string]string{"GATEWAY_ATTEMPT_TIMEOUT": "200ms", "GATEWAY_BREAKER_DELAY": "200ms"}
	cases := []struct {
		name   string
		env    map[string]string
		before func(t *testing.T, bad *backend)
		check  func(t *testing.T, gw *testGateway, reg *testRegistry, bad *backend)
	}{
		{
			name: "GATEWAY_RETRIES=0: a failing instance's error reaches the client",
			env:  map[string]string{"GATEWAY_RETRIES": "0"},
			check: func(t *testing.T, gw *testGateway, _ *testRegistry, bad *backend) {
				failures := 0
				for range 4 {
					r := gw.get(t, "/api/svc/x")
					if r.attempts != 1 {
						t.Fatalf("X-Attempts = %d with retries off, want 1", r.attempts)
					}
					if r.servedBy == bad.id {
						failures++
						if r.code != http.StatusServiceUnavailable {
							t.Fatalf("failing instance's answer reached the client as %d, want its 503", r.code)
						}
					}
				}
				if failures == 0 {
					t.Fatalf("no call out of 4 reached the failing instance")
				}
			},
		},
		{
			name: "GATEWAY_BREAKER=off: a failing instance keeps getting calls",
			env:  map[string]string{"GATEWAY_BREAKER": "off"},
			check: func(t *testing.T, gw *testGateway, _ *testRegistry, bad *backend) {
				for range 20 {
					if r := gw.get(t, "/api/svc/x"); r.code != http.StatusOK {
						t.Fatalf("got %d; retries should still hide the failing instance", r.code)
					}
				}
				if n := bad.hits.Load(); n < 10 {
					t.Errorf("with breakers off the failing instance got %d calls out of 20, want about 10", n)
				}
				if got := gw.metric(t, "gateway_breaker_state"); len(got) != 0 {
					t.Errorf("breakers off, yet breaker state is reported: %v", got)
				}
			},
		},
		{
			name:   "GATEWAY_CACHE=off: routing stops while the registry is down",
			env:    map[string]string{"GATEWAY_CACHE": "off"},
			before: func(_ *testing.T, bad *backend) { bad.mode.Store(modeOK) },
			check: func(t *testing.T, gw *testGateway, reg *testRegistry, _ *backend) {
				if r := gw.get(t, "/api/svc/x"); r.code != http.StatusOK {
					t.Fatalf("registry up: got %d (%s)", r.code, r.body)
				}
				reg.stop()
				r := gw.get(t, "/api/svc/x")
				if r.code != http.StatusServiceUnavailable || !strings.Contains(r.errorText(t), "svc") {
					t.Fatalf("registry down, cache off: got %d %s, want 503 naming svc", r.code, r.body)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range fast {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			e := config.FromMap(env)
			cfg := ConfigFromEnv(e)
			if err := e.Err(); err != nil {
				t.Fatalf("env: %v", err)
			}
			reg := startRegistry(t)
			bad, good := startBackend(t, "svc-1"), startBackend(t, "svc-2")
			bad.mode.Store(modeUnavail)
			if tc.before != nil {
				tc.before(t, bad)
			}
			reg.register(t, "svc", bad, good)
			tc.check(t, startGateway(t, reg, cfg), reg, bad)
		})
	}
}

func TestAllBreakersOpenGives503Fast(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	bad := startBackend(t, "acc-1")
	bad.mode.Store(modeUnavail)
	reg.register(t, "accounts", bad)
	cfg := testConfig()
	cfg.BreakerDelay = time.Minute
	gw := startGateway(t, reg, cfg)

	for range cfg.BreakerFailures {
		gw.get(t, "/api/accounts/x")
	}
	hits := bad.hits.Load()
	r := gw.get(t, "/api/accounts/x")
	if r.code != http.StatusServiceUnavailable || r.attempts != 0 || bad.hits.Load() != hits {
		t.Fatalf("got %d with X-Attempts %d and %d more calls to the instance; want 503, 0, 0 (%s)",
			r.code, r.attempts, bad.hits.Load()-hits, r.body)
	}
	if msg := r.errorText(t); !strings.Contains(msg, "accounts") {
		t.Errorf("error %q does not name the service", msg)
	}
}

func TestAccessPolicy(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	reg.register(t, "accounts", startBackend(t, "acc-1"))
	cfg := testConfig()
	cfg.APIKeys = []string{testKey, "other-key"}
	gw := startGateway(t, reg, cfg)

	cases := []struct {
		name string
		key  string
		want int
	}{
		{"missing key", "", http.StatusUnauthorized},
		{"unknown key", "nope", http.StatusUnauthorized},
		{"prefix of a known key", "demo", http.StatusUnauthorized},
		{"known key", testKey, http.StatusOK},
		{"second known key", "other-key", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := gw.call(t, "GET", "/api/accounts/x", "", map[string]string{APIKeyHeader: tc.key})
			if r.code != tc.want {
				t.Fatalf("got %d, want %d (%s)", r.code, tc.want, r.body)
			}
			if tc.want == http.StatusUnauthorized {
				if msg := r.errorText(t); !strings.Contains(msg, APIKeyHeader) {
					t.Errorf("401 error %q does not say which header", msg)
				}
			}
		})
	}
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	reg.register(t, "accounts", startBackend(t, "acc-1"))
	cfg := testConfig()
	cfg.APIKeys = []string{testKey, "other-key"}
	cfg.Rate, cfg.Burst = 0.5, 3
	gw := startGateway(t, reg, cfg)

	for i := range cfg.Burst {
		if r := gw.get(t, "/api/accounts/x"); r.code != http.StatusOK {
			t.Fatalf("call %d within the burst: got %d", i, r.code)
		}
	}
	r := gw.get(t, "/api/accounts/x")
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("call past the burst: got %d, want 429", r.code)
	}
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want whole seconds >= 1", r.header.Get("Retry-After"))
	}
	r.errorText(t)
	if r := gw.call(t, "GET", "/api/accounts/x", "", map[string]string{APIKeyHeader: "other-key"}); r.code != http.StatusOK {
		t.Errorf("another key got %d while the first was limited; want 200", r.code)
	}
	if got := gw.metric(t, "gateway_rate_limited_total"); len(got) != 1 || !strings.HasSuffix(got[0], " 1") {
		t.Errorf("gateway_rate_limited_total = %v, want 1", got)
	}
}

func TestAKeyCanHaveALimitOfItsOwn(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	reg.register(t, "accounts", startBackend(t, "acc-1"))
	cfg := testConfig()
	cfg.APIKeys = []string{testKey, "tier-a:0.5:2"}
	cfg.Rate, cfg.Burst = 1000, 1000
	gw := startGateway(t, reg, cfg)
	tier := map[string]string{APIKeyHeader: "tier-a"}
	for i := range 2 {
		if r := gw.call(t, "GET", "/api/accounts/x", "", tier); r.code != http.StatusOK {
			t.Fatalf("tier-a call %d within its own burst: got %d", i, r.code)
		}
	}
	if r := gw.call(t, "GET", "/api/accounts/x", "", tier); r.code != http.StatusTooManyRequests {
		t.Fatalf("tier-a past its own burst of 2: got %d, want 429", r.code)
	}
	for i := range 5 {
		if r := gw.get(t, "/api/accounts/x"); r.code != http.StatusOK {
			t.Fatalf("the default key, call %d: got %d", i, r.code)
		}
	}
	if r := gw.call(t, "GET", "/api/accounts/x", "", map[string]string{APIKeyHeader: "tier-a:0.5:2"}); r.code != http.StatusUnauthorized {
		t.Fatalf("the entry's full text is not a key: got %d, want 401", r.code)
	}
}

func TestBadKeyLimitsAreRefusedByName(t *testing.T) {
	for entry, want := range map[string]string{
		"a:fast":  `key "a": rate "fast" is not a number > 0`,
		"a:5:0":   `key "a": burst "0" is not a whole number >= 1`,
		"a:1:2:3": `has 4 ':'-separated parts`,
	} {
		cfg := testConfig()
		cfg.APIKeys = []string{entry}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "GATEWAY_API_KEYS") {
			t.Errorf("APIKeys %q: error %v, want one naming GATEWAY_API_KEYS and %q", entry, err, want)
		}
	}
}

func TestCacheKeepsRoutingWhileTheRegistryIsDown(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	reg.register(t, "accounts", startBackend(t, "acc-1"), startBackend(t, "acc-2"))
	gw := startGateway(t, reg, testConfig())
	if r := gw.get(t, "/api/accounts/x"); r.code != http.StatusOK {
		t.Fatalf("registry up: got %d (%s)", r.code, r.body)
	}
	reg.stop()
	served := map[string]int{}
	for i := range 6 {
		r := gw.get(t, "/api/accounts/x")
		if r.code != http.StatusOK {
			t.Fatalf("registry down, call %d: got %d, want 200 from the cached list (%s)", i, r.code, r.body)
		}
		served[r.servedBy]++
	}
	if len(served) != 2 {
		t.Errorf("registry down: calls served by %v, want both cached instances", served)
	}
}

func TestRegistryNeverReachedGives503Fast(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	reg.stop()
	gw := startGateway(t, reg, testConfig())
	for i := range 3 {
		r := gw.get(t, "/api/accounts/x")
		if r.code != http.StatusServiceUnavailable || !strings.Contains(r.errorText(t), "accounts") {
			t.Fatalf("call %d: got %d %s, want 503 naming accounts", i, r.code, r.body)
		}
		if r.took > 500*time.Millisecond {
			t.Errorf("call %d: 503 took %s with the registry refusing connections; it should be fast", i, r.took)
		}
	}
}

func TestNoInstanceGives503Fast(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	reg.register(t, "accounts", startBackend(t, "acc-1"))
	gw := startGateway(t, reg, testConfig())

	cases := []struct{ name, path, service string }{
		{"unknown service", "/api/nosuch/x", "nosuch"},
		{"unknown service again", "/api/nosuch/y", "nosuch"},
		{"another unknown service", "/api/ghost", "ghost"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := gw.get(t, tc.path)
			if r.code != http.StatusServiceUnavailable {
				t.Fatalf("got %d, want 503 (%s)", r.code, r.body)
			}
			if msg := r.errorText(t); !strings.Contains(msg, tc.service) {
				t.Errorf("error %q does not name %s", msg, tc.service)
			}
			if r.took > 500*time.Millisecond {
				t.Errorf("503 took %s; it should be fast", r.took)
			}
			if r.header.Get(AttemptsHeader) != "0" {
				t.Errorf("X-Attempts = %q, want 0", r.header.Get(AttemptsHeader))
			}
		})
	}
}

func TestRejectsWhatItCannotRoute(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	reg.register(t, "accounts", startBackend(t, "acc-1"))
	cfg := testConfig()
	cfg.MaxBodyBytes = 16
	gw := startGateway(t, reg, cfg)

	cases := []struct {
		name, method, path, body string
		want                     int
	}{
		{"body over the bound", "POST", "/api/accounts/x", strings.Repeat("x", 17), http.StatusRequestEntityTooLarge},
		{"body at the bound", "POST", "/api/accounts/x", strings.Repeat("x", 16), http.StatusOK},
		{"no service", "GET", "/api/", "", http.StatusNotFound},
		{"outside /api/", "GET", "/elsewhere", "", http.StatusNotFound},
		{"bad service name", "GET", "/api/-x/y", "", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := gw.call(t, tc.method, tc.path, tc.body, nil)
			if r.code != tc.want {
				t.Fatalf("got %d, want %d (%s)", r.code, tc.want, r.body)
			}
			if tc.want != http.StatusOK {
				r.errorText(t)
			}
		})
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	reg.register(t, "accounts", startBackend(t, "acc-1"))
	gw := startGateway(t, reg, testConfig())

	status := func(path string) (int, string) {
		r := gw.call(t, "GET", path, "", nil)
		return r.code, r.body
	}
	if code, _ := status("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := status("/readyz"); code != http.StatusOK || !strings.Contains(body, `"reachable"`) {
		t.Errorf("/readyz with the registry up and nothing watched: %d %s, want 200 reachable", code, body)
	}
	gw.get(t, "/api/accounts/x")
	reg.stop()
	if code, body := status("/readyz"); code != http.StatusOK || !strings.Contains(body, `"accounts"`) {
		t.Errorf("/readyz with the registry down after a lookup: %d %s, want 200 with the watch status", code, body)
	}
	for _, series := range []string{
		`gateway_requests_total{code="200",service="accounts"} 1`,
		`gateway_attempts_total{instance="acc-1",outcome="ok",service="accounts"} 1`,
		`gateway_breaker_state{instance="acc-1",service="accounts"} 0`,
		`gateway_upstream_duration_seconds_count{service="accounts"} 1`,
		`gateway_rate_limited_total 0`,
	} {
		if got := gw.metric(t, series); len(got) != 1 {
			t.Errorf("/metrics lacks %s", series)
		}
	}

	// A gateway whose registry never answered is not ready.
	down := startRegistry(t)
	gw2 := startGateway(t, down, testConfig())
	down.stop()
	if r := gw2.call(t, "GET", "/readyz", "", nil); r.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the registry never reached: %d %s, want 503", r.code, r.body)
	}
}
