// Package leaks proves that a faultline run leaves nothing behind, whichever way it ends:
// a passing suite, a failed spec, a panic in a spec, SIGINT, SIGTERM, and SIGKILL
// followed by the next run's reaper. Each case runs a small Ginkgo suite
// (testdata/child, compiled once with `go test -c`) in a child process on the local or
// the docker backend, ends it that way, and then looks for what the run made: its
// containers and networks (by the faultline.run label, never anyone else's), its
// processes (by a token in their environment, in /proc), its Toxiproxy proxies and toxics
// (nothing may listen on the proxies' addresses any more), and its run directory.
//
// Before every signal the same probes must find the live run's resources, so a probe
// that sees nothing can never make a case pass.
//
// The package holds tests only. It imports the harness, the runtimes and the
// conformance test service; nothing imports it.
package leaks
