package instance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/config"
	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/instance"
	"github.com/faultline/faultline/reference-services/internal/etcdtest"
)

// fakeRegistry records what an instance tells the registry, and on deregistration checks
// that the instance still serves (it must deregister before it drains).
type fakeRegistry struct {
	mu               sync.Mutex
	registered       []discovery.Instance
	deregistered     bool
	servedOnDeregist int
	instanceURL      string
}

func (f *fakeRegistry) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/register", func(w http.ResponseWriter, r *http.Request) {
		var req discovery.RegisterRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.registered = append(f.registered, req.Instance)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(discovery.Lease{Service: req.Service, ID: req.ID, TTLMillis: 3000})
	})
	mux.HandleFunc("PUT /v1/services/{service}/{id}/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(discovery.Lease{TTLMillis: 3000})
	})
	mux.HandleFunc("DELETE /v1/services/{service}/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		u := f.instanceURL
		f.mu.Unlock()
		status := 0
		if resp, err := http.Get(u + "/healthz"); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		f.mu.Lock()
		f.deregistered, f.servedOnDeregist = true, status
		f.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t *testing.T, url string) int {
	t.Helper()
	hc := &http.Client{Timeout: 20 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func spec() instance.Spec {
	return instance.Spec{Name: "demo", DefaultPort: 0, New: func(ctx context.Context, d instance.Deps) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"hello":"` + d.Settings.InstanceID + `"}`))
		}), nil
	}}
}

func TestInstanceLifecycle(t *testing.T) {
	etcd := etcdtest.Start(t)
	reg := &fakeRegistry{}
	regSrv := httptest.NewServer(reg.handler())
	t.Cleanup(regSrv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	reg.instanceURL = base
	env := config.FromMap(map[string]string{
		"REGISTRY_ADDR": strings.TrimPrefix(regSrv.URL, "http://"), "ETCD_ENDPOINTS": etcd.Addr(),
		"INSTANCE_ID": "demo-1", "ADVERTISE_ADDR": ln.Addr().String(), "STORE_TIMEOUT": "1s",
	})
	logs := &syncBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- instance.Run(ctx, spec(), env, instance.WithListener(ln), instance.WithLogOutput(logs))
	}()

	eventually(t, "ready", func() bool { return get(t, base+"/readyz") == http.StatusOK })
	if s := get(t, base+"/healthz"); s != http.StatusOK {
		t.Errorf("/healthz = %d", s)
	}
	if s := get(t, base+"/anything"); s != http.StatusOK {
		t.Errorf("service handler = %d", s)
	}
	eventually(t, "registered", func() bool {
		reg.mu.Lock()
		defer reg.mu.Unlock()
		return len(reg.registered) > 0
	})
	reg.mu.Lock()
	if got := reg.registered[0]; got.Service != "demo" || got.ID != "demo-1" || got.Address != ln.Addr().String() {
		t.Errorf("registered %+v", got)
	}
	reg.mu.Unlock()

	etcd.Kill()
	start := time.Now()
	if s := get(t, base+"/readyz"); s != http.StatusServiceUnavailable {
		t.Errorf("/readyz with etcd dead = %d, want 503", s)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("/readyz took %s with etcd dead", took)
	}
	if s := get(t, base+"/healthz"); s != http.StatusOK {
		t.Errorf("/healthz with etcd dead = %d, want 200 (the process is alive)", s)
	}
	etcd.Restart()
	eventually(t, "ready again after etcd's restart", func() bool { return get(t, base+"/readyz") == http.StatusOK })

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of the stop")
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if !reg.deregistered {
		t.Error("not deregistered on stop")
	}
	if reg.servedOnDeregist != http.StatusOK {
		t.Errorf("while deregistering the instance answered %d, want 200 (deregister before draining)", reg.servedOnDeregist)
	}
	for _, want := range []string{`"service":"demo"`, `"instance":"demo-1"`, `"msg":"serving"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func TestInstanceServesWithoutRegistry(t *testing.T) {
	etcd := etcdtest.Start(t)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	regAddr := closed.Addr().String()
	closed.Close() // nothing listens there
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := config.FromMap(map[string]string{"REGISTRY_ADDR": regAddr, "ETCD_ENDPOINTS": etcd.Endpoint()})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- instance.Run(ctx, spec(), env, instance.WithListener(ln), instance.WithLogOutput(&syncBuffer{}))
	}()
	eventually(t, "ready with no registry", func() bool { return get(t, "http://"+ln.Addr().String()+"/readyz") == http.StatusOK })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestBadSettingsAreAllReported(t *testing.T) {
	env := config.FromMap(map[string]string{"LISTEN_ADDR": "x", "LOG_LEVEL": "loud", "HEARTBEAT_INTERVAL": "often"})
	err := instance.Run(context.Background(), spec(), env, instance.WithLogOutput(&syncBuffer{}))
	if !errors.Is(err, instance.ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
	for _, name := range []string{"LISTEN_ADDR", "LOG_LEVEL", "HEARTBEAT_INTERVAL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
