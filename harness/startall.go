package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/proxyserver"
	"github.com/faultline/faultline/harness/runtime"
)

// errDependencyFailed marks an instance that was not started because something it
// waits for failed to start; the failure itself is reported by that other start.
var errDependencyFailed = errors.New("not started: a service it needs failed to start")

// startAll carries out a plan's starts: each as soon as the starts it waits for are
// ready, so that a bring-up takes as long as its longest chain of starts rather than
// the sum of every start (every replica of a service, a cluster's peers, and whatever
// does not depend on each other start at once). Each start's program is got (built)
// at once, before its wait. The first failure cancels the starts under way, and is the
// error returned. Once every start is done, the instances are listed in the plan's
// order.
func (r *Running) startAll(ctx context.Context, starts []InstancePlan) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(map[string]chan struct{}, len(starts))
	failed := make(map[string]bool, len(starts)) // each written once, before its done closes
	for _, in := range starts {
		done[in.Name] = make(chan struct{})
	}
	var mu sync.Mutex
	wait := func(ctx context.Context, in InstancePlan) error {
		for _, n := range in.After {
			select {
			case <-done[n]:
				mu.Lock()
				bad := failed[n]
				mu.Unlock()
				if bad {
					return fmt.Errorf("%s: %w (%s)", in.Name, errDependencyFailed, n)
				}
			case <-ctx.Done():
				return fmt.Errorf("%s: %w", in.Name, context.Cause(ctx))
			}
		}
		return nil
	}
	errs := make([]error, len(starts))
	var wg sync.WaitGroup
	for i, in := range starts {
		wg.Go(func() {
			_, err := r.start(ctx, in, wait)
			if err != nil {
				errs[i] = err
				cancel(err)
			}
			mu.Lock()
			failed[in.Name] = err != nil
			mu.Unlock()
			close(done[in.Name])
		})
	}
	wg.Wait()
	rank := map[string]int{}
	for i, in := range starts {
		rank[in.Name] = i
	}
	r.mu.Lock()
	slices.SortStableFunc(r.instances, func(a, b *Instance) int { return cmp.Compare(rank[a.Name()], rank[b.Name()]) })
	r.mu.Unlock()
	// The error of the start that failed first, not of those it cancelled.
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	var real []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, errDependencyFailed) {
			real = append(real, err)
		}
	}
	return errors.Join(real...)
}

// start carries out one planned start: it gets the program, waits (wait) for what the
// start needs, makes the links the instance is handed, starts it, points every link
// that reaches it at it, waits for its readiness, and hands it to the supervisor.
func (r *Running) start(ctx context.Context, in InstancePlan, wait func(context.Context, InstancePlan) error) (*Instance, error) {
	fail := func(err error) error {
		if in.DatabaseOf != "" {
			return fmt.Errorf("database of %s: %w", in.DatabaseOf, err)
		}
		return err
	}
	art, err := r.artifact(ctx, in.Source)
	if err != nil {
		return nil, fail(fmt.Errorf("%s: %w", in.Name, err))
	}
	// The phases' times go to the debug log: where a slow bring-up spends its time.
	began := time.Now()
	if wait != nil {
		if err := wait(ctx, in); err != nil {
			return nil, err
		}
	}
	waited := time.Now()
	for _, name := range in.Links {
		if err := r.slot(name).make(ctx, r); err != nil {
			return nil, fail(err)
		}
	}
	if in.Alias != "" {
		if err := r.startAliasHost(ctx, in); err != nil {
			return nil, fmt.Errorf("start %s: %w", in.Name, err)
		}
	}
	addr := func(name string) string { return r.Link(name).NetAddr() }
	env := make(map[string]string, len(in.Env)+1)
	for k, v := range in.Env {
		env[k] = resolveLinks(v, addr)
	}
	if len(in.Routes) > 0 {
		url, err := r.peerRouter(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", in.Name, err)
		}
		env[in.ProxyEnv] = url
	}
	args := make([]string, len(in.Args))
	for i, a := range in.Args {
		args[i] = resolveLinks(a, addr)
	}
	// Each wait is bounded by the instance's own start timeout, else by what is left of
	// the bring-up's (WithStartTimeout).
	timeout := in.StartTimeout
	if timeout <= 0 {
		timeout = r.startTimeout
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
	}
	spec := runtime.Spec{
		Name: in.Name, Service: in.Service, Artifact: art, Args: args, Env: env,
		Port: in.Ports[0].Port, Health: in.Health, StartTimeout: timeout,
		Entrypoint: in.Entrypoint, User: in.User, StopSignal: in.StopSignal,
	}
	for _, p := range in.Ports[1:] {
		spec.Ports = append(spec.Ports, runtime.NamedPort{Name: p.Name, Port: p.Port})
	}
	linked := time.Now()
	ri, err := r.rt.Start(ctx, spec)
	if err != nil {
		if in.DatabaseOf != "" {
			return nil, fail(err)
		}
		return nil, fmt.Errorf("start %s: %w", in.Name, err)
	}
	for _, l := range r.linksTo(in.Name) {
		addr, err := portAddr(ri, l.Port, in.Ports[0].Name)
		if err == nil {
			err = r.slot(l.Name).place(ctx, r, addr)
		}
		if err != nil {
			_ = ri.Kill(context.WithoutCancel(ctx))
			return nil, fail(fmt.Errorf("start %s: %w", in.Name, err))
		}
	}
	started := time.Now()
	inst := &Instance{Instance: ri, Service: in.Service, Ingress: r.Link(in.Ingress)}
	for _, p := range in.Ports {
		inst.ports = append(inst.ports, portLinkOf{name: p.Name, link: r.Link(in.PortLinks[p.Name])})
	}
	inst.deps = make(map[string]*netfault.Link, len(in.DependencyLinks))
	for svc, l := range in.DependencyLinks {
		inst.deps[svc] = r.Link(l)
	}
	if in.Ready != nil {
		if err := waitReady(ctx, inst, *in.Ready, timeout); err != nil {
			_ = ri.Kill(context.WithoutCancel(ctx))
			return nil, fail(fmt.Errorf("start %s: through its proxy: %w", in.Name, err))
		}
	}
	r.log.Debug("instance up", "instance", in.Name, "waited", waited.Sub(began).Round(time.Millisecond),
		"links", linked.Sub(waited).Round(time.Millisecond), "start", started.Sub(linked).Round(time.Millisecond),
		"ready", time.Since(started).Round(time.Millisecond))
	r.mu.Lock()
	if in.DatabaseOf != "" {
		r.databases[in.DatabaseOf] = inst
	} else {
		r.instances = append(r.instances, inst)
	}
	r.mu.Unlock()
	r.sup.Watch(ri, policy(in.Restart))
	return inst, nil
}

