// Package reference declares faultline's reference system — registry, gateway, accounts,
// inventory and orders, each business service with an etcd of its own — as a
// harness.System, by Go package path, with the fields any user has: the registry and
// the gateway are services like the others, each instance reaches the registry through a
// dependency link of its own, and each etcd is a database server declared by the etcd
// module. Everything that knows what the registry and the gateway are — where to reach
// them, what "registered" means, how to cut an instance off the registry — lives here,
// not in the harness. It imports the harness and its modules only; the services' code is
// built from their packages, never imported.
package reference

import (
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/modules/etcd"
)

// Module is the Go module the reference services live in.
const Module = "github.com/faultline/faultline/reference-services/cmd/"

// APIKey is the gateway's demo key, the one the reference system accepts by default.
const APIKey = "demo-key"

// Keys the reference gateway accepts besides APIKey: another caller on the default
// limit, and a caller on a tier of its own (50 requests/s, burst 50), small enough
// that a flood past it is cheap to send on any backend.
const (
	OtherKey = "other-key"
	TierKey  = "tier-key"
	// TierRate is TierKey's limit in requests per second.
	TierRate = 50
)

// Option changes the reference declaration, for scenarios that need more replicas or a
// broken property on purpose.
type Option func(*harness.System)

// WithReplicas sets the replica count of one service.
func WithReplicas(service string, n int) Option {
	return func(s *harness.System) {
		for i := range s.Services {
			if s.Services[i].Name == service {
				s.Services[i].Replicas = n
			}
		}
	}
}

// WithEnv sets one environment variable on one service (e.g. GATEWAY_RETRIES=0 to prove
// a suite goes red without retries).
func WithEnv(service, key, value string) Option {
	return func(s *harness.System) {
		for i := range s.Services {
			if s.Services[i].Name == service {
				env := map[string]string{}
				for k, v := range s.Services[i].Env {
					env[k] = v
				}
				env[key] = value
				s.Services[i].Env = env
			}
		}
	}
}

// The services of the reference system, by name.
const (
	Registry = "registry"
	Gateway  = "gateway"
)

// RegistryEnv is the variable every instance of the reference system receives its own
// link to the registry in.
const RegistryEnv = "REGISTRY_ADDR"

// System returns the reference system: one registry, two accounts, two inventory, one
// orders and one gateway instance, and an etcd for each business service.
func System(opts ...Option) harness.System {
	onRegistry := []harness.Dependency{{Service: Registry, Env: RegistryEnv}}
	business := func(name string, replicas int) harness.Service {
		return harness.Service{
			Name:      name,
			Source:    harness.Source{Package: Module + name},
			Port:      8080,
			Replicas:  replicas,
			Health:    "/healthz",
			DependsOn: onRegistry,
			Database:  &harness.Database{Env: "ETCD_ENDPOINTS", Server: Database()},
		}
	}
	sys := harness.System{
		Name: "reference",
		Services: []harness.Service{
			{
				Name:         Registry,
				Source:       harness.Source{Package: Module + "registry"},
				Port:         8500,
				Env:          map[string]string{"DATA_DIR": "{{datadir}}"},
				AdvertiseEnv: "-",
				IDEnv:        "-",
			},
			business("accounts", 2),
			business("inventory", 2),
			business("orders", 1),
			{
				Name:         Gateway,
				Source:       harness.Source{Package: Module + "gateway"},
				Port:         8080,
				DependsOn:    onRegistry,
				AdvertiseEnv: "-",
				IDEnv:        "-",
				Env:          map[string]string{"GATEWAY_API_KEYS": APIKey + "," + OtherKey + "," + TierKey + ":50:50"},
			},
		},
	}
	for _, o := range opts {
		o(&sys)
	}
	return sys
}

// Database is the etcd every business service keeps its state in: a single member from
// the etcd module, keeping an hour of revisions (idempotency records and kv history grow
// under load). It advertises its own address rather than its link's: the reference
// services' clients dial the endpoint they are given and never sync the advertised
// ones, and a server handed no link starts beside the proxy host instead of after it.
func Database() harness.Service {
	// etcd.Service fails only for an empty name or a Binary that is missing, and this
	// call has neither.
	svc, _ := etcd.Service("db", etcd.AdvertiseOwnAddress(),
		etcd.Args("--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h"))
	svc.Name = "" // the harness names a database server after its service: accounts-db
	return svc
}
