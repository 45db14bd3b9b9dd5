package docker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/faultline/faultline/harness/runtime"
)

const (
	// ProxyAlias is the name the Toxiproxy container has on the run's network.
	ProxyAlias = "toxiproxy"
	// ProxyAPIPort is the port of Toxiproxy's HTTP API inside its container.
	ProxyAPIPort = 8474
	// ProxyBasePort is the container port of proxy slot 0; slot n listens on
	// ProxyBasePort+n.
	ProxyBasePort = 20000
	// maxProxySlots bounds the ports one proxy host publishes (each costs Docker a
	// port-forwarding process).
	maxProxySlots = 1000
	// proxyStartTimeout bounds the wait for the Toxiproxy API.
	proxyStartTimeout = 30 * time.Second
)

// ProxyHost is the run's Toxiproxy server, a container on the run's network with the
// alias "toxiproxy": its API and every proxy slot are published on the harness's host.
type ProxyHost struct {
	rt      *Runtime
	id      string
	apiAddr string
	slots   int
}

var _ runtime.ProxyHost = (*ProxyHost)(nil)

func (r *Runtime) startProxy(ctx context.Context, slots int) (*ProxyHost, error) {
	image, err := r.binaryImage(ctx, r.opts.proxyBinary)
	if err != nil {
		return nil, fmt.Errorf("proxy image: %w", err)
	}
	api := containerPort(ProxyAPIPort)
	ports := []network.Port{api}
	exposed := []string{api.String()}
	for s := 0; s < slots; s++ {
		p := containerPort(ProxyBasePort + s)
		ports = append(ports, p)
		exposed = append(exposed, p.String())
	}
	req := testcontainers.ContainerRequest{
		Image:              image,
		Name:               r.containerName(ProxyAlias),
		Cmd:                []string{"-host", "0.0.0.0", "-port", strconv.Itoa(ProxyAPIPort)},
		Labels:             r.containerLabels(map[string]string{LabelInstance: ProxyAlias, LabelService: ProxyAlias}),
		Networks:           []string{r.netName},
		NetworkAliases:     map[string][]string{r.netName: {ProxyAlias}},
		ExposedPorts:       exposed,
		HostConfigModifier: r.publish(ports...),
		WaitingFor: wait.ForHTTP("/version").
			WithPort(api.String()).
			WithStartupTimeout(proxyStartTimeout).
			WithPollInterval(100 * time.Millisecond),
	}
	ctr, err := r.run(ctx, req)
	if err != nil {
		return nil, err
	}
	p := &ProxyHost{rt: r, id: ctr.GetContainerID(), slots: slots}
	hp, err := p.published(ctx, ProxyAPIPort)
	if err != nil {
		r.discard(ctx, p.id)
		return nil, err
	}
	p.apiAddr = net.JoinHostPort(r.host, hp)
	r.log.Debug("proxy host ready", "api", p.apiAddr, "slots", slots, "image", image)
	return p, nil
}

// APIAddr is host:port of the Toxiproxy HTTP API as published on the harness's host.
func (p *ProxyHost) APIAddr() string { return p.apiAddr }

// ContainerID is the Docker id of the proxy container.
func (p *ProxyHost) ContainerID() string { return p.id }

// ListenAddr is 0.0.0.0:<20000+slot>: proxies must listen on every address of the
// container so that Docker's published port reaches them.
func (p *ProxyHost) ListenAddr(slot int) string {
	return "0.0.0.0:" + strconv.Itoa(ProxyBasePort+slot)
}

// HostAddr is where the harness reaches the proxy that listens on listen: the port Docker
// published for it. It fails for a port no slot published.
func (p *ProxyHost) HostAddr(ctx context.Context, listen string) (string, error) {
	port, err := listenPort(listen)
	if err != nil {
		return "", fmt.Errorf("proxy host address of %q: %w", listen, err)
	}
	hp, err := p.published(ctx, port)
	if err != nil {
		return "", fmt.Errorf("proxy host address of %q: %w", listen, err)
	}
	return net.JoinHostPort(p.rt.host, hp), nil
}

// NetAddr is toxiproxy:<port>, where instances reach the proxy that listens on listen.
func (p *ProxyHost) NetAddr(listen string) string {
	port, err := listenPort(listen)
	if err != nil {
		return ProxyAlias + ":0"
	}
	return net.JoinHostPort(ProxyAlias, strconv.Itoa(port))
}

// published is the host port Docker published for the container port.
func (p *ProxyHost) published(ctx context.Context, port int) (string, error) {
	res, err := p.rt.api.ContainerInspect(ctx, p.id, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect proxy container: %w", err)
	}
	hp, ok := hostPort(res.Container, containerPort(port))
	if !ok {
		return "", fmt.Errorf("port %d of the proxy container is not published (%d slots from %d)",
			port, p.slots, ProxyBasePort)
	}
	return hp, nil
}

func listenPort(listen string) (int, error) {
	_, ps, err := net.SplitHostPort(listen)
	if err != nil {
		return 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("bad port %q", ps)
	}
	return port, nil
}
