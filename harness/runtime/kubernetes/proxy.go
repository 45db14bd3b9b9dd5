package kubernetes

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/faultline/faultline/harness/runtime"
)

const (
	// proxyName names the run's Toxiproxy StatefulSet, Service and instance.
	proxyName = "toxiproxy"
	// ProxyAPIPort is the port of Toxiproxy's HTTP API in its pod.
	ProxyAPIPort = 8474
	// ProxyBasePort is the pod port of proxy slot 0; slot n listens on ProxyBasePort+n.
	ProxyBasePort = 20000
	// maxProxySlots bounds the ports of the proxy's Service.
	maxProxySlots = 1000
)

// ProxyHost is the run's Toxiproxy server, a pod of the run behind a Service that lists
// its API and every slot: instances reach a proxy at the Service's ClusterIP, the harness
// through a port-forward on loopback.
type ProxyHost struct {
	in *Instance

	mu    sync.Mutex
	slots map[int]*forwarder // by pod port
}

var _ runtime.ProxyHost = (*ProxyHost)(nil)

// StartProxyHost starts the run's Toxiproxy pod with room for slots proxies.
func (r *Runtime) StartProxyHost(ctx context.Context, slots int) (runtime.ProxyHost, error) {
	if slots < 0 || slots > maxProxySlots {
		return nil, fmt.Errorf("start proxy host: %d slots: ask for 0 to %d", slots, maxProxySlots)
	}
	art := runtime.Artifact{Image: r.opts.proxyImage}
	if art.Image == "" {
		if r.opts.proxyBinary == "" {
			return nil, fmt.Errorf("start proxy host: no Toxiproxy to run: pass kubernetes.WithProxyBinary with a static build of cmd/faultline-toxiproxy, or kubernetes.WithProxyImage with an image of it your cluster can pull")
		}
		art.Binary = r.opts.proxyBinary
	}
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		return nil, fmt.Errorf("start proxy host: the kubernetes runtime is closed")
	case r.proxy != nil || r.proxyBusy:
		r.mu.Unlock()
		return nil, fmt.Errorf("start proxy host: run %s has one already", r.runID)
	}
	r.proxyBusy = true
	r.mu.Unlock()

	spec := runtime.Spec{
		Name: proxyName, Service: proxyName, Artifact: art,
		Args:   []string{"-host", "0.0.0.0", "-port", strconv.Itoa(ProxyAPIPort)},
		Port:   ProxyAPIPort,
		Health: "/version",
	}
	for i := range slots {
		spec.Ports = append(spec.Ports, runtime.NamedPort{Name: "slot" + strconv.Itoa(i), Port: ProxyBasePort + i})
	}
	in, err := r.start(ctx, spec)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.proxyBusy = false
	if err != nil {
		return nil, fmt.Errorf("start proxy host: %w", err)
	}
	ph := &ProxyHost{in: in, slots: map[int]*forwarder{}}
	r.proxy = ph
	return ph, nil
}

// APIAddr is the loopback address of the Toxiproxy API.
func (p *ProxyHost) APIAddr() string { return p.in.HostAddr() }

// ListenAddr is the listen address of slot n in the pod.
func (p *ProxyHost) ListenAddr(slot int) string {
	return "0.0.0.0:" + strconv.Itoa(ProxyBasePort+slot)
}

// HostAddr is the loopback address that forwards to the proxy listening on listen.
func (p *ProxyHost) HostAddr(ctx context.Context, listen string) (string, error) {
	port, err := listenPort(listen)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.slots[port]; ok {
		return f.Addr(), nil
	}
	f, err := p.in.rt.forward(podName(proxyName), port, false)
	if err != nil {
		return "", fmt.Errorf("proxy on %s: %w", listen, err)
	}
	p.slots[port] = f
	return f.Addr(), nil
}

// NetAddr is where instances reach the proxy listening on listen: the Service's ClusterIP.
func (p *ProxyHost) NetAddr(listen string) string {
	port, err := listenPort(listen)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(p.in.clusterIP, strconv.Itoa(port))
}

// listenPort reads the port of a proxy's listen address, which must be a slot's.
func listenPort(listen string) (int, error) {
	_, ps, err := net.SplitHostPort(listen)
	if err != nil {
		return 0, fmt.Errorf("proxy listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < ProxyBasePort || port >= ProxyBasePort+maxProxySlots {
		return 0, fmt.Errorf("proxy listen address %q: not a slot's port (%d and up): give the address ListenAddr made", listen, ProxyBasePort)
	}
	return port, nil
}
