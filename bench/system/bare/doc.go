// Package bare starts a harness.System the way a person would without faultline: the
// same binaries (as local processes, or as containers from the same images on a network
// of its own), the same environment, each process started as soon as what it needs
// answers (as docker compose's depends_on with service_healthy would), every instance
// waited for on its health path — but no Toxiproxy, no supervisor and no history. It is the baseline the benchmarks of bench/system measure the harness
// against, so it does the same useful work and nothing more.
//
// It takes from the harness only what is not the harness's cost: the declaration types,
// the build of Go packages, WaitHTTP's poll and the docker runtime's labels (so that a
// dead run's leftovers are reaped alike). It never imports reference-services.
package bare
