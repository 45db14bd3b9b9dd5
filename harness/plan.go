package harness

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/wait"
)

// Plan is a system's bring-up computed from its declaration alone, before anything
// runs: every instance to start (databases included) with its environment, arguments
// and readiness, every Toxiproxy link with the instance it reaches, and what each
// start waits for. System.Plan computes it as a pure function of the declaration — no
// process, no proxy, no clock — so that a declaration's wiring can be read and tested
// without starting it; Up only carries it out: it makes each link, replaces each link
// reference by the link's address, starts each instance as soon as the starts it waits
// for are ready, and points each link at its instance once that is placed.
type Plan struct {
	// System is the declaration with every default filled in.
	System System
	// Instances are the starts, in the order a one-at-a-time bring-up would make them:
	// per service in start order, its database first, then its replicas by number.
	// Running.All lists the ones that are not databases in this order.
	Instances []InstancePlan
	// Links are every link of the system, in the order of the instances that need them.
	Links []LinkPlan
	// Slots is how many proxies the proxy host is started with: one per link, room for
	// the links of spareReplicas more instances of each service (Running.AddInstance),
	// and a few for the caller's own.
	Slots int
}

// LinkPlan is one Toxiproxy link of a plan.
type LinkPlan struct {
	// Name is the name Running.Link finds it by: an instance's ingress ("accounts-1"),
	// its link to a dependency ("orders-1.inventory", "accounts-1.registry"), a
	// database's ingress ("accounts-db"), or the link that
	// carries one peer's calls to another ("db-1.db-2").
	Name string
	// To is the instance the link reaches, and Port the port of To it reaches: its
	// upstream is that port's address.
	To   string
	Port string
	// Parked says that some instance is handed the link's address before To is placed
	// (To itself, which advertises its own ingress, or a peer that starts with it): the
	// link is made pointing nowhere and set to To's address once To is placed. A link
	// that is not parked is made once To is placed, with To's address.
	Parked bool
	// Alias, on the ingress links of a by-name service's instance (Service.ByName), is
	// the name the link answers to: it is made on a proxy host of To's own that carries
	// that alias, listening on the port's own number, instead of on the run's host.
	Alias string
}

// InstancePlan is one start of a plan.
type InstancePlan struct {
	// Name is the instance's name ("accounts-1", "accounts-db").
	Name string
	// Service is its service ("accounts"); a database's is its own ("accounts-db").
	Service string
	// DatabaseOf is the service whose database server (Service.Database) the instance
	// is, or "".
	DatabaseOf string
	// Source is how to get its program.
	Source Source
	// Args are its arguments, and Env its environment. Both may hold the runtime's
	// placeholders (runtime.PlaceholderListen and the others), which the backend fills
	// in, and LinkRef(name), which Up replaces by that link's address.
	Args []string
	Env  map[string]string
	// Ports are its ports, its main port first (see Service.Port): the main one is the
	// runtime's Spec.Port, the others its Spec.Ports.
	Ports []NamedPort
	// Health is the path the runtime waits for 200 on (directly, not through a link)
	// before its start returns; "" waits for the main port to accept connections.
	Health string
	// StartTimeout bounds the runtime's wait, and then Up's wait for Ready (0: until
	// the bring-up's own deadline, WithStartTimeout).
	StartTimeout time.Duration
	// Ready is what Up waits for, through the instance's links, once the runtime has
	// started it (nil: nothing more).
	Ready *wait.Strategy
	// Restart is the supervisor's policy for it ("on-failure" or "never").
	Restart string
	// Entrypoint, User and StopSignal are its service's (see Service), for the runtime.
	Entrypoint []string
	User       string
	StopSignal string
	// After are the instances that must be ready before it starts.
	After []string
	// Links are the links whose address it is handed (LinkRef in its Args, then in its
	// Env by variable name): each is made before it starts.
	Links []string
	// Alias is its service's name when the service is by-name (Service.ByName): the
	// instance gets a proxy host of its own answering to it, made before it starts.
	Alias string
	// Routes, for a member of a by-name cluster (Cluster.ByName), map each address its
	// peers are named by ("etcd-2:2380", its own included) to the link of its own that
	// carries it; Up starts a peer proxy (peerroute) that sends each there, and hands its
	// URL to the instance in ProxyEnv.
	Routes   map[string]string
	ProxyEnv string
	// Ingress is the link that reaches its main port; PortLinks the link that reaches
	// each of its ports, by port name (the main one's is Ingress); DependencyLinks its
	// own link to each service it depends on through an env (DependsOn), by service
	// ("accounts-1.registry"; the first, where it depends on one through several).
	Ingress         string
	PortLinks       map[string]string
	DependencyLinks map[string]string
}

