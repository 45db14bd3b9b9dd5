package discovery_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/registry/registrytest"
)

// patience bounds every wait for something that should happen soon; generous, so that
// a loaded two-core machine does not fail correct code.
const patience = 10 * time.Second

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "registry.db") }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), patience)
	t.Cleanup(cancel)
	return c
}

func inst(id string) discovery.Instance {
	return discovery.Instance{Service: "accounts", ID: id, Address: "127.0.0.1:9001"}
}

// listed tells whether the registry lists id under accounts now.
func listed(t *testing.T, s *registrytest.Server, id string) bool {
	t.Helper()
	snap, err := s.Client.Instances(ctx(t), "accounts", 0, 0)
	if err != nil {
		t.Fatalf("list accounts: %v", err)
	}
	for _, in := range snap.Instances {
		if in.ID == id {
			return true
		}
	}
	return false
}

// eventually polls cond every 20 ms until it holds or patience runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still not %s", patience, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric returns the value of the sample named exactly name (labels included) in the
// registry's /metrics, or 0 when there is none.
func metric(t *testing.T, s *registrytest.Server, name string) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, s.URL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// runKeeper runs k until the returned stop is called or the test ends; stop returns
// once Run has.
func runKeeper(t *testing.T, k *discovery.Keeper) (stop func()) {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.Run(c)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(patience):
			t.Errorf("Keeper.Run still running %s after its context ended", patience)
		}
	}
	t.Cleanup(stop)
	return stop
}
