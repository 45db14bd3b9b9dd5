package registry_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/registry"
	"github.com/faultline/faultline/reference-services/registry/registrytest"
)

// patience bounds every wait for something that should happen soon; generous, so that
// a loaded two-core machine does not fail a correct registry.
const patience = 10 * time.Second

// start serves a registry on a fresh file in a temporary directory.
func start(t *testing.T, opts ...registry.Option) *registrytest.Server {
	t.Helper()
	return registrytest.Start(t, filepath.Join(t.TempDir(), "registry.db"), opts...)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), patience)
	t.Cleanup(cancel)
	return c
}

func inst(service, id string) discovery.Instance {
	return discovery.Instance{Service: service, ID: id, Address: "127.0.0.1:9" + strconv.Itoa(len(id)), Meta: map[string]string{"zone": "a"}}
}

func register(t *testing.T, s *registrytest.Server, in discovery.Instance, ttl time.Duration) discovery.Lease {
	t.Helper()
	lease, err := s.Client.Register(ctx(t), in, ttl)
	if err != nil {
		t.Fatalf("register %s/%s: %v", in.Service, in.ID, err)
	}
	return lease
}

func list(t *testing.T, s *registrytest.Server, service string) discovery.Snapshot {
	t.Helper()
	snap, err := s.Client.Instances(ctx(t), service, 0, 0)
	if err != nil {
		t.Fatalf("list %s: %v", service, err)
	}
	return snap
}

func ids(snap discovery.Snapshot) []string {
	out := []string{}
	for _, in := range snap.Instances {
		out = append(out, in.ID)
	}
	return out
}

func has(snap discovery.Snapshot, id string) bool {
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

// answer is one raw HTTP answer of the registry.
type answer struct {
	status int
	header http.Header
	body   string
}

func call(t *testing.T, method, url, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, url, err)
	}
	return answer{resp.StatusCode, resp.Header, string(data)}
}

// errorOf decodes an error answer, failing when it is not a JSON ErrorBody.
func errorOf(t *testing.T, a answer) string {
	t.Helper()
	var eb discovery.ErrorBody
	if err := json.Unmarshal([]byte(a.body), &eb); err != nil || eb.Error == "" {
		t.Fatalf("answer %d %q is not a JSON error body", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer has Content-Type %q, want application/json", ct)
	}
	return eb.Error
}

// metric returns the value of the sample named exactly name (labels included) in the
// registry's /metrics, or -1 when there is none.
func metric(t *testing.T, s *registrytest.Server, name string) float64 {
	t.Helper()
	a := call(t, http.MethodGet, s.URL+"/metrics", "")
	sc := bufio.NewScanner(strings.NewReader(a.body))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q is not a number", name, v)
			}
			return f
		}
	}
	return -1
}