// portLink names the link called base (an instance's ingress, a link from one
// instance to another) on a port: base itself on the main port, "base_port" on another
// (Toxiproxy names hold letters, digits, "-", "." and "_", and no service or port name
// holds "_").
func portLink(base string, port NamedPort, main NamedPort) string {
	if port.Name == main.Name {
		return base
	}
	return base + "_" + port.Name
}

// parkedUpstream is where a parked link points until its instance is placed: the
// discard port, on which nothing listens.
const parkedUpstream = "127.0.0.1:9"

// linkRefPrefix and linkRefSuffix frame a reference to a link's address in a planned
// instance's arguments and environment.
const (
	linkRefPrefix = "{{link:"
	linkRefSuffix = "}}"
)

// LinkRef is how a plan writes the address of the link called name into an instance's
// arguments or environment; Up replaces it by the link's address (where instances reach
// its proxy) before the instance starts.
func LinkRef(name string) string { return linkRefPrefix + name + linkRefSuffix }

// linkRefs returns the names of the links s refers to, in order.
func linkRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, linkRefPrefix)
		if i < 0 {
			return out
		}
		s = s[i+len(linkRefPrefix):]
		j := strings.Index(s, linkRefSuffix)
		if j < 0 {
			return out
		}
		out = append(out, s[:j])
		s = s[j+len(linkRefSuffix):]
	}
}

// resolveLinks replaces every LinkRef in s by addr(name).
func resolveLinks(s string, addr func(string) string) string {
	for _, name := range linkRefs(s) {
		s = strings.Replace(s, LinkRef(name), addr(name), 1)
	}
	return s
}

// Plan validates the declaration and computes its bring-up (see Plan). It starts
// nothing; Up calls it first, and so can a test of a declaration.
func (s System) Plan() (*Plan, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s.plan()
}

// plan computes the plan of a declaration Validate has found sound but for its link
// references, which it checks.
func (s System) plan() (*Plan, error) {
	sys := s.withDefaults()
	order, err := sys.order()
	if err != nil {
		return nil, err
	}
	p := &Plan{System: sys}
	spare := map[string]int{} // links per added instance, by service
	for _, svc := range order {
		if svc.Database != nil {
			in, links, err := p.database(svc)
			if err != nil {
				return nil, err
			}
			p.add(in, links)
		}
		for n := 1; n <= svc.Replicas; n++ {
			in, links, err := p.instance(svc, n)
			if err != nil {
				return nil, err
			}
			if n == 1 && svc.Cluster == nil {
				// Room for AddInstance (which a cluster refuses): as many links as this
				// one has, those its templates asked for included.
				spare[svc.Name] = len(links)
			}
			p.add(in, links)
		}
	}
	if err := p.checkLinkRefs(); err != nil {
		return nil, err
	}
	p.park()
	p.Slots = len(p.Links) + 4
	for _, svc := range sys.Services {
		p.Slots += spareReplicas * spare[svc.Name]
	}
	return p, nil
}

