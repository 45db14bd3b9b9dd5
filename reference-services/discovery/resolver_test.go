package discovery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/registry/registrytest"
)

func newResolver(t *testing.T, addr string, opts ...discovery.ResolverOption) *discovery.Resolver {
	t.Helper()
	opts = append([]discovery.ResolverOption{discovery.WithWatchWait(30 * time.Second), discovery.WithResolverLogger(registrytest.Logger(t))}, opts...)
	r := discovery.NewResolver(discovery.NewClient(addr), opts...)
	t.Cleanup(r.Close)
	return r
}

func register(t *testing.T, s *registrytest.Server, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := s.Client.Register(ctx(t), inst(id), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
}

// resolved returns the ids the resolver answers for accounts, within a short bound.
func resolved(t *testing.T, r *discovery.Resolver) (string, error) {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	insts, err := r.Instances(c, "accounts")
	var out []string
	for _, in := range insts {
		out = append(out, in.ID)
	}
	slices.Sort(out)
	return strings.Join(out, ","), err
}

func resolvesTo(t *testing.T, r *discovery.Resolver, want string) func() bool {
	return func() bool {
		got, err := resolved(t, r)
		return err == nil && got == want
	}
}

func TestResolverSeesChangesByWatch(t *testing.T) {
	s := registrytest.Start(t, dbPath(t))
	register(t, s, "accounts-1", "accounts-2")
	r := newResolver(t, s.Addr)
	if got, err := resolved(t, r); err != nil || got != "accounts-1,accounts-2" {
		t.Fatalf("first lookup: %q, %v; want accounts-1,accounts-2", got, err)
	}
	// The watch waits 30 s at the registry; seeing the change within the 10 s of
	// eventually means the change woke it.
	register(t, s, "accounts-3")
	eventually(t, "seeing accounts-3", resolvesTo(t, r, "accounts-1,accounts-2,accounts-3"))
	if err := s.Client.Deregister(ctx(t), "accounts", "accounts-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "seeing accounts-1 go", resolvesTo(t, r, "accounts-2,accounts-3"))
}

func TestResolverAnswersFromItsCacheWhileTheRegistryIsDown(t *testing.T) {
	path := dbPath(t)
	s := registrytest.Start(t, path)
	register(t, s, "accounts-1", "accounts-2")
	r := newResolver(t, s.Addr)
	if got, err := resolved(t, r); err != nil || got != "accounts-1,accounts-2" {
		t.Fatalf("first lookup: %q, %v; want accounts-1,accounts-2", got, err)
	}

	s.Stop()
	eventually(t, "noticing the registry is down", func() bool {
		return r.Status()["accounts"].LastError != ""
	})
	if got, err := resolved(t, r); err != nil || got != "accounts-1,accounts-2" {
		t.Fatalf("lookup while the registry is down: %q, %v; want the cached accounts-1,accounts-2", got, err)
	}
	if _, err := r.Instances(ctxFor(t, 300*time.Millisecond), "orders"); err == nil {
		t.Error("a service never seen resolved while the registry is down")
	}

	// Back on the same file: the watch resumes and sees the next change.
	s = registrytest.StartAt(t, s.Addr, path)
	register(t, s, "accounts-3")
	eventually(t, "seeing accounts-3 after the outage", resolvesTo(t, r, "accounts-1,accounts-2,accounts-3"))
	if st := r.Status()["accounts"]; st.LastError != "" || st.Instances != 3 {
		t.Errorf("status after the outage %+v, want no error and 3 instances", st)
	}
}

func TestResolverStartsOverWhenTheRegistryIsReset(t *testing.T) {
	s := registrytest.Start(t, dbPath(t))
	register(t, s, "accounts-1", "accounts-2", "accounts-3", "accounts-4")
	r := newResolver(t, s.Addr)
	if got, err := resolved(t, r); err != nil || got != "accounts-1,accounts-2,accounts-3,accounts-4" {
		t.Fatalf("first lookup: %q, %v", got, err)
	}
	// A fresh file: the registry's index starts over, below the resolver's.
	s.Stop()
	s = registrytest.StartAt(t, s.Addr, dbPath(t))
	register(t, s, "accounts-9")
	eventually(t, "seeing the reset registry's view", resolvesTo(t, r, "accounts-9"))
}

func TestResolverWithoutCacheFailsWhileTheRegistryIsDown(t *testing.T) {
	s := registrytest.Start(t, dbPath(t))
	register(t, s, "accounts-1")
	r := newResolver(t, s.Addr, discovery.WithCache(false))
	if got, err := resolved(t, r); err != nil || got != "accounts-1" {
		t.Fatalf("lookup: %q, %v", got, err)
	}
	s.Stop()
	if got, err := resolved(t, r); err == nil {
		t.Errorf("lookup without cache while the registry is down answered %q", got)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return c
}

func TestResolverPrefersItsCacheToAnEndedContext(t *testing.T) {
	s := registrytest.Start(t, dbPath(t))
	register(t, s, "accounts-1")
	r := newResolver(t, s.Addr)
	if got, err := resolved(t, r); err != nil || got != "accounts-1" {
		t.Fatalf("first lookup: %q, %v", got, err)
	}
	done, cancel := context.WithCancel(t.Context())
	cancel()
	for i := range 50 {
		if _, err := r.Instances(done, "accounts"); err != nil {
			t.Fatalf("lookup %d with an ended context and a cached list: %v", i, err)
		}
	}
}

func TestResolverDoesNotSpinOnARegistryThatAnswersIndexZero(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"service":"accounts","index":0,"instances":[]}`))
	}))
	t.Cleanup(srv.Close)
	r := newResolver(t, srv.URL)
	if _, err := resolved(t, r); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := calls.Load(); n > 5 {
		t.Errorf("%d queries in half a second: the watch spins when the index is 0", n)
	}
}
