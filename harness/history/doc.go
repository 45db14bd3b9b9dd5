// Package history is the record of one run: every operation the load sent and every
// fault and supervisor event, on one monotonic clock that starts with the run. Load and
// faults write into it; checkers and reports read it; nobody else talks sideways.
//
// It imports nothing of the harness: every other package may import it.
package history
