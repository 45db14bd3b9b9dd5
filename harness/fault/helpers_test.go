package fault_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/local"
)

// newRuntime makes a local runtime closed at the end of the test.
func newRuntime(t *testing.T) *local.Runtime {
	t.Helper()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	rt, err := local.New(local.WithLogger(logger))
	if err != nil {
		t.Fatalf("local runtime: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// startService starts one testsvc instance on rt.
func startService(t *testing.T, rt *local.Runtime, name string) runtime.Instance {
	t.Helper()
	artifact := conformance.BuildTestService(t) // before the clock starts: a cold build is slow
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := rt.Start(ctx, conformance.ServiceSpec(name, artifact))
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return inst
}

// outcome is what a client saw of one request.
type outcome struct {
	status  int
	err     error
	elapsed time.Duration
}

func (o outcome) answered() bool { return o.err == nil }

// get sends one request to addr+path on a fresh connection, as a client would see it.
func get(addr, path string, timeout time.Duration) outcome {
	c := http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return outcome{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return outcome{status: resp.StatusCode, err: err, elapsed: time.Since(start)}
}

// eventually polls cond every 20 ms for up to 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within 15s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answers reports whether inst answers its health check directly, now.
func answers(inst runtime.Instance) bool {
	o := get(inst.HostAddr(), "/healthz", time.Second)
	return o.answered() && o.status == http.StatusOK
}
