// Package registry is the reference system's service registry: instances register
// themselves with a lease, renew it by heartbeat and are evicted when it lapses; callers
// list the live instances of a service and watch them with Consul-style blocking queries.
//
// It owns the registry's server side: the state and its bbolt file (store.go), the
// changes to it (change.go), eviction (evict.go), blocking queries (watch.go), the HTTP
// API that discovery.Client speaks (handler.go, decode.go) and its Prometheus metrics
// (metrics.go). The wire types live in reference-services/discovery, shared with clients.
//
// State survives a restart: every lease is stored with its wall-clock expiry in an
// fsync'd bbolt file, so a restarted registry knows every instance whose lease is still
// live, and the index it hands out never goes backwards.
//
// It imports reference-services/discovery for the wire contract and nothing of harness/,
// scenarios/, the gateway or the business services.
package registry
