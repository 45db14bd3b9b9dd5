package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// ErrUnreachable is the cause of every error that says no Docker engine answered, for
// callers that fall back to another runtime.
var ErrUnreachable = errors.New("docker engine unreachable")

// connect sets the environment testcontainers needs and returns a client whose engine
// has answered a ping within timeout.
func connect(ctx context.Context, timeout time.Duration) (*testcontainers.DockerClient, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	prepareEnv()
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		// testcontainers tries DOCKER_HOST, then quietly falls back to the default socket
		// and keeps its choice for the life of the process: an engine the user named
		// must answer itself, or the run would go to another one.
		if err := ping(ctx, h); err != nil {
			return nil, unreachable(h+" (from DOCKER_HOST)", err)
		}
	}
	api, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, unreachable(engineAddr(nil), err)
	}
	if _, err := api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = api.Close()
		return nil, unreachable(engineAddr(api), err)
	}
	overrideHost(api.DaemonHost())
	return api, nil
}

// Check returns nil when a Docker engine answers within about two seconds (as Available
// does), else an error wrapping ErrUnreachable that says where it looked and what to do.
func Check(ctx context.Context) error {
	api, err := connect(ctx, availableTimeout)
	if err != nil {
		return err
	}
	_ = api.Close()
	return nil
}

// ping asks the engine at host (a DOCKER_HOST URL) for a ping with a plain client.
func ping(ctx context.Context, host string) error {
	api, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		return err
	}
	defer api.Close()
	_, err = api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return err
}

// unreachable says that no engine answered at addr, and the three ways out.
func unreachable(addr string, err error) error {
	return fmt.Errorf("%w at %s: start Docker, point DOCKER_HOST at a running engine "+
		"(unset, it means unix:///var/run/docker.sock), or run without Docker with FAULTLINE_RUNTIME=local: %w",
		ErrUnreachable, addr, err)
}

func engineAddr(api *testcontainers.DockerClient) string {
	if api != nil {
		return api.DaemonHost()
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h + " (from DOCKER_HOST)"
	}
	return "unix:///var/run/docker.sock (the default; DOCKER_HOST is not set)"
}

// prepareEnv disables Ryuk, which needs an image that cannot be pulled here. It must run
// before testcontainers reads its configuration (once per process).
func prepareEnv() {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
}

// overrideHost makes published ports reached on 127.0.0.1 when the engine is a local
// socket: testcontainers would otherwise see /.dockerenv and use the default gateway.
func overrideHost(daemonHost string) {
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); set || !isLocalSocket(daemonHost) {
		return
	}
	_ = os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
}

// bindAddr is the host address to publish ports on: the address the harness reaches
// them at when the engine is local (127.0.0.1 by default), every address when the
// engine is remote or the host is a name other than localhost (the invalid Addr).
func bindAddr(host string, local bool) netip.Addr {
	if !local {
		return netip.Addr{}
	}
	if host == "localhost" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

func isLocalSocket(daemonHost string) bool {
	u, err := url.Parse(daemonHost)
	return err == nil && (u.Scheme == "unix" || u.Scheme == "npipe")
}
