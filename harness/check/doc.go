// Package check holds the checkers: pure functions of a history that return a Result
// with the figures they measured (never just a bool), over a time window — before,
// during or after a fault. Availability and error classes, latency percentiles from an
// HDR histogram, isolation, failover, time to detect, fail over and recover, steady
// state, linearizability (porcupine, against the kv register or the user's own Model)
// and no acknowledged write lost, duplicated or failed-but-present.
//
// Checkers read each operation's outcome (history.OK, Failed, Unknown, Cancelled),
// never a protocol's codes: what counts as served is the client's call. Operations the
// run's own stop cancelled count neither way. Checks that need to know who served an
// operation (failover, self-healing) say so when no operation records ServedBy, rather
// than take the silence for an instance. A check keeps what makes its failure
// debuggable as Artifacts: porcupine's visualisation of a history that is not
// linearizable, which the report saves and links.
//
// Every check can fail: a checker whose result no history could turn red would be
// counted as a passed check while proving nothing. A figure nobody bounds (a latency
// reported for context, the time a heal took, a restarted instance's times to restart,
// register and serve) is an informative Result instead (see Informative), which the
// report shows as a figure and never counts as a check.
//
// It imports history only; never load, fault, runtime, report or the harness root.
package check
