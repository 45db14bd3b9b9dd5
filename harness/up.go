package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/proxyserver"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/supervise"
)

// spareReplicas is how many instances per service can be added after Up (AddInstance):
// their proxies are reserved up front, because a container's published ports are fixed
// when it is created.
const spareReplicas = 2

// Instance is one running instance of a service with the links that reach it.
type Instance struct {
	runtime.Instance
	// Service is the service's name.
	Service string
	// Ingress is the instance's own proxy: every caller reaches it through this link, and
	// the address it advertises is this link's.
	Ingress *netfault.Link

	ports []portLinkOf              // every port's ingress link, the main port's first
	deps  map[string]*netfault.Link // its own link to each service it depends on
}

// Unwrap returns the runtime's instance (runtime.Wrapper).
func (i *Instance) Unwrap() runtime.Instance { return i.Instance }

// LinkTo returns the instance's own link to a service it depends on (Service.DependsOn
// with an env): the link its calls to that service take, and no other instance's, so a
// fault on it cuts this instance off that service alone ("accounts-1.registry"). A
// service it has no such link to is an error that lists those it has.
func (i *Instance) LinkTo(service string) (*netfault.Link, error) {
	if i == nil {
		return nil, fmt.Errorf("no instance to have a link to %q: check the instance's name", service)
	}
	if l := i.deps[service]; l != nil {
		return l, nil
	}
	names := slices.Sorted(maps.Keys(i.deps))
	if len(names) == 0 {
		return nil, fmt.Errorf("%s has no link to %q: it depends on no service through an env (depends_on with env)", i.instanceName(), service)
	}
	return nil, fmt.Errorf("%s has no link to %q: it has links to %s", i.instanceName(), service, strings.Join(names, ", "))
}

// portLinkOf is the ingress link of one port of an instance.
type portLinkOf struct {
	name string
	link *netfault.Link
}

// Port returns the ingress link of the instance's port called name (Service.Ports;
// the port Service.Port declares is called "http"): the link every caller reaches that
// port through. An unknown name is an error that lists the instance's ports.
func (i *Instance) Port(name string) (*netfault.Link, error) {
	if i == nil {
		return nil, fmt.Errorf("no instance to have a port called %q: check the instance's name", name)
	}
	for _, p := range i.ports {
		if p.name == name && p.link != nil {
			return p.link, nil
		}
	}
	return nil, fmt.Errorf("%s has no port called %q: it has %s", i.instanceName(), name, strings.Join(i.PortNames(), ", "))
}

// PortNames lists the instance's ports by name, its main port first.
func (i *Instance) PortNames() []string {
	if i == nil {
		return nil
	}
	out := make([]string, 0, len(i.ports))
	for _, p := range i.ports {
		out = append(out, p.name)
	}
	return out
}

func (i *Instance) instanceName() string {
	if i.Instance == nil {
		return "the instance"
	}
	return i.Name()
}

// URL is where the harness reaches the instance through its ingress proxy.
func (i *Instance) URL(ctx context.Context) (string, error) {
	addr, err := i.Ingress.HostAddr(ctx)
	if err != nil {
		return "", fmt.Errorf("address of %s: %w", i.Name(), err)
	}
	return "http://" + addr, nil
}

// Running is a system brought up by Up. Down it when done (Up registers nothing for
// you: use DeferCleanup or t.Cleanup, or the scope helpers of the scenario packages).
type Running struct {
	sys        System
	rt         runtime.Runtime
	ownRuntime bool
	proxies    *netfault.Manager // set once proxiesReady is closed, unless proxiesErr
	// proxiesReady is closed once the proxy host has started or failed to (proxiesErr).
	proxiesReady chan struct{}
	proxiesErr   error
	sup          *supervise.Supervisor
	hist         *history.History
	builder      *build.Builder
	log          *slog.Logger
	seed         uint64

	plan         *Plan
	startTimeout time.Duration // WithStartTimeout's, for instances added after Up
	mu           sync.Mutex
	instances    []*Instance
	databases    map[string]*Instance
	links        map[string]*netfault.Link
	slots        map[string]*linkSlot                    // the planned links, as they are carried out
	aliasLinks   map[string]map[string]*netfault.Manager // by-name instance → port → its own proxies
	routers      map[string]string                       // by-name cluster member → its peer proxy's URL
	linksByTo    map[string][]LinkPlan                   // instance → the planned links that reach it
	counts       map[string]int                          // service → the number of its latest instance
	builds       map[string]int                          // package → 1 once its build is announced, 2 once its end is
	urls         map[string]string                       // service → URL, once asked for
	downOnce     sync.Once
	downErr      error
}

