package harness

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/wait"
)

// Source says how to get a service's program. Exactly one field is set.
type Source struct {
	// Package is a Go main package path, built static (CGO_ENABLED=0) by the harness,
	// and wrapped in a scratch image on the docker runtime.
	Package string `yaml:"package,omitempty"`
	// Binary is the path of a static executable already built.
	Binary string `yaml:"binary,omitempty"`
	// Dockerfile is a build context directory with a Dockerfile (docker runtime only).
	Dockerfile string `yaml:"dockerfile,omitempty"`
	// Image is an image already in the local Docker engine (docker runtime only).
	Image string `yaml:"image,omitempty"`
}

func (s Source) set() []string {
	var out []string
	for name, v := range map[string]string{"package": s.Package, "binary": s.Binary, "dockerfile": s.Dockerfile, "image": s.Image} {
		if v != "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Dependency hands one service the proxied address of another in an environment
// variable, so the service needs no change to run under faultline.
type Dependency struct {
	// Service is the name of the service depended on.
	Service string `yaml:"service"`
	// Env is the variable that receives the proxied host:port (e.g. "INVENTORY_ADDR").
	Env string `yaml:"env"`
	// Port is the port of Service the link reaches (default: its main port).
	Port string `yaml:"port,omitempty"`
}

// Database declares a server of the service's own — its database, cache or store —
// that only its replicas reach, all through one link named "<service>-db". It starts
// before them, and is restarted by the supervisor like any instance. A module declares
// the server in a line (harness/modules/etcd, postgres, redis); Server is any service
// declaration, whose name, replicas and wiring the harness sets.
type Database struct {
	// Env is the variable of each replica that receives the database link's address
	// ("ETCD_ENDPOINTS").
	Env string `yaml:"env"`
	// Server is the server: its source, ports, arguments, environment and readiness, as
	// for any service — a module's declaration as it comes (redis.Service("cache")). Its
	// instance is called "<service>-db", whatever its name; leave replicas, depends_on,
	// database, cluster and by_name out.
	Server Service `yaml:"server"`
}

// Cluster declares a service whose replicas talk to each other: each ordered pair of
// peers gets a link of its own, so that a directed cut between two peers leaves every
// other pair alone, and each instance learns its peers' proxied addresses.
type Cluster struct {
	// PeersEnv receives the other peers as "name=host:port,..." (default "PEERS"; "-"
	// for none, when the arguments take them through the peers template), each address
	// the link to that peer on the first of Ports.
	PeersEnv string `yaml:"peers_env,omitempty"`
	// Ports are the ports peers call each other on (default: the service's main port):
	// each ordered pair of peers gets a link of its own on each of them.
	Ports []string `yaml:"ports,omitempty"`
	// ByName gives every peer the same address for each member, its instance name and
	// the port's declared number ("etcd-2:2380"), for a system that needs its members
	// to agree on their peers' addresses (etcd derives its IDs from them). Each
	// instance reaches those names through a SOCKS5 proxy of its own (peerroute), named
	// in ProxyEnv, which sends each to the instance's own link to that peer: the links
	// stay per pair, and partitions cut them as they do any cluster's. The program's
	// peer client must honour that variable, as Go's net/http does. The proxies live in
	// the run's proxy server, beside the links (on docker, in its container);
	// docs/partitions.md says more.
	ByName bool `yaml:"by_name,omitempty"`
	// ProxyEnv receives the instance's peer proxy as a URL, "socks5://127.0.0.1:port"
	// locally, "socks5://toxiproxy:port" on docker (default "HTTP_PROXY"), when ByName
	// is set.
	ProxyEnv string `yaml:"proxy_env,omitempty"`
}

// DefaultPortName is the name of the port Service.Port declares.
const DefaultPortName = "http"

// NamedPort is one port of a service, by name.
type NamedPort struct {
	// Name names the port among the service's ("client", "peer").
	Name string
	// Port is the port the service listens on for it in a container.
	Port int
}

// Ports are a service's named ports, in order. In YAML they are a mapping of name to
// number, whose order is kept: `ports: {client: 2379, peer: 2380}`.
type Ports []NamedPort

// Service declares one service of a System.
type Service struct {
	// Name is the service's name ("accounts"); its instances are called after it
	// ("accounts-1").
	Name string `yaml:"name"`
	// Source is how to get its program.
	Source Source `yaml:"source"`
	// Port is the port it listens on in a container, named "http" (DefaultPortName;
	// default 8080 when Ports is empty). Locally the harness picks a free port and hands
	// it over through ListenEnv.
	//
	// The main port — Port, or without it the first of Ports — is the one Health is
	// asked on, ListenEnv binds ({{listen}}), AdvertiseEnv advertises and Instance.Ingress
	// reaches, and the one dependencies and peers reach unless they name another.
	Port int `yaml:"port,omitempty"`
	// Ports are the service's further ports, any number, each with a name of its own
	// (`client: 2379`, `peer: 2380`). Every port of every instance gets its own ingress
	// link (Instance.Port), the docker runtime publishes each, and the local one draws
	// a free port for each. Args and Env reach a port called peer through
	// "{{listen:peer}}", "{{port:peer}}" and "{{netaddr:peer}}".
	Ports Ports `yaml:"ports,omitempty"`
	// Replicas is how many instances to start (default 1).
	Replicas int `yaml:"replicas,omitempty"`
	// Health is the HTTP path answered 200 on the main port when an instance is ready
	// (default "/healthz" unless Ready is set).
	Health string `yaml:"health,omitempty"`
	// Ready, when set, is how an instance is known ready instead of Health: HTTP on a
	// named port and path, a TCP accept, a line of its output, a command, or all of
	// several (see package wait). The runtime then waits only for the main port to accept connections.
	Ready *wait.Strategy `yaml:"ready,omitempty"`
	// StartTimeout bounds each wait for an instance to be ready (default: the rest of
	// the bring-up's timeout, WithStartTimeout). Written like 90s or 2m in YAML.
	StartTimeout time.Duration `yaml:"start_timeout,omitempty"`
	// Env is extra environment for every instance.
	Env map[string]string `yaml:"env,omitempty"`
	// Args are command-line arguments.
	Args []string `yaml:"args,omitempty"`
	// Entrypoint, when set, replaces the image's entrypoint; Args follow it (docker only:
	// the local runtime's program is the source's binary itself).
	Entrypoint []string `yaml:"entrypoint,omitempty"`
	// User, when set, is the user the program runs as ("postgres", "1000:1000"): in its
	// container on docker; locally a user of this machine, which needs the harness to run
	// as root (it hands the instance's data dir to that user).
	User string `yaml:"user,omitempty"`
	// StopSignal is the signal a graceful stop sends before the kill (default SIGTERM):
	// SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1 or SIGUSR2 — nginx wants SIGQUIT, Postgres
	// a fast shutdown on SIGINT.
	StopSignal string `yaml:"stop_signal,omitempty"`
	// ListenEnv receives the address to bind (default "LISTEN_ADDR"; "-" for none).
	ListenEnv string `yaml:"listen_env,omitempty"`
	// AdvertiseEnv receives the address the instance is reached at, its ingress proxy's
	// (default "ADVERTISE_ADDR"; "-" for none).
	AdvertiseEnv string `yaml:"advertise_env,omitempty"`
	// IDEnv receives the instance's name (default "INSTANCE_ID"; "-" for none).
	IDEnv string `yaml:"id_env,omitempty"`
	// Database, when set, gives the service a database server of its own.
	Database *Database `yaml:"database,omitempty"`
	// DependsOn lists services started first whose proxied address this one receives,
	// each through a link of each instance's own ("orders-1.inventory"; see
	// Instance.LinkTo).
	DependsOn []Dependency `yaml:"depends_on,omitempty"`
	// Cluster, when set, links every ordered pair of the service's replicas.
	Cluster *Cluster `yaml:"cluster,omitempty"`
	// Restart is the supervisor's policy for its instances: "on-failure" (default) or "never".
	Restart string `yaml:"restart,omitempty"`
	// ByName, when set, lets the system's other containers reach each instance at the
	// service's name and declared ports, as compose does ("db:5432"): each instance gets
	// a Toxiproxy proxy of its own that answers to that name on the run's network (Docker
	// answers the name with every instance's proxy), so the calls go through the
	// instance's ingress links and faults on them cut the calls. A dependency on a
	// by-name service then needs no env: the name is its address. Docker runtime only;
	// LoadCompose sets it for every service.
	ByName bool `yaml:"by_name,omitempty"`
}

// System declares a system under test.
type System struct {
	// Name names the system in reports.
	Name string `yaml:"name"`
	// Services are its services, started in dependency order.
	Services []Service `yaml:"services"`
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// withDefaults returns a copy of the system with every default filled in.
func (s System) withDefaults() System {
	out := System{Name: s.Name, Services: make([]Service, len(s.Services))}
	for i, svc := range s.Services {
		out.Services[i] = svc.withDefaults(s.Services)
	}
	return out
}

// withDefaults returns a copy of the service with every default filled in; services are
// the system's, which its dependencies name.
func (svc Service) withDefaults(services []Service) Service {
	if svc.Port == 0 && len(svc.Ports) == 0 {
		svc.Port = 8080
	}
	if svc.Replicas == 0 {
		svc.Replicas = 1
	}
	if svc.Health == "" && svc.Ready == nil {
		svc.Health = "/healthz"
	}
	if svc.ListenEnv == "" {
		svc.ListenEnv = "LISTEN_ADDR"
	}
	if svc.AdvertiseEnv == "" {
		svc.AdvertiseEnv = "ADVERTISE_ADDR"
	}
	if svc.IDEnv == "" {
		svc.IDEnv = "INSTANCE_ID"
	}
	if svc.Restart == "" {
		svc.Restart = "on-failure"
	}
	if svc.Cluster != nil {
		c := *svc.Cluster
		if c.PeersEnv == "" {
			c.PeersEnv = "PEERS"
		}
		if len(c.Ports) == 0 && len(svc.ports()) > 0 {
			c.Ports = []string{svc.ports()[0].Name}
		}
		if c.ByName && c.ProxyEnv == "" {
			c.ProxyEnv = "HTTP_PROXY"
		}
		c.Ports = slices.Clone(c.Ports)
		svc.Cluster = &c
	}
	svc.DependsOn = slices.Clone(svc.DependsOn)
	for j, d := range svc.DependsOn {
		if d.Port == "" {
			svc.DependsOn[j].Port = mainPortOf(services, d.Service)
		}
	}
	if svc.Database != nil {
		db := *svc.Database
		db.Server = db.Server.asDatabaseOf(svc.Name).withDefaults(nil)
		svc.Database = &db
	}
	return svc
}

// asDatabaseOf is the database server declaration d as the harness runs it for the
// service called owner: one instance called "<owner>-db", with no wiring of its own.
func (d Service) asDatabaseOf(owner string) Service {
	d.Name, d.Replicas = databaseName(owner), 1
	d.DependsOn, d.Database, d.Cluster = nil, nil, nil
	return d
}

// Validate checks the declaration and returns every problem at once, each naming the
// service, the field and the fix.
func (s System) Validate() error {
	raw := s
	s = s.withDefaults()
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	if len(s.Services) == 0 {
		bad("services", "the system declares no service: add at least one under services")
	}
	seen := map[string]bool{}
	for i, svc := range s.Services {
		where := fmt.Sprintf("services[%d]", i)
		if svc.Name != "" {
			where = fmt.Sprintf("service %q", svc.Name)
		}
		switch {
		case svc.Name == "":
			bad(where, "name is empty: give every service a name")
		case !nameRE.MatchString(svc.Name):
			bad(where, "name %q is not a valid name: use lower-case letters, digits and '-', starting with a letter, at most 31 characters", svc.Name)
		case seen[svc.Name]:
			bad(where, "name %q is declared twice: service names must be unique", svc.Name)
		}
		seen[svc.Name] = true
		svc.check(func(format string, args ...any) { bad(where, format, args...) })
		if svc.Cluster != nil && svc.Replicas == 1 { // an impossible count is reported by check
			bad(where, "cluster with %d replica has no peer: give it replicas: 2 or more, or drop cluster", svc.Replicas)
		}
		if c := svc.Cluster; c != nil && !c.ByName && c.ProxyEnv != "" {
			bad(where, "cluster.proxy_env %q is set but cluster.by_name is not: the proxy carries by-name peers only; set by_name: true, or drop proxy_env", c.ProxyEnv)
		}
		if svc.Database != nil {
			checkDatabase(*raw.Services[i].Database, svc.Database.Server, func(format string, args ...any) { bad(where, format, args...) })
		}
	}
	for _, svc := range s.Services {
		where := fmt.Sprintf("service %q", svc.Name)
		if svc.Database != nil && seen[svc.Database.Server.Name] {
			bad(fmt.Sprintf("service %q", svc.Database.Server.Name), "its name is the name of %s's database server: rename one of them", svc.Name)
		}
		for j, d := range svc.DependsOn {
			switch {
			case d.Service == svc.Name:
				bad(where, "depends_on[%d] names the service itself: remove it", j)
			case !seen[d.Service]:
				bad(where, "depends_on[%d] names unknown service %q: declare it under services, or fix the name (the system has %s)", j, d.Service, sortedNames(seen))
			}
			if dep, ok := serviceNamed(s.Services, d.Service); ok && d.Port != "" && !hasPort(dep, d.Port) {
				bad(where, "depends_on[%d].port %q is not a port of %s: use one of %s", j, d.Port, d.Service, portNames(dep))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if _, err := s.order(); err != nil {
		return err
	}
	// What only the plan can tell: that every {{link:…}} names a link of the system.
	if _, err := s.plan(); err != nil {
		return err
	}
	return nil
}

// check reports, through bad, what is wrong with one service's own fields (those that
// name no other service), defaults filled in.
func (svc Service) check(bad func(format string, args ...any)) {
	switch set := svc.Source.set(); len(set) {
	case 0:
		bad("source is empty: set one of source.package (a Go main package), source.binary, source.dockerfile or source.image")
	case 1:
	default:
		bad("source sets %s: set exactly one of them", strings.Join(set, " and "))
	}
	if (svc.Port != 0 || len(svc.Ports) == 0) && (svc.Port < 1 || svc.Port > 65535) {
		bad("port %d is out of range: use 1 to 65535", svc.Port)
	}
	checkPorts(svc, bad)
	if svc.Replicas < 1 || svc.Replicas > 16 {
		bad("replicas %d is impossible: use 1 to 16", svc.Replicas)
	}
	switch {
	case svc.Ready != nil && svc.Health != "":
		bad("health and ready are both set: health is the default readiness, HTTP on the main port; write it in ready as http: {path: %s}, or drop one", svc.Health)
	case svc.Ready != nil:
		svc.Ready.Check("ready", portList(svc), bad)
	case !strings.HasPrefix(svc.Health, "/"):
		bad("health %q is not a path: write it like /healthz", svc.Health)
	}
	if svc.StartTimeout < 0 {
		bad("start_timeout %s is negative: give the time an instance may take to be ready, such as 90s, or leave it out", svc.StartTimeout)
	}
	if svc.Restart != "on-failure" && svc.Restart != "never" {
		bad("restart %q is unknown: use on-failure or never", svc.Restart)
	}
	if _, ok := runtime.StopSignals[svc.StopSignal]; svc.StopSignal != "" && !ok {
		bad("stop_signal %q is unknown: use one of %s, or leave it out for SIGTERM", svc.StopSignal, runtime.StopSignalNames())
	}
	for j, a := range svc.Entrypoint {
		if a == "" && j == 0 {
			bad("entrypoint[0] is empty: name the program to run first, or leave entrypoint out to run the image's own")
		}
	}
}

// checkDatabase reports, through bad, what is wrong with a service's database: raw as
// declared, server as the harness runs it.
func checkDatabase(raw Database, server Service, bad func(format string, args ...any)) {
	if raw.Env == "" {
		bad("database.env is empty: name the variable that receives the database's address (such as DATABASE_ADDR)")
	}
	s := raw.Server
	for _, f := range []struct {
		field string
		set   bool
	}{
		{"replicas", s.Replicas > 1},
		{"depends_on", len(s.DependsOn) > 0},
		{"database", s.Database != nil},
		{"cluster", s.Cluster != nil},
		{"by_name", s.ByName},
	} {
		if f.set {
			bad("database.server.%s is set: the harness runs one server called %s, reached through its own link; drop %s", f.field, server.Name, f.field)
		}
	}
	server.check(func(format string, args ...any) { bad("database.server: "+format, args...) })
}

// order returns the services in start order: as declared, each after those it depends
// on. A cycle is an error that names it.
func (s System) order() ([]Service, error) {
	byName := map[string]Service{}
	for _, svc := range s.Services {
		byName[svc.Name] = svc
	}
	var out []Service
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("depends_on forms a cycle: %s: break it", strings.Join(append(path, name), " -> "))
		case 2:
			return nil
		}
		state[name] = 1
		for _, d := range byName[name].DependsOn {
			if err := visit(d.Service, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		out = append(out, byName[name])
		return nil
	}
	for _, svc := range s.Services {
		if err := visit(svc.Name, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ports are the service's ports, its main port first: Port (named DefaultPortName)
// when it is set, then Ports.
func (s Service) ports() []NamedPort {
	var out []NamedPort
	if s.Port != 0 {
		out = append(out, NamedPort{Name: DefaultPortName, Port: s.Port})
	}
	return append(out, s.Ports...)
}

func hasPort(s Service, name string) bool {
	return slices.ContainsFunc(s.ports(), func(p NamedPort) bool { return p.Name == name })
}

// portNames lists a service's ports for a message: "client, peer".
func portNames(s Service) string { return strings.Join(portList(s), ", ") }

// portList is the names of a service's ports, its main port first.
func portList(s Service) []string {
	var names []string
	for _, p := range s.ports() {
		names = append(names, p.Name)
	}
	return names
}

func serviceNamed(services []Service, name string) (Service, bool) {
	for _, s := range services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// mainPortOf is the name of the main port of the service called name, as defaults give
// it, or "" for no such service.
func mainPortOf(services []Service, name string) string {
	svc, ok := serviceNamed(services, name)
	if !ok {
		return ""
	}
	if svc.Port != 0 || len(svc.Ports) == 0 {
		return DefaultPortName
	}
	return svc.Ports[0].Name
}

var portNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,14}$`)

// checkPorts reports, through bad, what is wrong with a service's ports and with the
// ports its cluster names.
func checkPorts(svc Service, bad func(format string, args ...any)) {
	seen := map[string]bool{}
	numbers := map[int]string{}
	if svc.Port != 0 {
		seen[DefaultPortName] = true
		numbers[svc.Port] = "port"
	}
	for _, p := range svc.Ports {
		switch {
		case !portNameRE.MatchString(p.Name):
			bad("ports: %q is not a valid port name: use lower-case letters, digits and '-', starting with a letter, at most 15 characters", p.Name)
			continue
		case p.Name == DefaultPortName && svc.Port != 0:
			bad("ports.%s is declared, and port %d is the port named %s too: drop one of them", p.Name, svc.Port, DefaultPortName)
			continue
		case seen[p.Name]:
			bad("ports.%s is declared twice: give each port a name of its own", p.Name)
			continue
		case p.Port < 1 || p.Port > 65535:
			bad("ports.%s %d is out of range: use 1 to 65535", p.Name, p.Port)
		case numbers[p.Port] != "":
			bad("ports.%s %d is the number of %s too: give each port a number of its own", p.Name, p.Port, numbers[p.Port])
		}
		seen[p.Name] = true
		numbers[p.Port] = "ports." + p.Name
	}
	if svc.Cluster == nil {
		return
	}
	named := map[string]bool{}
	for i, name := range svc.Cluster.Ports {
		switch {
		case !seen[name]:
			bad("cluster.ports[%d] %q is not a port of the service: use one of %s", i, name, portNames(svc))
		case named[name]:
			bad("cluster.ports[%d] %q is named twice: name each port once", i, name)
		}
		named[name] = true
	}
}
