// Package load drives operations of any kind through a running system and records
// every one in the run's history. An operation is a function (OpFunc) that says how it
// ended: ok, failed, unknown (it may or may not have taken effect) or, when the run's
// own stop cut it short, cancelled — recorded but never counted as a failure. Two
// models: OpenOps, a fixed arrival rate where each operation starts at its intended
// time whatever the previous one did (so a slow answer cannot hide the operations it
// would have delayed: no coordinated omission) and latency counts from that intended
// start, and Closed, N workers each running one operation after another (for model
// checkers, which need each operation's exact input and output). Both draw a weighted
// mix from the run's seed. Open is the HTTP load, one use of OpenOps: HTTPOutcome is the
// one place that maps status codes and headers onto outcomes.
//
// Load is bounded in count and time, always stops by itself, and HTTP load only ever
// goes to loopback. It imports history only; never fault, check, report or the harness
// root.
package load
