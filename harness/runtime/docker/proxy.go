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

// ProxyHost is a Toxiproxy server of the run, a container on the run's network: the
// run's own, with the alias "toxiproxy" and numbered slots, or an instance's own (see
// StartAliasProxyHost), with the alias of the instance's service and its ports as slots.
// Its API and every slot are published on the harness's host.
type ProxyHost struct {
	rt      *Runtime
	id      string
	apiAddr string
	alias   string
	ports   []int // the container port of each slot
	// hostPorts is the host port Docker published for each container port, read once
	// when the container is up: a proxy container is never stopped, paused or
	// disconnected while its run lasts, so they stay put, and a fault's proof by
	// traffic asks for them without a round trip to the engine.
	hostPorts map[int]string
}

var (
	_ runtime.ProxyHost        = (*ProxyHost)(nil)
	_ runtime.AliasProxyHoster = (*Runtime)(nil)
)

// startProxy starts a Toxiproxy container called name, answering to alias on the run's
// network, with ports published as its slots.
func (r *Runtime) startProxy(ctx context.Context, name, alias string, ports []int) (*ProxyHost, error) {
	image, err := r.binaryImage(ctx, r.opts.proxyBinary)
	if err != nil {
		return nil, fmt.Errorf("proxy image: %w", err)
	}
	api := containerPort(ProxyAPIPort)
	published := []network.Port{api}
	exposed := []string{api.String()}
	for _, port := range ports {
		p := containerPort(port)
		published = append(published, p)
		exposed = append(exposed, p.String())
	}
	req := testcontainers.ContainerRequest{
		Image:              image,
		Name:               r.containerName(name),
		Cmd:                []string{"-host", "0.0.0.0", "-port", strconv.Itoa(ProxyAPIPort)},
		Labels:             r.containerLabels(map[string]string{LabelInstance: name, LabelService: ProxyAlias}),
		Networks:           []string{r.netName},
		NetworkAliases:     map[string][]string{r.netName: {alias}},
		ExposedPorts:       exposed,
		HostConfigModifier: r.publish(published...),
		WaitingFor: wait.ForHTTP("/version").
			WithPort(api.String()).
			WithStartupTimeout(proxyStartTimeout).
			WithPollInterval(100 * time.Millisecond),
	}
	ctr, err := r.run(ctx, req)
	if err != nil {
		return nil, err
	}
	p := &ProxyHost{rt: r, id: ctr.GetContainerID(), alias: alias, ports: ports}
	if err := p.readPublished(ctx); err != nil {
		r.discard(ctx, p.id)
		return nil, err
	}
	hp, err := p.published(ProxyAPIPort)
	if err != nil {
		r.discard(ctx, p.id)
		return nil, err
	}
	p.apiAddr = net.JoinHostPort(r.host, hp)
	r.log.Debug("proxy host ready", "name", name, "alias", alias, "api", p.apiAddr, "ports", len(ports), "image", image)
	return p, nil
}

// slotPorts are the container ports of n numbered slots.
func slotPorts(n int) []int {
	out := make([]int, n)
	for s := range out {
		out[s] = ProxyBasePort + s
	}
	return out
}

// APIAddr is host:port of the Toxiproxy HTTP API as published on the harness's host.
func (p *ProxyHost) APIAddr() string { return p.apiAddr }

// ContainerID is the Docker id of the proxy container.
func (p *ProxyHost) ContainerID() string { return p.id }

// ListenAddr is 0.0.0.0 and the container port of the slot (20000+slot on the run's
// host, the instance's own port numbers on an instance's): proxies must listen on every
// address of the container so that Docker's published port reaches them. It is "" for
// a slot the host does not have.
func (p *ProxyHost) ListenAddr(slot int) string {
	if slot < 0 || slot >= len(p.ports) {
		return ""
	}
	return "0.0.0.0:" + strconv.Itoa(p.ports[slot])
}

// HostAddr is where the harness reaches the proxy that listens on listen: the port Docker
// published for it. It fails for a port no slot published.
func (p *ProxyHost) HostAddr(ctx context.Context, listen string) (string, error) {
	port, err := listenPort(listen)
	if err != nil {
		return "", fmt.Errorf("proxy host address of %q: %w", listen, err)
	}
	hp, err := p.published(port)
	if err != nil {
		return "", fmt.Errorf("proxy host address of %q: %w", listen, err)
	}
	return net.JoinHostPort(p.rt.host, hp), nil
}

// NetAddr is alias:<port> (toxiproxy:<port> on the run's host), where instances reach
// the proxy that listens on listen.
func (p *ProxyHost) NetAddr(listen string) string {
	port, err := listenPort(listen)
	if err != nil {
		return p.alias + ":0"
	}
	return net.JoinHostPort(p.alias, strconv.Itoa(port))
}

// readPublished reads, once, the host port Docker published for the API and each slot.
func (p *ProxyHost) readPublished(ctx context.Context) error {
	res, err := p.rt.api.ContainerInspect(ctx, p.id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect proxy container: %w", err)
	}
	p.hostPorts = make(map[int]string, len(p.ports)+1)
	for _, port := range append([]int{ProxyAPIPort}, p.ports...) {
		if hp, ok := hostPort(res.Container, containerPort(port)); ok {
			p.hostPorts[port] = hp
		}
	}
	return nil
}

// published is the host port Docker published for the container port.
func (p *ProxyHost) published(port int) (string, error) {
	hp, ok := p.hostPorts[port]
	if !ok {
		return "", fmt.Errorf("port %d of the proxy container is not published (it publishes %v)", port, p.ports)
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
