package report_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

func TestHistoryRoundTrips(t *testing.T) {
	h := history.New()
	h.Add(history.Op{Intended: 1, Start: 2, End: 3 * time.Millisecond, Route: "accounts", Status: 200, ServedBy: "accounts-1", Attempts: 1})
	h.Add(history.Op{Intended: 4, Start: 5, End: 6, Route: "kv", Err: "timeout", Input: map[string]string{"op": "read", "key": "k"}})
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
