// Package system holds faultline's whole-system benchmarks: the bring-up of the
// reference system under the harness against the same processes started bare (package
// bare), a request's cost through Toxiproxy against the same path without it, and the
// scenario suite's wall time against the fault and recovery time its scenarios inherently
// need (package suitetime). Each benchmark measures its baseline in the same run and
// reports both through bench/figure; `make bench` turns them into BENCHMARKS.md.
//
// The benchmarks decide their own sample counts: run them once (-benchtime=1x). Docker
// figures skip, saying so, when no engine answers.
package system
