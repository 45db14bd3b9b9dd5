package harness_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/conformance"
)

// TestAddedInstanceIsWiredLikeThePlannedOnes: an instance added after Up gets every link
// of its service, each pointed at what it reaches at once (what it reaches was placed
// long before), on every port.
func TestAddedInstanceIsWiredLikeThePlannedOnes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: skipped under -short")
	}
	art := conformance.BuildTestService(t)
	bin := harness.Source{Binary: art.Binary}
	ctx := context.Background()
	sys, err := harness.Up(ctx, harness.System{Name: "add", Services: []harness.Service{
		{Name: "back", Source: bin, Ports: harness.Ports{{Name: "http", Port: 8080}, {Name: "admin", Port: 9002}},
			Env: map[string]string{"LISTEN_MORE": "{{listen:admin}}"}},
		{Name: "front", Source: bin, DependsOn: []harness.Dependency{{Service: "back", Env: "BACK"}, {Service: "back", Env: "BACK_ADMIN", Port: "admin"}}},
	}}, harness.WithRuntime(quietLocal(t)), harness.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	added, err := sys.AddInstance(ctx, "front")
	if err != nil {
		t.Fatal(err)
	}
	if added.Name() != "front-2" {
		t.Fatalf("added %s, want front-2", added.Name())
	}
	back := sys.Instance("back-1")
	admin, err := back.Instance.(runtime.PortAddrs).PortNetAddr("admin")
	if err != nil {
		t.Fatal(err)
	}
	for link, want := range map[string]string{"front-2.back": back.NetAddr(), "front-2.back_admin": admin, "front-2": added.NetAddr()} {
		l := sys.Link(link)
		if l == nil {
			t.Errorf("no link %s", link)
			continue
		}
		if l.Upstream() != want {
			t.Errorf("%s points at %s, want %s", link, l.Upstream(), want)
		}
	}
}

// TestUpSaysWhenItBuilds: a build that takes a while is announced once per package, and
// its end too, however many instances wait for it.
func TestUpSaysWhenItBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts processes: skipped under -short")
	}
	defer harness.SetBuildNotice(time.Nanosecond)()
	var logs bytes.Buffer
	b := build.New(build.WithPrebuilt(""), build.WithDir(t.TempDir()))
	sys, err := harness.Up(context.Background(), harness.System{Name: "build", Services: []harness.Service{{
		Name: "node", Source: harness.Source{Package: "github.com/faultline/faultline/harness/runtime/conformance/testsvc"}, Replicas: 2,
	}}}, harness.WithRuntime(quietLocal(t)), harness.WithBuilder(b), harness.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Down(context.Background()) })
	for _, line := range []string{"building a Go package", "msg=built"} {
		if n := strings.Count(logs.String(), line); n != 1 {
			t.Errorf("the log says %q %d times, want once:\n%s", line, n, logs.String())
		}
	}
}
