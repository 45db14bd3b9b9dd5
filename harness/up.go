package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/harness/build"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/netfault"
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
	// Registry is the instance's own link to the registry, or nil.
	Registry *netfault.Link
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

	mu        sync.Mutex
	instances []*Instance
	databases map[string]*Instance
	links     map[string]*netfault.Link
	counts    map[string]int
	gateway   string
	registry  string
	downOnce  sync.Once
	downErr   error
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
// (the reference system's: every instance is listed in the registry).
func WithReadiness(f func(context.Context, *Running) error) Option {
	return func(c *upConfig) { c.readiness = append(c.readiness, f) }
}

// WithStartTimeout bounds the whole bring-up (default 3 minutes).
func WithStartTimeout(d time.Duration) Option { return func(c *upConfig) { c.timeout = d } }

// Up brings sys up: every service in dependency order, each business service's database
// first, every path through its own Toxiproxy link, every instance watched by the
// supervisor. What does not depend on each other starts at the same time (see startAll).
// On error everything it started is torn down again.
func Up(ctx context.Context, sys System, opts ...Option) (r *Running, err error) {
	if err := sys.Validate(); err != nil {
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
		cfg.builder = build.New()
	}
	if !cfg.seeded {
		cfg.seed = rand.Uint64()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	sys = sys.withDefaults()
	r = &Running{
		sys: sys, rt: cfg.rt, hist: cfg.hist, builder: cfg.builder, seed: cfg.seed,
		databases: map[string]*Instance{}, links: map[string]*netfault.Link{}, counts: map[string]int{},
	}
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
	r.sup = supervise.New(r.hist, r.log)
	// The proxy host starts while the databases do: they need it only once they run.
	r.proxiesReady = make(chan struct{})
	go func() {
		defer close(r.proxiesReady)
		host, err := r.rt.StartProxyHost(ctx, slots(sys))
		if err != nil {
			r.proxiesErr = fmt.Errorf("start toxiproxy: %w", err)
			return
		}
		r.proxies = netfault.New(host)
	}()
	defer func() { <-r.proxiesReady }() // before the teardown above, on error
	order, err := sys.order()
	if err != nil {
		return r, err
	}
	err = r.startAll(ctx, order)
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
	r.log.Info("system up", "runtime", r.rt.Name(), "instances", len(r.instances), "gateway", r.gateway, "seed", r.seed)
	return r, nil
}

// slots counts the proxies a system needs, with room for spare replicas.
func slots(sys System) int {
	n := 0
	for _, svc := range sys.Services {
		per := 1 // ingress
		if svc.RegistryEnv != "" {
			per++
		}
		per += len(svc.DependsOn)
		n += per * (svc.Replicas + spareReplicas)
		if svc.Cluster != nil {
			n += svc.Replicas * (svc.Replicas - 1)
		}
		if svc.Database != nil {
			n++
		}
	}
	return n + 4
}

func (r *Running) artifact(ctx context.Context, src Source) (runtime.Artifact, error) {
	switch {
	case src.Package != "":
		p, err := r.builder.Package(ctx, src.Package)
		return runtime.Artifact{Binary: p}, err
	case src.Binary != "":
		return runtime.Artifact{Binary: src.Binary}, nil
	case src.Dockerfile != "":
		return runtime.Artifact{Dockerfile: src.Dockerfile}, nil
	default:
		return runtime.Artifact{Image: src.Image}, nil
	}
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

// DatabaseArgs returns the arguments the harness starts every service's etcd with, with
// the runtime's placeholders in them: for a baseline that must start it the same way.
func DatabaseArgs() []string { return slices.Clone(etcdArgs) }

// etcdArgs start a single-member etcd that binds the runtime's port and advertises the
// address the proxies reach it at.
var etcdArgs = []string{
	"--name", "db", "--data-dir", runtime.PlaceholderDataDir + "/etcd",
	"--listen-client-urls", "http://" + runtime.PlaceholderListen,
	"--advertise-client-urls", "http://" + runtime.PlaceholderNetAddr,
	"--listen-peer-urls", "http://127.0.0.1:0",
	"--initial-advertise-peer-urls", "http://127.0.0.1:2380",
	"--initial-cluster", "db=http://127.0.0.1:2380",
	"--log-level", "error",
	// Idempotency records and kv history grow under load: keep an hour of revisions.
	"--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
}

func (r *Running) startDatabase(ctx context.Context, svc Service) error {
	name := svc.Name + "-db"
	art, err := r.artifact(ctx, Source{Package: "go.etcd.io/etcd/server/v3"})
	if err != nil {
		return fmt.Errorf("database of %s: %w", svc.Name, err)
	}
	inst, err := r.rt.Start(ctx, runtime.Spec{
		Name: name, Service: name, Artifact: art, Args: etcdArgs, Port: 2379, Health: "/health",
		StartTimeout: time.Minute,
	})
	if err != nil {
		return fmt.Errorf("database of %s: %w", svc.Name, err)
	}
	db := &Instance{Instance: inst, Service: name}
	if db.Ingress, err = r.link(ctx, name, inst.NetAddr()); err != nil {
		_ = inst.Kill(context.WithoutCancel(ctx))
		return err
	}
	r.mu.Lock()
	r.databases[svc.Name] = db
	r.mu.Unlock()
	r.sup.Watch(inst, policy("on-failure"))
	return nil
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
			return r.startInstance(ctx, svc, nil)
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

// startCluster starts the replicas of a cluster service: first one link per ordered pair
// of peers ("db-1.db-2" carries db-1's calls to db-2), so that each instance can be told
// its peers' proxied addresses when it starts; each link is pointed at its peer once the
// peer is placed.
func (r *Running) startCluster(ctx context.Context, svc Service) error {
	names := make([]string, svc.Replicas)
	for i := range names {
		names[i] = svc.Name + "-" + strconv.Itoa(i+1)
	}
	for _, from := range names {
		for _, to := range names {
			if from != to {
				if _, err := r.link(ctx, from+"."+to, "127.0.0.1:9"); err != nil {
					return err
				}
			}
		}
	}
	for _, self := range names {
		var peers []string
		for _, other := range names {
			if other != self {
				peers = append(peers, other+"="+r.Link(self+"."+other).NetAddr())
			}
		}
		inst, err := r.startInstance(ctx, svc, map[string]string{svc.Cluster.PeersEnv: strings.Join(peers, ",")})
		if err != nil {
			return err
		}
		for _, other := range names {
			if other != self {
				if err := r.Link(other+"."+self).SetUpstream(ctx, inst.NetAddr()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Peers returns the directed peer links of a cluster service, keyed by {from, to}: what
// fault.Partition cuts.
func (r *Running) Peers(service string) map[[2]string]*netfault.Link {
	out := map[[2]string]*netfault.Link{}
	insts := r.Instances(service)
	for _, a := range insts {
		for _, b := range insts {
			if l := r.Link(a.Name() + "." + b.Name()); a != b && l != nil {
				out[[2]string{a.Name(), b.Name()}] = l
			}
		}
	}
	return out
}

func (r *Running) startInstance(ctx context.Context, svc Service, extraEnv map[string]string) (*Instance, error) {
	r.mu.Lock()
	r.counts[svc.Name]++
	n := r.counts[svc.Name]
	r.mu.Unlock()
	name := svc.Name + "-" + strconv.Itoa(n)
	art, err := r.artifact(ctx, svc.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// An instance that advertises an address gets its ingress link before it starts, so
	// that it advertises the link's address from its first breath; the link's upstream
	// is set once the instance is placed. One that advertises nothing (the registry, the
	// gateway) starts first and gets its link after, as a database does: so the
	// registry's start need not wait for the proxy host's.
	advertises := svc.AdvertiseEnv != "" && svc.AdvertiseEnv != "-"
	var ingress *netfault.Link
	if advertises {
		if ingress, err = r.link(ctx, name, "127.0.0.1:9"); err != nil {
			return nil, err
		}
	}
	env := map[string]string{}
	for k, v := range svc.Env {
		env[k] = v
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	setEnv := func(key, value string) {
		if key != "" && key != "-" {
			env[key] = value
		}
	}
	setEnv(svc.ListenEnv, runtime.PlaceholderListen)
	if advertises {
		setEnv(svc.AdvertiseEnv, ingress.NetAddr())
	}
	setEnv(svc.IDEnv, name)
	inst := &Instance{Service: svc.Name, Ingress: ingress}
	if svc.RegistryEnv != "" {
		reg := r.registryInstance()
		if reg == nil {
			return nil, fmt.Errorf("%s: registry_env is set but the registry is not running", name)
		}
		if inst.Registry, err = r.link(ctx, name+".registry", reg.NetAddr()); err != nil {
			return nil, err
		}
		setEnv(svc.RegistryEnv, inst.Registry.NetAddr())
	}
	if svc.Database != nil {
		r.mu.Lock()
		dbl := r.links[svc.Name+"-db"]
		r.mu.Unlock()
		setEnv(svc.Database.Env, dbl.NetAddr())
	}
	for _, d := range svc.DependsOn {
		deps := r.Instances(d.Service)
		if len(deps) == 0 {
			return nil, fmt.Errorf("%s: depends on %s, which has no instance", name, d.Service)
		}
		l, err := r.link(ctx, name+"."+d.Service, deps[0].NetAddr())
		if err != nil {
			return nil, err
		}
		setEnv(d.Env, l.NetAddr())
	}
	ri, err := r.rt.Start(ctx, runtime.Spec{
		Name: name, Service: svc.Name, Artifact: art, Args: svc.Args, Env: env,
		Port: svc.Port, Health: svc.Health,
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	inst.Instance = ri
	if advertises {
		err = ingress.SetUpstream(ctx, ri.NetAddr())
	} else {
		inst.Ingress, err = r.link(ctx, name, ri.NetAddr())
	}
	if err != nil {
		_ = ri.Kill(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := waitHealthy(ctx, inst, svc.Health); err != nil {
		_ = ri.Kill(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start %s: through its proxy: %w", name, err)
	}
	r.mu.Lock()
	r.instances = append(r.instances, inst)
	switch svc.Role {
	case RoleGateway:
		if r.gateway == "" {
			r.gateway, _ = inst.URL(ctx)
		}
	case RoleRegistry:
		if r.registry == "" {
			r.registry, _ = inst.URL(ctx)
		}
	}
	r.mu.Unlock()
	r.sup.Watch(ri, policy(svc.Restart))
	return inst, nil
}

func (r *Running) registryInstance() *Instance {
	for _, svc := range r.sys.Services {
		if svc.Role == RoleRegistry {
			if is := r.Instances(svc.Name); len(is) > 0 {
				return is[0]
			}
		}
	}
	return nil
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

// Link returns a link by name: an instance's ingress ("accounts-1"), an instance's
// registry link ("accounts-1.registry"), a database link ("accounts-db"), or a
// dependency link ("orders-1.inventory").
func (r *Running) Link(name string) *netfault.Link {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.links[name]
}

// GatewayURL is where clients reach the gateway: through its ingress link.
func (r *Running) GatewayURL() string { return r.gateway }

// RegistryURL is where the harness reaches the registry: through its ingress link.
func (r *Running) RegistryURL() string { return r.registry }

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
