package harness

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/faultline/faultline/harness/runtime"
)

// Peer is one other member of an instance's cluster, as its Args and Env templates see it
// through peers: its name and the address this instance reaches it at on one port (a
// link's, so that partitions cut it).
type Peer struct {
	// Name is the peer's instance name ("db-2").
	Name string
	// Addr is host:port of this instance's own link to the peer on that port.
	Addr string
}

// String is "name=addr", the form of PeersEnv.
func (p Peer) String() string { return p.Name + "=" + p.Addr }

// TemplateData is what an instance's Args and Env templates see as dot:
// {{.Name}}, {{.Service}}, {{.Index}}, {{.Replicas}}.
type TemplateData struct {
	// Name is the instance's name ("db-2").
	Name string
	// Service is its service's name ("db").
	Service string
	// Index is its number within the service, from 1.
	Index int
	// Replicas is how many instances the service has.
	Replicas int
}

// legacyPlaceholder matches the colon forms of the runtime's and the plan's placeholders
// ("{{listen:peer}}", "{{link:db-1}}"), which templates also accept: they are rewritten to
// the function forms ({{listen "peer"}}) before parsing.
var legacyPlaceholder = regexp.MustCompile(`\{\{(listen|port|netaddr|link):([A-Za-z0-9._-]+)\}\}`)

// templater expands the Args and Env templates of one planned instance. Its functions
// hand out the runtime's placeholders (filled in by the backend at each start) and link
// references (filled in by Up), adding to the plan the links they name.
type templater struct {
	plan *Plan
	svc  Service
	in   *InstancePlan
	data TemplateData
	// link adds a link from this instance to the plan (once per name) and returns its
	// reference.
	link func(LinkPlan) string
	// reached are the services whose address a template asked for (addr).
	reached map[string]bool
	// failed is the first error a function returned: clearer than text/template's
	// wrapping of it.
	failed error
}

// expand evaluates s, the value of field, as a template. A value without "{{" is
// returned as it is.
func (t *templater) expand(field, s string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	src := legacyPlaceholder.ReplaceAllString(s, `{{$1 "$2"}}`)
	tmpl, err := template.New(field).Option("missingkey=error").Funcs(t.funcs()).Parse(src)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w: write actions like {{.Name}}, {{listen \"peer\"}} or {{addr \"db\"}}, and a literal {{ as {{\"{{\"}}", field, s, unwrapTemplate(err))
	}
	var b strings.Builder
	t.failed = nil
	if err := tmpl.Execute(&b, t.data); err != nil {
		switch {
		case t.failed != nil:
			err = t.failed
		case strings.Contains(err.Error(), "can't evaluate field"):
			err = fmt.Errorf("%w: dot has .Name, .Service, .Index and .Replicas", unwrapTemplate(err))
		}
		return "", fmt.Errorf("%s %q: %w", field, s, unwrapTemplate(err))
	}
	return b.String(), nil
}

// unwrapTemplate drops text/template's "template: NAME:" prefix, which repeats the field.
func unwrapTemplate(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "template: ") && i >= 0 {
		if j := strings.Index(msg[i+2:], ": "); j >= 0 {
			return errors.New(msg[i+2+j+2:])
		}
	}
	return err
}

func (t *templater) funcs() template.FuncMap {
	return template.FuncMap{
		"listen":    t.placeholder("listen", runtime.PlaceholderListen, runtime.ListenPlaceholder),
		"port":      t.placeholder("port", runtime.PlaceholderPort, runtime.PortPlaceholder),
		"netaddr":   t.placeholder("netaddr", runtime.PlaceholderNetAddr, runtime.NetAddrPlaceholder),
		"datadir":   func() string { return runtime.PlaceholderDataDir },
		"advertise": t.advertise,
		"addr":      t.addr,
		"peers":     t.peers,
		"link":      LinkRef, // checkLinkRefs makes sure the link exists
		"members":   t.members,
		"addrs":     peerAddrs,
		"each":      eachPeer,
		"join":      func(sep string, items []string) string { return strings.Join(items, sep) },
	}
}

// fail records err as the reason the template failed, and returns it.
func (t *templater) fail(err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return err
}

// ownPort finds the instance's port called name (its main port when name is empty).
func (t *templater) ownPort(fn string, name []string) (NamedPort, error) {
	if len(name) > 1 {
		return NamedPort{}, t.fail(fmt.Errorf("%s takes at most one port name, got %d", fn, len(name)))
	}
	ports := t.svc.ports()
	if len(name) == 0 {
		return ports[0], nil
	}
	i := slices.IndexFunc(ports, func(p NamedPort) bool { return p.Name == name[0] })
	if i < 0 {
		return NamedPort{}, t.fail(fmt.Errorf("%s %q: port %q is not a port of service %q: use one of %s", fn, name[0], name[0], t.svc.Name, portNames(t.svc)))
	}
	return ports[i], nil
}

// placeholder is the template function fn, which returns the runtime's placeholder for
// the main port (main) or for the named one (named).
func (t *templater) placeholder(fn, main string, named func(string) string) func(...string) (string, error) {
	return func(name ...string) (string, error) {
		p, err := t.ownPort(fn, name)
		if err != nil {
			return "", err
		}
		if p.Name == t.svc.ports()[0].Name {
			return main, nil
		}
		return named(p.Name), nil
	}
}

// advertise is the address others reach this instance's port at: its ingress link's,
// or on a peer port of a by-name cluster its name and port (see Cluster.ByName).
func (t *templater) advertise(name ...string) (string, error) {
	p, err := t.ownPort("advertise", name)
	if err != nil {
		return "", err
	}
	if t.byNamePeerPort(p.Name) {
		return peerName(t.in.Name, p), nil
	}
	return LinkRef(portLink(t.in.Name, p, t.svc.ports()[0])), nil
}

