package harness_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/local"
)

// slowRuntime starts every instance as an in-process HTTP server after a delay, like a
// container that takes a while to come up, and records what was starting at once. Its
// proxies are a real local runtime's embedded Toxiproxy.
type slowRuntime struct {
	*local.Runtime
	delay time.Duration
	fail  string // the instance whose start fails

	mu       sync.Mutex
	inFlight int
	maxIn    int
	ready    map[string]time.Time // instance → when its start returned
	began    map[string]time.Time // instance → when its start began
}

func (s *slowRuntime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	s.mu.Lock()
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	s.began[spec.Name] = time.Now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.ready[spec.Name] = time.Now()
		s.mu.Unlock()
	}()
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if spec.Name == s.fail {
		return nil, errors.New("exited with code 2")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	return &fakeInstance{spec: spec, srv: srv}, nil
}

// StartProxyHost starts the embedded Toxiproxy after the same delay, recorded as
// "proxy-host", or fails when that is the start asked to fail.
func (s *slowRuntime) StartProxyHost(ctx context.Context, slots int) (runtime.ProxyHost, error) {
	s.mu.Lock()
	s.began["proxy-host"] = time.Now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.ready["proxy-host"] = time.Now()
		s.mu.Unlock()
	}()
	time.Sleep(s.delay)
	if s.fail == "proxy-host" {
		return nil, errors.New("toxiproxy exited with code 1")
	}
	return s.Runtime.StartProxyHost(ctx, slots)
}

type fakeInstance struct {
	spec runtime.Spec
	srv  *httptest.Server
	once sync.Once
	dead bool
	mu   sync.Mutex
}

func (f *fakeInstance) Name() string       { return f.spec.Name }
func (f *fakeInstance) Spec() runtime.Spec { return f.spec }
func (f *fakeInstance) HostAddr() string   { return f.srv.Listener.Addr().String() }
func (f *fakeInstance) NetAddr() string    { return f.srv.Listener.Addr().String() }
func (f *fakeInstance) Kill(context.Context) error {
	f.once.Do(f.srv.Close)
	f.mu.Lock()
	f.dead = true
	f.mu.Unlock()
	return nil
}
func (f *fakeInstance) Stop(ctx context.Context, _ time.Duration) error { return f.Kill(ctx) }
func (f *fakeInstance) Pause(context.Context) error                     { return runtime.ErrUnsupported }
func (f *fakeInstance) Resume(context.Context) error                    { return runtime.ErrUnsupported }
func (f *fakeInstance) Start(context.Context) error                     { return runtime.ErrUnsupported }
func (f *fakeInstance) Disconnect(context.Context) error                { return runtime.ErrUnsupported }
func (f *fakeInstance) Reconnect(context.Context) error                 { return runtime.ErrUnsupported }
func (f *fakeInstance) Logs(context.Context) ([]byte, error)            { return nil, nil }
func (f *fakeInstance) State(context.Context) (runtime.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return runtime.StateExited, nil
	}
	return runtime.StateRunning, nil
}

