package bare

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/harness/runtime"
)

// Proc is one process of a plan: an instance of a service, or a service's database.
type Proc struct {
	// Name is the instance's name, as the harness names it ("accounts-1", "accounts-db").
	Name string
	// Service is the registry name of its service ("accounts"); a database's is
	// "<service>-db".
	Service string
	// Package is the Go main package it runs.
	Package string
	// Args are its arguments; Env its environment. Values may hold the placeholders of
	// harness/runtime and addrOf(name), which a backend resolves.
	Args []string
	Env  map[string]string
	// Port is the port it listens on in a container.
	Port int
	// Health is the path answered 200 once it is ready.
	Health string
	// Needs names the processes that must be ready before it starts.
	Needs []string
}

// Plan is a system laid out as processes, each naming the processes it waits for.
type Plan struct {
	// Procs are the processes, every one after those it needs.
	Procs []Proc
	// Registered lists, per business service, the instance ids the registry must list.
	Registered map[string][]string
}

// addrOf is the placeholder for the address other processes reach name at.
func addrOf(name string) string { return "{{addr:" + name + "}}" }

// NewPlan lays sys out without proxies: where the harness hands an instance a proxy's
// address, the plan hands it the real address of what the proxy stands for. Each
// process waits for what it needs — its database, the registry, every instance of the
// services it depends on — as docker compose's depends_on with service_healthy does.
func NewPlan(sys harness.System) (Plan, error) {
	hp, err := sys.Plan() // validates; the databases are started as the harness plans them
	if err != nil {
		return Plan{}, fmt.Errorf("plan %s: %w", sys.Name, err)
	}
	plan := Plan{Registered: map[string][]string{}}
	placed := map[string][]string{} // service → its instances' names
	pending := append([]harness.Service(nil), sys.Services...)
	for len(pending) > 0 {
		progressed := false
		var next []harness.Service
		for _, svc := range pending {
			deps := dependencies(svc)
			ready := true
			for _, d := range deps {
				if _, ok := placed[d]; !ok {
					ready = false
				}
			}
			if !ready {
				next = append(next, svc)
				continue
			}
			if svc.Cluster != nil {
				return Plan{}, fmt.Errorf("plan %s: service %s is a cluster: the bare baseline does not start clusters", sys.Name, svc.Name)
			}
			progressed = true
			var needs []string
			for _, d := range deps {
				needs = append(needs, placed[d]...)
			}
			if svc.Database != nil {
				db, err := database(hp, svc)
				if err != nil {
					return Plan{}, fmt.Errorf("plan %s: %w", sys.Name, err)
				}
				plan.Procs = append(plan.Procs, db)
				needs = append(needs, db.Name)
			}
			procs, err := instances(svc, placed, needs)
			if err != nil {
				return Plan{}, fmt.Errorf("plan %s: %w", sys.Name, err)
			}
			for _, p := range procs {
				plan.Procs = append(plan.Procs, p)
				placed[svc.Name] = append(placed[svc.Name], p.Name)
				if registers(svc) {
					plan.Registered[svc.Name] = append(plan.Registered[svc.Name], p.Name)
				}
			}
		}
		if !progressed {
			return Plan{}, fmt.Errorf("plan %s: dependencies form a cycle", sys.Name)
		}
		pending = next
	}
	return plan, nil
}

// dependencies are the services svc waits for.
func dependencies(svc harness.Service) []string {
	var out []string
	for _, d := range svc.DependsOn {
		out = append(out, d.Service)
	}
	return out
}

// registers says whether svc's instances are listed in the reference registry: those of
// a business service, which depends on the registry and is not the gateway.
func registers(svc harness.Service) bool {
	if svc.Name == reference.Gateway {
		return false
	}
	for _, d := range svc.DependsOn {
		if d.Service == reference.Registry {
			return true
		}
	}
	return false
}

// database lays out svc's database server with the arguments and environment the
// harness plans for it (hp), which must hand it no link: a bare start has none.
func database(hp *harness.Plan, svc harness.Service) (Proc, error) {
	in, ok := hp.Instance(svc.Name + "-db")
	if !ok {
		return Proc{}, fmt.Errorf("service %s: the harness's plan has no database server %s-db", svc.Name, svc.Name)
	}
	if len(in.Links) > 0 {
		return Proc{}, fmt.Errorf("%s: the server is handed links %v: the bare baseline starts servers handed none", in.Name, in.Links)
	}
	if in.Source.Package == "" {
		return Proc{}, fmt.Errorf("%s: the bare baseline runs Go packages only (source %+v)", in.Name, in.Source)
	}
	health := in.Health
	if in.Ready != nil && in.Ready.HTTP != nil {
		health = in.Ready.HTTP.Path
	}
	if health == "" {
		return Proc{}, fmt.Errorf("%s: the bare baseline waits for an HTTP health path, and the server has none", in.Name)
	}
	return Proc{Name: in.Name, Service: in.Service, Package: in.Source.Package, Args: in.Args, Env: in.Env,
		Port: in.Ports[0].Port, Health: health}, nil
}

// instances lays out svc's replicas with the environment the harness would give them,
// real addresses in place of proxied ones.
func instances(svc harness.Service, placed map[string][]string, needs []string) ([]Proc, error) {
	replicas := max(svc.Replicas, 1)
	port := svc.Port
	if port == 0 {
		port = 8080
	}
	health := svc.Health
	if health == "" {
		health = "/healthz"
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	listenEnv, advertiseEnv, idEnv := or(svc.ListenEnv, "LISTEN_ADDR"), or(svc.AdvertiseEnv, "ADVERTISE_ADDR"), or(svc.IDEnv, "INSTANCE_ID")
	var out []Proc
	for i := 1; i <= replicas; i++ {
		name := svc.Name + "-" + strconv.Itoa(i)
		env := map[string]string{}
		for k, v := range svc.Env {
			env[k] = v
		}
		set := func(k, v string) {
			if k != "" && k != "-" {
				env[k] = v
			}
		}
		set(listenEnv, runtime.PlaceholderListen)
		set(advertiseEnv, runtime.PlaceholderNetAddr)
		set(idEnv, name)
		if svc.Database != nil {
			set(svc.Database.Env, addrOf(svc.Name+"-db"))
		}
		for _, d := range svc.DependsOn {
			set(d.Env, addrOf(placed[d.Service][0]))
		}
		if svc.Source.Package == "" {
			return nil, fmt.Errorf("%s: the bare baseline runs Go packages only (source %+v)", name, svc.Source)
		}
		out = append(out, Proc{Name: name, Service: svc.Name, Package: svc.Source.Package, Args: svc.Args,
			Env: env, Port: port, Health: health, Needs: needs})
	}
	return out, nil
}

// resolve replaces the placeholders in s: the process's own ones by own, and addrOf(x)
// by addr(x).
func resolve(s string, own *strings.Replacer, addr func(string) string) string {
	s = own.Replace(s)
	for {
		i := strings.Index(s, "{{addr:")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return s
		}
		s = s[:i] + addr(s[i+len("{{addr:"):i+j]) + s[i+j+2:]
	}
}