// portAddr is where the proxies reach ri's port called port: its NetAddr on the main
// port, its runtime's word for the others.
func portAddr(ri runtime.Instance, port, main string) (string, error) {
	if port == main {
		return ri.NetAddr(), nil
	}
	pa, ok := ri.(runtime.PortAddrs)
	if !ok {
		return "", fmt.Errorf("port %s: the runtime's instances (%T) do not tell where their named ports are (runtime.PortAddrs)", port, ri)
	}
	return pa.PortNetAddr(port)
}

// linkSlot is one planned link while it is carried out: made either by the first start
// handed its address (parked, unless its instance is placed) or by its instance's
// placement, whichever comes first; the other only points it.
type linkSlot struct {
	name     string
	to, port string // the instance and port the link reaches, when the plan has it
	alias    string // the name it answers to on To's own proxy host (LinkPlan.Alias)
	mu       sync.Mutex
	link     *netfault.Link
	upstream string // the instance's address once it is placed
}

// plan adds links to those the run carries out, and records which instance each reaches.
func (r *Running) planLinks(links []LinkPlan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range links {
		if r.slots[l.Name] == nil {
			r.slots[l.Name] = &linkSlot{name: l.Name, to: l.To, port: l.Port, alias: l.Alias}
			r.linksByTo[l.To] = append(r.linksByTo[l.To], l)
		}
	}
}

func (r *Running) slot(name string) *linkSlot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.slots[name]
	if s == nil { // a reference to a link the plan does not have: made parked
		s = &linkSlot{name: name}
		r.slots[name] = s
	}
	return s
}

func (r *Running) linksTo(instance string) []LinkPlan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.linksByTo[instance])
}

// make makes the link if it is not made yet: with its instance's address if that is
// placed, else parked.
func (s *linkSlot) make(ctx context.Context, r *Running) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link != nil {
		return nil
	}
	if s.upstream == "" {
		// A link planned after its instance was placed (an added instance's link to a
		// dependency) reaches it at once: it is never placed again.
		addr, err := r.placedAddr(s.to, s.port)
		if err != nil {
			return fmt.Errorf("link %s: %w", s.name, err)
		}
		s.upstream = addr
	}
	up := cmp.Or(s.upstream, parkedUpstream)
	l, err := r.linkOn(ctx, s, up)
	if err != nil {
		return err
	}
	s.link = l
	return nil
}