// checkLinkRefs makes sure that every LinkRef a declaration's Args or Env hold, written
// as {{link:NAME}} or {{link "NAME"}}, names a link of the plan: one that names none would
// be made pointing nowhere. It reads the planned instances, whose templates are expanded.
func (p *Plan) checkLinkRefs() error {
	known := map[string]bool{}
	for _, l := range p.Links {
		known[l.Name] = true
	}
	var errs []error
	reported := map[string]bool{}
	for _, in := range p.Instances {
		bad := func(field, name string) {
			if key := in.Service + " " + field + " " + name; !reported[key] {
				reported[key] = true
				errs = append(errs, fmt.Errorf("service %q: %s holds %s, a link the system does not have: name one of its links (such as %s), or drop it",
					in.Service, field, LinkRef(name), LinkRef(instanceName(in.Service, 1))))
			}
		}
		for i, a := range in.Args {
			for _, name := range linkRefs(a) {
				if !known[name] {
					bad(fmt.Sprintf("args[%d]", i), name)
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(in.Env)) {
			for _, name := range linkRefs(in.Env[k]) {
				if !known[name] {
					bad("env "+k, name)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Plan) add(in InstancePlan, links []LinkPlan) {
	p.Instances = append(p.Instances, in)
	p.Links = append(p.Links, links...)
}

func (p *Plan) service(name string) Service {
	for _, svc := range p.System.Services {
		if svc.Name == name {
			return svc
		}
	}
	return Service{}
}

func instanceName(service string, n int) string { return service + "-" + strconv.Itoa(n) }

func databaseName(service string) string { return service + "-db" }

// database plans svc's database server, the instance "<svc>-db" of the server its
// declaration gives (Service.Database), reached through its ingress links.
func (p *Plan) database(svc Service) (InstancePlan, []LinkPlan, error) {
	in, links, err := p.instanceNamed(svc.Database.Server, databaseName(svc.Name), 1)
	if err != nil {
		return in, nil, fmt.Errorf("service %q: database.server: %w", svc.Name, err)
	}
	in.DatabaseOf = svc.Name
	return in, links, nil
}

// instance plans the n'th instance of svc, with the links it is handed and its ingress.
func (p *Plan) instance(svc Service, n int) (InstancePlan, []LinkPlan, error) {
	return p.instanceNamed(svc, instanceName(svc.Name, n), n)
}

// instanceNamed plans the n'th instance of svc under name.
func (p *Plan) instanceNamed(svc Service, name string, n int) (InstancePlan, []LinkPlan, error) {
	ports := svc.ports()
	main := ports[0]
	in := InstancePlan{
		Name: name, Service: svc.Name, Source: svc.Source,
		Args: slices.Clone(svc.Args), Env: map[string]string{},
		Ports: ports, Restart: svc.Restart, Ingress: name, StartTimeout: svc.StartTimeout,
		PortLinks: map[string]string{}, DependencyLinks: map[string]string{},
		Entrypoint: slices.Clone(svc.Entrypoint), User: svc.User, StopSignal: svc.StopSignal,
	}
	if svc.ByName {
		in.Alias = svc.Name
	}
	// Without a strategy of its own, an instance is ready once Health answers 200 on the
	// main port: first directly (the runtime waits for it), then through its ingress.
	ready := wait.ForHTTP(main.Name, svc.Health)
	if svc.Ready != nil {
		ready = *svc.Ready
	} else {
		in.Health = svc.Health
	}
	ready = ready.WithDefaults(main.Name)
	in.Ready = &ready
	var links []LinkPlan
	for _, p := range ports {
		l := portLink(name, p, main)
		in.PortLinks[p.Name] = l
		lp := LinkPlan{Name: l, To: name, Port: p.Name}
		if svc.ByName {
			lp.Alias = svc.Name
		}
		links = append(links, lp)
	}
	// link hands the instance a link of its own, once however often it is asked for.
	handed := map[string]bool{}
	link := func(l LinkPlan) string {
		if !handed[l.Name] {
			handed[l.Name] = true
			links = append(links, l)
		}
		return LinkRef(l.Name)
	}
	tm := &templater{plan: p, svc: svc, in: &in, link: link,
		data: TemplateData{Name: name, Service: svc.Name, Index: n, Replicas: svc.Replicas}}
	var errs []error
	for i, a := range in.Args {
		v, err := tm.expand(fmt.Sprintf("args[%d]", i), a)
		errs = append(errs, err)
		in.Args[i] = v
	}
	for _, k := range slices.Sorted(maps.Keys(svc.Env)) {
		v, err := tm.expand("env "+k, svc.Env[k])
		errs = append(errs, err)
		in.Env[k] = v
	}
	if err := errors.Join(errs...); err != nil {
		return in, nil, fmt.Errorf("service %q: %w", svc.Name, err)
	}
	setEnv := func(key, value string) {
		if key != "" && key != "-" {
			in.Env[key] = value
		}
	}
	var routed []string // the links only the peer proxy is handed
	if c := svc.Cluster; c != nil {
		if c.ByName {
			in.Routes, in.ProxyEnv = map[string]string{}, c.ProxyEnv
		}
		var peers []string
		for i, pn := range c.Ports {
			p := ports[slices.IndexFunc(ports, func(p NamedPort) bool { return p.Name == pn })]
			for k := 1; k <= svc.Replicas; k++ {
				other := instanceName(svc.Name, k)
				if k == n {
					if c.ByName { // a program may call its own advertised address
						in.Routes[peerName(name, p)] = in.PortLinks[p.Name]
						routed = append(routed, in.PortLinks[p.Name])
					}
					continue
				}
				l := portLink(name+"."+other, p, main)
				ref := link(LinkPlan{Name: l, To: other, Port: p.Name})
				if c.ByName {
					in.Routes[peerName(other, p)] = l
					routed = append(routed, l)
					ref = peerName(other, p)
				}
				if i == 0 {
					peers = append(peers, other+"="+ref)
				}
			}
		}
		setEnv(c.PeersEnv, strings.Join(peers, ","))
		if c.ByName {
			if _, ok := in.Env[c.ProxyEnv]; ok {
				return in, nil, fmt.Errorf("service %q: env %s is set, and cluster.proxy_env names it for the peer proxy: drop it from env, or give proxy_env another variable", svc.Name, c.ProxyEnv)
			}
		}
	}
	setEnv(svc.ListenEnv, runtime.PlaceholderListen)
	if svc.AdvertiseEnv != "-" {
		setEnv(svc.AdvertiseEnv, LinkRef(name))
	}
	setEnv(svc.IDEnv, name)
	for j, d := range svc.DependsOn {
		dep := p.service(d.Service)
		for k := 1; k <= dep.Replicas; k++ {
			in.After = append(in.After, instanceName(dep.Name, k))
		}
		if d.Env == "" {
			// The address reaches the instance some other way (a by-name service's name,
			// a template's addr), and the order is all; or it reaches it nowhere.
			if !dep.ByName && !tm.reached[dep.Name] {
				return in, nil, fmt.Errorf("service %q: depends_on[%d].env is empty: name the variable that receives %s's address, write {{addr %q}} where the program wants it, or declare %s by_name to reach it at its name", svc.Name, j, d.Service, d.Service, d.Service)
			}
			continue
		}
		depPorts := dep.ports()
		port := depPorts[slices.IndexFunc(depPorts, func(p NamedPort) bool { return p.Name == d.Port })]
		l := portLink(name+"."+d.Service, port, depPorts[0])
		if _, ok := in.DependencyLinks[d.Service]; !ok {
			in.DependencyLinks[d.Service] = l
		}
		setEnv(d.Env, link(LinkPlan{Name: l, To: instanceName(dep.Name, 1), Port: d.Port}))
	}
	if svc.Database != nil {
		in.After = append(in.After, databaseName(svc.Name))
		setEnv(svc.Database.Env, LinkRef(databaseName(svc.Name)))
	}
	in.After = dedupe(in.After)
	for _, v := range in.Args {
		in.Links = append(in.Links, linkRefs(v)...)
	}
	for _, k := range slices.Sorted(maps.Keys(in.Env)) {
		in.Links = append(in.Links, linkRefs(in.Env[k])...)
	}
	in.Links = dedupe(append(in.Links, routed...))
	return in, links, nil
}

// dedupe drops the repeats of s, keeping the first of each.
func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// park marks each link that an instance is handed before the link's instance is
// placed: one handed to an instance that does not wait for the link's, or to that
// instance itself.
func (p *Plan) park() {
	after := map[string][]string{}
	for _, in := range p.Instances {
		after[in.Name] = in.After
	}
	to := map[string]int{}
	for i, l := range p.Links {
		to[l.Name] = i
	}
	for _, in := range p.Instances {
		for _, name := range in.Links {
			if i, ok := to[name]; ok && !waitsFor(after, in.Name, p.Links[i].To) {
				p.Links[i].Parked = true
			}
		}
	}
}

// waitsFor reports whether a waits, directly or through others, for b to be ready.
func waitsFor(after map[string][]string, a, b string) bool {
	seen := map[string]bool{}
	next := slices.Clone(after[a])
	for len(next) > 0 {
		x := next[len(next)-1]
		next = next[:len(next)-1]
		if x == b {
			return true
		}
		if !seen[x] {
			seen[x] = true
			next = append(next, after[x]...)
		}
	}
	return false
}

// Stages groups the plan's starts into waves, for a person to read: each start is in
// the wave after the latest of those it waits for. Up does not wait for a whole wave:
// each start waits only for its After.
func (p *Plan) Stages() [][]string {
	level := map[string]int{}
	var out [][]string
	for _, in := range p.Instances { // every start comes after those it waits for
		l := 0
		for _, a := range in.After {
			l = max(l, level[a]+1)
		}
		level[in.Name] = l
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], in.Name)
	}
	return out
}

// Instance returns the planned start called name.
func (p *Plan) Instance(name string) (InstancePlan, bool) {
	for _, in := range p.Instances {
		if in.Name == name {
			return in, true
		}
	}
	return InstancePlan{}, false
}

// Link returns the planned link called name.
func (p *Plan) Link(name string) (LinkPlan, bool) {
	for _, l := range p.Links {
		if l.Name == name {
			return l, true
		}
	}
	return LinkPlan{}, false
}

// String lays the plan out for a person: the waves of starts, each with what it waits
// for, and every link with where it points.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan %s\n", p.System.Name)
	for i, wave := range p.Stages() {
		fmt.Fprintf(&b, "  wave %d:\n", i+1)
		for _, name := range wave {
			in, _ := p.Instance(name)
			fmt.Fprintf(&b, "    %s", name)
			if len(in.After) > 0 {
				fmt.Fprintf(&b, " after %s", strings.Join(in.After, ", "))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("  links:\n")
	for _, l := range p.Links {
		how := "made once " + l.To + " is placed"
		if l.Parked {
			how = "parked until " + l.To + " is placed"
		}
		fmt.Fprintf(&b, "    %s → %s %s (%s)\n", l.Name, l.To, l.Port, how)
	}
	return b.String()
}
