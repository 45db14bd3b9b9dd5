// Package history is the record of one run: every operation the load sent and every
// fault and supervisor event, on one monotonic clock that starts with the run. Load and
// faults write into it; checkers and reports read it; nobody else talks sideways.
// An operation is recorded in terms of no protocol: its Outcome (ok, failed, unknown,
// cancelled by the run's own stop), a Class in its client's words, and the instance
// that served it when the client knows.
//
// It imports nothing of the harness: every other package may import it.
package history
