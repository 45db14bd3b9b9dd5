// Package micro holds faultline's micro-benchmarks: each measures one thing the harness
// does on one machine, in-process and on loopback only, and reports it next to a
// baseline measured in the same run through bench/figure:
//
//   - how closely the Toxiproxy latency toxic, injected through harness/fault, adds the
//     delay asked for (latency_test.go);
//   - how soon traffic sees a network fault after its Inject returns, and sees it gone
//     after its Heal returns, and what Scope.Apply's proof adds (propagation_test.go);
//   - the highest rate harness/load's open model holds against a trivial server, and
//     what recording every operation into harness/history costs, in latency, in CPU
//     per request and per history.Add (load_test.go);
//   - how long the porcupine linearizability check of harness/check takes on kv
//     histories of 1k and 10k operations (lineariz_test.go).
//
// Each benchmark takes its own samples inside one b.Loop iteration, in rounds that
// alternate the measured case and its baseline so that a busy spell on a shared machine
// hits both, and stops everything it started through b.Cleanup. One run gives the
// figures (about 100 s on two cores):
//
//	FAULTLINE_BENCH_OUT=/tmp/micro.jsonl go test -run '^$' -bench . -benchtime=1x ./bench/micro/
//
// It has no non-test code: nothing may import it.
package micro
