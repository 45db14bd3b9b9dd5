// Package load drives traffic through a running system and records every operation in
// the run's history. Two models: Open, a fixed arrival rate paced by vegeta's attacker
// where each request is sent at its intended time whatever the previous one did (so a
// slow answer cannot hide the requests it would have delayed: no coordinated omission),
// and Closed, N workers each running one operation after another (for model checkers,
// which need each operation's exact input and output).
//
// Load is bounded in count and time, always stops by itself, and only ever goes to
// loopback. It imports history only; never fault, check, report or the harness root.
package load
