package security_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/local"
)

// API keys of the gateway under test: one on the default limit (200/s, burst 400), far
// above what the valid traffic sends, and one on a tier small enough to flood cheaply.
const (
	okKey    = "sec-ok"
	tierKey  = "sec-tier"
	tierRate = 20 // requests per second, burst the same
)

// gatewayKeys is GATEWAY_API_KEYS of the gateway under test.
const gatewayKeys = okKey + "," + tierKey + ":20:20"

// smallSystem is the least of the reference system that has every kind of listener: the
// registry, one business service with its own etcd, and the gateway with our keys.
func smallSystem() harness.System {
	onRegistry := []harness.Dependency{{Service: reference.Registry, Env: reference.RegistryEnv}}
	return harness.System{
		Name: "security",
		Services: []harness.Service{
			{
				Name:   reference.Registry,
				Source: harness.Source{Package: reference.Module + "registry"}, Port: 8500,
				Env:          map[string]string{"DATA_DIR": "{{datadir}}"},
				AdvertiseEnv: "-", IDEnv: "-",
			},
			{
				Name:      "accounts",
				Source:    harness.Source{Package: reference.Module + "accounts"},
				DependsOn: onRegistry,
				Database:  &harness.Database{Env: "ETCD_ENDPOINTS", Server: reference.Database()},
			},
			{
				Name:         reference.Gateway,
				Source:       harness.Source{Package: reference.Module + "gateway"},
				DependsOn:    onRegistry,
				AdvertiseEnv: "-", IDEnv: "-",
				Env: map[string]string{"GATEWAY_API_KEYS": gatewayKeys, "LOG_LEVEL": "warn"},
			},
		},
	}
}

// testLogger logs warnings and worse into the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// up brings smallSystem up on rt and downs it when the test ends.
func up(t testing.TB, rt runtime.Runtime) *harness.Running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := harness.Up(ctx, smallSystem(), harness.WithRuntime(rt), harness.WithLogger(testLogger(t)),
		harness.WithReadiness(func(ctx context.Context, r *harness.Running) error {
			return reference.Registered(ctx, r, "accounts")
		}))
	if r != nil {
		t.Cleanup(func() { _ = r.Down(context.Background()) })
	}
	if err != nil {
		t.Fatalf("bring the system up on %s: %v", rt.Name(), err)
	}
	return r
}

// upLocal brings smallSystem up as local processes.
func upLocal(t testing.TB) *harness.Running {
	t.Helper()
	rt, err := local.New(local.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("local runtime: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return up(t, rt)
}

// upDocker brings smallSystem up in containers, or skips the test, saying why, when no
// Docker engine answers or FAULTLINE_RUNTIME=local asks for none.
func upDocker(t testing.TB) (*harness.Running, *docker.Runtime) {
	t.Helper()
	if os.Getenv("FAULTLINE_RUNTIME") == "local" {
		t.Skip("FAULTLINE_RUNTIME=local: skipping the docker checks")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := docker.Check(ctx); err != nil {
		t.Skipf("no Docker engine answers, skipping the docker checks: %v", err)
	}
	rt, err := harness.NewRuntime(context.Background(), "docker", testLogger(t))
	if rt != nil {
		t.Cleanup(func() { _ = rt.Close(context.Background()) })
	}
	if err != nil {
		t.Fatalf("docker runtime: %v", err)
	}
	drt, ok := rt.(*docker.Runtime)
	if !ok {
		t.Fatalf("NewRuntime(docker) gave a %T", rt)
	}
	return up(t, rt), drt
}
