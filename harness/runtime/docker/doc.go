// Package docker is the container backend of runtime.Runtime: every instance of a run is a
// container started through testcontainers-go from a scratch image, on one Docker network
// per run, and the run's Toxiproxy server is one more container on that network.
//
// It owns: the run's network and containers and their labels (faultline.run, faultline.pid,
// faultline.started, faultline.host), the scratch images built from static binaries (one
// per content hash, kept between runs), the process and network faults Docker can do
// (kill, stop, pause, network disconnect), and the clean-up of what dead runs left behind
// (Reap, CleanAll).
//
// Docker on the machines this runs on has no registry and no Ryuk, and testcontainers
// believes it runs inside a container: New and Available therefore set
// TESTCONTAINERS_RYUK_DISABLED=true and, for a local socket, TESTCONTAINERS_HOST_OVERRIDE
// (see DESIGN.md). Those two process environment variables are the only global state the
// package touches, because testcontainers reads its configuration nowhere else.
//
// It imports runtime, testcontainers-go and the Docker client libraries that come with
// it (its tests add runtime/conformance and build). It must never import the harness
// root, fault, netfault, load, check, report, scenarios or reference-services: faults
// call runtimes, never the other way round.
package docker
