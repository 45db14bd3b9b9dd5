// Package reference declares faultline's reference system — registry, gateway, accounts,
// inventory and orders, each business service with an etcd of its own — as a
// harness.System, by Go package path. It imports the harness only; the services'
// code is built from their packages, never imported.
package reference

import "github.com/faultline/faultline/harness"

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

// System returns the reference system: one registry, two accounts, two inventory, one
// orders and one gateway instance, and an etcd for each business service.
func System(opts ...Option) harness.System {
	business := func(name string, replicas int) harness.Service {
		return harness.Service{
			Name:        name,
			Source:      harness.Source{Package: Module + name},
			Port:        8080,
			Replicas:    replicas,
			Health:      "/healthz",
			RegistryEnv: "REGISTRY_ADDR",
			Database:    &harness.Database{Kind: "etcd", Env: "ETCD_ENDPOINTS"},
		}
	}
	sys := harness.System{
		Name: "reference",
		Services: []harness.Service{
			{
				Name:         "registry",
				Role:         harness.RoleRegistry,
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
				Name:         "gateway",
				Role:         harness.RoleGateway,
				Source:       harness.Source{Package: Module + "gateway"},
				Port:         8080,
				RegistryEnv:  "REGISTRY_ADDR",
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
