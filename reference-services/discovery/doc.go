// Package discovery is the registry's wire contract and its Go client: the types the
// registry speaks (api.go), a plain client for each call (client.go), a Keeper that keeps
// one instance registered for as long as it runs, re-registering by itself when the
// registry forgets it (keeper.go), and a Resolver that caches the live instances of a
// service and keeps them fresh with the registry's watch (resolver.go), so that callers go
// on routing from the last known list while the registry is down.
//
// It imports nothing of the registry's server, of the harness or of the scenarios. Its
// tests (package discovery_test) run against the real registry, through registrytest.
package discovery