// Option customises Up.
type Option func(*upConfig)

type upConfig struct {
	rt        runtime.Runtime
	hist      *history.History
	logger    *slog.Logger
	seed      uint64
	seeded    bool
	builder   *build.Builder
	readiness []func(context.Context, *Running) error
	timeout   time.Duration
}

// WithRuntime runs the system on rt (default: the one FAULTLINE_RUNTIME names, see
// NewRuntime). Up does not close a runtime it was given.
func WithRuntime(rt runtime.Runtime) Option { return func(c *upConfig) { c.rt = rt } }

// WithHistory records supervisor events into h (default: a new history).
func WithHistory(h *history.History) Option { return func(c *upConfig) { c.hist = h } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *upConfig) { c.logger = l } }

// WithSeed sets the run's seed (default: random, and reported by Seed()).
func WithSeed(seed uint64) Option { return func(c *upConfig) { c.seed, c.seeded = seed, true } }

// WithBuilder sets how Go packages are built (default build.New()).
func WithBuilder(b *build.Builder) Option { return func(c *upConfig) { c.builder = b } }

// WithReadiness adds a check Up waits for after every instance answers its health path
// (the reference system's, reference.Ready: every instance is listed in its registry).
func WithReadiness(f func(context.Context, *Running) error) Option {
	return func(c *upConfig) { c.readiness = append(c.readiness, f) }
}

// WithStartTimeout bounds the whole bring-up (default 3 minutes).
func WithStartTimeout(d time.Duration) Option { return func(c *upConfig) { c.timeout = d } }

