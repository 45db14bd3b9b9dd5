package figure

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
)

// OutEnv names the environment variable that holds the JSON-lines file figures are
// appended to. Unset, figures go only to the benchmark's own metrics.
const OutEnv = "FAULTLINE_BENCH_OUT"

// Figure is one measured figure next to its baseline, measured in the same run.
type Figure struct {
	// Group is the section of BENCHMARKS.md the figure belongs to, e.g. "bring-up".
	Group string `json:"group"`
	// Name says what was measured, e.g. "reference system on docker".
	Name string `json:"name"`
	// Measured is the figure, in Unit.
	Measured float64 `json:"measured"`
	// Baseline is what Measured is compared with, in Unit, measured in the same run.
	Baseline float64 `json:"baseline"`
	// BaselineName says what the baseline is, e.g. "same containers, bare Docker API".
	BaselineName string `json:"baseline_name"`
	// Unit is the unit of Measured and Baseline, e.g. "ms", "req/s".
	Unit string `json:"unit"`
	// Note is an optional sentence on what bounds the figure.
	Note string `json:"note,omitempty"`
	// Samples is how many measurements Measured and Baseline each summarise.
	Samples int `json:"samples,omitempty"`
}

// Ratio is Measured over Baseline; zero when the baseline is zero.
func (f Figure) Ratio() float64 {
	if f.Baseline == 0 {
		return 0
	}
	return f.Measured / f.Baseline
}

// Validate says what is missing from f.
func (f Figure) Validate() error {
	switch {
	case f.Group == "":
		return fmt.Errorf("figure %q: Group is empty: name the BENCHMARKS.md section", f.Name)
	case f.Name == "":
		return fmt.Errorf("figure in group %q: Name is empty: say what was measured", f.Group)
	case f.Unit == "":
		return fmt.Errorf("figure %q: Unit is empty: give the unit of Measured and Baseline", f.Name)
	case f.BaselineName == "":
		return fmt.Errorf("figure %q: BaselineName is empty: say what the baseline is", f.Name)
	}
	return nil
}

var mu sync.Mutex

// Report records f on b as the metrics "<unit>" (measured), "<unit>-baseline" and
// "x-ratio", and appends it to the file named by FAULTLINE_BENCH_OUT when set. An
// invalid figure or a write that fails fails the benchmark.
func Report(b testing.TB, f Figure) {
	b.Helper()
	if err := f.Validate(); err != nil {
		b.Fatal(err)
	}
	if bb, ok := b.(*testing.B); ok {
		bb.ReportMetric(f.Measured, metricUnit(f.Unit))
		bb.ReportMetric(f.Baseline, metricUnit(f.Unit)+"-baseline")
		bb.ReportMetric(f.Ratio(), "x-ratio")
	}
	b.Logf("%s / %s: %.3g %s vs %.3g %s (%s): ×%.3g", f.Group, f.Name, f.Measured, f.Unit, f.Baseline, f.Unit, f.BaselineName, f.Ratio())
	if err := Append(os.Getenv(OutEnv), f); err != nil {
		b.Fatal(err)
	}
}

// Append writes f as one JSON line to path; an empty path writes nothing.
func Append(path string, f Figure) error {
	if path == "" {
		return nil
	}
	line, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode figure %q: %w", f.Name, err)
	}
	mu.Lock()
	defer mu.Unlock()
	out, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s=%s: %w", OutEnv, path, err)
	}
	if _, err := out.Write(append(line, '\n')); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return out.Close()
}

// metricUnit makes a unit usable as a testing.B metric name (no spaces).
func metricUnit(u string) string {
	b := []byte(u)
	for i, c := range b {
		if c == ' ' || c == '\t' {
			b[i] = '_'
		}
	}
	return string(b)
}
