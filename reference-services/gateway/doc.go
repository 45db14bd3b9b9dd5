// Package gateway is the reference system's API gateway: the one door for clients. It
// routes /api/<service>/<rest> to a live instance of <service> found through a
// discovery.Resolver (cached, so a registry outage does not stop traffic), balances round
// robin over the instances whose circuit breaker is not open, retries idempotent calls on
// another instance, bounds every attempt with a timeout, trips a circuit breaker per
// instance, rejects callers without a known API key and sheds load with a token bucket per
// key. It serves /healthz, /readyz and Prometheus /metrics from a registry of its own.
//
// The resilience policies (retry, timeout, circuit breaker) come from failsafe-go, the
// rate limit from golang.org/x/time/rate. Each concern lives in its own file: config.go
// (settings), access.go (keys and rate limits), balance.go (instances, round robin and
// breakers), policy.go (failsafe policies and what counts as a failure), proxy.go
// (forwarding one call), metrics.go, and gateway.go (wiring and the health endpoints).
//
// It imports the discovery client, the config reader and the httpjson conventions of the
// reference services and nothing else of this module: never harness/, scenarios/, the registry's internals or the
// business services.
package gateway