// Up brings sys up by carrying out its Plan (System.Plan): every service after what it
// depends on, each business service's database first, every path through its own
// Toxiproxy link, every instance watched by the supervisor. Each start waits only for
// the starts it needs, so that what does not depend on each other starts at the same
// time (see startAll). On error everything it started is torn down again.
func Up(ctx context.Context, sys System, opts ...Option) (r *Running, err error) {
	plan, err := sys.Plan()
	if err != nil {
		return nil, fmt.Errorf("up %s: %w", sys.Name, err)
	}
	cfg := upConfig{timeout: 3 * time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.hist == nil {
		cfg.hist = history.New()
	}
	if cfg.builder == nil {
		cfg.builder = build.New(build.WithLogger(cfg.logger))
	}
	if !cfg.seeded {
		cfg.seed = rand.Uint64()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	sys = plan.System
	r = &Running{
		sys: sys, plan: plan, startTimeout: cfg.timeout, rt: cfg.rt, hist: cfg.hist, builder: cfg.builder, seed: cfg.seed,
		databases: map[string]*Instance{}, links: map[string]*netfault.Link{}, counts: map[string]int{},
		slots: map[string]*linkSlot{}, aliasLinks: map[string]map[string]*netfault.Manager{}, linksByTo: map[string][]LinkPlan{}, builds: map[string]int{},
	}
	for _, svc := range sys.Services {
		r.counts[svc.Name] = svc.Replicas
	}
	r.planLinks(plan.Links)
	if r.rt == nil {
		if r.rt, err = NewRuntime(ctx, "", cfg.logger); err != nil {
			return nil, fmt.Errorf("up %s: %w", sys.Name, err)
		}
		r.ownRuntime = true
	}
	r.log = cfg.logger.With("run", r.rt.RunID(), "system", sys.Name)
	track(r)
	defer func() {
		if err != nil {
			_ = r.Down(context.WithoutCancel(ctx))
			r = nil
		}
	}()
	if _, ok := r.rt.(runtime.AliasProxyHoster); !ok {
		for _, svc := range sys.Services {
			if svc.ByName {
				return r, fmt.Errorf("up %s: service %q: by_name needs a runtime whose instances answer to a name, such as docker; the %s runtime cannot: run it on docker (FAULTLINE_RUNTIME=docker), or drop by_name and hand its address to the services that call it with depends_on env", sys.Name, svc.Name, r.rt.Name())
			}
		}
	}
	if sc, ok := r.rt.(runtime.SpecChecker); ok {
		for _, in := range plan.Instances {
			// The artifact is not built yet: say which kind it will be (a package becomes a binary).
			art := runtime.Artifact{Binary: in.Source.Binary, Image: in.Source.Image, Dockerfile: in.Source.Dockerfile}
			if in.Source.Package != "" {
				art.Binary = in.Source.Package
			}
			spec := runtime.Spec{Name: in.Name, Artifact: art, Entrypoint: in.Entrypoint, User: in.User, StopSignal: in.StopSignal}
			if err := sc.Supports(spec); err != nil {
				return r, fmt.Errorf("up %s: instance %s on the %s runtime: %w", sys.Name, in.Name, r.rt.Name(), err)
			}
		}
	}
	r.sup = supervise.New(r.hist, r.log)
	// The proxy host starts while the first instances do: those that advertise nothing
	// (a database, a server with no ingress of its own to hand out) need it only once
	// they run.
	r.proxiesReady = make(chan struct{})
	go func() {
		defer close(r.proxiesReady)
		host, err := r.rt.StartProxyHost(ctx, plan.Slots)
		if err != nil {
			r.proxiesErr = fmt.Errorf("start toxiproxy: %w", err)
			return
		}
		r.proxies = netfault.New(host)
	}()
	defer func() { <-r.proxiesReady }() // before the teardown above, on error
	err = r.startAll(ctx, plan.Instances)
	<-r.proxiesReady
	if r.proxiesErr != nil {
		return r, fmt.Errorf("up %s: %w", sys.Name, r.proxiesErr)
	}
	if err != nil {
		return r, fmt.Errorf("up %s: %w", sys.Name, err)
	}
	for _, f := range cfg.readiness {
		if err := f(ctx, r); err != nil {
			return r, fmt.Errorf("up %s: not ready: %w", sys.Name, err)
		}
	}
	r.log.Info("system up", "runtime", r.rt.Name(), "instances", len(r.instances), "seed", r.seed)
	return r, nil
}

func (r *Running) artifact(ctx context.Context, src Source) (runtime.Artifact, error) {
	switch {
	case src.Package != "":
		// A first build can take a minute or more (etcd's about 90 s): say so, once per
		// package, rather than print nothing while Up waits.
		began := time.Now()
		slow := time.AfterFunc(buildNotice, func() {
			if r.noteBuild(src.Package) {
				r.log.Info("building a Go package: a first build takes a while, later ones come from Go's cache",
					"package", src.Package)
			}
		})
		p, err := r.builder.Package(ctx, src.Package)
		if !slow.Stop() && err == nil && r.noteBuilt(src.Package) {
			r.log.Info("built", "package", src.Package, "took", time.Since(began).Round(100*time.Millisecond))
		}
		return runtime.Artifact{Binary: p}, err
	case src.Binary != "":
		return runtime.Artifact{Binary: src.Binary}, nil
	case src.Dockerfile != "":
		return runtime.Artifact{Dockerfile: src.Dockerfile}, nil
	default:
		return runtime.Artifact{Image: src.Image}, nil
	}
}

// buildNotice is how long a build of a service's package runs before Up says it builds
// (a variable for the tests only).
var buildNotice = 2 * time.Second

// noteBuild reports whether the build of pkg is yet to be announced, and marks it so.
func (r *Running) noteBuild(pkg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.builds[pkg] != 0 {
		return false
	}
	r.builds[pkg] = 1
	return true
}

// noteBuilt reports whether the end of pkg's announced build is yet to be announced.
func (r *Running) noteBuilt(pkg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.builds[pkg] != 1 {
		return false
	}
	r.builds[pkg] = 2
	return true
}

// awaitProxies waits until the proxy host Up started in the background is there.
func (r *Running) awaitProxies(ctx context.Context) error {
	select {
	case <-r.proxiesReady:
		return r.proxiesErr
	case <-ctx.Done():
		return fmt.Errorf("wait for the proxy host: %w", context.Cause(ctx))
	}
}

func (r *Running) link(ctx context.Context, name, upstream string) (*netfault.Link, error) {
	if err := r.awaitProxies(ctx); err != nil {
		return nil, fmt.Errorf("create link %s: %w", name, err)
	}
	l, err := r.proxies.Create(ctx, name, upstream)
	if err != nil {
		return nil, fmt.Errorf("create link %s: %w", name, err)
	}
	r.mu.Lock()
	r.links[name] = l
	r.mu.Unlock()
	return l, nil
}

func policy(restart string) supervise.Policy {
	if restart == "never" {
		return supervise.Policy{Restart: supervise.Never}
	}
	return supervise.Policy{Restart: supervise.OnFailure}
}

// AddInstance starts one more instance of service, wired like the others, and returns it
// once it answers its health path. Room is reserved for two more per service.
func (r *Running) AddInstance(ctx context.Context, service string) (*Instance, error) {
	for _, svc := range r.sys.Services {
		if svc.Name == service {
			if svc.Cluster != nil {
				return nil, fmt.Errorf("add instance: %s is a cluster, whose peers are fixed at Up: declare more replicas instead", service)
			}
			r.mu.Lock()
			r.counts[service]++
			n := r.counts[service]
			r.mu.Unlock()
			in, links, err := r.plan.instance(svc, n)
			if err != nil {
				return nil, fmt.Errorf("add instance of %s: %w", service, err)
			}
			r.planLinks(links)
			return r.start(ctx, in, nil)
		}
	}
	return nil, fmt.Errorf("add instance: unknown service %q: use one of %s", service, strings.Join(r.serviceNames(), ", "))
}

func (r *Running) serviceNames() []string {
	var out []string
	for _, s := range r.sys.Services {
		out = append(out, s.Name)
	}
	return out
}

// Peers returns the directed peer links of a cluster service on the first port its
// peers call each other on (Cluster.Ports, by default the main port), keyed by {from,
// to}: what fault.Partition cuts. It is empty for a service that is not a cluster.
func (r *Running) Peers(service string) map[[2]string]*netfault.Link {
	svc, ok := serviceNamed(r.sys.Services, service)
	if !ok || svc.Cluster == nil || len(svc.Cluster.Ports) == 0 {
		return map[[2]string]*netfault.Link{}
	}
	out, err := r.PeersOn(service, svc.Cluster.Ports[0])
	if err != nil {
		return map[[2]string]*netfault.Link{}
	}
	return out
}

// PeersOn returns the directed peer links of a cluster service on its port called port
// (one of Cluster.Ports), keyed by {from, to}; Peers is PeersOn the first of them. A port
// the cluster's peers do not call each other on is an error that lists those they do.
func (r *Running) PeersOn(service, port string) (map[[2]string]*netfault.Link, error) {
	svc, ok := serviceNamed(r.sys.Services, service)
	switch {
	case !ok:
		return nil, fmt.Errorf("peers: unknown service %q: use one of %s", service, strings.Join(r.serviceNames(), ", "))
	case svc.Cluster == nil:
		return nil, fmt.Errorf("peers: %s is not a cluster: declare cluster: on it to give its replicas links to each other", service)
	case !slices.Contains(svc.Cluster.Ports, port):
		return nil, fmt.Errorf("peers: %s's peers have no links on port %q: they call each other on %s (cluster.ports)", service, port, strings.Join(svc.Cluster.Ports, ", "))
	}
	main := svc.ports()[0]
	p := svc.ports()[slices.IndexFunc(svc.ports(), func(p NamedPort) bool { return p.Name == port })]
	out := map[[2]string]*netfault.Link{}
	insts := r.Instances(service)
	for _, a := range insts {
		for _, b := range insts {
			if l := r.Link(portLink(a.Name()+"."+b.Name(), p, main)); a != b && l != nil {
				out[[2]string{a.Name(), b.Name()}] = l
			}
		}
	}
	return out, nil
}

// Instances returns the instances of one service, in start order.
func (r *Running) Instances(service string) []*Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Instance
	for _, i := range r.instances {
		if i.Service == service {
			out = append(out, i)
		}
	}
	return out
}

// All returns every instance (databases excluded), in start order.
func (r *Running) All() []*Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Instance(nil), r.instances...)
}