// startAllSystem is a registry, two services with a database and two replicas each
// that call it, one that depends on the first, and a gateway.
func startAllSystem(t *testing.T) (harness.System, *build.Builder) {
	dir := t.TempDir()
	for _, name := range []string{"app", "etcd"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	app := harness.Source{Binary: filepath.Join(dir, "app")}
	registry := harness.Dependency{Service: "registry", Env: "REGISTRY_ADDR"}
	db := harness.Service{Source: harness.Source{Binary: filepath.Join(dir, "etcd")},
		Ports: harness.Ports{{Name: "client", Port: 2379}}, AdvertiseEnv: "-"}
	biz := func(name string, deps ...harness.Dependency) harness.Service {
		return harness.Service{Name: name, Source: app, Replicas: 2,
			Database: &harness.Database{Env: "DB_ADDR", Server: db}, DependsOn: append([]harness.Dependency{registry}, deps...)}
	}
	return harness.System{Name: "startall", Services: []harness.Service{
		{Name: "registry", Source: app, AdvertiseEnv: "-"},
		biz("alpha"),
		biz("beta"),
		biz("gamma", harness.Dependency{Service: "alpha", Env: "ALPHA_ADDR"}),
		{Name: "gateway", Source: app, DependsOn: []harness.Dependency{registry}, AdvertiseEnv: "-"},
	}}, build.New(build.WithPrebuilt(dir), build.WithDir(t.TempDir()))
}

func newSlowRuntime(t *testing.T, delay time.Duration, fail string) *slowRuntime {
	rt, err := local.New(local.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return &slowRuntime{Runtime: rt, delay: delay, fail: fail, ready: map[string]time.Time{}, began: map[string]time.Time{}}
}

func TestUpStartsWhatIsIndependentAtOnceAndInDependencyOrder(t *testing.T) {
	sys, b := startAllSystem(t)
	rt := newSlowRuntime(t, 300*time.Millisecond, "")
	ctx := context.Background()
	r, err := harness.Up(ctx, sys, harness.WithRuntime(rt), harness.WithBuilder(b),
		harness.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Down(context.Background()) })

	// The registry and the three databases start together, then every replica that
	// needs only them: a one-at-a-time start would never have two in flight.
	if rt.maxIn < 4 {
		t.Errorf("at most %d starts were in flight at once, want at least 4 (registry and databases together)", rt.maxIn)
	}
	after := func(later, earlier string) {
		t.Helper()
		if !rt.began[later].After(rt.ready[earlier]) {
			t.Errorf("%s began before %s was ready", later, earlier)
		}
	}
	for _, svc := range []string{"alpha", "beta", "gamma"} {
		for _, n := range []string{"-1", "-2"} {
			after(svc+n, "registry-1")
			after(svc+n, svc+"-db")
		}
	}
	after("gamma-1", "alpha-2")
	after("gamma-2", "alpha-1")
	after("gateway-1", "registry-1")
	after("alpha-1", "proxy-host") // it advertises its ingress link's address, made first
	// The databases and the registry, which advertises nothing, need the proxy host only
	// once they run.
	for _, name := range []string{"alpha-db", "registry-1"} {
		if !rt.began[name].Before(rt.ready["proxy-host"]) {
			t.Errorf("%s waited for the proxy host to start, though it needs it only once it runs", name)
		}
	}

	var names []string
	for _, in := range r.All() {
		names = append(names, in.Name())
	}
	want := []string{"registry-1", "alpha-1", "alpha-2", "beta-1", "beta-2", "gamma-1", "gamma-2", "gateway-1"}
	if !slices.Equal(names, want) {
		t.Errorf("All() = %v, want the one-at-a-time order %v", names, want)
	}
	if got := r.Instances("alpha"); len(got) != 2 || got[0].Name() != "alpha-1" {
		t.Errorf("Instances(alpha) = %v, want alpha-1 first", got)
	}
	// Every instance answers through its own proxy.
	for _, in := range r.All() {
		u, err := in.URL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.WaitHTTP(ctx, u+"/healthz", 5*time.Second); err != nil {
			t.Errorf("%s through its proxy: %v", in.Name(), err)
		}
	}
}

func TestUpReportsTheStartThatFailedNotThoseItCancelled(t *testing.T) {
	sys, b := startAllSystem(t)
	rt := newSlowRuntime(t, 200*time.Millisecond, "beta-db")
	_, err := harness.Up(context.Background(), sys, harness.WithRuntime(rt), harness.WithBuilder(b),
		harness.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err == nil {
		t.Fatal("Up succeeded though beta's database failed to start")
	}
	msg := err.Error()
	if !strings.Contains(msg, "beta") || !strings.Contains(msg, "exited with code 2") {
		t.Errorf("the error should name beta's database and its failure, got: %v", err)
	}
	if strings.Contains(msg, "context canceled") {
		t.Errorf("the error should not be the cancellation of the other starts, got: %v", err)
	}
	if _, started := rt.began["beta-1"]; started {
		t.Error("beta-1 was started though its database had failed")
	}
}

func TestUpSaysWhenTheProxyHostFailed(t *testing.T) {
	sys, b := startAllSystem(t)
	rt := newSlowRuntime(t, 100*time.Millisecond, "proxy-host")
	_, err := harness.Up(context.Background(), sys, harness.WithRuntime(rt), harness.WithBuilder(b),
		harness.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err == nil || !strings.Contains(err.Error(), "start toxiproxy: toxiproxy exited with code 1") {
		t.Fatalf("want the proxy host's failure, got %v", err)
	}
}
