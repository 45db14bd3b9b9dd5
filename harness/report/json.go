package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// Document is what report.json holds: the run (schema_version 2, see
// docs/report-schema.md) with its resilience score beside it. Times are on the run's
// monotonic clock in nanoseconds since it started (fields ending in _ns); started_at is
// wall-clock RFC 3339.
type Document struct {
	Run
	Score Score `json:"score"`
}

// WriteJSON writes report.json: the run, every scenario with its hypothesis, verdict,
// faults (inject and heal times), checks with their figures and bounds, the figures
// reported without a bound (apart from the checks), recovery with what it is measured
// from and the time the heal took, seed and backend, and the score. Indented, for
// people reading diffs too.
func WriteJSON(w io.Writer, run Run) error {
	run = normalized(run)
	// What is written is in this version's shape, whatever version the data was saved
	// under (a schema 1 recovery is told apart by its empty recovery_from).
	run.SchemaVersion = SchemaVersion
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(Document{Run: run, Score: ScoreOf(run)}); err != nil {
		return fmt.Errorf("write report.json: %w", err)
	}
	return nil
}
