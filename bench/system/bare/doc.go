// Package bare starts a harness.System the way a person would without faultline: the
// same binaries (as local processes, or as containers from the same images on a network
// of its own), the same environment, in dependency order with each level started at
// once, every instance waited for on its health path — but no Toxiproxy, no supervisor
// and no history. It is the baseline the benchmarks of bench/system measure the harness
// against, so it does the same useful work and nothing more.
//
// It imports the harness only for the declaration types and the build of Go packages;
// it never imports reference-services.
package bare
