package report_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

func TestHistoryRoundTrips(t *testing.T) {
	h := history.New()
	h.Add(history.Op{Intended: 1, Start: 2, End: 3 * time.Millisecond, Route: "accounts", Outcome: history.OK, ServedBy: "accounts-1", Attempts: 1})
	h.Add(history.Op{Intended: 4, Start: 5, End: 6, Route: "kv", Outcome: history.Unknown, Class: "timeout", Err: "timeout", Input: map[string]string{"op": "read", "key": "k"}})
	h.Add(history.Op{Intended: 5, Start: 6, End: 7, Route: "kv", Outcome: history.Cancelled})
	h.Record(history.Event{At: 7, Kind: history.FaultInject, Fault: "kill accounts-1", Target: "accounts-1"})
	path := filepath.Join(t.TempDir(), report.HistoryFile("local"))
	if err := report.SaveHistory(path, h); err != nil {
		t.Fatal(err)
	}
	got, err := report.LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Ops(), h.Ops()) || !reflect.DeepEqual(got.Events(), h.Events()) {
		t.Fatalf("round trip changed the history:\n got %+v %+v\nwant %+v %+v", got.Ops(), got.Events(), h.Ops(), h.Events())
	}
}

// TestHistoriesOfOlderRunsLoad reads lines saved before operations had outcomes, with
// the HTTP status instead, and finds each with the outcome and class its report gave it.
func TestHistoriesOfOlderRunsLoad(t *testing.T) {
	lines := `{"event":{"at_ns":1,"kind":"fault.inject","fault":"kill a-1"}}
{"op":{"intended_ns":1,"start_ns":1,"end_ns":2,"route":"r","status":200,"served_by":"a-1","attempts":1}}
{"op":{"intended_ns":2,"start_ns":2,"end_ns":3,"route":"r","status":409}}
{"op":{"intended_ns":3,"start_ns":3,"end_ns":4,"route":"r","status":429}}
{"op":{"intended_ns":4,"start_ns":4,"end_ns":5,"route":"r","status":502}}
{"op":{"intended_ns":5,"start_ns":5,"end_ns":6,"route":"r","status":0,"error":"Get \"http://x\": dial tcp: connection refused"}}
`
	path := filepath.Join(t.TempDir(), report.HistoryFile("local"))
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := report.LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outcome history.Outcome
		class   string
	}{{history.OK, ""}, {history.OK, "4xx:409"}, {history.Failed, "429"}, {history.Unknown, "5xx:502"}, {history.Unknown, "refused"}}
	ops := h.Ops()
	if len(ops) != len(want) || ops[0].ServedBy != "a-1" {
		t.Fatalf("ops %+v", ops)
	}
	for i, w := range want {
		if ops[i].Outcome != w.outcome || ops[i].Class != w.class {
			t.Errorf("line %d: %s %q, want %s %q", i+2, ops[i].Outcome, ops[i].Class, w.outcome, w.class)
		}
	}
}
