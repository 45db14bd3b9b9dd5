// Package leaks proves that a faultline run leaves nothing behind, whichever way it ends:
// a passing suite, a failed spec, a panic in a spec, SIGINT, SIGTERM, SIGINT while Up is
// still at work, and SIGKILL or a panic nobody recovers, each followed by the next run's
// reaper (docker.ReapRun, kubernetes.Reap, or a new local runtime). Each case runs a small
// Ginkgo suite (testdata/child, compiled once with `go test -c`) in a child process on the
// local, the docker or the kubernetes backend (the last where a cluster answers, as in
// make test's kubernetes job), ends it that way, and then looks for what the run made: its
// containers and networks, or its namespace (by the faultline.run label, never anyone
// else's), its
// processes (by a token in their environment, in /proc), its Toxiproxy proxies and toxics
// (nothing may listen on the proxies' addresses any more), and its run directory.
//
// Before every signal the same probes must find the live run's resources, so a probe
// that sees nothing can never make a case pass.
//
// The package holds tests only: they import the runtimes and the conformance test
// service, the child suite imports the harness, and nothing imports it.
package leaks
