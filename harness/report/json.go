package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// Document is what report.json holds: the run (schema_version 1, see
// docs/report-schema.md) with its resilience score beside it. Times are on the run's
// monotonic clock in nanoseconds since it started (fields ending in _ns); started_at is
// wall-clock RFC 3339.
type Document struct {
	Run
	Score Score `json:"score"`
}

// WriteJSON writes report.json: the run, every scenario with its hypothesis, verdict,
// faults (inject and heal times), checks with their figures and bounds, recovery, seed
// and backend, and the score. Indented, for people reading diffs too.
func WriteJSON(w io.Writer, run Run) error {
	if run.SchemaVersion == 0 {
		run.SchemaVersion = SchemaVersion
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(Document{Run: run, Score: ScoreOf(run)}); err != nil {
		return fmt.Errorf("write report.json: %w", err)
	}
	return nil
}
