// Package check holds the checkers: pure functions of a history that return a Result
// with the figures they measured (never just a bool), over a time window — before,
// during or after a fault. Availability and error classes, latency percentiles from an
// HDR histogram, isolation, failover, time to detect, fail over and recover, steady
// state, linearizability (porcupine) and no acknowledged write lost.
//
// It imports history only; never load, fault, runtime, report or the harness root.
package check
