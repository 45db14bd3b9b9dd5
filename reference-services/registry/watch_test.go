package registry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/registry"
	"github.com/faultline/faultline/reference-services/registry/registrytest"
)

// blockingQuery runs a blocking query in the background, and waits until the registry
// counts it as a watcher, so that what the test does next happens while it waits.
func blockingQuery(t *testing.T, s *registrytest.Server, service string, index uint64, wait time.Duration) (<-chan result, time.Time) {
	t.Helper()
	before := metric(t, s, "registry_watchers")
	began := time.Now()
	out := make(chan result, 1)
	go func() {
		snap, err := s.Client.Instances(t.Context(), service, index, wait)
		out <- result{snap, err}
	}()
	eventually(t, "waiting at the registry", func() bool { return metric(t, s, "registry_watchers") > before })
	return out, began
}

// result is what a blocking query answered.
type result struct {
	discovery.Snapshot
	err error
}

// snapshot fails the test when the query failed.
func (r result) snapshot(t *testing.T) discovery.Snapshot {
	t.Helper()
	if r.err != nil {
		t.Fatalf("blocking query: %v", r.err)
	}
	return r.Snapshot
}

func TestWatchWakesOnChange(t *testing.T) {
	s := start(t)
	register(t, s, inst("accounts", "accounts-1"), time.Minute)
	cases := []struct {
		name   string
		change func(t *testing.T)
		want   []string
	}{
		{"register", func(t *testing.T) { register(t, s, inst("accounts", "accounts-2"), time.Minute) }, []string{"accounts-1", "accounts-2"}},
		{"re-register elsewhere", func(t *testing.T) {
			in := inst("accounts", "accounts-2")
			in.Address = "127.0.0.1:1234"
			register(t, s, in, time.Minute)
		}, []string{"accounts-1", "accounts-2"}},
		{"deregister", func(t *testing.T) {
			if err := s.Client.Deregister(ctx(t), "accounts", "accounts-1"); err != nil {
				t.Fatal(err)
			}
		}, []string{"accounts-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := list(t, s, "accounts")
			got, began := blockingQuery(t, s, "accounts", now.Index, time.Minute)
			tc.change(t)
			select {
			case r := <-got:
				snap := r.snapshot(t)
				if snap.Index <= now.Index {
					t.Errorf("woke with index %d, want > %d", snap.Index, now.Index)
				}
				if g, w := strings.Join(ids(snap), ","), strings.Join(tc.want, ","); g != w {
					t.Errorf("woke with %s, want %s", g, w)
				}
				if took := time.Since(began); took > patience {
					t.Errorf("woke after %s: that is the wait, not the change", took)
				}
			case <-time.After(patience):
				t.Fatalf("a blocking query with a minute's wait did not answer %s after the change", patience)
			}
		})
	}
}

func TestWatchWakesOnEviction(t *testing.T) {
	s := start(t, registry.WithTTL(500*time.Millisecond))
	lease := register(t, s, inst("accounts", "accounts-1"), 0)
	got, _ := blockingQuery(t, s, "accounts", lease.Index, time.Minute)
	select {
	case r := <-got:
		snap := r.snapshot(t)
		if len(snap.Instances) != 0 || snap.Index <= lease.Index {
			t.Errorf("woke with %v at index %d, want none at an index > %d", ids(snap), snap.Index, lease.Index)
		}
	case <-time.After(patience):
		t.Fatalf("the eviction did not wake the watcher within %s", patience)
	}
}

func TestWatchAnswersAfterWaitWithTheSameIndex(t *testing.T) {
	const wait = 400 * time.Millisecond
	s := start(t)
	register(t, s, inst("accounts", "accounts-1"), time.Minute)
	cases := []struct {
		name      string
		service   string
		meanwhile func(t *testing.T)
	}{
		{"nothing happens", "accounts", func(*testing.T) {}},
		{"only a heartbeat", "accounts", func(t *testing.T) {
			if _, err := s.Client.Heartbeat(ctx(t), "accounts", "accounts-1"); err != nil {
				t.Fatal(err)
			}
		}},
		{"identical re-register", "accounts", func(t *testing.T) { register(t, s, inst("accounts", "accounts-1"), time.Minute) }},
		{"another service changes", "accounts", func(t *testing.T) { register(t, s, inst("orders", "orders-1"), time.Minute) }},
		{"unknown service", "nobody", func(t *testing.T) { register(t, s, inst("orders", "orders-2"), time.Minute) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := list(t, s, tc.service)
			got, began := blockingQuery(t, s, tc.service, now.Index, wait)
			tc.meanwhile(t)
			snap := (<-got).snapshot(t)
			if took := time.Since(began); took < wait {
				t.Errorf("answered after %s, before the wait of %s", took, wait)
			}
			if snap.Index != now.Index {
				t.Errorf("answered with index %d, want the same %d", snap.Index, now.Index)
			}
			if len(snap.Instances) != len(now.Instances) {
				t.Errorf("answered %v, want %v", ids(snap), ids(now))
			}
		})
	}
}

func TestWatchAheadOfTheRegistryAnswersAtOnce(t *testing.T) {
	s := start(t)
	lease := register(t, s, inst("accounts", "accounts-1"), time.Minute)
	began := time.Now()
	// A client that watched a registry since reset holds an index from its future.
	snap, err := s.Client.Instances(ctx(t), "accounts", lease.Index+1000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > patience {
		t.Errorf("answered after %s, want at once", took)
	}
	if snap.Index != lease.Index || !has(snap, "accounts-1") {
		t.Errorf("answered %v at %d, want accounts-1 at %d", ids(snap), snap.Index, lease.Index)
	}
}

func TestMaxWaitCapsTheWait(t *testing.T) {
	s := start(t, registry.WithMaxWait(300*time.Millisecond))
	now := list(t, s, "accounts")
	began := time.Now()
	if _, err := s.Client.Instances(ctx(t), "accounts", now.Index, time.Hour); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < 300*time.Millisecond || took > patience {
		t.Errorf("a wait of an hour capped at 300ms answered after %s", took)
	}
}

func TestCloseReleasesWatchers(t *testing.T) {
	s := start(t)
	now := list(t, s, "accounts")
	got, _ := blockingQuery(t, s, "accounts", now.Index, time.Minute)
	if err := s.Registry.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(patience):
		t.Fatalf("a blocked query was still waiting %s after Close", patience)
	}
}