// byNamePeerPort reports whether port is a peer port of a by-name cluster.
func (t *templater) byNamePeerPort(port string) bool {
	c := t.svc.Cluster
	return c != nil && c.ByName && slices.Contains(c.Ports, port)
}

// peerName is the address every member of a by-name cluster reaches instance's port at.
func peerName(instance string, p NamedPort) string {
	return instance + ":" + strconv.Itoa(p.Port)
}

// addr is the address this instance reaches service's port at (its main port when port
// is empty): a link of this instance's own to the service's first instance, or, for a
// by-name service, its name and port, which its proxies answer.
func (t *templater) addr(service string, port ...string) (string, error) {
	dep, ok := serviceNamed(t.plan.System.Services, service)
	switch {
	case !ok:
		names := map[string]bool{}
		for _, s := range t.plan.System.Services {
			names[s.Name] = true
		}
		return "", t.fail(fmt.Errorf("addr %q: the system has no service %q: use one of %s", service, service, sortedNames(names)))
	case dep.Name == t.svc.Name:
		return "", t.fail(fmt.Errorf("addr %q names the instance's own service: use {{advertise}} for its own address, or {{peers}} for the others of a cluster", service))
	case len(port) > 1:
		return "", t.fail(fmt.Errorf("addr takes a service and at most one port name, got %d port names", len(port)))
	}
	depPorts := dep.ports()
	p := depPorts[0]
	if len(port) == 1 {
		i := slices.IndexFunc(depPorts, func(x NamedPort) bool { return x.Name == port[0] })
		if i < 0 {
			return "", t.fail(fmt.Errorf("addr %q %q: port %q is not a port of service %q: use one of %s", service, port[0], port[0], service, portNames(dep)))
		}
		p = depPorts[i]
	}
	if t.reached == nil {
		t.reached = map[string]bool{}
	}
	t.reached[dep.Name] = true
	if dep.ByName {
		return dep.Name + ":" + strconv.Itoa(p.Port), nil
	}
	return t.link(LinkPlan{Name: portLink(t.in.Name+"."+dep.Name, p, depPorts[0]), To: instanceName(dep.Name, 1), Port: p.Name}), nil
}

// peers lists the other instances of the cluster with this instance's own link to each
// on port (the cluster's first port when empty), in instance order; in a by-name
// cluster, each with its name and port, which the instance's peer proxy sends to that
// link.
func (t *templater) peers(port ...string) ([]Peer, error) {
	return t.cluster("peers", false, port)
}

// members is peers with the instance itself in its place, at the address it advertises
// on the port: the whole membership, for a program that wants it (etcd's
// --initial-cluster).
func (t *templater) members(port ...string) ([]Peer, error) {
	return t.cluster("members", true, port)
}

func (t *templater) cluster(fn string, self bool, port []string) ([]Peer, error) {
	if t.svc.Cluster == nil {
		return nil, t.fail(fmt.Errorf("%s: service %q is no cluster: declare cluster: {ports: [...]} and replicas: 2 or more, or drop %s", fn, t.svc.Name, fn))
	}
	name := t.svc.Cluster.Ports[0]
	if len(port) > 1 {
		return nil, t.fail(fmt.Errorf("%s takes at most one port name, got %d", fn, len(port)))
	}
	if len(port) == 1 {
		name = port[0]
	}
	if !slices.Contains(t.svc.Cluster.Ports, name) {
		return nil, t.fail(fmt.Errorf("%s %q: port %q is not one of the cluster's ports (the peers are linked on %s): add it to cluster.ports, or name one of those", fn, name, name, strings.Join(t.svc.Cluster.Ports, ", ")))
	}
	ports := t.svc.ports()
	p := ports[slices.IndexFunc(ports, func(x NamedPort) bool { return x.Name == name })]
	var out []Peer
	for k := 1; k <= t.svc.Replicas; k++ {
		other := instanceName(t.svc.Name, k)
		switch {
		case k == t.data.Index && !self:
			continue
		case k == t.data.Index:
			addr, err := t.advertise(name)
			if err != nil {
				return nil, err
			}
			out = append(out, Peer{Name: other, Addr: addr})
			continue
		}
		ref := t.link(LinkPlan{Name: portLink(t.in.Name+"."+other, p, ports[0]), To: other, Port: p.Name})
		if t.svc.Cluster.ByName {
			ref = peerName(other, p)
		}
		out = append(out, Peer{Name: other, Addr: ref})
	}
	return out, nil
}

// eachPeer formats each peer with format, which takes the peer's name and address as
// its two operands: {{members "peer" | each "%s=http://%s" | join ","}}.
func eachPeer(format string, peers []Peer) ([]string, error) {
	if n := strings.Count(format, "%") - 2*strings.Count(format, "%%"); n == 0 || n > 2 {
		return nil, fmt.Errorf("each %q: the format takes the peer's name and address (%%s twice, or %%[2]s alone): write one or two verbs", format)
	}
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = fmt.Sprintf(format, p.Name, p.Addr)
		if strings.Contains(out[i], "%!") {
			return nil, fmt.Errorf("each %q: %s: use %%s for the name and the address (%%[2]s for the address alone)", format, out[i])
		}
	}
	return out, nil
}

// peerAddrs is the addresses of peers, for join: {{peers "peer" | addrs | join ","}}.
func peerAddrs(peers []Peer) []string {
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.Addr
	}
	return out
}
