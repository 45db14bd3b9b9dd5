package docker

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// connect sets the environment testcontainers needs and returns a client whose engine
// has answered a ping within timeout.
func connect(ctx context.Context, timeout time.Duration) (*testcontainers.DockerClient, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	prepareEnv()
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

func unreachable(addr string, err error) error {
	return fmt.Errorf("docker engine not reachable at %s: start it, or set FAULTLINE_RUNTIME=local: %w", addr, err)
}

func engineAddr(api *testcontainers.DockerClient) string {
	if api != nil {
		return api.DaemonHost()
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
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
