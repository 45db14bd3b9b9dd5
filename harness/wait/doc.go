// Package wait holds the readiness strategies the harness waits for once a runtime has
// started an instance, in the spirit of testcontainers-go's wait package: one small
// type per way of waiting, each in its own file — HTTP on a named port and path, a TCP
// accept, a line of output matching a pattern, a command that exits 0 — and all of
// several. A Strategy is data, so that a declaration (Go or YAML) holds it and a plan can
// be compared in a test; Wait carries it out against a Target.
//
// It imports netfault only; it must never import harness (harness imports it).
package wait
