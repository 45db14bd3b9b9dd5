package bare

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/runtime"
)

// EtcdPackage is the Go package of the database server a Database of kind etcd runs.
const EtcdPackage = "go.etcd.io/etcd/server/v3"

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
	// Role is its service's role.
	Role harness.Role
}

// Plan is a system laid out as levels: every process of a level depends only on
// processes of earlier levels, so a level starts all at once.
type Plan struct {
	Levels [][]Proc
	// Registered lists, per business service, the instance ids the registry must list.
	Registered map[string][]string
}

// addrOf is the placeholder for the address other processes reach name at.
func addrOf(name string) string { return "{{addr:" + name + "}}" }

// etcdArgs are the harness's own (harness/up.go): a single-member etcd that binds the
// backend's port and advertises where it is reached.
var etcdArgs = []string{
	"--name", "db", "--data-dir", runtime.PlaceholderDataDir + "/etcd",
	"--listen-client-urls", "http://" + runtime.PlaceholderListen,
	"--advertise-client-urls", "http://" + runtime.PlaceholderNetAddr,
	"--listen-peer-urls", "http://127.0.0.1:0",
	"--initial-advertise-peer-urls", "http://127.0.0.1:2380",
	"--initial-cluster", "db=http://127.0.0.1:2380",
	"--log-level", "error",
	"--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
}

// NewPlan lays sys out without proxies: where the harness hands an instance a proxy's
// address, the plan hands it the real address of what the proxy stands for.
func NewPlan(sys harness.System) (Plan, error) {
	if err := sys.Validate(); err != nil {
		return Plan{}, fmt.Errorf("plan %s: %w", sys.Name, err)
	}
	level := map[string]int{} // service → level of its instances
	first := map[string]string{}
	var registry string
	for _, svc := range sys.Services {
		if svc.Role == harness.RoleRegistry {
			registry = svc.Name
		}
	}
	plan := Plan{Registered: map[string][]string{}}
	put := func(l int, p Proc) {
		for len(plan.Levels) <= l {
			plan.Levels = append(plan.Levels, nil)
		}
		plan.Levels[l] = append(plan.Levels[l], p)
	}
	// Services are declared in an order the harness accepts; levels follow from it.
	pending := append([]harness.Service(nil), sys.Services...)
	for len(pending) > 0 {
		progressed := false
		var next []harness.Service
		for _, svc := range pending {
			l, ok := placeable(svc, registry, level)
			if !ok {
				next = append(next, svc)
				continue
			}
			if svc.Cluster != nil {
				return Plan{}, fmt.Errorf("plan %s: service %s is a cluster: the bare baseline does not start clusters", sys.Name, svc.Name)
			}
			progressed = true
			level[svc.Name] = l
			procs, err := instances(svc, registry, first)
			if err != nil {
				return Plan{}, fmt.Errorf("plan %s: %w", sys.Name, err)
			}
			if svc.Database != nil {
				put(0, database(svc))
			}
			for _, p := range procs {
				put(l, p)
				if svc.RegistryEnv != "" && (svc.Role == "" || svc.Role == harness.RoleService) {
					plan.Registered[svc.Name] = append(plan.Registered[svc.Name], p.Name)
				}
			}
			first[svc.Name] = procs[0].Name
		}
		if !progressed {
			return Plan{}, fmt.Errorf("plan %s: dependencies form a cycle", sys.Name)
		}
		pending = next
	}
	return plan, nil
}

// placeable says whether every dependency of svc is placed, and at which level svc goes.
func placeable(svc harness.Service, registry string, level map[string]int) (int, bool) {
	deps := []string{}
	if svc.RegistryEnv != "" && registry != "" {
		deps = append(deps, registry)
	}
	for _, d := range svc.DependsOn {
		deps = append(deps, d.Service)
	}
	l := 0
	if svc.Database != nil {
		l = 1 // after its database, which goes first
	}
	for _, d := range deps {
		dl, ok := level[d]
		if !ok {
			return 0, false
		}
		l = max(l, dl+1)
	}
	return l, true
}

func database(svc harness.Service) Proc {
	name := svc.Name + "-db"
	return Proc{Name: name, Service: name, Package: EtcdPackage, Args: etcdArgs, Env: map[string]string{},
		Port: 2379, Health: "/health", Role: harness.RoleDatabase}
}

// instances lays out svc's replicas with the environment the harness would give them,
// real addresses in place of proxied ones.
func instances(svc harness.Service, registry string, first map[string]string) ([]Proc, error) {
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
		if svc.RegistryEnv != "" {
			if registry == "" {
				return nil, fmt.Errorf("%s: registry_env is set but the system has no registry", name)
			}
			set(svc.RegistryEnv, addrOf(first[registry]))
		}
		if svc.Database != nil {
			set(or(svc.Database.Env, "ETCD_ENDPOINTS"), addrOf(svc.Name+"-db"))
		}
		for _, d := range svc.DependsOn {
			set(d.Env, addrOf(first[d.Service]))
		}
		if svc.Source.Package == "" {
			return nil, fmt.Errorf("%s: the bare baseline runs Go packages only (source %+v)", name, svc.Source)
		}
		out = append(out, Proc{Name: name, Service: svc.Name, Package: svc.Source.Package, Args: svc.Args,
			Env: env, Port: port, Health: health, Role: svc.Role})
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
