package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
)

// mergeParts reads every package's saved experiments under parts (one directory each,
// experiment.PartDir) into one run: their scenarios in order of the parts' names, each
// history renamed after its part so that two packages' never collide.
func mergeParts(parts string, started time.Time) (report.Run, map[string]*history.History, error) {
	run := report.Run{SchemaVersion: report.SchemaVersion, StartedAt: started, Duration: time.Since(started)}
	hs := map[string]*history.History{}
	entries, err := os.ReadDir(parts)
	if err != nil {
		return run, nil, fmt.Errorf("read the packages' experiments: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		part, phs, err := report.Load(filepath.Join(parts, e.Name()))
		if err != nil {
			return run, nil, fmt.Errorf("read the experiments of %s: %w", e.Name(), err)
		}
		if run.Seed == 0 {
			run.Seed = part.Seed
		}
		for name, h := range phs {
			hs[e.Name()+"-"+name] = h
		}
		for _, s := range part.Scenarios {
			if name, ok := strings.CutSuffix(strings.TrimPrefix(s.History, "history-"), ".jsonl"); ok {
				s.History = report.HistoryFile(e.Name() + "-" + name)
			}
			run.Scenarios = append(run.Scenarios, s)
			if s.Backend != "" && !slices.Contains(run.Runtimes, s.Backend) {
				run.Runtimes = append(run.Runtimes, s.Backend)
			}
		}
	}
	return run, hs, nil
}

// saveMerged writes a merged run's data into dir (scenarios.json and the histories),
// so that `faultline report dir` renders it again.
func saveMerged(dir string, run report.Run, hs map[string]*history.History) error {
	for name, h := range hs {
		if err := report.SaveHistory(filepath.Join(dir, report.HistoryFile(name)), h); err != nil {
			return err
		}
	}
	run, err := report.SaveArtifacts(dir, run)
	if err != nil {
		return err
	}
	return report.SaveRun(dir, run)
}
