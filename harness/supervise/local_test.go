package supervise_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/local"
	"github.com/faultline/faultline/harness/supervise"
)

// startTestService starts one testsvc instance on the local runtime, removed at the end.
func startTestService(t *testing.T, name string) runtime.Instance {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a child process")
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	rt, err := local.New(local.WithLogger(logger))
	if err != nil {
		t.Fatalf("local runtime: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	artifact := conformance.BuildTestService(t) // before the clock starts: a cold build is slow
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := rt.Start(ctx, conformance.ServiceSpec(name, artifact))
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return inst
}

// answers reports whether inst answers its health check now.
func answers(inst runtime.Instance) bool {
	c := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get("http://" + inst.HostAddr() + "/healthz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func TestRestartsAKilledServiceThatAnswersAgain(t *testing.T) {
	inst := startTestService(t, "svc-1")
	h := history.New()
	s := supervise.New(h, nil)
	t.Cleanup(s.Close)
	s.Watch(inst, supervise.Policy{})

	if err := inst.Kill(context.Background()); err != nil {
		t.Fatal(err)
	}
	if answers(inst) {
		t.Fatal("the killed service still answers")
	}
	eventually(t, "the service answering again", func() bool { return answers(inst) })
	// The service answers as soon as it is ready; the supervisor's Start returns a
	// moment later.
	eventually(t, "the restart recorded", func() bool { return len(s.Restarts()) == 1 })
	recs := s.Restarts()
	if count(h, history.Restart) != 1 || count(h, history.Exit) != 1 {
		t.Errorf("events = %+v, want one exit and one restart", h.Events())
	}
	t.Logf("down for %v (backoff %v, poll %v)", recs[0].Downtime(), supervise.DefaultBackoff, supervise.DefaultPollInterval)
}

func TestHoldKeepsAKilledServiceDown(t *testing.T) {
	inst := startTestService(t, "svc-1")
	s := supervise.New(nil, nil)
	t.Cleanup(s.Close)
	s.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond})

	s.Hold(inst.Name())
	if err := inst.Kill(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if answers(inst) || len(s.Restarts()) != 0 {
		t.Fatal("a held service was restarted")
	}
	s.Release(inst.Name())
	eventually(t, "the service answering after release", func() bool { return answers(inst) })
}

func TestAPausedServiceIsNotRestarted(t *testing.T) {
	inst := startTestService(t, "svc-1")
	s := supervise.New(nil, nil)
	t.Cleanup(s.Close)
	s.Watch(inst, supervise.Policy{Backoff: 10 * time.Millisecond})

	ctx := context.Background()
	if err := inst.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := inst.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.Restarts()) != 0 {
		t.Fatalf("a paused service was restarted: %+v", s.Restarts())
	}
	eventually(t, "the resumed service answering", func() bool { return answers(inst) })
}