// placedAddr is where the proxies reach port of the running instance named to, or ""
// when no such instance runs yet (it will place its links when it starts).
func (r *Running) placedAddr(to, port string) (string, error) {
	if to == "" {
		return "", nil
	}
	r.mu.Lock()
	var found *Instance
	for _, in := range r.instances {
		if in.Name() == to {
			found = in
		}
	}
	for _, db := range r.databases {
		if db.Name() == to {
			found = db
		}
	}
	r.mu.Unlock()
	if found == nil {
		return "", nil
	}
	main := ""
	if len(found.ports) > 0 {
		main = found.ports[0].name
	}
	if port == "" {
		port = main
	}
	return portAddr(found.Instance, port, main)
}

// place points the link at its instance's address, making it if it is not made yet.
func (s *linkSlot) place(ctx context.Context, r *Running, addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upstream = addr
	if s.link == nil {
		l, err := r.linkOn(ctx, s, addr)
		if err != nil {
			return err
		}
		s.link = l
		return nil
	}
	return s.link.SetUpstream(ctx, addr)
}

// linkOn makes the slot's link: on the run's proxy host, or, for a by-name instance's
// ingress, on the instance's own (startAliasHost made it before the instance started).
func (r *Running) linkOn(ctx context.Context, s *linkSlot, upstream string) (*netfault.Link, error) {
	if s.alias == "" {
		return r.link(ctx, s.name, upstream)
	}
	r.mu.Lock()
	m := r.aliasLinks[s.to][s.port]
	r.mu.Unlock()
	if m == nil {
		return nil, fmt.Errorf("create link %s: %s has no proxy host of its own on port %s", s.name, s.to, s.port)
	}
	l, err := m.Create(ctx, s.name, upstream)
	if err != nil {
		return nil, fmt.Errorf("create link %s: %w", s.name, err)
	}
	r.mu.Lock()
	r.links[s.name] = l
	r.mu.Unlock()
	return l, nil
}

// startAliasHost starts the proxy host of a by-name instance's own, answering to its
// service's name on the instance's port numbers, with a link manager per port.
func (r *Running) startAliasHost(ctx context.Context, in InstancePlan) error {
	ah, ok := r.rt.(runtime.AliasProxyHoster)
	if !ok {
		return fmt.Errorf("%s is by_name, which the %s runtime cannot give (its instances cannot answer to a name)", in.Service, r.rt.Name())
	}
	ports := make([]int, len(in.Ports))
	for i, p := range in.Ports {
		ports[i] = p.Port
	}
	host, err := ah.StartAliasProxyHost(ctx, in.Name, in.Alias, ports)
	if err != nil {
		return err
	}
	byPort := map[string]*netfault.Manager{}
	for i, p := range in.Ports {
		byPort[p.Name] = netfault.New(oneSlot{host, host.ListenAddr(i)})
	}
	r.mu.Lock()
	r.aliasLinks[in.Name] = byPort
	r.mu.Unlock()
	return nil
}

// oneSlot is one listen address of a proxy host as a host of one slot, so that a link
// manager puts its one link there.
type oneSlot struct {
	runtime.ProxyHost
	listen string
}

func (o oneSlot) ListenAddr(slot int) string {
	if slot != 0 {
		return ""
	}
	return o.listen
}

// peerRouter is the peer proxy of a by-name cluster's member (Cluster.ByName), started
// at its first start and kept for the run, so that its restarts are handed the same;
// it returns the proxy's URL as the member reaches it. The router lives in the run's
// proxy server, beside the links it sends each peer name to: in the harness process on
// the local runtime, in the proxy container on docker.
func (r *Running) peerRouter(ctx context.Context, in InstancePlan) (string, error) {
	r.mu.Lock()
	url, ok := r.routers[in.Name]
	r.mu.Unlock()
	if ok {
		return url, nil
	}
	host := r.proxies.Host()
	spec := proxyserver.PeerRouterSpec{Routes: map[string]string{}}
	for to, name := range in.Routes {
		l := r.Link(name)
		if l == nil {
			return "", fmt.Errorf("peer route %s: no link %s", to, name)
		}
		_, port, err := net.SplitHostPort(l.Listen())
		if err != nil {
			return "", fmt.Errorf("peer route %s: link %s listens on %q: %w", to, name, l.Listen(), err)
		}
		spec.Routes[to] = net.JoinHostPort("127.0.0.1", port) // the link's listener, beside the router
	}
	listenHost, _, err := net.SplitHostPort(host.ListenAddr(0))
	if err != nil {
		listenHost = "127.0.0.1"
	}
	spec.Listen = net.JoinHostPort(listenHost, "0")
	listen, err := proxyserver.StartPeerRouter(ctx, host.APIAddr(), in.Name, spec)
	if err != nil {
		return "", err
	}
	url = "socks5://" + host.NetAddr(listen)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.routers == nil {
		r.routers = map[string]string{}
	}
	r.routers[in.Name] = url
	return url, nil
}
