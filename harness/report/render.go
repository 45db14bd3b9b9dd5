package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/faultline/faultline/harness/history"
)

// The files Render writes.
const (
	JSONFile     = "report.json"
	MarkdownFile = "summary.md"
	HTMLFile     = "index.html"
	JUnitFile    = "junit.xml"
	// ScenariosFile is what the suites save (Collector.Save) and Load reads.
	ScenariosFile = "scenarios.json"
)

// Render writes report.json, summary.md, index.html and junit.xml into dir, with the
// checks' artifacts under dir/artifacts (SaveArtifacts): a thin layer over the writers.
func Render(dir string, run Run, histories map[string]*history.History) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	run, err := SaveArtifacts(dir, run)
	if err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{JSONFile, func(w io.Writer) error { return WriteJSON(w, run) }},
		{MarkdownFile, func(w io.Writer) error { return WriteMarkdown(w, run) }},
		{HTMLFile, func(w io.Writer) error { return WriteHTML(w, run, histories) }},
		{JUnitFile, func(w io.Writer) error { return WriteJUnit(w, run) }},
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			return fmt.Errorf("render %s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("render report: %w", err)
		}
	}
	return nil
}

// Load reads back what a run saved in dir (scenarios.json, every history-*.jsonl and
// the artifacts its checks link to), to render its report again. Histories are keyed by name, as in HistoryFile(name).
func Load(dir string) (Run, map[string]*history.History, error) {
	var run Run
	b, err := os.ReadFile(filepath.Join(dir, ScenariosFile))
	if err != nil {
		return run, nil, fmt.Errorf("load report data: %w (is %s a report directory? the suite writes %s there when FAULTLINE_REPORT_DIR is set)", err, dir, ScenariosFile)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		return run, nil, fmt.Errorf("load report data: %s: %w", ScenariosFile, err)
	}
	if run.SchemaVersion > SchemaVersion {
		return run, nil, fmt.Errorf("load report data: %s has schema_version %d; this faultline reads up to %d: upgrade it", ScenariosFile, run.SchemaVersion, SchemaVersion)
	}
	run = loadArtifacts(dir, run)
	paths, err := filepath.Glob(filepath.Join(dir, HistoryFile("*")))
	if err != nil {
		return run, nil, fmt.Errorf("load report data: %w", err)
	}
	histories := map[string]*history.History{}
	for _, p := range paths {
		h, err := LoadHistory(p)
		if err != nil {
			return run, nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "history-"), ".jsonl")
		histories[name] = h
	}
	return run, histories, nil
}
