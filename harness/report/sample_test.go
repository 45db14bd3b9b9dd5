package report_test

import (
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

// sample is a small hand-made run: a passing failover scenario with a recovery, a
// failing one (availability under its bound), and a skipped docker one, over one
// local history of 50 ops/s for 40 s with two kills. The first kill's heal runs from 8 s
// to 9 s and accounts keeps failing until 9.5 s: its recovery, measured by check.Recover
// from the heal's start, is 1.5 s, and the heal, as check.Healing reads it from the
// history's events, took 1 s. Its time to detect is a figure, not a check.
func sample() (report.Run, map[string]*history.History) {
	h := history.New()
	for i := range 2000 {
		at := time.Duration(i) * 20 * time.Millisecond
		op := history.Op{Intended: at, Start: at, End: at + 8*time.Millisecond, Route: "GET /api/accounts/v1/accounts/{id}", Outcome: history.OK, ServedBy: "accounts-2", Attempts: 1}
		switch {
		case at >= 5*time.Second && at < 6500*time.Millisecond && i%4 == 0:
			op.Outcome, op.Class, op.End = history.Unknown, "5xx:503", at+120*time.Millisecond
		case at >= 8*time.Second && at < 9500*time.Millisecond && i%4 == 0:
			op.Outcome, op.Class, op.End = history.Unknown, "5xx:503", at+50*time.Millisecond
		case at >= 25*time.Second && at < 32*time.Second && i%5 == 0:
			op.Outcome, op.Class, op.Err, op.End = history.Failed, "refused", "dial tcp: connection refused", at+300*time.Millisecond
		case at >= 25*time.Second && at < 33*time.Second:
			op.End = at + 90*time.Millisecond
		}
		h.Add(op)
	}
	h.Record(history.Event{At: 5 * time.Second, Kind: history.FaultInject, Fault: "kill accounts-1", Target: "accounts-1"})
	h.Record(history.Event{At: 8 * time.Second, Kind: history.FaultHeal, Fault: "kill accounts-1", Target: "accounts-1"})
	h.Record(history.Event{At: 9 * time.Second, Kind: history.FaultHealed, Fault: "kill accounts-1", Target: "accounts-1"})
	// Measured as the scenarios measure it: from the heal's start.
	recovery := check.Recover(h, check.Selection{Window: check.Window{Name: "the heal of kill accounts-1", From: 8 * time.Second, To: 18 * time.Second}}, 0.99, time.Second, 5*time.Second)
	v, _ := recovery.Figure("time_to_recover")
	rec := time.Duration(v * float64(time.Millisecond))
	healing := check.Healing(h, 5*time.Second, "kill accounts-1")
	v, _ = healing.Figure("heal_time")
	healed := time.Duration(v * float64(time.Millisecond))
	detect := check.Informative(check.Detect(h, check.Selection{Window: check.Window{Name: "during kill accounts-1", From: 5 * time.Second, To: 8 * time.Second}}, 0))
	run := report.Run{
		SchemaVersion: report.SchemaVersion, StartedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Duration: 95 * time.Second, Seed: 42, Runtimes: []string{"local"},
		Versions: map[string]string{"go": "go1.26.8", "faultline": "0314d43"},
		Scenarios: []report.Scenario{
			{
				ID: "local/gateway-fails-over", Hypothesis: "the gateway fails over when an accounts instance dies",
				Backend: "local", Labels: []string{"local", "failover"}, Verdict: report.Pass,
				Window: check.Window{Name: "failover", From: 2 * time.Second, To: 18 * time.Second}, History: report.HistoryFile("local"),
				Faults: []report.Fault{{Name: "kill accounts-1", Target: "accounts-1", InjectedAt: 5 * time.Second, HealStartedAt: 8 * time.Second, HealedAt: 9 * time.Second}},
				Checks: check.Results{
					{Check: "availability", Window: check.Window{Name: "during kill accounts-1", From: 5 * time.Second, To: 8 * time.Second}, Pass: true, Bound: "≥ 95%",
						Figures: []check.Figure{{Name: "ops", Value: 150}, {Name: "ok", Value: 144}, {Name: "availability", Value: 0.96, Unit: "ratio"}},
						Message: "availability 96.00% (bound ≥ 95%) during kill accounts-1 [5.0s, 8.0s]"},
					recovery,
					detect, // an informative result among the checks: shown as a figure
				},
				Figures:  check.Results{healing},
				Recovery: &rec, RecoveryFrom: report.RecoveryFromHealStart, Healing: &healed, Seed: 42, Duration: 16 * time.Second,
				Replay: `FAULTLINE_SEED=42 FAULTLINE_RUNTIME=local go test ./scenarios/ -count=1 -timeout 20m -ginkgo.focus="the gateway fails over when an accounts instance dies"`,
			},
			{
				ID: "local/orders-survive-an-inventory-outage", Hypothesis: "orders stay available while inventory is down",
				Backend: "local", Labels: []string{"local", "isolation"}, Verdict: report.Fail,
				Failure: "availability 93.10% is under the bound ≥ 99% during kill inventory",
				Window:  check.Window{Name: "isolation", From: 22 * time.Second, To: 40 * time.Second}, History: report.HistoryFile("local"),
				Faults: []report.Fault{{Name: "kill inventory-1", Target: "inventory-1", InjectedAt: 25 * time.Second, HealStartedAt: 32 * time.Second, HealedAt: 33 * time.Second}},
				Checks: check.Results{
					{Check: "availability", Window: check.Window{Name: "during kill inventory-1", From: 25 * time.Second, To: 32 * time.Second}, Pass: false, Bound: "≥ 99%",
						Figures: []check.Figure{{Name: "ops", Value: 350}, {Name: "ok", Value: 280}, {Name: "availability", Value: 0.931, Unit: "ratio"}, {Name: "errors.refused", Value: 70}},
						Message: "availability 93.10% (bound ≥ 99%) during kill inventory-1 [25.0s, 32.0s]"},
					{Check: "latency", Window: check.Window{Name: "during kill inventory-1", From: 25 * time.Second, To: 32 * time.Second}, Pass: true, Bound: "p99 ≤ 500ms",
						Figures: []check.Figure{{Name: "p50", Value: 90, Unit: "ms"}, {Name: "p99", Value: 300, Unit: "ms"}},
						Message: "p99 300ms (bound ≤ 500ms) during kill inventory-1 [25.0s, 32.0s]"},
				},
				Seed: 42, Duration: 18 * time.Second,
				Replay: `FAULTLINE_SEED=42 FAULTLINE_RUNTIME=local go test ./scenarios/ -count=1 -timeout 20m -ginkgo.focus="orders stay available while inventory is down"`,
			},
			{
				ID: "docker/gateway-fails-over", Hypothesis: "the gateway fails over when an accounts instance dies",
				Backend: "docker", Verdict: report.Skipped, History: report.HistoryFile("docker"), Seed: 42,
			},
		},
	}
	return run, map[string]*history.History{"local": h}
}
