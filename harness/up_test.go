package harness_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/local"
)

// backends returns the runtimes to run the system tests on: local always, docker where
// an engine answers (and says so where it does not).
func backends(t *testing.T) map[string]func(t *testing.T) runtime.Runtime {
	out := map[string]func(t *testing.T) runtime.Runtime{
		"local": func(t *testing.T) runtime.Runtime {
			rt, err := local.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rt.Close(context.Background()) })
			return rt
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if os.Getenv("FAULTLINE_RUNTIME") == "local" {
		t.Log("FAULTLINE_RUNTIME=local: skipping the docker backend")
	} else if !docker.Available(ctx) {
		t.Log("docker engine not reachable: skipping the docker backend (set FAULTLINE_RUNTIME=local to silence this)")
	} else {
		out["docker"] = func(t *testing.T) runtime.Runtime {
			rt, err := harness.NewRuntime(context.Background(), "docker", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rt.Close(context.Background()) })
			return rt
		}
	}
	return out
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-API-Key", reference.APIKey)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("X-API-Key", reference.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReferenceSystemEveryPathThroughToxiproxy brings the reference system up and shows
// that an instance reached only through its own proxy: refusing that proxy makes the
// instance unreachable for every caller (the gateway and the harness), while its
// sibling serves every request.
func TestReferenceSystemEveryPathThroughToxiproxy(t *testing.T) {
	if testing.Short() {
		t.Skip("brings a whole system up: skipped under -short")
	}
	for name, newRT := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rt := newRT(t)
			sys, err := reference.Up(ctx, harness.WithRuntime(rt))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sys.Down(context.Background()) })
			gw := reference.GatewayURL(sys)
			if code := post(t, gw+"/api/accounts/v1/accounts", `{"id":"alice","owner":"Alice"}`); code != 201 && code != 200 {
				t.Fatalf("create account: %d", code)
			}
			// Every instance advertises its own proxy's address, never its own.
			regURL := reference.RegistryURL(sys) + "/v1/services/accounts"
			_, _, body := get(t, regURL)
			var snap struct {
				Instances []struct{ ID, Address string } `json:"instances"`
			}
			if err := json.Unmarshal([]byte(body), &snap); err != nil || len(snap.Instances) != 2 {
				t.Fatalf("registry lists %s (%v)", body, err)
			}
			for _, in := range snap.Instances {
				if want := sys.Instance(in.ID).Ingress.NetAddr(); in.Address != want {
					t.Errorf("%s advertises %s, want its proxy %s", in.ID, in.Address, want)
				}
			}

			served := func(n int) map[string]int {
				by := map[string]int{}
				for i := 0; i < n; i++ {
					code, h, body := get(t, gw+"/api/accounts/v1/accounts/alice")
					if code != 200 {
						t.Fatalf("GET through the gateway: %d %s", code, body)
					}
					by[h.Get("X-Served-By")]++
				}
				return by
			}
			if by := served(20); by["accounts-1"] == 0 || by["accounts-2"] == 0 {
				t.Fatalf("round robin should reach both instances: %v", by)
			}

			sc := fault.ScopeFor(t, sys.History())
			down, err := sc.Apply(ctx, fault.Refuse(sys.Instance("accounts-1").Ingress))
			if err != nil {
				t.Fatal(err)
			}
			if by := served(30); by["accounts-1"] != 0 || by["accounts-2"] != 30 {
				t.Fatalf("with accounts-1's proxy down, the gateway still reached it or failed: %v", by)
			}
			url, _ := sys.Instance("accounts-1").URL(ctx)
			if code, _, _ := get(t, url+"/healthz"); code != 0 {
				t.Fatalf("the harness reached accounts-1 through its refused proxy: %d", code)
			}
			if err := down.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for by := served(10); by["accounts-1"] == 0; by = served(10) {
				if time.Now().After(deadline) {
					t.Fatalf("accounts-1 takes no traffic after heal: %v", by)
				}
				time.Sleep(200 * time.Millisecond)
			}
			fmt.Fprintln(io.Discard, name)
		})
	}
}
