// Package figure is how faultline's benchmarks report a figure next to its baseline.
//
// A benchmark measures something (a bring-up, a hop through Toxiproxy, a check) and,
// in the same run, the baseline it is compared with (the bare Docker API, a direct
// connection, …). Report hands both to testing.B as custom metrics, and, when
// FAULTLINE_BENCH_OUT names a file, appends the figure to it as one JSON line, from
// which cmd/benchmd renders BENCHMARKS.md.
//
// It imports only the standard library.
package figure
