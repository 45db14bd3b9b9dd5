package harness_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
	"github.com/faultline/faultline/harness/runtime/local"
	"github.com/faultline/faultline/harness/wait"
)

// TestPlanFillsInEachReadinessStrategy: a strategy that names no port waits on the main
// one, HTTP for 200, a log line once; a service with a strategy of its own leaves the
// runtime only the main port's accept to wait for.
func TestPlanFillsInEachReadinessStrategy(t *testing.T) {
	ready := wait.ForAll(wait.ForTCP(""), wait.ForLog("ready to accept"), wait.ForHTTP("metrics", "/metrics"))
	p, err := harness.System{Name: "r", Services: []harness.Service{{
		Name: "db", Source: harness.Source{Binary: "/bin/db"},
		Ports: harness.Ports{{Name: "pg", Port: 5432}, {Name: "metrics", Port: 9187}},
		Ready: &ready, StartTimeout: 90 * time.Second,
	}}}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := p.Instance("db-1")
	want := wait.Strategy{All: []wait.Strategy{
		{TCP: &wait.TCP{Port: "pg"}},
		{Log: &wait.Log{Pattern: "ready to accept", Times: 1}},
		{HTTP: &wait.HTTP{Port: "metrics", Path: "/metrics", Status: 200}},
	}}
	if in.Ready == nil || !reflect.DeepEqual(*in.Ready, want) {
		t.Errorf("db-1 is ready by %v, want %v", in.Ready, want)
	}
	if in.Health != "" || in.StartTimeout != 90*time.Second {
		t.Errorf("db-1: runtime health %q within %s, want none (the main port's accept) within 90s", in.Health, in.StartTimeout)
	}
	if got := in.Ready.String(); got != `all of (port pg accepting connections; a line of output matching "ready to accept"; HTTP 200 on /metrics of port metrics)` {
		t.Errorf("Ready.String() = %s", got)
	}
}

// specRecorder is a local runtime that remembers the spec of every start.
type specRecorder struct {
	*local.Runtime
	mu    sync.Mutex
	specs map[string]runtime.Spec
}

func (s *specRecorder) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	s.mu.Lock()
	s.specs[spec.Name] = spec
	s.mu.Unlock()
	return s.Runtime.Start(ctx, spec)
}

func quietLocal(t *testing.T) *specRecorder {
	rt, err := local.New(local.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return &specRecorder{Runtime: rt, specs: map[string]runtime.Spec{}}
}

// TestReadinessStrategiesWaitThroughTheLinks brings single test services up with each
// strategy: those that hold come up, those that cannot fail within the service's start
// timeout, saying what they waited for and what they saw last.
func TestReadinessStrategiesWaitThroughTheLinks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	cases := []struct {
		name  string
		ready wait.Strategy
		fail  []string // the error's fragments; nil when it comes up
	}{
		{"tcp on the main port", wait.ForTCP(""), nil},
		{"tcp on a named port", wait.ForTCP("admin"), nil},
		{"http on a named port", wait.ForHTTP("admin", "/healthz"), nil},
		{"three log lines", wait.Strategy{Log: &wait.Log{Pattern: `^testsvc listening on 127\.0\.0\.1:\d+$`, Times: 3}}, nil},
		{"all of them", wait.ForAll(wait.ForTCP("admin"), wait.ForLog("listening"), wait.ForHTTP("", "/healthz")), nil},
		{"a command that exits 0", wait.ForExec(art.Binary, "probe", "{{netaddr}}"), nil},
		{"a command that exits 3", wait.ForExec(art.Binary, "exit", "3"),
			[]string{"node-1 not ready within 1.5s", "exit 3 to exit 0", "exited 3: testsvc exiting with code 3"}},
		{"tcp where nothing listens behind the proxy", wait.ForTCP("quiet"),
			[]string{"node-1 not ready within 1.5s", "port quiet accepting connections", "closed at once"}},
		{"a log line that never comes", wait.ForLog("database system is ready"),
			[]string{"node-1 not ready within 1.5s", `a line of output matching "database system is ready"`, "0 of 1 matching lines seen"}},
		{"http status not the one asked", wait.Strategy{HTTP: &wait.HTTP{Path: "/data", Status: 200}},
			[]string{"HTTP 200 on /data of port http", "answered 404"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rt := quietLocal(t)
			began := time.Now()
			sys, err := harness.Up(ctx, harness.System{Name: "ready", Services: []harness.Service{{
				Name: "node", Source: harness.Source{Binary: art.Binary}, Port: 8080,
				// quiet is declared, and nothing listens on it.
				Ports: harness.Ports{{Name: "admin", Port: 9002}, {Name: "quiet", Port: 9003}},
				Env:   map[string]string{"LISTEN_MORE": "{{listen:admin}},127.0.0.1:0"},
				Ready: &tc.ready, StartTimeout: 1500 * time.Millisecond,
			}}}, harness.WithRuntime(rt), harness.WithLogger(slog.New(slog.DiscardHandler)))
			took := time.Since(began)
			if tc.fail == nil {
				if err != nil {
					t.Fatal(err)
				}
				_ = sys.Down(ctx)
				if h := rt.specs["node-1"].Health; h != "" {
					t.Errorf("the runtime waited for health %q, want only the main port's accept", h)
				}
				return
			}
			if err == nil {
				_ = sys.Down(ctx)
				t.Fatal("came up, though it cannot be ready")
			}
			oneProblem(t, err, tc.fail...)
			if took > 6*time.Second {
				t.Errorf("took %s to fail, want about the 1.5s start timeout", took.Round(time.Millisecond))
			}
		})
	}
}

// TestStartTimeoutBoundsEveryWait: without a start timeout of its own, an instance has
// the bring-up's (WithStartTimeout), not a fixed 30 s, in the runtime and after it.
func TestStartTimeoutBoundsEveryWait(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	rt := quietLocal(t)
	ctx := context.Background()
	sys, err := harness.Up(ctx, harness.System{Name: "slow", Services: []harness.Service{{
		Name: "node", Source: harness.Source{Binary: art.Binary},
	}}}, harness.WithRuntime(rt), harness.WithStartTimeout(5*time.Minute), harness.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	if got := rt.specs["node-1"].StartTimeout; got < 4*time.Minute || got > 5*time.Minute {
		t.Errorf("the runtime was given %s to see node-1 ready, want what is left of WithStartTimeout(5m)", got)
	}
}

// TestReadinessOnDockerReadsTheContainersLog: the log strategy reads a container's
// output as it reads a process's, a TCP check reaches a named port's link, and a
// command runs inside the container.
func TestReadinessOnDockerReadsTheContainersLog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containers: skipped under -short")
	}
	newRT, ok := backends(t)["docker"]
	if !ok {
		t.Skip("no docker engine answers")
	}
	art := conformance.BuildTestService(t)
	ctx := context.Background()
	ready := wait.ForAll(wait.ForLog(`^testsvc listening on \S+:9002$`), wait.ForTCP("admin"),
		wait.ForExec("/app", "probe", "{{netaddr:admin}}"))
	sys, err := harness.Up(ctx, harness.System{Name: "ready", Services: []harness.Service{{
		Name: "node", Source: harness.Source{Binary: art.Binary},
		Ports: harness.Ports{{Name: "http", Port: 8080}, {Name: "admin", Port: 9002}},
		Env:   map[string]string{"LISTEN_MORE": "{{listen:admin}}"},
		Ready: &ready,
	}}}, harness.WithRuntime(newRT(t)), harness.WithStartTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_ = sys.Down(ctx)
}
