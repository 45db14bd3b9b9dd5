// Package fault owns what a fault is and the one lifecycle every fault goes through:
// inject, proof that it took effect, heal, proof that it healed, each step written into
// the run's history. A Fault is a small interface (Inject, Heal, String); each kind lives
// in its own short file (latency.go, kill.go, partition.go, ...) and never repeats the
// lifecycle, which Scope.Apply owns alone: it registers the heal before Inject returns,
// fails loudly when a fault did not take effect, heals by itself at a maximum duration,
// and makes Heal idempotent. Scope.HealAll heals what is left when a scenario ends, pass
// or fail.
//
// Network kinds act on a *netfault.Link (one Toxiproxy proxy); process kinds act on a
// runtime.Instance and coordinate with a supervisor through the Holder interface.
// Partition recipes (IsolateOne, MajorityMinority, Bridge, Ring) follow Jepsen's
// nemesis grudges over a cluster's directed peer links. The Catalog names the kinds in
// one place and draws reproducible random schedules from a seed.
//
// It imports runtime, netfault and history only. It must never import the harness root,
// supervise, load, check, report, scenarios or reference-services.
package fault
