package scenarios_test

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/supervise"
)

const ms = time.Millisecond

// hist is a hand-written history of operations on route "orders", one every 10 ms from
// from to to, each answered with status after took and served by by.
func hist(h *history.History, from, to, took time.Duration, status int, by string) *history.History {
	if h == nil {
		h = history.New()
	}
	for at := from; at < to; at += 10 * ms {
		op := history.Op{Intended: at, Start: at, End: at + took, Route: "orders", ServedBy: by}
		op.Outcome, op.Class = load.HTTPOutcome(status, nil)
		h.Add(op)
	}
	return h
}

// TestScenarioChecksCanGoRed holds, for every check the scenarios build themselves, a
// small history (or set of figures) on which it passes and one on which it fails: a
// check that nothing turns red would be listed as passed while proving nothing. The
// checks that read the live system (the final read-back of writes and keys) are shown
// red by the blind proofs instead (blind_test.go).
func TestScenarioChecksCanGoRed(t *testing.T) {
	w := check.Window{Name: "w", From: 0, To: time.Second}
	sel := check.Selection{Window: w, Routes: []string{"orders"}}
	fast := hist(nil, 0, time.Second, 50*ms, 503, "")
	slow := hist(nil, 0, time.Second, 3*time.Second, 503, "")
	hung := hist(nil, 0, time.Second, 50*ms, 503, "")
	hung.Add(history.Op{Intended: 500 * ms, Start: 500 * ms, End: 600 * ms, Route: "orders", Err: "context deadline exceeded"})

	// An instance restarted 400 ms after its kill at 1 s, serving again from 1.5 s.
	back := hist(nil, 1500*ms, 2*time.Second, 5*ms, 200, "accounts-2")
	restart := supervise.RestartRecord{Name: "accounts-2", ExitedAt: 1100 * ms, RestartedAt: 1400 * ms}
	late := hist(nil, 30*time.Second, 31*time.Second, 5*ms, 200, "accounts-2")

	shedding := hist(nil, 0, 500*ms, 5*ms, 200, "")
	hist(shedding, 500*ms, time.Second, 5*ms, 429, "")
	unshed := hist(nil, 0, time.Second, 5*ms, 200, "")
	others := hist(nil, 0, time.Second, 5*ms, 200, "accounts-1")

	var okDeposits, lostDeposits deposits
	okDeposits.ackedN.Store(3)
	okDeposits.acked.Store(30)
	okDeposits.attempted.Store(40)
	lostDeposits.ackedN.Store(3)
	lostDeposits.acked.Store(30)
	lostDeposits.attempted.Store(40)

	good := []cycle{{killedAt: time.Second, restarted: true, recovered: true, recoveredAt: 3 * time.Second}}
	stuck := []cycle{{killedAt: time.Second, restarted: true, restartedAt: 2 * time.Second}}

	cases := []struct {
		check        string
		green, red   check.Result
		redSaysWhich string
	}{
		{"fail fast: slow answers", check.FailFast(fast, sel, time.Second), check.FailFast(slow, sel, time.Second), "p99 3s"},
		{"fail fast: an unanswered op", check.FailFast(fast, sel, time.Second), check.FailFast(hung, sel, time.Second), "100 of 101 ops answered"},
		{"fail fast on every answer", answerLatency(fast, sel, time.Second), answerLatency(slow, sel, time.Second), "p99 3s"},
		{"rejoined", rejoined(back, "accounts-2", time.Second, restart, 20*time.Second),
			rejoined(late, "accounts-2", time.Second, restart, 20*time.Second), "served again 29.005s"},
		{"rejoined: served nothing", rejoined(back, "accounts-2", time.Second, restart, 20*time.Second),
			rejoined(back, "accounts-1", time.Second, restart, 20*time.Second), "served nothing since"},
		{"discovered", discovered(back, "accounts-2", time.Second, 10*time.Second),
			discovered(late, "accounts-2", time.Second, 10*time.Second), "first request 29.005s"},
		{"no restarts", noRestarts(nil, w), noRestarts([]supervise.RestartRecord{restart}, w), "restarted [accounts-2]"},
		{"load shedding", shed(shedding, sel, 0.2, 0.01), shed(unshed, sel, 0.2, 0.01), "0 shed with 429"},
		{"load shedding: 5xx instead of 429", shed(shedding, sel, 0.2, 0.01), shed(fast, sel, 0.2, 0.01), "100 failed otherwise"},
		{"within", within("eviction", "registry lists it no more", time.Second, true, 3*time.Second, 10*time.Second),
			within("eviction", "registry lists it no more", time.Second, false, 11*time.Second, 10*time.Second), "did not happen"},
		{"within: too late", within("eviction", "registry lists it no more", time.Second, true, 3*time.Second, 10*time.Second),
			within("eviction", "registry lists it no more", time.Second, true, 12*time.Second, 10*time.Second), "after 11s"},
		{"traffic to: none wanted, and nobody says who served", servedBy(others, sel, "accounts-2", false), servedBy(unshed, sel, "accounts-2", false), "ServedBy is empty"},
		{"traffic to: none wanted", servedBy(others, sel, "accounts-2", false), servedBy(back, check.Selection{Window: check.Window{Name: "later", From: time.Second, To: 2 * time.Second}}, "accounts-2", false), "served 50 of 50"},
		{"traffic to: some wanted", servedBy(back, check.Selection{Window: check.Window{Name: "later", From: time.Second, To: 2 * time.Second}}, "accounts-2", true), servedBy(others, sel, "accounts-2", true), "served 0 of 100"},
		{"no acknowledged deposit lost", okDeposits.noLoss(30), lostDeposits.noLoss(20), "LOST"},
		{"no deposit applied twice", okDeposits.noLoss(40), okDeposits.noLoss(41), "applied twice"},
		{"recovered every cycle", recoveries(back, good, 1, time.Minute, 45*time.Second), recoveries(back, stuck, 1, time.Minute, 45*time.Second), "0 of 1 cycles recovered"},
	}
	for _, tc := range cases {
		t.Run(tc.check, func(t *testing.T) {
			if tc.green.Informative || tc.red.Informative {
				t.Fatalf("a check came back informative: %s / %s", tc.green, tc.red)
			}
			if !tc.green.Pass {
				t.Errorf("green case failed: %s", tc.green)
			}
			if tc.red.Pass || !strings.Contains(tc.red.Message, tc.redSaysWhich) {
				t.Errorf("red case: got pass=%t %q; want a failure saying %q", tc.red.Pass, tc.red.Message, tc.redSaysWhich)
			}
		})
	}
}
