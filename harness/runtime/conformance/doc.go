// Package conformance is the one test suite every runtime backend must pass, so that a
// scenario means the same under runtime/local and runtime/docker: start and readiness,
// kill, graceful stop, pause and resume, restart with persisted data, network partition
// (or ErrUnsupported), logs, the proxy host, and a teardown that leaves nothing behind.
// A backend's test calls Run with a constructor and BuildTestService's artifact.
//
// It owns testsvc, the tiny HTTP service the suite runs, and the helper that builds it.
// It imports runtime and the Toxiproxy client only; it must never import a backend, the
// harness root, fault, netfault, scenarios or reference-services.
package conformance