// Instance returns the instance called name ("accounts-1"), or nil.
func (r *Running) Instance(name string) *Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, i := range r.instances {
		if i.Name() == name {
			return i
		}
	}
	for _, db := range r.databases {
		if db.Name() == name {
			return db
		}
	}
	return nil
}

// Database returns the database server of service, or nil. Its Ingress is the link every
// replica of the service reaches it through.
func (r *Running) Database(service string) *Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.databases[service]
}

// Link returns a link by name: an instance's ingress ("accounts-1"), a database link
// ("accounts-db"), or an instance's link to a dependency ("orders-1.inventory").
func (r *Running) Link(name string) *netfault.Link {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.links[name]
}

// URL is where the harness reaches service over HTTP: its first instance's main port,
// through that instance's ingress link ("http://127.0.0.1:32771"). It is looked up once
// and kept. A service that has no instance is an error that names those that have.
func (r *Running) URL(ctx context.Context, service string) (string, error) {
	r.mu.Lock()
	url, ok := r.urls[service]
	r.mu.Unlock()
	if ok {
		return url, nil
	}
	inst := r.Instances(service)
	if len(inst) == 0 {
		return "", fmt.Errorf("no service %q runs: the system runs %s", service, strings.Join(r.serviceNames(), ", "))
	}
	url, err := inst[0].URL(ctx)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if r.urls == nil {
		r.urls = map[string]string{}
	}
	r.urls[service] = url
	r.mu.Unlock()
	return url, nil
}

