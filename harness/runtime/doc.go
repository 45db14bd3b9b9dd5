// Package runtime owns the Runtime interface: how the harness starts, stops, freezes,
// cuts off and removes the processes of a system under test, and where it reaches them.
// Its backends live in their own packages (runtime/local: child processes on loopback;
// runtime/docker: containers under testcontainers-go), and runtime/conformance holds the
// one suite both must pass.
//
// It must never import the harness root, fault, load, check, report, scenarios or
// reference-services: faults call runtimes, never the other way round.
package runtime
