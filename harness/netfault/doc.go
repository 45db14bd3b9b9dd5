// Package netfault owns the network paths of a run: one Toxiproxy proxy per path
// (an instance's ingress, its calls to a service it depends on, a service's calls to
// its database), created on the run's proxy host (runtime.ProxyHost), and the toxics that
// hurt them — latency, bandwidth, black holes, resets, slicing, data limits, slow
// closes, one-way cuts, refusals, and per-request HTTP faults — with the heal for each.
// A Manager creates and deletes the proxies; a Link adds and removes toxics, turns its
// proxy off and on, and probes it so a fault can prove it took effect.
//
// It talks to Toxiproxy's HTTP API in the JSON of Toxiproxy's Go client, with a context
// on every call. On every proxy it creates it keeps the two halves of faultline's http
// toxic (harness/toxics), installed before the proxy takes traffic, so that an http
// fault reaches connections that are already open; its other toxics are Toxiproxy's own.
// A link keeps its address for life: Toxiproxy listens again to change a proxy's
// upstream and to enable it, and should another process bind the port in between, the
// link takes it back within a bound (WithRelistenWait) rather than move.
//
// It imports runtime and toxics only, and must never import the harness root, fault,
// load, check, report, scenarios or reference-services.
package netfault