// Runtime is the runtime the system runs on.
func (r *Running) Runtime() runtime.Runtime { return r.rt }

// Proxies is the run's Toxiproxy manager.
func (r *Running) Proxies() *netfault.Manager { return r.proxies }

// Supervisor is the run's supervisor, which restarts crashed instances.
func (r *Running) Supervisor() *supervise.Supervisor { return r.sup }

// History is the run's history.
func (r *Running) History() *history.History { return r.hist }

// Seed is the run's seed.
func (r *Running) Seed() uint64 { return r.seed }

// Plan is the plan the system was brought up by (AddInstance plans each instance it
// adds the same way).
func (r *Running) Plan() *Plan { return r.plan }

// System is the declaration, with defaults filled in.
func (r *Running) System() System { return r.sys }

// Down tears everything down: the supervisor first (so nothing is restarted), every
// proxy, every instance, the proxy host and the networks (by closing a runtime Up made
// itself; a runtime given with WithRuntime is left to its owner, with its instances
// removed). It is safe to call more than once.
func (r *Running) Down(ctx context.Context) error {
	r.downOnce.Do(func() {
		defer untrack(r)
		var errs []error
		if r.sup != nil {
			r.sup.Close()
		}
		if r.proxies != nil {
			if err := r.proxies.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		r.mu.Lock()
		var own []*netfault.Manager
		for _, byPort := range r.aliasLinks {
			for _, m := range byPort {
				own = append(own, m)
			}
		}
		r.mu.Unlock()
		for _, m := range own {
			if err := m.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		r.mu.Lock()
		routers := slices.Sorted(maps.Keys(r.routers))
		r.mu.Unlock()
		if r.proxies != nil && !r.ownRuntime { // a runtime Up made closes its proxy server, routers and all
			for _, name := range routers {
				if err := proxyserver.StopPeerRouter(ctx, r.proxies.Host().APIAddr(), name); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if r.ownRuntime {
			if err := r.rt.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		} else {
			r.mu.Lock()
			all := append([]*Instance(nil), r.instances...)
			for _, db := range r.databases {
				all = append(all, db)
			}
			r.mu.Unlock()
			for _, i := range all {
				if st, err := i.State(ctx); err == nil && st != runtime.StateExited && st != runtime.StateRemoved {
					if st == runtime.StatePaused {
						_ = i.Resume(ctx)
					}
					if err := i.Kill(ctx); err != nil {
						errs = append(errs, fmt.Errorf("kill %s: %w", i.Name(), err))
					}
				}
			}
		}
		r.downErr = errors.Join(errs...)
	})
	return r.downErr
}
