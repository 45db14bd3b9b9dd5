package load_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
)

func TestOpenKeepsItsRateWhenTheServerIsSlow(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.HasPrefix(r.URL.Path, "/slow") {
			time.Sleep(300 * time.Millisecond)
		}
		w.Header().Set("X-Served-By", "a-1")
		w.Header().Set("X-Attempts", "1")
	}))
	defer srv.Close()
	h := history.New()
	sum, err := load.RunOpen(context.Background(), h, load.Open{
		Name: "t", Base: srv.URL, Rate: 100, Duration: time.Second, Seed: 1,
		Requests: []load.Request{{Route: "slow", Path: "/slow/{n}"}, {Route: "fast", Path: "/fast"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ops := h.Ops()
	// 100/s for 1 s: a closed loop stuck behind 300 ms answers would send far fewer.
	if sum.Sent < 90 || sum.Sent > 110 || len(ops) != sum.Sent {
		t.Fatalf("sent %d (recorded %d), want about 100", sum.Sent, len(ops))
	}
	routes := map[string]int{}
	for _, op := range ops {
		routes[op.Route]++
		if op.Outcome != history.OK || op.Class != "" || op.ServedBy != "a-1" || op.Attempts != 1 {
			t.Fatalf("op %+v lost its outcome or headers", op)
		}
		if op.End < op.Start || op.Start < op.Intended-50*time.Millisecond {
			t.Fatalf("op times out of order: %+v", op)
		}
	}
	if routes["slow"] < 20 || routes["fast"] < 20 {
		t.Fatalf("mix %v is not drawn from both kinds", routes)
	}
	// Intended times are paced at the rate whatever the answers did.
	last := ops[len(ops)-1]
	if last.Intended < 800*time.Millisecond || last.Intended > 1200*time.Millisecond {
		t.Fatalf("last intended start %s, want about 1 s", last.Intended)
	}
}

func TestOpenMixIsReproducibleFromTheSeed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	mix := func(seed uint64) string {
		h := history.New()
		if _, err := load.RunOpen(context.Background(), h, load.Open{
			Name: "t", Base: srv.URL, Rate: 50, Duration: 500 * time.Millisecond, Seed: seed,
			Requests: []load.Request{{Route: "a", Path: "/a"}, {Route: "b", Path: "/b", Weight: 3}},
		}); err != nil {
			t.Fatal(err)
		}
		// Intended starts follow the sequence; actual starts may not on a busy machine.
		ops := h.Ops()
		slices.SortFunc(ops, func(a, b history.Op) int { return int(a.Intended - b.Intended) })
		var b strings.Builder
		for _, op := range ops[:20] {
			b.WriteString(op.Route)
		}
		return b.String()
	}
	if a, b := mix(7), mix(7); a != b {
		t.Fatalf("same seed, different mix: %s vs %s", a, b)
	}
}

func TestClosedStopsAtMaxOps(t *testing.T) {
	h := history.New()
	run, err := load.StartClosed(context.Background(), h, load.Closed{
		Name: "kv", Workers: 4, Duration: 10 * time.Second, MaxOps: 50, Seed: 3,
		Op: func(ctx context.Context, worker int, rng *rand.Rand) history.Op {
			return history.Op{Route: "write", Input: map[string]string{"v": "x"}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := run.Wait()
	if sum.Sent != 50 || len(h.Ops()) != 50 || sum.OK != 50 {
		t.Fatalf("sent %d (ok %d), recorded %d, want 50 ok", sum.Sent, sum.OK, len(h.Ops()))
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	h := history.New()
	ok := load.Open{Name: "t", Base: "http://127.0.0.1:1", Rate: 10, Duration: time.Second, Requests: []load.Request{{Path: "/"}}}
	cases := []struct {
		name string
		mod  func(*load.Open)
		want string
	}{
		{"not loopback", func(o *load.Open) { o.Base = "http://10.1.2.3:80" }, "not on loopback"},
		{"not a url", func(o *load.Open) { o.Base = "127.0.0.1:80" }, "not an http URL"},
		{"rate", func(o *load.Open) { o.Rate = 0 }, "rate 0"},
		{"duration", func(o *load.Open) { o.Duration = time.Hour }, "duration 1h0m0s"},
		{"no requests", func(o *load.Open) { o.Requests = nil }, "requests is empty"},
		{"path", func(o *load.Open) { o.Requests = []load.Request{{Path: "x"}} }, "must start with /"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			_, err := load.StartOpen(context.Background(), h, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := load.StartClosed(context.Background(), h, load.Closed{Name: "c", Workers: 1, Duration: time.Second}); err == nil || !strings.Contains(err.Error(), "op is nil") {
		t.Fatalf("closed without op: %v", err)
	}
}

func TestPlaceholders(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
	}))
	defer srv.Close()
	if _, err := load.RunOpen(context.Background(), history.New(), load.Open{
		Name: "t", Base: srv.URL, Rate: 50, Duration: 500 * time.Millisecond, Seed: 1,
		Requests: []load.Request{{Route: "r", Path: "/a/{r%3}/{n}"}},
	}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	re := regexp.MustCompile(`^/a/[0-2]/[0-9]+$`)
	seen := map[string]bool{}
	for _, p := range paths {
		if !re.MatchString(p) {
			t.Fatalf("path %q: placeholders not filled in", p)
		}
		seen[strings.Split(p, "/")[2]] = true
	}
	if len(paths) < 10 || len(seen) != 3 {
		t.Fatalf("%d paths drew %v, want all of 0, 1, 2", len(paths), seen)
	}
}
