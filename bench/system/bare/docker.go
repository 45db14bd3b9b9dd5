package bare

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/docker"
)

// Docker says how StartDocker runs a plan.
type Docker struct {
	// API is the engine's client.
	API client.APIClient
	// RunID names the network ("faultline-<id>") and prefixes every container's name
	// ("faultline-<id>-<name>"); everything carries faultline's run labels, so that a
	// dead run's leftovers are reaped like the harness's own.
	RunID string
	// Images maps each process's Name to the image it runs (the harness's own images).
	Images map[string]string
}

// StartDocker starts plan as containers with the bare Docker API: a network of its own,
// each process a container from its image with the alias of its name, its port
// published on 127.0.0.1, waited for on its health path through that port.
func StartDocker(ctx context.Context, plan Plan, d Docker) (*System, error) {
	for _, p := range plan.Procs {
		if d.Images[p.Name] == "" {
			return nil, fmt.Errorf("bare docker: no image for %s", p.Name)
		}
	}
	host, _ := os.Hostname()
	be := &dockerBackend{d: d, net: "faultline-" + d.RunID, ports: map[string]int{}, labels: map[string]string{
		docker.LabelRun: d.RunID, docker.LabelPID: strconv.Itoa(os.Getpid()), docker.LabelHost: host,
		docker.LabelStarted: strconv.FormatInt(time.Now().Unix(), 10),
	}}
	if _, err := d.API.NetworkCreate(ctx, be.net, client.NetworkCreateOptions{Driver: "bridge", Labels: be.labels}); err != nil {
		return nil, fmt.Errorf("bare docker: create network %s: %w", be.net, err)
	}
	be.netMade = true
	for _, p := range plan.Procs {
		be.ports[p.Name] = p.Port
	}
	return run(ctx, plan, be)
}

type dockerBackend struct {
	d       Docker
	net     string
	netMade bool
	ports   map[string]int // container port by process name; read-only once started
	labels  map[string]string

	mu  sync.Mutex
	ids []string
}

func (be *dockerBackend) start(ctx context.Context, p Proc) (string, error) {
	port, _ := network.PortFrom(uint16(p.Port), network.TCP)
	own := strings.NewReplacer(
		runtime.PlaceholderListen, "0.0.0.0:"+strconv.Itoa(p.Port),
		runtime.PlaceholderPort, strconv.Itoa(p.Port),
		runtime.PlaceholderNetAddr, p.Name+":"+strconv.Itoa(p.Port),
		runtime.PlaceholderDataDir, "/data",
	)
	addr := func(name string) string { return name + ":" + strconv.Itoa(be.port(name)) }
	args := make([]string, len(p.Args))
	for i, a := range p.Args {
		args[i] = resolve(a, own, addr)
	}
	var env []string
	for k, v := range p.Env {
		env = append(env, k+"="+resolve(v, own, addr))
	}
	labels := map[string]string{docker.LabelInstance: p.Name, docker.LabelService: p.Service}
	for k, v := range be.labels {
		labels[k] = v
	}
	res, err := be.d.API.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "faultline-" + be.d.RunID + "-" + p.Name,
		Config: &container.Config{Image: be.d.Images[p.Name], Cmd: args, Env: env, Labels: labels,
			ExposedPorts: network.PortSet{port: struct{}{}}},
		HostConfig: &container.HostConfig{PortBindings: network.PortMap{
			port: {{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1}), HostPort: "0"}}}},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			be.net: {Aliases: []string{p.Name}}}},
	})
	if res.ID != "" {
		be.mu.Lock()
		be.ids = append(be.ids, res.ID)
		be.mu.Unlock()
	}
	if err != nil {
		return "", fmt.Errorf("create container: %w", err)
	}
	if _, err := be.d.API.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return "", fmt.Errorf("start container: %w", err)
	}
	ins, err := be.d.API.ContainerInspect(ctx, res.ID, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect container: %w", err)
	}
	if ins.Container.NetworkSettings != nil {
		for _, b := range ins.Container.NetworkSettings.Ports[port] {
			if b.HostPort != "" && b.HostPort != "0" {
				return net.JoinHostPort("127.0.0.1", b.HostPort), nil
			}
		}
	}
	return "", fmt.Errorf("port %s of %s is not published", port, p.Name)
}

// port is the container port of the named process.
func (be *dockerBackend) port(name string) int { return be.ports[name] }

// close removes every container it created, then the network.
func (be *dockerBackend) close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	be.mu.Lock()
	ids := be.ids
	be.ids = nil
	be.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, id := range ids {
		wg.Go(func() {
			_, err := be.d.API.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("remove container %s: %w", id[:12], err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if be.netMade {
		if _, err := be.d.API.NetworkRemove(ctx, be.net, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", be.net, err))
		}
	}
	return errors.Join(errs...)
}
